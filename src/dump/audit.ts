/**
 * Security audit of real page tables.
 *
 * Checks (each finding names the rule it encodes):
 * - wx: a kernel leaf that is writable and privileged-executable (AP[2]=0, PXN=0), counted the way
 *   the kernel's own ptdump_check_wx() counts it (leaf bits only, every non-zero entry the ptdump
 *   walk notes), with the kernel's `Checked W+X mappings` summary line;
 * - non-uxn: a kernel leaf without UXN (same walk; the kernel warns "Found non-UXN mapping");
 * - user-kernel: a TTBR1 leaf EL0 can access (AP[1]=1 and no APTable[0] above it);
 *   with permission indirection (TCR2_EL1.PIE=1) these three judge the effective permissions
 *   through PIR_EL1/PIRE0_EL1 instead (the descriptor bits are only a PIIndex then; ptdump still
 *   prints them raw, as the kernel does);
 * - attr-alias: the same PA mapped with different memory types or cacheability (Arm ARM "mismatched
 *   memory attributes"; Normal vs Normal-Tagged counts as the same type, as in Linux);
 * - bad-contiguous: a contiguous group (Arm ARM "Misprogramming of the Contiguous bit") with members
 *   missing the bit, invalid, with different attributes, non-consecutive or misaligned OAs;
 * - reserved-bits: blocks/pages/tables with RES0 bits set (OA bits below the block size other than
 *   nT, OA[51:48] without LPA, NS in the Non-secure EL1&0 regime, NSTable), or an OA above the PA size;
 * - protected: a valid mapping of a PA range declared protected;
 * - global-user: a global (nG=0) leaf in the TTBR0 (user) half;
 * - EL2&0 regime (E2H=1): with HCR_EL2.TGE=1 (a VHE host) TTBR0_EL2 is the user range and TTBR1_EL2
 *   the kernel's, judged as above; with TGE=0 (pKVM's hVHE hypervisor, or a VHE host while its guest
 *   runs) no EL0 access translates through the regime (Arm ARM D8.1.1/D8.1.2: EL0 uses EL2&0 only
 *   when {E2H,TGE}={1,1}), so both ranges hold hypervisor mappings: wx on the effective EL2
 *   permissions (AP[2], PXN bit 53, APTable, PXNTable, WXN), wxn-only (warning) for writable
 *   pages with PXN clear that only SCTLR_EL2.WXN keeps non-executable, el0-unused (warning) for
 *   EL0 access bits that can never take effect; no non-uxn, user-kernel or global-user. An
 *   unknown TGE is assumed 0 (the audit then says so): never silently a user range;
 * - missing-table: a table the walk reaches that the input's memory does not contain: that VA
 *   range could not be audited, so the verdict is inconclusive (never the kernel's "passed");
 * - shared-table (warning): table descriptors naming a table already audited at another VA (the
 *   same mappings and findings repeat there; its W+X pages are counted once per VA, as the kernel's
 *   walk counts them). The walk does each (table, level) once, however many entries share it.
 */
import { HI_CONT, HI_PXN, HI_UXN, LO_AP1, LO_AP2, LO_NG } from "../arch/bits.js";
import { formatSize } from "../arch/granule.js";
import { HCR_TGE } from "../arch/hcr.js";
import { memoryClass } from "../arch/mair.js";
import { piIndexOf } from "../arch/pie.js";
import type { Regs } from "../arch/registers.js";
import { maskHalves } from "../arch/u64.js";
import type { PhysMem } from "../mem/physmem.js";
import { compileRegs, type HalfContext, type WalkContext } from "../walk/context.js";
import { checkContiguousGroup, contiguousGroupEntries, describeContiguousProblem } from "../walk/contiguous.js";
import { leafOutputAddress } from "../walk/fields.js";
import { leafPermissions, PERM_PW, PERM_PX, PERM_UGCS, PERM_UR, PERM_UW, PERM_UX } from "../walk/permissions.js";
import { halfBase, type RawEntry, walkEntries } from "../walk/range.js";
import { PTDUMP_LINUX_6, PTDUMP_PROT_LO, ptdumpProtHi } from "./ptdump.js";

export type FindingKind =
  | "wx"
  | "wxn-only"
  | "non-uxn"
  | "user-kernel"
  | "el0-unused"
  | "attr-alias"
  | "bad-contiguous"
  | "reserved-bits"
  | "protected"
  | "global-user"
  | "missing-table"
  | "shared-table";

export const FINDING_KINDS: readonly FindingKind[] = [
  "wx",
  "wxn-only",
  "non-uxn",
  "user-kernel",
  "el0-unused",
  "attr-alias",
  "bad-contiguous",
  "reserved-bits",
  "protected",
  "global-user",
  "missing-table",
  "shared-table",
];

export interface Finding {
  readonly kind: FindingKind;
  /** First VA and size of the affected range. */
  readonly va: bigint;
  readonly size: bigint;
  /** Output address of the first byte (undefined for invalid entries). */
  readonly pa: bigint | undefined;
  readonly level: number;
  /** The first descriptor of the range. */
  readonly descriptor: bigint;
  readonly message: string;
  /** The rule, with its source. */
  readonly rule: string;
  /**
   * "error" fails the audit; "warning" is reported but passes (Normal memory aliased with a
   * different cacheability: architecturally allowed with cache maintenance, and what Linux does
   * for dma_alloc_coherent() buffers of non-coherent devices).
   */
  readonly severity: "error" | "warning";
}

