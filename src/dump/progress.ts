/**
 * Progress on stderr for long loads and scans: only when stderr is a terminal, at most ~10 updates
 * a second, erased when done.
 */
export type ProgressFn = (done: number, total: number) => void;

export interface Progress {
  readonly update: ProgressFn;
  readonly done: () => void;
}

const NOOP: Progress = { update: () => {}, done: () => {} };

/** A progress reporter labelled `label`; a no-op unless `enabled` (default: stderr is a TTY). */
export function stderrProgress(label: string, enabled: boolean = process.stderr.isTTY === true): Progress {
  if (!enabled) return NOOP;
  let last = 0;
  let shown = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      shown = true;
      const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
      process.stderr.write(`\r${label}: ${pct}%`);
    },
    done() {
      if (shown) process.stderr.write(`\r${" ".repeat(label.length + 6)}\r`);
    },
  };
}
