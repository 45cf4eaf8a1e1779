/**
 * The long fuzz campaign: `npm run fuzz -- --runs N [--seed S] [--target NAME] [--save DIR]`.
 * Each reader runs in a child process of its own, so a hang (no progress for --hang-ms) or an
 * out-of-memory abort is caught and reported with the input that caused it instead of stopping
 * the campaign. Prints, per reader: inputs tried, distinct error codes seen, crashes (must be 0).
 * Exit status 1 when any reader crashed or hung.
 */
import { fork } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { distinctCrashes, type Figures, fuzzTarget, inputAt, judge } from "./harness.js";
import { getScratch, targets } from "./targets.js";

interface Args {
  runs: number;
  seed: number;
  target?: string;
  save?: string;
  hangMs: number;
  child: boolean;
  /** Run only this input (in this process) and print what it did, with the stack of a crash. */
  only?: number;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { runs: 2000, seed: Date.now() % 2 ** 31, hangMs: 30_000, child: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    const int = (): number => {
      if (v === undefined || !/^[0-9]+$/.test(v)) throw new Error(`${k}: expected a decimal count, got ${v ?? "nothing"}`);
      i++;
      return Number(v);
    };
    if (k === "--runs") a.runs = int();
    else if (k === "--seed") a.seed = int();
    else if (k === "--hang-ms") a.hangMs = int();
    else if (k === "--only") a.only = int();
    else if (k === "--target") {
      a.target = v;
      i++;
    } else if (k === "--save") {
      a.save = v;
      i++;
    } else if (k === "--child") a.child = true;
    else throw new Error(`unknown option ${k} (expected --runs N, --seed S, --target NAME, --save DIR, --hang-ms MS, --only INDEX)`);
  }
  return a;
}

/** What a child sends back. */
type Msg =
  | { t: "ready" }
  | { t: "input"; index: number }
  | { t: "done"; tried: number; ok: number; codes: [string, number][]; crashes: { index: number; seed: string; what: string }[] };

async function child(a: Args): Promise<void> {
  const t = targets().find((x) => x.name === a.target);
  if (!t) throw new Error(`no target ${a.target}`);
  const send = (m: Msg): void => void process.send?.(m);
  send({ t: "ready" });
  const fig = await fuzzTarget(t, a.runs, a.seed, (index) => send({ t: "input", index }));
  send({
    t: "done",
    tried: fig.tried,
    ok: fig.ok,
    codes: [...fig.codes],
    crashes: fig.crashes.map((c) => ({ index: c.index, seed: c.seed, what: c.what })),
  });
  getScratch().dispose();
}

function runChild(a: Args, name: string): Promise<Figures> {
  return new Promise((resolve) => {
    const fig: Figures = { target: name, tried: 0, ok: 0, codes: new Map(), crashes: [] };
    const args = ["--child", "--target", name, "--runs", String(a.runs), "--seed", String(a.seed)];
    const p = fork(new URL(import.meta.url).pathname, args, {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let at = 0;
    let finished = false;
    // Building the seeds (real cores) may take a while on a busy machine: the hang clock starts at "ready".
    let timer = setTimeout(hang, 600_000);
    function hang(): void {
      fig.crashes.push({
        index: at,
        seed: "?",
        what: `hang: no progress for ${a.hangMs} ms (input #${at})`,
        input: { seed: "?", bytes: new Uint8Array() },
      });
      p.kill("SIGKILL");
    }
    p.on("message", (m: Msg) => {
      clearTimeout(timer);
      timer = setTimeout(hang, a.hangMs);
      if (m.t === "input") at = m.index;
      else if (m.t === "done") {
        finished = true;
        fig.tried = m.tried;
        fig.ok = m.ok;
        for (const [c, n] of m.codes) fig.codes.set(c, n);
        for (const c of m.crashes) fig.crashes.push({ ...c, input: { seed: c.seed, bytes: new Uint8Array() } });
      }
    });
    p.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (!finished) {
        if (!fig.crashes.some((c) => c.what.startsWith("hang"))) {
          fig.crashes.push({
            index: at,
            seed: "?",
            what: `reader process died (${signal ?? `exit ${code}`}) at input #${at} (out of memory?)`,
            input: { seed: "?", bytes: new Uint8Array() },
          });
        }
        fig.tried = at + 1;
      }
      resolve(fig);
    });
  });
}