export interface PaRange {
  readonly start: bigint;
  /** Exclusive. */
  readonly end: bigint;
}

export interface AuditOptions {
  readonly protectedRanges?: readonly PaRange[];
  /** Audit the TTBR0 half too (default true; pass false when TTBR0 is not a real value). */
  readonly userHalf?: boolean;
  /** Page size used for the W+X page counts (default: the TTBR1 granule). */
  readonly pageSize?: number;
  /**
   * Judge leaf by leaf instead of by runs of leaves (range walk `runs`): the same report, slower.
   * The reference the run-aware audit is tested against.
   */
  readonly perEntry?: boolean;
}

export interface WxVerdict {
  readonly wxPages: bigint;
  readonly nonUxnPages: bigint;
  /** No W+X and no non-UXN page, and every reachable table was read. */
  readonly passed: boolean;
  /** Reachable tables missing from the input (distinct table PAs): the verdict is inconclusive. */
  readonly missingTables: number;
  /** The line the kernel prints after its check (arch/arm64/mm/ptdump.c ptdump_check_wx). */
  readonly summary: string;
}

/**
 * How the EL2&0 regime's two ranges were judged (Arm ARM D8.1: EL0 translates through EL2&0 only
 * when HCR_EL2.{E2H,TGE}={1,1}): `tge` from HCR_EL2 when the registers carry it, else assumed 0
 * (every range judged as hypervisor mappings, the stricter privileged rules).
 */
export interface El20View {
  readonly tge: boolean;
  readonly tgeSource: "HCR_EL2" | "assumed";
}

export interface AuditReport {
  /** Present for the EL2&0 regime. */
  readonly el20?: El20View;
  readonly wx: WxVerdict;
  readonly findings: readonly Finding[];
  /** Leaves seen per half. */
  readonly leaves: readonly [number, number];
  /** VA ranges whose table is missing from the input (one per run of unreadable entries). */
  readonly missing: readonly MissingTable[];
}

export interface MissingTable {
  readonly va: bigint;
  readonly size: bigint;
  /** Level of the missing table. */
  readonly level: number;
  readonly table: bigint;
}

const RULE = {
  wx: "W^X: no kernel mapping both writable and executable (Linux arch/arm64/mm/ptdump.c ptdump_check_wx, CONFIG_DEBUG_WX)",
  nonUxn: 'every kernel mapping has UXN (Linux ptdump_check_wx: "Found non-UXN mapping")',
  user: "kernel (TTBR1) memory must not be EL0-accessible: AP[1]=1 without APTable[0] (Arm ARM D8.4 stage 1 permissions)",
  wxPie:
    "W^X: no kernel mapping both writable and executable at EL1; with TCR2_EL1.PIE the effective permissions come from PIR_EL1 (Arm ARM D8.4.1.3 indirect permissions; Linux CONFIG_DEBUG_WX)",
  nonUxnPie: "no kernel mapping executable at EL0; with TCR2_EL1.PIE, from PIRE0_EL1 (Arm ARM D8.4.1.3)",
  userPie: "kernel (TTBR1) memory must not be EL0-accessible; with TCR2_EL1.PIE, from PIRE0_EL1 (Arm ARM D8.4.1.3)",
  alias:
    "one PA, one memory type and cacheability: mismatched attribute aliases lose coherency (Arm ARM B2.16 mismatched memory attributes; Linux treats Normal and Normal-Tagged as the same type)",
  cont: "contiguous group: all N entries CONT, same attributes, consecutive OAs aligned to the group size (Arm ARM D8.6.1 The Contiguous bit / vmsa-rules 3.2, rule in walk/contiguous.ts; misprogramming may give TLB conflict aborts or amalgamated results)",
  res0: "RES0 descriptor bits must be zero (Arm ARM D8.3 descriptor formats)",
  oaSize: "output address must fit the PA size (Arm ARM: Address size fault)",
  prot: "PA range declared protected (--protected) must not be mapped",
  wxEl20:
    "W^X at EL2 in the EL2&0 regime with HCR_EL2.TGE=0: no hypervisor mapping both writable and executable at EL2 (AP[2]=0 and PXN, bit 53, clear, with SCTLR_EL2.WXN=0; Arm ARM D8.4 stage 1 permissions; no EL0 uses this regime when TGE=0: D8.1, ASL ELIsInHost)",
  wxnOnly:
    "hypervisor mappings should be non-executable by their own bits: a writable page with PXN (bit 53) clear is non-executable at EL2 only while SCTLR_EL2.WXN=1 (Arm ARM D8.4 stage 1 permissions, ASL AArch64_S1DirectBasePermissions: WXN removes execute from writable memory); KVM's hVHE encodings set bit 54 (UXN in EL2&0) instead",
  el0Unused:
    "EL0 permissions in the EL2&0 regime with HCR_EL2.TGE=0 never take effect (Arm ARM D8.1, ASL ELIsInHost: EL0 uses EL2&0 only when E2H=TGE=1): informational, but a sign the tables were built for another regime",
  wxEl2:
    "W^X at EL2: no hypervisor mapping both writable (AP[2]=0) and executable (XN, bit 54, clear); KVM's hyp_set_prot_attr refuses W+X (Linux arch/arm64/kvm/hyp/pgtable.c), and pKVM runs with SCTLR_EL2.WXN=1",
  global: "user (TTBR0) mappings must be non-global, nG=1 (global user entries survive ASID switches; Linux maps all user memory nG)",
  missing:
    "every table the walk reaches must be in the input: a range whose table is missing is unknown, not unmapped (a real walk would read that memory)",
  shared:
    "a table named by several table descriptors maps the same pages at each of their VAs (legal: Arm ARM D8.2 puts no limit on fan-in; Linux's KASAN early shadow does it; in other places a sign of corruption)",
};

