/**
 * `vmsa check --trace FILE [--system-map FILE]`: replay a `vmsa record` trace (QEMU plugin,
 * plugins/record) on the machine model and report every rule the recorded guest broke, with the
 * guest PC and kernel function. Exit status: 0 clean, 1 violations, 2 bad input (a truncated or
 * corrupt trace, a bad System.map), 3 inconclusive (no violation, but records the model does not
 * know were skipped).
 */
import { VmsaError } from "../arch/errors.js";
import { decodeText, gunzipBytes, isGzip, readInputFile } from "../io/files.js";
import { renderTraceText, traceToJson, traceVerdict } from "../trace/render.js";
import { replayTrace } from "../trace/replay.js";
import { SymbolMap } from "../trace/system-map.js";

export interface TraceCheckOptions {
  readonly format?: string;
  readonly systemMap?: string;
}

export function readTrace(path: string): Uint8Array {
  const raw = readInputFile(path, "--trace");
  return isGzip(raw) ? gunzipBytes(raw, path, "--trace") : raw;
}

export function checkTrace(path: string, opts: TraceCheckOptions, out: (s: string) => void, err: (s: string) => void): number {
  const format = opts.format ?? "text";
  try {
    if (format !== "text" && format !== "json") throw new VmsaError("EUSAGE", `--format: "${format}" is not text or json`);
    const syms =
      opts.systemMap !== undefined
        ? SymbolMap.parse(decodeText(readInputFile(opts.systemMap, "--system-map"), opts.systemMap, "--system-map"), opts.systemMap)
        : undefined;
    const data = readTrace(path);
    const res = replayTrace(data, path);
    if (format === "json") out(`${JSON.stringify(traceToJson(path, res, data.byteLength, syms), null, 2)}\n`);
    else out(renderTraceText(path, res, data.byteLength, syms));
    const v = traceVerdict(res);
    return v === "violations" ? 1 : v === "inconclusive" ? 3 : 0;
  } catch (e) {
    if (e instanceof VmsaError) {
      err(`vmsa: error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
