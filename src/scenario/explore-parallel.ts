/**
 * `--explore` on worker threads (Node only): the interleaving tree is cut into the subtrees
 * under its first levels' prefixes, handed out in DFS order to `jobs` workers, and merged in
 * prefix order, so a complete run reports exactly what the sequential search reports (the same
 * findings, counts and first orders). The caller stays synchronous: it blocks on a shared word
 * (Atomics.wait) and takes the workers' answers with receiveMessageOnPort.
 *
 * A worker that never loads is not waited for: after a minute the search runs on this thread.
 * (One that dies mid-part, killed or out of memory, cannot be seen from a blocked thread: that
 * case is not covered.)
 *
 * Bounds: the interleaving limit and the time budget are checked when a part is handed out and
 * inside each part (a part gets the limit left when it starts), so a stopped parallel run may
 * have run somewhat more than the limit; it is reported inconclusive / incomplete as usual.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import { type ExploreResult, type ExploreStopReason, exploreResult, InterleavingSearch, type SearchPart } from "./explore.js";
import type { Scenario } from "./format.js";

export interface ParallelOptions {
  readonly jobs: number;
  readonly limit: number;
  readonly budgetMs?: number;
  readonly reduce: boolean;
  /** The worker script (default: the compiled explore-worker.js beside this module) and how long it may take to load. */
  readonly worker?: URL;
  readonly readyMs?: number;
}

const WORKER = new URL("./explore-worker.js", import.meta.url);
/** How long a worker may take to load before the exploration runs on this thread instead. */
const READY_MS = 60_000;

/**
 * Explore `s` (whose scenario text is `text`) on `jobs` worker threads; undefined when that is
 * not possible (the compiled worker is missing, as when running from sources, or the tree has
 * one part): the caller then runs the sequential search.
 */
export function exploreParallel(s: Scenario, text: string, o: ParallelOptions): ExploreResult | undefined {
  const script = o.worker ?? WORKER;
  if (o.jobs < 2 || script.protocol !== "file:" || !existsSync(fileURLToPath(script))) return undefined;
  const search = new InterleavingSearch(s, o.reduce);
  const prefixes = search.prefixes(o.jobs * 8);
  if (prefixes.length < 2) return undefined;
  const deadline = o.budgetMs === undefined ? undefined : Date.now() + o.budgetMs;
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const workers: { worker: Worker; port: MessagePort; busy: boolean }[] = [];
  for (let k = 0; k < Math.min(o.jobs, prefixes.length); k++) {
    const ch = new MessageChannel();
    const worker = new Worker(script, {
      workerData: { text, file: s.file, reduce: o.reduce, deadline, signal: signal.buffer, port: ch.port2 },
      transferList: [ch.port2],
    });
    worker.unref();
    workers.push({ worker, port: ch.port1, busy: false });
  }
  // Every worker says it is loaded before any work is handed out; one that does not within
  // READY_MS (a broken build, a machine out of threads) makes this fall back to one thread
  // rather than wait forever for an answer that cannot come.
  const readyBy = Date.now() + (o.readyMs ?? READY_MS);
  let ready = 0;
  while (ready < workers.length && Date.now() < readyBy) {
    const seen = Atomics.load(signal, 0);
    for (const w of workers) if (receiveMessageOnPort(w.port) !== undefined) ready++;
    if (ready < workers.length) Atomics.wait(signal, 0, seen, 200);
  }
  if (ready < workers.length) {
    for (const w of workers) void w.worker.terminate();
    return undefined;
  }
  const parts: (SearchPart | undefined)[] = prefixes.map(() => undefined);
  let next = 0;
  let runs = 0;
  let stopped: ExploreStopReason | undefined;
  const give = (w: (typeof workers)[number]): void => {
    if (next >= prefixes.length || stopped !== undefined) return;
    if (runs >= o.limit) stopped = "interleaving-limit";
    else if (deadline !== undefined && Date.now() >= deadline) stopped = "time-budget";
    if (stopped !== undefined) return;
    w.worker.postMessage({ index: next, prefix: prefixes[next], limit: o.limit - runs });
    w.busy = true;
    next++;
  };
  let failure: string | undefined;
  try {
    for (const w of workers) give(w);
    while (workers.some((w) => w.busy)) {
      const seen = Atomics.load(signal, 0);
      let got = false;
      for (const w of workers) {
        if (!w.busy) continue;
        const m = receiveMessageOnPort(w.port)?.message as { index: number; part?: SearchPart; error?: string } | undefined;
        if (m === undefined) continue;
        got = true;
        w.busy = false;
        if (m.error !== undefined || m.part === undefined) {
          failure ??= m.error ?? "a worker sent no result";
          continue;
        }
        parts[m.index] = m.part;
        runs += m.part.runs;
        if (failure === undefined) give(w);
      }
      if (!got) Atomics.wait(signal, 0, seen, 1000);
    }
  } finally {
    for (const w of workers) void w.worker.terminate();
  }
  if (failure !== undefined) throw new Error(`--explore worker: ${failure}`);
  if (next < prefixes.length) stopped ??= runs >= o.limit ? "interleaving-limit" : "time-budget";
  return exploreResult(
    s,
    search,
    parts.filter((p): p is SearchPart => p !== undefined),
    o.limit,
    o.budgetMs,
    stopped,
  );
}