/** RES0 bits set in a leaf or table descriptor, as a description, or undefined. */
function reservedBits(h: HalfContext, e: RawEntry, isTable: boolean, bbm: number): string | undefined {
  const bad: string[] = [];
  const { hi, lo, level } = e;
  const g = h.gShift;
  // Address bits the format moves below the granule shift (64K with a 52-bit OA: OA[51:48] in
  // [15:12]; DS: OA[51:50] in [9:8]) are not RES0 (the address-field home: arch addressFieldMask).
  const moved = h.fmt.addrLo & (h.granule.size - 1);
  if (isTable) {
    // Address bits below the granule inside [15:12] (16K: [13:12]; 64K: [15:12]).
    if (g > 12 && lo & maskHalves(g - 1, 12)[1] & ~moved) bad.push(`bits [${g - 1}:12] (below the ${2 ** (g - 10)}K table alignment)`);
    // Bits [50:48] above the address field ([50] with DS, where [49:48] are NLTA[49:48]).
    const top = h.ds ? [50, 50] : [50, 48];
    if (hi & maskHalves(50, 48)[0] & ~h.fmt.addrHi) bad.push(`bits [${top[0]}:${top[1]}]`);
    if (hi & (1 << 31)) bad.push("bit 63 (NSTable, RES0 outside Secure state)");
  } else {
    const shift = h.shiftAt[level + 1] as number;
    if (shift > 12) {
      let [mh, ml] = maskHalves(shift - 1, 12);
      ml &= ~moved;
      if (level < 3 && bbm >= 1) ml &= ~(1 << 16); // nT
      if ((lo & ml) >>> 0 || (hi & mh) >>> 0) bad.push(`OA bits [${shift - 1}:12] below the ${fmtSize(2 ** shift)} block alignment`);
    } else if (level < 3 && bbm === 0 && lo & (1 << 16)) {
      bad.push("bit 16 (nT without FEAT_BBM)");
    }
    if (hi & 0x30000 & ~h.fmt.addrHi) bad.push("bits [49:48] (OA[49:48] needs TCR.DS=1)");
    if (lo & (1 << 5)) bad.push("bit 5 (NS, RES0 for the Non-secure EL1&0 regime)");
  }
  return bad.length ? bad.join(", ") : undefined;
}

/**
 * Every bit reservedBits() may object to, for an entry of `level` (or a table descriptor): an
 * entry with none of them set has no RES0 finding, and the per-entry check is two ANDs.
 */
function reservedBitsMask(h: HalfContext, isTable: boolean, level: number, bbm: number): [number, number] {
  const moved = h.fmt.addrLo & (h.granule.size - 1);
  if (isTable) {
    const lo = h.gShift > 12 ? maskHalves(h.gShift - 1, 12)[1] & ~moved : 0;
    return [(maskHalves(50, 48)[0] & ~h.fmt.addrHi) | (1 << 31), lo >>> 0];
  }
  const shift = h.shiftAt[level + 1] as number;
  let mh = 0;
  let ml = 1 << 5; // NS
  if (shift > 12) {
    const [bh, bl] = maskHalves(shift - 1, 12);
    mh |= bh;
    ml |= bl & ~moved;
    if (level < 3 && bbm >= 1) ml &= ~(1 << 16);
  } else if (level < 3 && bbm === 0) ml |= 1 << 16;
  mh |= 0x30000 & ~h.fmt.addrHi;
  return [mh >>> 0, ml >>> 0];
}

/** "rwx"-style letters of one privilege level of a permission word (shift 0: EL1, 3: EL0). */
function permText(p: number, shift: number): string {
  const b = p >>> shift;
  const t = `${b & 1 ? "r" : "-"}${b & 2 ? "w" : "-"}${b & 4 ? "x" : "-"}`;
  return (p & (shift === 0 ? 64 : 128)) !== 0 ? `${t}+gcs` : t;
}

function fmtSize(n: number | bigint): string {
  return formatSize(Number(n));
}

/** Memory class of each AttrIndx (MAIR byte), computed once per audit. */
function memClasses(ctx: WalkContext): string[] {
  const out: string[] = [];
  for (let i = 0; i < 8; i++) out.push(memoryClass(ctx.mair[i] as number));
  return out;
}

