/**
 * A kernel's `System.map` (or /proc/kallsyms text): "ADDRESS TYPE NAME" per line, addresses in
 * hex. Only code symbols (t, T, w, W) name a PC. Bad lines are a ParseError naming the line.
 */
import { ParseError } from "../arch/errors.js";

export class SymbolMap {
  private constructor(
    private readonly addrs: BigUint64Array,
    private readonly names: readonly string[],
  ) {}

  static parse(text: string, name: string): SymbolMap {
    const entries: { a: bigint; n: string }[] = [];
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = (lines[i] as string).trim();
      if (line === "") continue;
      if (line.includes("The real System.map is in")) {
        throw new ParseError(
          `${name}: this is Debian's placeholder System.map; the real one is in the linux-image-*-dbg package (or give the guest's /proc/kallsyms)`,
        );
      }
      const m = /^([0-9a-fA-F]{1,16})\s+([A-Za-z?-])\s+(\S+)(\s+\[\S+\])?$/.exec(line);
      if (m === null)
        throw new ParseError(`${name}:${i + 1}: expected "ADDRESS TYPE NAME" (System.map), got ${JSON.stringify(line.slice(0, 80))}`);
      const type = m[2] as string;
      if (!"tTwW".includes(type)) continue;
      entries.push({ a: BigInt(`0x${m[1]}`), n: m[3] as string });
    }
    if (entries.length === 0) throw new ParseError(`${name}: no code symbols (type t/T/w/W) in this System.map`);
    entries.sort((x, y) => (x.a < y.a ? -1 : x.a > y.a ? 1 : 0));
    return new SymbolMap(
      BigUint64Array.from(entries.map((e) => e.a)),
      entries.map((e) => e.n),
    );
  }

  /** "function+0xoff" for a PC, or undefined below the first symbol. */
  lookup(pc: bigint): string | undefined {
    const a = this.addrs;
    let lo = 0;
    let hi = a.length - 1;
    if (a.length === 0 || pc < (a[0] as bigint)) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((a[mid] as bigint) <= pc) lo = mid;
      else hi = mid - 1;
    }
    const off = pc - (a[lo] as bigint);
    return `${this.names[lo]}+0x${off.toString(16)}`;
  }
}
