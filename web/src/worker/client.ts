/** Promise wrapper around the memory worker. */
import type { ReplyBody, Request, WorkerMessage } from "./protocol.js";

type Pending = {
  resolve: (b: ReplyBody) => void;
  reject: (e: Error) => void;
  onProgress?: (done: number, total: number, name: string) => void;
};

export class MemClient {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Told when a call starts or the last pending call settles (the page's ready signal). */
  onBusyChange?: (inFlight: number) => void;

  /** Calls sent to the worker and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
  }

  constructor() {
    this.worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    this.worker.onmessage = (ev: MessageEvent<WorkerMessage>) => {
      const m = ev.data;
      const p = this.pending.get(m.id);
      if (!p) return;
      if ("progress" in m) {
        p.onProgress?.(m.progress.done, m.progress.total, m.progress.name);
        return;
      }
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.body);
      else p.reject(Object.assign(new Error(m.error), { code: m.code }));
      if (this.pending.size === 0) this.onBusyChange?.(0);
    };
  }

  call<O extends Request["op"]>(
    req: Extract<Request, { op: O }>,
    onProgress?: (done: number, total: number, name: string) => void,
  ): Promise<Extract<ReplyBody, { op: O }>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (b: ReplyBody) => void, reject, onProgress });
      this.worker.postMessage({ id, req });
      this.onBusyChange?.(this.pending.size);
    });
  }
}