/** Audit the tables reachable from TTBR1 (and TTBR0 unless disabled). */
export function audit(mem: PhysMem, regs: Regs | WalkContext, opts: AuditOptions = {}): AuditReport {
  const ctx = "halves" in regs ? regs : compileRegs(regs);
  const findings: Finding[] = [];
  // Findings of one kind are merged while they are VA-contiguous with the same message.
  const pending = new Map<FindingKind, { -readonly [K in keyof Finding]: Finding[K] }>();
  const report: Reporter = (kind, va, size, pa, e, message, rule) => {
    const p = pending.get(kind);
    if (p && p.message === message && p.va + p.size === va) {
      p.size += size;
      return;
    }
    if (p) findings.push(p);
    const descriptor = (BigInt(e.hi >>> 0) << 32n) | BigInt(e.lo >>> 0);
    const severity = kind === "shared-table" || kind === "wxn-only" || kind === "el0-unused" ? "warning" : "error";
    pending.set(kind, { kind, va, size, pa, level: e.level, descriptor, message, rule, severity });
  };
  const protectedRanges = opts.protectedRanges ?? [];
  // EL2&0: HCR_EL2.TGE decides whether TTBR0_EL2 is a user range (TGE=1) or the hypervisor's
  // (TGE=0, no EL0 in the regime). Unknown: assumed 0, reported (El20View).
  const hcr = ctx.regs.hcr;
  const el20: El20View | undefined =
    ctx.regime === "el20"
      ? { tge: hcr !== undefined && (hcr & HCR_TGE) !== 0n, tgeSource: hcr === undefined ? "assumed" : "HCR_EL2" }
      : undefined;
  const hyp20 = el20 !== undefined && !el20.tge;
  const bbm = ctx.features.bbm;
  const h1 = ctx.halves[1];
  const pageSize = opts.pageSize ?? h1.granule.size;
  // Page counts as exact numbers (at most 2^52 pages per half), bigints in the report.
  let wxPages = 0;
  let nonUxnPages = 0;
  const classes = memClasses(ctx);
  // Runs of VA- and PA-contiguous leaves of one memory class, by VA offset in their half.
  const runs: { pa: number; end: number; cls: string; off: number; half: number }[] = [];
  const leaves: [number, number] = [0, 0];
  const contChecked = new Set<number>();
  const missingTables = new Set<number>();
  const missing: MissingTable[] = [];
  // Page counts of each subtree walked in full, by sharing key, for the later entries that share it.
  const subtreeCounts = new Map<number, { wx: number; nonUxn: number; leaves: number }>();
  const open: { wx: number; nonUxn: number; leaves: number }[] = [];

  /**
   * A run of `e.count` leaves (RawEntry.count: one leaf's bits over contiguous VAs and OAs):
   * counted, judged, and added to the alias runs, every rule judging every page; no allocation
   * unless it reports. Findings of one kind merge while VA-contiguous with one message, so a rule
   * whose message depends only on the leaf's bits reports the run once, exactly as its leaves
   * would one by one; the rules whose message names one entry (its descriptor's or output
   * address) go entry by entry wherever any entry of the run may fire.
   */
  const leaf = (h: HalfContext, e: RawEntry, base: bigint, kernel: boolean, hyp: boolean, res0: [number, number]): void => {
    const n = e.count;
    const span = e.size * n;
    leaves[h.index] += n;
    const pa = leafOutputAddress(h, e.hi, e.lo, e.level);
    if (hyp20) {
      hypEl20Leaf(e, base, span, pa);
    } else if (hyp && !ctx.pie) {
      // EL2: AP[1] is RES1 (KVM's nVHE encodings set it), bit 53 is not a permission, no EL0.
      if ((e.lo & LO_AP2) === 0 && (e.hi & HI_UXN) === 0) {
        wxPages += span / pageSize;
        report(
          "wx",
          base + BigInt(e.off),
          BigInt(span),
          BigInt(pa),
          e,
          "hypervisor mapping writable and executable (AP[2]=0, XN=0)",
          RULE.wxEl2,
        );
      }
    } else if (kernel && ctx.pie) {
      // Permission indirection: AP/PXN/UXN are PIIndex bits and bit 7 is nDirty, so the
      // kernel's raw-bit check means nothing here; judge the effective permissions through
      // PIR_EL1/PIRE0_EL1 (walk/permissions.ts, ASL AArch64.S1IndirectBasePermissions).
      const pages = span / pageSize;
      const p = leafPermissions(ctx, e.hi, e.lo, e.apTable, e.uxnTable, e.pxnTable, false);
      if ((p & (PERM_UX | PERM_PW | PERM_UR | PERM_UW | PERM_UGCS)) !== 0) {
        const va = base + BigInt(e.off);
        const size = BigInt(span);
        const paB = BigInt(pa);
        const why = `PIIndex ${piIndexOf(e.hi, e.lo)}: PIR_EL1 ${permText(p, 0)}, PIRE0_EL1 ${permText(p, 3)}`;
        if ((p & PERM_UX) !== 0) {
          nonUxnPages += pages;
          report("non-uxn", va, size, paB, e, `kernel mapping executable at EL0 (${why})`, RULE.nonUxnPie);
        }
        if ((p & PERM_PW) !== 0 && (p & PERM_PX) !== 0) {
          wxPages += pages;
          report("wx", va, size, paB, e, `insecure W+X mapping (${why})`, RULE.wxPie);
        }
        if ((p & (PERM_UR | PERM_UW | PERM_UX | PERM_UGCS)) !== 0) {
          report("user-kernel", va, size, paB, e, `kernel memory accessible from EL0 (${why})`, RULE.userPie);
        }
      }
    } else if (kernel) {
      const pages = span / pageSize;
      const wx = (e.lo & LO_AP2) === 0 && (e.hi & HI_PXN) === 0;
      if ((e.hi & HI_UXN) === 0) {
        nonUxnPages += pages;
        const note = e.uxnTable ? " (UXNTable above makes it EL0-non-executable in hardware, but the kernel check reads leaf bits)" : "";
        report("non-uxn", base + BigInt(e.off), BigInt(span), BigInt(pa), e, `kernel mapping without UXN${note}`, RULE.nonUxn);
      }
      if (wx) {
        wxPages += pages;
        const note = e.pxnTable ? " (PXNTable above makes it non-executable in hardware, but the kernel check reads leaf bits)" : "";
        report("wx", base + BigInt(e.off), BigInt(span), BigInt(pa), e, `insecure W+X mapping${note}`, RULE.wx);
      }
      if ((e.lo & LO_AP1) !== 0 && (e.apTable & 1) === 0) {
        const w = (e.lo & LO_AP2) === 0 && (e.apTable & 2) === 0;
        report(
          "user-kernel",
          base + BigInt(e.off),
          BigInt(span),
          BigInt(pa),
          e,
          `kernel memory ${w ? "readable and writable" : "readable"} from EL0`,
          RULE.user,
        );
      }
    } else if ((e.lo & LO_NG) === 0) {
      report("global-user", base + BigInt(e.off), BigInt(span), BigInt(pa), e, "global (nG=0) mapping in the user half", RULE.global);
    }
    // RES0 bits are the same in every entry of a run (none is in the output address), the OA
    // limit can only be crossed by its last entry, a protected range by any: when one may fire,
    // every entry is judged on its own (each such finding names its entry).
    if (n === 1) placement(h, e, base, pa, res0);
    else if ((e.hi & res0[0]) | (e.lo & res0[1]) || pa + span > h.paLimit || overlapsProtected(pa, pa + span)) {
      for (let j = 0; j < n; j++) placement(h, runEntry(e, j), base, pa + j * e.size, res0);
    }
    // Coalesce VA- and PA-contiguous leaves of one memory class before the alias sweep.
    const cls = classes[(e.lo >>> 2) & 7] as string;
    const last = runs[runs.length - 1];
    if (last && last.cls === cls && last.half === h.index && last.end === pa && last.off + (last.end - last.pa) === e.off)
      last.end = pa + span;
    else runs.push({ pa, end: pa + span, cls, off: e.off, half: h.index });
    if ((e.hi & HI_CONT) !== 0) contiguousRun(h, e, base, pa);
  };

  /**
   * A leaf run of the EL2&0 regime with HCR_EL2.TGE=0: a hypervisor mapping, judged on its
   * effective EL2 permissions (walk/permissions.ts; PIR_EL2/PIRE0_EL2 under PIE).
   */
  const hypEl20Leaf = (e: RawEntry, base: bigint, span: number, pa: number): void => {
    const p = leafPermissions(ctx, e.hi, e.lo, e.apTable, e.uxnTable, e.pxnTable, false);
    const va = base + BigInt(e.off);
    const size = BigInt(span);
    const paB = BigInt(pa);
    const why = ctx.pie ? `PIIndex ${piIndexOf(e.hi, e.lo)}: PIR_EL2 ${permText(p, 0)}, PIRE0_EL2 ${permText(p, 3)}` : undefined;
    if ((p & PERM_PW) !== 0 && (p & PERM_PX) !== 0) {
      wxPages += span / pageSize;
      const bits = why ?? "AP[2]=0, PXN=0, SCTLR_EL2.WXN=0";
      report("wx", va, size, paB, e, `hypervisor mapping writable and executable at EL2 (${bits})`, RULE.wxEl20);
    } else if (why === undefined && ctx.wxn && (p & PERM_PW) !== 0 && (e.hi & HI_PXN) === 0 && e.pxnTable === 0 && (p & PERM_UW) === 0) {
      report(
        "wxn-only",
        va,
        size,
        paB,
        e,
        "hypervisor mapping writable with PXN (bit 53) clear: only SCTLR_EL2.WXN=1 keeps it non-executable at EL2",
        RULE.wxnOnly,
      );
    }
    if ((p & (PERM_UR | PERM_UW | PERM_UGCS)) !== 0) {
      const el0 = why ?? `AP[1]=1${(p & PERM_UW) !== 0 ? ", EL0-writable" : ""}`;
      report("el0-unused", va, size, paB, e, `EL0 access bits set (${el0}) in a regime no EL0 uses (HCR_EL2.TGE=0)`, RULE.el0Unused);
    }
  };

  const overlapsProtected = (pa: number, end: number): boolean => {
    for (const pr of protectedRanges) if (BigInt(pa) < pr.end && BigInt(end) > pr.start) return true;
    return false;
  };

  /** Entry j of a leaf run as a one-entry RawEntry of its own (read again from the table). */
  const runEntry = (e: RawEntry, j: number): RawEntry => {
    const da = e.descAddr + j * 8;
    mem.load64(da);
    return { ...e, off: e.off + j * e.size, descAddr: da, hi: mem.hi, lo: mem.lo, count: 1 };
  };

  /** The rules of one leaf whose findings name the entry: RES0 bits, OA size, protected ranges. */
  const placement = (h: HalfContext, e: RawEntry, base: bigint, pa: number, res0: [number, number]): void => {
    const r = (e.hi & res0[0]) | (e.lo & res0[1]) ? reservedBits(h, e, false, bbm) : undefined;
    if (r)
      report(
        "reserved-bits",
        base + BigInt(e.off),
        BigInt(e.size),
        BigInt(pa),
        e,
        `${e.level < 3 ? "block" : "page"} descriptor at PA 0x${e.descAddr.toString(16)}: ${r}`,
        RULE.res0,
      );
    if (pa + e.size > h.paLimit)
      report(
        "reserved-bits",
        base + BigInt(e.off),
        BigInt(e.size),
        BigInt(pa),
        e,
        `output address 0x${pa.toString(16)} is above the ${h.paBits}-bit PA size`,
        RULE.oaSize,
      );
    for (const pr of protectedRanges) {
      const paB = BigInt(pa);
      const size = BigInt(e.size);
      if (paB < pr.end && paB + size > pr.start) {
        report(
          "protected",
          base + BigInt(e.off),
          size,
          paB,
          e,
          `maps protected PA range 0x${pr.start.toString(16)}-0x${pr.end.toString(16)}`,
          RULE.prot,
        );
      }
    }
  };

  /**
   * The contiguous groups a run of CONT leaves touches, each checked once from its first entry in
   * the run (as leaf-by-leaf checking would). A group the run covers whole is well formed when its
   * output address is aligned to the group (every member is a CONT leaf with the same bits and
   * consecutive OAs): only the groups cut by the run's ends, or misaligned, are read again.
   */
  const contiguousRun = (h: HalfContext, e: RawEntry, base: bigint, pa: number): void => {
    const n = e.count;
    const g = contiguousGroupEntries(h, e.level);
    if (g === 0) return;
    const groupBytes = g * e.size;
    for (let j = 0; j < n; ) {
      const inGroup = ((e.descAddr + j * 8) % (g * 8)) / 8;
      const next = j + (g - inGroup);
      if (!(inGroup === 0 && next <= n && (pa + j * e.size) % groupBytes === 0)) {
        const m = j === 0 ? e : runEntry(e, j);
        checkContiguous(mem, h, ctx.hd, m, base + BigInt(m.off), contChecked, report);
      }
      j = next;
    }
  };

  const visitHalf = (h: HalfContext): void => {
    if (h.tnszFault || h.baseFault || h.epd) return;
    const base = halfBase(h);
    // The EL2 regime (E2H=0): TTBR0_EL2 is the hypervisor's one range, no EL0, XN at bit 54.
    // EL2&0 with TGE=0: both ranges are the hypervisor's (hyp20, judged in hypEl20Leaf).
    const hyp = ctx.el2 && h.index === 0;
    const kernel = h.index === 1 || hyp || hyp20;
    const tableRes0 = reservedBitsMask(h, true, 0, bbm);
    const leafRes0 = [-1, 0, 1, 2, 3].map((level) => reservedBitsMask(h, false, level, bbm));
    walkEntries(
      mem,
      h,
      0,
      2 ** h.iaBits,
      (e) => {
        if (e.kind === "leaf") {
          leaf(h, e, base, kernel, hyp, leafRes0[e.level + 1] as [number, number]);
          return;
        }
        if (e.kind === "hole") {
          // The kernel's W+X walk notes non-zero invalid PTEs (e.g. debug_pagealloc) too.
          // (Not under PIE, where W+X is judged on effective permissions and an invalid entry has none.)
          const protLo = e.lo & PTDUMP_PROT_LO;
          const protHi = e.hi & ptdumpProtHi(PTDUMP_LINUX_6);
          if (kernel && !ctx.pie && e.level === 3 && (protLo !== 0 || protHi !== 0)) {
            const pages = (e.size * e.count) / pageSize;
            if (hyp20) {
              if (!ctx.wxn && (protLo & LO_AP2) === 0 && (protHi & HI_PXN) === 0) wxPages += pages;
            } else if (hyp) {
              if ((protLo & LO_AP2) === 0 && (protHi & HI_UXN) === 0) wxPages += pages;
            } else {
              if ((protHi & HI_UXN) === 0) nonUxnPages += pages;
              if ((protLo & LO_AP2) === 0 && (protHi & HI_PXN) === 0) wxPages += pages;
            }
          }
          return;
        }
        const va = base + BigInt(e.off);
        const size = BigInt(e.size);
        if (e.kind === "table-end") {
          const o = open.pop();
          if (o && e.key >= 0)
            subtreeCounts.set(e.key, { wx: wxPages - o.wx, nonUxn: nonUxnPages - o.nonUxn, leaves: leaves[h.index] - o.leaves });
          return;
        }
        if (e.kind === "shared") {
          // The descriptor itself is still one of its own: check its RES0 bits like any table's.
          const r = reservedBits(h, e, true, bbm);
          if (r) report("reserved-bits", va, size, undefined, e, `table descriptor at PA 0x${e.descAddr.toString(16)}: ${r}`, RULE.res0);
          const c = subtreeCounts.get(e.key);
          if (c) {
            wxPages += c.wx;
            nonUxnPages += c.nonUxn;
            leaves[h.index] += c.leaves;
          }
          const firstVa = base + BigInt(e.firstOff);
          report(
            "shared-table",
            va,
            size,
            undefined,
            e,
            `table descriptors name the level-${e.level + 1} table at PA 0x${e.next.toString(16)} already audited at VA 0x${firstVa.toString(16)}: its mappings and findings repeat here`,
            RULE.shared,
          );
          return;
        }
        if (e.kind === "table") {
          open.push({ wx: wxPages, nonUxn: nonUxnPages, leaves: leaves[h.index] });
          const r = (e.hi & tableRes0[0]) | (e.lo & tableRes0[1]) ? reservedBits(h, e, true, bbm) : undefined;
          if (r) report("reserved-bits", va, size, undefined, e, `table descriptor at PA 0x${e.descAddr.toString(16)}: ${r}`, RULE.res0);
          return;
        }
        if (e.kind === "bad-table") {
          report(
            "reserved-bits",
            va,
            size,
            undefined,
            e,
            `table descriptor at PA 0x${e.descAddr.toString(16)} points above the PA size`,
            RULE.oaSize,
          );
          return;
        }
        if (e.kind === "unbacked") {
          missingTables.add(e.table);
          const m = missing[missing.length - 1];
          if (m && m.table === BigInt(e.table) && m.va + m.size === va) missing[missing.length - 1] = { ...m, size: m.size + size };
          else missing.push({ va, size, level: e.level, table: BigInt(e.table) });
          report(
            "missing-table",
            va,
            size,
            undefined,
            e,
            `the level-${e.level} table at PA 0x${e.table.toString(16)} is not in the input: this range was not audited`,
            RULE.missing,
          );
          return;
        }
      },
      { tables: true, shared: true, runs: opts.perEntry !== true },
    );
  };
  if (opts.userHalf !== false) visitHalf(ctx.halves[0]);
  visitHalf(h1);
  findings.push(...pending.values());
  const bases = [halfBase(ctx.halves[0]), halfBase(h1)];
  findAliases(
    runs.map((a) => ({ pa: a.pa, end: a.end, cls: a.cls, va: (bases[a.half] as bigint) + BigInt(a.off), half: a.half })),
    findings,
  );
  findings.sort((a, b) => (a.va < b.va ? -1 : a.va > b.va ? 1 : FINDING_KINDS.indexOf(a.kind) - FINDING_KINDS.indexOf(b.kind)));
  const clean = wxPages === 0 && nonUxnPages === 0;
  const nMissing = missingTables.size;
  // The kernel's "passed" line only when every reachable table was read.
  const summary = !clean
    ? `Checked W+X mappings: FAILED, ${wxPages} W+X pages found, ${nonUxnPages} non-UXN pages found`
    : nMissing === 0
      ? "Checked W+X mappings: passed, no W+X pages found"
      : `Checked W+X mappings: INCONCLUSIVE, ${nMissing} reachable table${nMissing === 1 ? " is" : "s are"} not in the input (no W+X pages in the tables read)`;
  return {
    ...(el20 ? { el20 } : {}),
    wx: { wxPages: BigInt(wxPages), nonUxnPages: BigInt(nonUxnPages), passed: clean && nMissing === 0, missingTables: nMissing, summary },
    findings,
    leaves,
    missing,
  };
}

