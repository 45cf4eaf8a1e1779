/// <reference lib="webworker" />
/**
 * The memory worker: owns the PhysMem and registers, loads images, walks, builds maps. The UI
 * thread only renders what comes back, so loading a 1 GiB dump never blocks it.
 */
import { ParseError, VmsaError } from "../../../src/arch/errors.js";
import { decodeHcr } from "../../../src/arch/hcr.js";
import { presetByName, type Regs } from "../../../src/arch/registers.js";
import { parseU64 } from "../../../src/arch/u64.js";
import { audit } from "../../../src/dump/audit.js";
import type { ElfNote } from "../../../src/dump/elfcore-reader.js";
import { kvmIpaRangeText, kvmStage2LevelsText, kvmStage2PageTables } from "../../../src/dump/kvm-stage2.js";
import { linuxLayout } from "../../../src/dump/layout.js";
import { type OpenedDump, resolveLoaded } from "../../../src/dump/open-loaded.js";
import { type Marker, ptdump } from "../../../src/dump/ptdump.js";
import { mergeRegs, type SourcedRegs } from "../../../src/dump/regfile.js";
import { type ParsedSnapshot, parseSnapshot } from "../../../src/dump/snapshot.js";
import { type Stage2Dump, stage2CheckedGeometry, stage2FromSets } from "../../../src/dump/stage2-regs.js";
import { loadCodecLibs } from "../../../src/io/codec-libs.js";
import { PhysMem } from "../../../src/mem/physmem.js";
import { compileRegs, type WalkContext } from "../../../src/walk/context.js";
import { halfBase, type RangeGeometry } from "../../../src/walk/range.js";
import { compileStage2 } from "../../../src/walk/stage2.js";
import { Walker } from "../../../src/walk/walker.js";
import { exploreInterleavings, exploreOutcomes, replayInterleaving } from "../lib/checker.js";
import { buildExample } from "../lib/demo.js";
import { KERNEL_EXAMPLE } from "../lib/kernelExample.js";
import type { LoadStats } from "../lib/load.js";
import { buildMap } from "../lib/mapdata.js";
import { traceScenario } from "../lib/stepper.js";
import { buildTwoStageExample, TWO_STAGE_EXAMPLE } from "../lib/twoStage.js";
import { bundledKernelExample } from "./kernelBundle.js";
import { openImage } from "./open-image.js";
import type { ImageRequest, ReplyBody, Request, SourceInfo, WorkerMessage } from "./protocol.js";

declare const self: DedicatedWorkerGlobalScope;

/** GET /gdb/tables of `vmsa serve --gdb` (src/cli/serve.ts sendLiveTables). */
interface LiveTablesJson {
  readonly description: string;
  readonly registers: Readonly<Record<string, string>>;
  readonly sources: Readonly<Record<string, string>>;
  readonly runs: readonly { readonly pa: string; readonly data: string }[];
  readonly stats: { readonly tables: number; readonly bytes: number; readonly ms: number };
}

function base64Bytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

interface State {
  mem: PhysMem;
  regs: Regs;
  ctx: WalkContext;
  walker: Walker;
  info: SourceInfo;
  /** A dump's ptdump markers from its kernel layout (undefined: unknown, Linux 6.1's are used). */
  markers?: readonly Marker[] | undefined;
  /** A dump with VTCR_EL2/VTTBR_EL2: its stage-2 tables (as `vmsa dump --stage 2`). */
  stage2?: { readonly dump: Stage2Dump; readonly geometry: RangeGeometry } | undefined;
}

let state: State | undefined;

function setState(mem: PhysMem, regs: Regs, info: Omit<SourceInfo, "regs">): SourceInfo {
  const ctx = compileRegs(regs);
  const full: SourceInfo = { ...info, regs };
  const same = state?.mem === mem;
  state = {
    mem,
    regs,
    ctx,
    walker: new Walker(mem, ctx),
    info: full,
    markers: same ? state?.markers : undefined,
    stage2: same ? state?.stage2 : undefined,
  };
  return full;
}

