/**
 * A worker thread of a parallel `--explore` (explore-parallel.ts): parses the scenario it is
 * given, then runs the subtree under each prefix it receives and posts what it found on its
 * port, counting up the shared signal word so the (blocked) main thread wakes.
 */
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import { InterleavingSearch } from "./explore.js";
import { parseScenario } from "./format.js";

interface Data {
  readonly text: string;
  readonly file: string;
  readonly reduce: boolean;
  /** Date.now() after which no interleaving starts (undefined: no budget). */
  readonly deadline: number | undefined;
  readonly signal: SharedArrayBuffer;
  readonly port: MessagePort;
}

const data = workerData as Data;
const signal = new Int32Array(data.signal);
let search: InterleavingSearch | undefined;

// Loaded: say so (the main thread falls back to one thread when a worker never gets here).
data.port.postMessage({ ready: true });
Atomics.add(signal, 0, 1);
Atomics.notify(signal, 0);

parentPort?.on("message", (task: { index: number; prefix: number[]; limit: number }) => {
  try {
    search ??= new InterleavingSearch(parseScenario(data.text, data.file), data.reduce);
    const deadline = data.deadline;
    const part = search.run(task.prefix, {
      limit: task.limit,
      outOfTime: deadline === undefined ? undefined : () => Date.now() >= deadline,
    });
    data.port.postMessage({ index: task.index, part });
  } catch (e) {
    data.port.postMessage({ index: task.index, error: e instanceof Error ? e.message : String(e) });
  }
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
});