type Reporter = (kind: FindingKind, va: bigint, size: bigint, pa: bigint | undefined, e: RawEntry, message: string, rule: string) => void;

/** Check the whole contiguous group containing `e` once (the shared rule: walk/contiguous.ts). */
function checkContiguous(mem: PhysMem, h: HalfContext, hd: boolean, e: RawEntry, va: bigint, done: Set<number>, report: Reporter): void {
  // Each group is checked once, from its first CONT entry met; the others only look it up.
  const n = contiguousGroupEntries(h, e.level);
  if (n === 0 || done.has(e.descAddr - (e.descAddr % (n * 8)))) return;
  const r = checkContiguousGroup(mem, h, hd, e.level, e.descAddr);
  if (!r || done.has(r.groupAddr)) return;
  done.add(r.groupAddr);
  if (r.problems.length === 0) return;
  const idx = (e.descAddr - r.groupAddr) / 8;
  const gva = va - BigInt(idx * e.size);
  const problems = r.problems.map((p) => describeContiguousProblem(p, e.level));
  const shown = problems.length > 3 ? [...problems.slice(0, 3), `${problems.length - 3} more`] : problems;
  report(
    "bad-contiguous",
    gva,
    BigInt(r.groupBytes),
    r.oaBase !== undefined ? BigInt(r.oaBase) : undefined,
    e,
    `contiguous group of ${r.entries} at PA 0x${r.groupAddr.toString(16)}: ${shown.join("; ")}`,
    RULE.cont,
  );
}