/** Re-run one input of one reader in this process, printing the input's origin and the full error. */
async function replay(a: Args, index: number): Promise<number> {
  const t = targets().find((x) => x.name === a.target);
  if (!t)
    throw new Error(
      `--only needs --target (one of ${targets()
        .map((x) => x.name)
        .join(", ")})`,
    );
  const input = await inputAt(t, a.seed, index);
  const file = join(a.save ?? ".", `${t.name}-${a.seed}-${index}-${t.fileName}`);
  writeFileSync(file, input.bytes);
  process.stdout.write(`input #${index} of ${t.name} (seed ${a.seed}) from ${input.seed}, ${input.bytes.length} bytes, saved as ${file}\n`);
  try {
    await t.run(input);
    process.stdout.write("ok\n");
  } catch (e) {
    process.stdout.write(`${judge(e).kind}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  }
  getScratch().dispose();
  return 0;
}

async function main(): Promise<number> {
  const a = parseArgs(process.argv.slice(2));
  if (a.child) {
    await child(a);
    return 0;
  }
  if (a.only !== undefined) return replay(a, a.only);
  const all = targets().map((t) => t.name);
  getScratch().dispose();
  const names = a.target ? all.filter((n) => n === a.target) : all;
  if (names.length === 0) throw new Error(`no target ${a.target} (expected one of ${all.join(", ")})`);
  process.stdout.write(`fuzz campaign: ${a.runs} inputs per reader, seed ${a.seed}\n`);
  const figs: Figures[] = [];
  const t0 = Date.now();
  for (const n of names) {
    const s = Date.now();
    const fig = await runChild(a, n);
    figs.push(fig);
    const codes = [...fig.codes].sort((x, y) => y[1] - x[1]).map(([c, k]) => `${c}×${k}`);
    process.stdout.write(
      `${n.padEnd(11)} tried ${String(fig.tried).padStart(7)}  ok ${String(fig.ok).padStart(6)}  ` +
        `error codes ${fig.codes.size}: ${codes.join(" ") || "-"}  crashes ${fig.crashes.length}  (${((Date.now() - s) / 1000).toFixed(1)} s)\n`,
    );
    for (const c of distinctCrashes(fig.crashes)) process.stdout.write(`  crash: input #${c.index} from ${c.seed}: ${c.what}\n`);
  }
  const crashes = figs.reduce((k, f) => k + f.crashes.length, 0);
  const codes = new Set(figs.flatMap((f) => [...f.codes.keys()]));
  const tried = figs.reduce((k, f) => k + f.tried, 0);
  process.stdout.write(
    `total: ${tried} inputs, ${codes.size} distinct error codes (${[...codes].sort().join(", ")}), ${crashes} crashes, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  if (crashes > 0) {
    const dir = a.save ?? "fuzz-crashes";
    // Regenerate the crashing inputs in this process (the sequence is fixed by the seed) and save them.
    mkdirSync(dir, { recursive: true });
    for (const f of figs) {
      const t = targets().find((x) => x.name === f.target);
      if (!t || f.crashes.length === 0) continue;
      for (const c of distinctCrashes(f.crashes)) {
        if (c.what.startsWith("hang") || c.what.startsWith("reader process died")) continue;
        const input = await inputAt(t, a.seed, c.index);
        writeFileSync(join(dir, `${f.target}-${a.seed}-${c.index}-${t.fileName}`), input.bytes);
      }
    }
    getScratch().dispose();
    process.stdout.write(`crashing inputs saved in ${dir}/ (rerun one reader with --target NAME --seed ${a.seed})\n`);
  }
  return crashes > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`fuzz: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
  },
);
