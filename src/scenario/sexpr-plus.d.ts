/**
 * Types for the npm package sexpr-plus 7.0.0 (a PEG-generated S-expression reader, no types of
 * its own): `parse(text)` returns the top-level forms, each node with its source location.
 */
declare module "sexpr-plus" {
  export interface SexprPosition {
    readonly offset: number;
    /** 1-based. */
    readonly line: number;
    readonly column: number;
  }
  export interface SexprLocation {
    readonly start: SexprPosition;
    readonly end: SexprPosition;
  }
  export type SexprNode =
    | { readonly type: "list"; readonly content: readonly SexprNode[]; readonly location: SexprLocation }
    | { readonly type: "atom"; readonly content: string; readonly location: SexprLocation }
    | { readonly type: "string"; readonly content: string; readonly location: SexprLocation };
  /** Thrown on malformed text (pegjs SyntaxError). */
  export interface SexprSyntaxError extends Error {
    readonly location?: SexprLocation;
  }
  const sexpr: { parse(text: string): SexprNode[] };
  export default sexpr;
}