/** Sweep the leaves by PA and report ranges mapped with two different memory classes. */
function findAliases(list: { pa: number; end: number; cls: string; va: bigint; half: number }[], out: Finding[]): void {
  list.sort((a, b) => a.pa - b.pa || a.end - b.end);
  const active: typeof list = [];
  const seen = new Set<string>();
  let lastKey = "";

  let lastOtherStart = 0n;
  for (const cur of list) {
    for (let i = active.length - 1; i >= 0; i--) if ((active[i] as (typeof list)[number]).end <= cur.pa) active.splice(i, 1);
    for (const a of active) {
      if (a.cls === cur.cls) continue;
      const lo = Math.max(a.pa, cur.pa);
      const hi = Math.min(a.end, cur.end);
      const key = `${a.va}:${cur.cls}|${cur.va}:${a.cls}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const va = cur.va + BigInt(lo - cur.pa);
      const otherVa = a.va + BigInt(lo - a.pa);
      const bothNormal = a.cls.startsWith("Normal") && cur.cls.startsWith("Normal");
      const prev = out[out.length - 1];
      const pk = `${cur.cls}|${a.cls}`;
      if (
        prev &&
        prev.kind === "attr-alias" &&
        lastKey === pk &&
        prev.va + prev.size === va &&
        prev.pa !== undefined &&
        prev.pa + prev.size === BigInt(lo) &&
        lastOtherStart + prev.size === otherVa
      ) {
        out[out.length - 1] = {
          ...prev,
          size: prev.size + BigInt(hi - lo),
          message: aliasMessage(prev.pa, BigInt(hi), cur.cls, a.cls, lastOtherStart, bothNormal),
        };
        continue;
      }
      lastKey = pk;
      lastOtherStart = otherVa;
      out.push({
        kind: "attr-alias",
        va,
        size: BigInt(hi - lo),
        pa: BigInt(lo),
        level: -1,
        descriptor: 0n,
        message: aliasMessage(BigInt(lo), BigInt(hi), cur.cls, a.cls, otherVa, bothNormal),
        rule: RULE.alias,
        severity: bothNormal ? "warning" : "error",
      });
    }
    active.push(cur);
  }
}

function aliasMessage(pa: bigint, end: bigint, cls: string, other: string, otherVa: bigint, bothNormal: boolean): string {
  const hint = bothNormal
    ? " (allowed with cache maintenance; typical of dma_alloc_coherent() remaps for non-coherent devices, whose linear-map alias stays cacheable)"
    : "";
  return `PA 0x${pa.toString(16)}-0x${end.toString(16)} mapped as ${cls} here and as ${other} at VA 0x${otherVa.toString(16)}${hint}`;
}

/** Text report: the kernel's summary line, then one line per finding. */
export function formatAudit(r: AuditReport, header?: string): string {
  const lines: string[] = [];
  if (header) lines.push(header);
  if (r.el20) lines.push(el20Line(r.el20));
  lines.push(r.wx.summary);
  const errors = r.findings.filter((f) => f.severity === "error").length;
  if (r.findings.length === 0) {
    lines.push("no findings");
  } else {
    lines.push(
      `${errors} finding${errors === 1 ? "" : "s"}, ${r.findings.length - errors} warning${r.findings.length - errors === 1 ? "" : "s"}:`,
    );
    for (const f of r.findings) {
      const va = `0x${f.va.toString(16).padStart(16, "0")}-0x${((f.va + f.size) & ((1n << 64n) - 1n)).toString(16).padStart(16, "0")}`;
      const pa = f.pa === undefined ? "" : ` PA 0x${f.pa.toString(16)}`;
      lines.push(
        `  ${f.severity === "warning" ? "warning " : ""}${f.kind.padEnd(14)} ${va} ${fmtSize(f.size).padStart(6)}${pa}: ${f.message}`,
      );
      lines.push(`  ${"".padEnd(14)} rule: ${f.rule}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** The line saying how the EL2&0 regime's ranges were judged, and from what. */
export function el20Line(v: El20View): string {
  if (v.tge) return "EL2&0 regime, HCR_EL2.TGE=1 (from HCR_EL2): a VHE host; TTBR0_EL2 judged as its user range, TTBR1_EL2 as its kernel";
  const from = v.tgeSource === "HCR_EL2" ? "from HCR_EL2" : "HCR_EL2 not given: assumed 0, the stricter view; give --hcr";
  return `EL2&0 regime, HCR_EL2.TGE=0 (${from}): no EL0 uses this regime; TTBR0_EL2 and TTBR1_EL2 judged as hypervisor mappings`;
}

/** JSON-ready form (bigints as hex strings). */
export function auditToJson(r: AuditReport): unknown {
  const hx = (v: bigint): string => `0x${v.toString(16)}`;
  return {
    ...(r.el20 ? { el20: { tge: r.el20.tge ? 1 : 0, tgeSource: r.el20.tgeSource, view: el20Line(r.el20) } } : {}),
    summary: r.wx.summary,
    passed: r.wx.passed,
    inconclusive: r.wx.missingTables > 0,
    missingTables: r.wx.missingTables,
    errors: r.findings.filter((f) => f.severity === "error").length,
    wxPages: Number(r.wx.wxPages),
    nonUxnPages: Number(r.wx.nonUxnPages),
    leaves: { ttbr0: r.leaves[0], ttbr1: r.leaves[1] },
    findings: r.findings.map((f) => ({
      kind: f.kind,
      va: hx(f.va),
      end: hx((f.va + f.size) & ((1n << 64n) - 1n)),
      ...findingDetailsJson(f),
    })),
  };
}

/** The JSON fields of a finding after its kind and range (shared with the stage-2 audit). */
export function findingDetailsJson(f: Omit<Finding, "kind" | "va">): Record<string, unknown> {
  const hx = (v: bigint): string => `0x${v.toString(16)}`;
  return {
    size: hx(f.size),
    pa: f.pa === undefined ? null : hx(f.pa),
    level: f.level,
    descriptor: hx(f.descriptor),
    message: f.message,
    rule: f.rule,
    severity: f.severity,
  };
}
