/** Input shared by the detectors that judge a descriptor store. */

/** The store being judged: who, when, where, old and new value (32-bit halves), writer of the old value. */
export interface StoreFacts {
  readonly cpu: number;
  readonly step: number;
  readonly pa: number;
  readonly ohi: number;
  readonly olo: number;
  readonly hi: number;
  readonly lo: number;
  /** Step that wrote the old value (0: initial memory). */
  readonly prevWriter: number;
}
