/**
 * Random sequences of descriptor stores, barriers, TLBIs and loads on two CPUs: the model never
 * throws, the first outcome of an access is always what memory says, and whenever an access is
 * allowed more than one result the checker has explained it with a report (the may-cache model
 * of Arm ARM D8.14 only allows stale results that some maintenance or barrier could remove).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeLeaf } from "../../src/arch/descriptor.js";
import { tlbiVa } from "../../src/machine/machine.js";
import type { Outcome } from "../../src/machine/types.js";
import { propertyRuns } from "../helpers/property.js";
import { KERNEL_RW, KVA, PA_A, setup } from "./helpers.js";

const PAGES = 4;
const opArb = fc.oneof(
  fc.record({ k: fc.constant("store" as const), page: fc.nat(PAGES - 1), valid: fc.boolean(), oa: fc.nat(3), ro: fc.boolean() }),
  fc.record({ k: fc.constant("dsb" as const), kind: fc.constantFrom("ISH" as const, "ISHST" as const, "NSH" as const) }),
  fc.record({ k: fc.constant("isb" as const), cpu: fc.nat(1) }),
  fc.record({
    k: fc.constant("tlbi" as const),
    op: fc.constantFrom(
      "VAE1IS" as const,
      "VALE1IS" as const,
      "VAAE1IS" as const,
      "VMALLE1IS" as const,
      "ASIDE1IS" as const,
      "VAE1" as const,
    ),
    page: fc.nat(PAGES - 1),
  }),
  fc.record({ k: fc.constant("load" as const), cpu: fc.nat(1), page: fc.nat(PAGES - 1), write: fc.boolean() }),
);

function key(o: Outcome): string {
  return o.kind === "ok" ? `ok:${o.pa}:${o.attr}` : o.kind;
}

describe("machine fuzz", () => {
  it("outcome sets and reports stay consistent", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
        const { m, b } = setup({ cpus: 2 });
        const ptes = b.map(KVA, PA_A, BigInt(PAGES) * 0x1000n, 3, KERNEL_RW);
        for (const op of ops) {
          switch (op.k) {
            case "store": {
              const v = op.valid ? encodeLeaf({ ...KERNEL_RW, ap: op.ro ? 2 : 0, oa: PA_A + BigInt(op.oa) * 0x10_0000n }, 3, b.fmt) : 0n;
              m.store64(0, ptes[op.page] as bigint, v);
              break;
            }
            case "dsb":
              m.dsb(0, op.kind);
              break;
            case "isb":
              m.isb(op.cpu);
              break;
            case "tlbi":
              m.tlbi(0, op.op, tlbiVa(KVA + BigInt(op.page) * 0x1000n));
              break;
            case "load": {
              const va = KVA + BigInt(op.page) * 0x1000n;
              const r = op.write ? m.store(op.cpu, va, 1) : m.load(op.cpu, va, 1);
              expect(r.outcomes[0]?.source).toBe("memory");
              const distinct = new Set(r.outcomes.map(key));
              // Explained by a report on this CPU, or by the break-before-make violation that caused it.
              if (distinct.size > 1) expect(m.reports.some((v) => v.cpu === op.cpu || v.rule === "bbm")).toBe(true);
              break;
            }
          }
        }
      }),
      { numRuns: propertyRuns(200) },
    );
  });
});