/** A dump opened as `vmsa dump` opens it (resolveLoaded) becomes the source: registers with their sources, layout, markers. */
function setOpened(
  mem: PhysMem,
  d: OpenedDump,
  regs: Regs,
  stage2: State["stage2"],
  info: Omit<SourceInfo, "regs" | "tour" | "regSources" | "layout" | "layoutExact" | "stage1">,
): SourceInfo {
  const regSources: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.sources)) if (v !== undefined && /_EL\d$/.test(k)) regSources[k] = v;
  const full = setState(mem, regs, {
    ...info,
    tour: [],
    regSources,
    layout: d.sources.layout ?? d.layoutSource.detail,
    layoutExact: d.layoutSource.exact && d.markers !== undefined,
    stage1: true,
  });
  if (state) {
    state.markers = d.markers;
    state.stage2 = stage2;
  }
  return full;
}

/**
 * The chosen files that are snapshot descriptors (`*.json`, as the CLI tells them), parsed by the
 * CLI's parser, with the images their memory entries name (found among the chosen files by name).
 */
async function openSnapshots(
  all: readonly ImageRequest[],
): Promise<{ name: string; snap: ParsedSnapshot; images: ImageRequest[]; uses: Set<ImageRequest> }[]> {
  const out: { name: string; snap: ParsedSnapshot; images: ImageRequest[]; uses: Set<ImageRequest> }[] = [];
  for (const img of all) {
    if (!/\.json$/i.test(img.name)) continue;
    const text = img.blob ? await img.blob.text() : img.url ? await (await fetch(img.url)).text() : "";
    const snap = parseSnapshot(text, img.name);
    const uses = new Set<ImageRequest>([img]);
    const images = snap.memory.map((m) => {
      const base = m.file.slice(m.file.lastIndexOf("/") + 1);
      const f = all.find((x) => x.name === base && x !== img);
      if (!f) throw new VmsaError("EBANK_READ", `${m.where}: ${m.file} is not among the files chosen: add it too`);
      uses.add(f);
      return m.kind === "raw" ? { ...f, pa: m.pa } : { ...f, pa: undefined };
    });
    out.push({ name: img.name, snap, images, uses });
  }
  return out;
}

function need(): State {
  if (!state) throw new VmsaError("ENOSOURCE", "no memory loaded: open the example or a dump first");
  return state;
}

const FIXMAP_DEFAULT = 0x407000n;

/** Linux 6.1's address markers for this half's VA size and granule (the one layout model the CLI uses). */
function linux61Markers(vaBits: number, pageShift: number, fixmapSize: bigint): readonly Marker[] {
  return linuxLayout({ version: [6, 1], pageShift, vaBits, fixmapSize }).markers;
}

function markersFor(
  ctx: WalkContext,
  half: 0 | 1,
  known: readonly Marker[] | undefined,
  fixmapSize = FIXMAP_DEFAULT,
): { off: number; name: string }[] {
  if (half === 0) return [];
  const h = ctx.halves[1];
  const base = halfBase(h);
  return (known ?? linux61Markers(h.iaBits, h.gShift, fixmapSize))
    .filter((m) => m.address >= base)
    .map((m) => ({ off: Number(m.address - base), name: m.name }));
}

