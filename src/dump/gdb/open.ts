/**
 * Open a live QEMU guest as a dump: registers from its gdbstub, then only the translation tables
 * the command will walk, read from physical memory into a PhysMem; the guest is detached (and
 * runs on) before the walk starts. Nothing is written to disk.
 */
import { FRAME_SIZE, PhysMem } from "../../mem/physmem.js";
import { compileRegs } from "../../walk/context.js";
import { type OpenDumpOptions, type OpenedDump, openLoaded } from "../inputs.js";
import { completeRegs, type SourcedRegs } from "../regfile.js";
import { type Stage2Dump, type Stage2DumpOptions, stage2FromRegisters } from "../stage2-inputs.js";
import type { GdbAddress } from "./client.js";
import { GdbTarget } from "./target.js";

/** What the command will walk: whole halves (dump, audit) or the paths of some VAs (translate). */
export type LiveNeed = { readonly halves: readonly (0 | 1)[] } | { readonly vas: readonly bigint[] };

export interface LiveOptions extends Omit<OpenDumpOptions, "inputs"> {
  /** Milliseconds to wait for the connection and each reply. */
  readonly timeoutMs?: number;
  /** At most this many distinct tables per half (the rest stays missing data). */
  readonly maxTables?: number;
}

export interface LiveFigures {
  readonly tables: number;
  readonly unreadable: number;
  readonly bytes: number;
  readonly packets: number;
  readonly ms: number;
  readonly limitReached: boolean;
}

export async function openLiveDump(addr: GdbAddress, opts: LiveOptions, need: LiveNeed): Promise<OpenedDump & { live: LiveFigures }> {
  const t0 = Date.now();
  const target = await GdbTarget.open(addr, opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {});
  try {
    const mem = new PhysMem();
    const d = openLoaded(
      {
        mem,
        elfNotes: [],
        regSets: [target.regs],
        kernelDesc: undefined,
        snapConfig: undefined,
        snapVaBits: undefined,
        snapFixmap: undefined,
        memory: target.description,
      },
      // VMCOREINFO sits somewhere in RAM: a live read fetches tables only, so it comes from a file if at all.
      { ...opts, inputs: [`gdb ${target.client.where}`], vmcoreinfo: opts.vmcoreinfo ?? false, progress: false, searchDump: false },
    );
    const ctx = compileRegs(d.regs);
    let limitReached = false;
    const max = opts.maxTables !== undefined ? { maxTables: opts.maxTables } : {};
    if ("halves" in need) {
      for (const i of need.halves) limitReached = (await target.prefetchHalf(mem, ctx.halves[i], max)) || limitReached;
    } else {
      // VA bit 55 selects the half (ASL AArch64.S1TTWParamsEL10: TTBR1 when VA[55] is 1).
      for (const i of [0, 1] as const) {
        const vas = need.vas.filter((v) => Number((v >> 55n) & 1n) === i);
        if (vas.length > 0) limitReached = (await target.prefetchHalf(mem, ctx.halves[i], { vas, ...max })) || limitReached;
      }
    }
    const s = target.stats;
    const ms = Date.now() - t0;
    const sources = d.sources as Record<string, string>;
    sources.memory = `${target.description}: ${s.tables} table page${s.tables === 1 ? "" : "s"} (${s.bytes / 1024} KiB) in ${ms} ms${s.unreadable > 0 ? `, ${s.unreadable} unreadable` : ""}`;
    const notes = [...d.notes];
    if (limitReached) notes.push(`live guest: stopped after ${opts.maxTables ?? 0} tables per half; the rest is reported as missing`);
    return { ...d, notes, live: { ...s, packets: target.client.packets, ms, limitReached } };
  } finally {
    await target.close();
  }
}

/**
 * A live KVM host's stage 2: VTTBR_EL2/VTCR_EL2/HCR_EL2 from the gdbstub (QEMU names them when the
 * vCPU has EL2, -M virt,virtualization=on), overridden by `opts` (register file, flags), then the
 * stage-2 tables reachable from VTTBR_EL2 read from physical memory (each distinct table once);
 * detached before the walk.
 */
export async function openLiveStage2(
  addr: GdbAddress,
  opts: Pick<Stage2DumpOptions, "regsFile" | "regs"> & { readonly timeoutMs?: number },
): Promise<Stage2Dump> {
  const target = await GdbTarget.open(addr, opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {});
  try {
    const mem = new PhysMem();
    const d = stage2FromRegisters(mem, target.description, [target.regs], opts, `gdb ${target.client.where}`);
    await target.prefetchHalf(mem, d.stage2.halves[0]);
    const s = target.stats;
    const sources = { ...d.sources, memory: `${target.description}: ${s.tables} stage-2 table page${s.tables === 1 ? "" : "s"}` };
    return { ...d, sources };
  } finally {
    await target.close();
  }
}

/** What a live read gives without interpreting it: the registers and the table pages (for `vmsa serve --gdb`). */
export interface LiveTables {
  readonly description: string;
  readonly regs: SourcedRegs;
  /** Runs of 4 KiB frames read from physical memory. */
  readonly runs: readonly { readonly pa: number; readonly bytes: Uint8Array }[];
  readonly stats: LiveFigures;
}

/**
 * Attach, read the registers and every table reachable from TTBR0_EL1 and TTBR1_EL1 (as `vmsa dump
 * --gdb` reads them), detach: the guest runs on. The UI's worker walks the pages it is given.
 */
export async function readLiveTables(addr: GdbAddress, opts: { timeoutMs?: number; maxTables?: number } = {}): Promise<LiveTables> {
  const t0 = Date.now();
  const target = await GdbTarget.open(addr, opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {});
  try {
    const mem = new PhysMem();
    const ctx = compileRegs(completeRegs(target.regs, `gdb ${target.client.where}`).regs);
    const max = opts.maxTables !== undefined ? { maxTables: opts.maxTables } : {};
    let limitReached = false;
    for (const i of [1, 0] as const) limitReached = (await target.prefetchHalf(mem, ctx.halves[i], max)) || limitReached;
    const runs = mem
      .backedRuns()
      .map((r) => ({ pa: r.first * FRAME_SIZE, bytes: mem.readBytes(BigInt(r.first * FRAME_SIZE), r.count * FRAME_SIZE) }));
    return {
      description: target.description,
      regs: target.regs,
      runs,
      stats: { ...target.stats, packets: target.client.packets, ms: Date.now() - t0, limitReached },
    };
  } finally {
    await target.close();
  }
}
