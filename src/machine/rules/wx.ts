/**
 * Rule 8, W^X: a leaf writable and executable at EL1 (or user-writable and privileged-executable).
 * Linux arch/arm64/mm/ptdump.c ptdump_check_wx(); Arm ARM DDI0487 D8.4 (SCTLR_EL1.WXN).
 */
import { hex } from "../../arch/u64.js";
import type { HalfContext, WalkContext } from "../../walk/context.js";
import { leafOutputAddress } from "../../walk/fields.js";
import { hx, type Reporter } from "../report.js";
import type { StoreFacts } from "./store.js";

/** Judge the new leaf of `st` (level `level`, hierarchical APTable/PXNTable `apT`/`pxnT`). */
export function checkWx(
  rep: Reporter,
  st: StoreFacts,
  h: HalfContext,
  ctx: WalkContext,
  level: number,
  apT: number,
  pxnT: number,
  vaB: () => bigint,
): void {
  const { cpu, step, pa, hi, lo } = st;
  const ap = (lo >>> 6) & 3;
  const pxn = (hi >>> 21) & 1;
  if ((ap & 2) === 0 && pxn === 0 && !ctx.wxn && (pxnT | 0) === 0 && (apT & 2) === 0) {
    rep.report(
      "wx",
      ap === 1 ? "wx.user-writable-priv-exec" : "wx.el1-writable-executable",
      step,
      cpu,
      `leaf at ${hx(pa)} maps VA ${hex(vaB())} ${ap === 1 ? "user-writable and privileged-executable" : "writable and executable at EL1"} (AP=${ap}, PXN=0)`,
      { va: vaB(), pa: leafOutputAddress(h, hi, lo, level), descAddr: pa },
      [rep.tr(step, "wrote the W+X descriptor")],
      "set PXN (bit 53) or AP[2] (read-only) on the leaf",
    );
  }
}