async function handle(id: number, req: Request): Promise<ReplyBody> {
  switch (req.op) {
    case "example": {
      const t0 = performance.now();
      const ex =
        req.preset === KERNEL_EXAMPLE
          ? bundledKernelExample()
          : req.preset === TWO_STAGE_EXAMPLE
            ? buildTwoStageExample()
            : buildExample(req.preset);
      return {
        op: "example",
        info: setState(ex.mem, ex.regs, { name: ex.name, images: [], tour: ex.tour, loadMs: performance.now() - t0 }),
      };
    }
    case "load": {
      const t0 = performance.now();
      const mem = new PhysMem();
      const stats: LoadStats[] = [];
      const notes: ElfNote[] = [];
      const ranges: { name: string; pa: bigint; end: bigint }[] = [];
      // Snapshot descriptors (machine.json) first: their memory entries name other chosen files.
      const snaps = await openSnapshots(req.images);
      const regSets = [...snaps.flatMap((x) => [x.snap.regs]), req.registers];
      const snap = Object.assign({}, ...snaps.map((x) => x.snap)) as Partial<ParsedSnapshot>;
      const images = [...snaps.flatMap((x) => x.images), ...req.images.filter((i) => !snaps.some((x) => x.uses.has(i)))];
      for (const img of images) {
        const o = await openImage(mem, img, (done, total) =>
          self.postMessage({ id, progress: { done, total, name: img.name } } satisfies WorkerMessage),
        );
        const s = o.stats;
        notes.push(...o.notes);
        stats.push(s);
        if (s.pa === undefined) continue;
        // Raw images read whole store only their non-zero frames: check their ranges here.
        const end = s.pa + BigInt(s.bytes);
        for (const r of ranges) {
          if (s.pa < r.end && r.pa < end) {
            throw new VmsaError(
              "EBANK_OVERLAP",
              `${img.name}@0x${s.pa.toString(16)} (0x${s.bytes.toString(16)} bytes) overlaps ${r.name}@0x${r.pa.toString(16)}`,
            );
          }
        }
        ranges.push({ name: img.name, pa: s.pa, end });
      }
      const memory = [...snaps.map((x) => `snapshot ${x.name}`), ...stats.map((s) => s.desc ?? s.name)].join(", ");
      // Stage 2 when the registers give VTCR_EL2 and VTTBR_EL2 (as `vmsa dump --stage 2`).
      const r = mergeRegs(...regSets).values;
      let stage2: State["stage2"];
      if (r.VTCR_EL2 !== undefined && r.VTTBR_EL2 !== undefined) {
        const dump = stage2FromSets(mem, memory, regSets, req.name);
        stage2 = { dump, geometry: stage2CheckedGeometry(dump) };
      }
      const s2info = stage2 && {
        ipaBits: stage2.geometry.iaBits,
        startLevel: stage2.geometry.startLevel,
        sources: Object.fromEntries(Object.entries(stage2.dump.sources).filter((e): e is [string, string] => e[1] !== undefined)),
      };
      // VMCOREINFO, registers and the kernel layout exactly as `vmsa dump` resolves them (the
      // layout may inflate an IKCONFIG found in memory: its decompressor is loaded first).
      await loadCodecLibs(["gzip"]);
      let d: OpenedDump;
      try {
        d = resolveLoaded(
          {
            mem,
            elfNotes: notes,
            regSets,
            kernelDesc: snap.kernel,
            snapConfig: snap.config,
            snapVaBits: snap.vaBits,
            snapFixmap: snap.fixmapSize,
            memory,
          },
          { what: req.name, ...(req.kernelVersion ? { kernelVersion: req.kernelVersion } : {}) },
        );
      } catch (e) {
        if (!stage2 || !(e instanceof ParseError)) throw e;
        // A stage-2 source only (no stage-1 registers): the stage-2 views, and stage-1 views with no tables.
        const base = presetByName("linux-4k-48").regs;
        const regs: Regs = {
          ...base,
          ttbr0: 0n,
          ttbr1: 0n,
          hcr: stage2.dump.regs.hcr,
          vtcr: stage2.dump.regs.vtcr,
          vttbr: stage2.dump.regs.vttbr,
        };
        const info = setState(mem, regs, {
          name: req.name,
          images: stats,
          tour: [],
          loadMs: performance.now() - t0,
          memory,
          stage1: false,
          ...(s2info ? { stage2: s2info } : {}),
          notes: [...stage2.dump.notes, `no stage-1 registers (${e.message}): a stage-2 source`],
        });
        if (state) state.stage2 = stage2;
        return { op: "load", info };
      }
      const regs = stage2 ? { ...d.regs, hcr: stage2.dump.regs.hcr, vtcr: stage2.dump.regs.vtcr, vttbr: stage2.dump.regs.vttbr } : d.regs;
      const info = setOpened(mem, d, regs, stage2, {
        name: req.name,
        images: stats,
        loadMs: performance.now() - t0,
        memory,
        notes: [...d.notes, ...(stage2?.dump.notes ?? [])],
        ...(s2info ? { stage2: s2info } : {}),
      });
      return { op: "load", info };
    }
    case "live": {
      const t0 = performance.now();
      const res = await fetch(req.url, { cache: "no-store" });
      const body = await res.text();
      if (!res.ok) throw new VmsaError("EGDB_TARGET", `live guest: ${body.trim() || `server answered ${res.status}`}`);
      const live = JSON.parse(body) as LiveTablesJson;
      const mem = new PhysMem();
      for (const r of live.runs) mem.writeBytes(parseU64(r.pa, "live run"), base64Bytes(r.data));
      const values: Record<string, bigint> = {};
      for (const [k, v] of Object.entries(live.registers)) values[k] = parseU64(v, `live register ${k}`);
      const memory = `${live.description}: ${live.stats.tables} table page${live.stats.tables === 1 ? "" : "s"} (${live.stats.bytes / 1024} KiB) in ${live.stats.ms} ms`;
      // As `vmsa dump --gdb`: no VMCOREINFO nor IKCONFIG (only tables were read); the version from the input.
      await loadCodecLibs(["gzip"]);
      const d = resolveLoaded(
        {
          mem,
          elfNotes: [],
          regSets: [{ values, sources: live.sources } as SourcedRegs],
          kernelDesc: undefined,
          snapConfig: undefined,
          snapVaBits: undefined,
          snapFixmap: undefined,
          memory,
        },
        {
          what: live.description,
          vmcoreinfo: false,
          searchDump: false,
          ...(req.kernelVersion ? { kernelVersion: req.kernelVersion } : {}),
        },
      );
      const info = setOpened(mem, d, d.regs, undefined, {
        name: live.description,
        images: [],
        loadMs: performance.now() - t0,
        memory,
        notes: d.notes,
        live: true,
      });
      return { op: "live", info };
    }
    case "set-regs": {
      const s = need();
      return { op: "set-regs", info: setState(s.mem, req.regs, s.info) };
    }
    case "translate": {
      const s = need();
      const regs = req.stage2 ? { ...s.regs, ...req.stage2 } : s.regs;
      const result = (req.stage2 ? new Walker(s.mem, regs) : s.walker).translate(req.va, req.access);
      // The same library walk again for each table read's IPA, as stage 2 saw it (access "ttw").
      if ((regs.regime ?? "el10") !== "el10" || regs.vtcr === undefined || !decodeHcr(regs.hcr ?? 0n).stage2) {
        return { op: "translate", result };
      }
      const s2 = new Walker(
        s.mem,
        compileStage2(
          { hcr: regs.hcr ?? 0n, vtcr: regs.vtcr, vttbr: regs.vttbr ?? 0n, ...(regs.s2pir !== undefined ? { s2pir: regs.s2pir } : {}) },
          regs.features,
        ),
      );
      const tableWalks = result.trail.map((t) => (t.ipa === undefined ? undefined : s2.translateIpa(t.ipa, "ttw")));
      return { op: "translate", result, tableWalks };
    }
    case "map": {
      const s = need();
      const h = s.ctx.halves[req.half];
      const m = buildMap(s.mem, s.ctx, req.half, req.start, req.end, req.width);
      return { op: "map", map: { ...m, markers: markersFor(s.ctx, req.half, s.markers), iaBits: h.iaBits } };
    }
    case "audit": {
      const s = need();
      return { op: "audit", report: audit(s.mem, s.ctx, { userHalf: req.userHalf }) };
    }
    case "scenario":
      return { op: "scenario", trace: traceScenario(req.text, req.file, undefined, req.order) };
    case "interleavings":
      return { op: "interleavings", search: exploreInterleavings(req.text, req.file, req.limits) };
    case "explore":
      return { op: "explore", outcomes: exploreOutcomes(req.text, req.file, req.limits) };
    case "replay":
      return { op: "replay", interleaving: replayInterleaving(req.text, req.file, req.choices) };
    case "ptdump": {
      const s = need();
      const h = s.ctx.halves[1];
      const markers = s.markers ?? linux61Markers(h.iaBits, h.gShift, req.fixmapSize);
      return { op: "ptdump", text: ptdump(s.mem, s.ctx, { markers }), markers };
    }
    case "kvm-stage2": {
      const s2 = need().stage2;
      if (!s2) throw new VmsaError("ENOSOURCE", "no stage 2 in this source: load a dump with VTCR_EL2 and VTTBR_EL2 in its registers");
      if (req.file === "ipa_range") return { op: "kvm-stage2", text: kvmIpaRangeText(s2.geometry), passes: 1, missing: 0 };
      if (req.file === "stage2_levels") return { op: "kvm-stage2", text: kvmStage2LevelsText(s2.geometry), passes: 1, missing: 0 };
      const r = kvmStage2PageTables(s2.dump.mem, s2.geometry);
      return { op: "kvm-stage2", text: r.text, passes: r.passes, missing: r.missing.length };
    }
  }
}

self.onmessage = (ev: MessageEvent<{ id: number; req: Request }>) => {
  const { id, req } = ev.data;
  handle(id, req).then(
    (body) => self.postMessage({ id, ok: true, body } satisfies WorkerMessage),
    (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      self.postMessage({ id, ok: false, error: err.message, code: e instanceof VmsaError ? e.code : undefined } satisfies WorkerMessage);
    },
  );
};
