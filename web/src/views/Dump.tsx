import { useEffect, useState } from "preact/hooks";
import { parseU64 } from "../../../src/arch/u64.js";
import type { AuditReport } from "../../../src/dump/audit.js";
import { auditCounts, auditHeadline } from "../lib/auditSummary.js";
import { hex, hex16, sizeText } from "../lib/format.js";
import { parseImageSpec, parseRegisterText } from "../lib/regs.js";
import type { MemClient } from "../worker/client.js";
import type { ImageRequest, KvmFile, SourceInfo } from "../worker/protocol.js";

export interface DumpProps {
  client: MemClient;
  source: SourceInfo | undefined;
  onLoaded: (info: SourceInfo) => void;
}

interface ImageRow {
  name: string;
  /** Load address of a raw image; blank for an ELF core or kdump file (they carry their addresses). */
  pa: string;
  blob?: Blob;
  url?: string;
  size?: number;
}

interface Served {
  name: string;
  url: string;
  size: number;
  pa?: string;
}

const REG_FIELDS: Readonly<Record<string, keyof SourceInfo["regs"]>> = {
  TTBR0_EL1: "ttbr0",
  TTBR1_EL1: "ttbr1",
  TCR_EL1: "tcr",
  MAIR_EL1: "mair",
  SCTLR_EL1: "sctlr",
};

/** The value the walk uses for a register the sources table lists (ID registers: decoded into features, not shown). */
function regValue(source: SourceInfo, name: string): string {
  const k = REG_FIELDS[name];
  const v = k ? source.regs[k] : undefined;
  return typeof v === "bigint" ? hex16(v) : "";
}

export function Dump({ client, source, onLoaded }: DumpProps) {
  const [rows, setRows] = useState<ImageRow[]>([]);
  const [regText, setRegText] = useState("");
  const [kernelVersion, setKernelVersion] = useState("");
  const [err, setErr] = useState("");
  const [progress, setProgress] = useState<string>("");
  const [busy, setBusy] = useState(false);
  const [ptText, setPtText] = useState<string | undefined>(undefined);
  const [s2Text, setS2Text] = useState<string | undefined>(undefined);
  const [kvmFile, setKvmFile] = useState<KvmFile>("stage2_page_tables");
  const [served, setServed] = useState<Served[]>([]);
  const [liveGdb, setLiveGdb] = useState<string | undefined>(undefined);
  const [report, setReport] = useState<AuditReport | undefined>(undefined);
  useEffect(() => {
    fetch("gdb/info").then(
      async (r) => {
        if (r.ok && (r.headers.get("content-type") ?? "").includes("json"))
          setLiveGdb(((await r.json()) as { gdb: string | null }).gdb ?? undefined);
      },
      () => undefined,
    );
    fetch("files/index.json").then(
      async (r) => {
        if (r.ok && (r.headers.get("content-type") ?? "").includes("json")) setServed((await r.json()) as Served[]);
      },
      () => undefined,
    );
  }, []);
  const defaultPa = (): string => {
    try {
      const rf = regText.trim() ? parseRegisterText(regText) : undefined;
      return rf?.loadAt !== undefined ? hex(rf.loadAt) : "0x0";
    } catch {
      return "0x0";
    }
  };
  const addFiles = (files: FileList | null): void => {
    if (!files) return;
    const add: ImageRow[] = [];
    for (const f of Array.from(files)) {
      const spec = parseImageSpec(f.name);
      add.push({ name: f.name, pa: spec.pa !== undefined ? hex(spec.pa) : defaultPa(), blob: f });
    }
    setRows([...rows, ...add]);
  };
  const useServed = async (s: Served): Promise<void> => {
    if (/\.json$|\.txt$|\.regs$/i.test(s.name)) {
      const r = await fetch(s.url);
      setRegText(await r.text());
      return;
    }
    // The worker's base URL is its script's (under /assets/): hand it an absolute URL resolved
    // against the page, or files/N/NAME would be fetched from /assets/files/N/NAME (404).
    setRows([...rows, { name: s.name, pa: s.pa ?? defaultPa(), url: new URL(s.url, document.baseURI).href, size: s.size }]);
  };
  const load = async (): Promise<void> => {
    setErr("");
    setPtText(undefined);
    setS2Text(undefined);
    setReport(undefined);
    try {
      if (rows.length === 0) throw new Error("add at least one memory image (FILE@PA)");
      const rf = parseRegisterText(regText, "registers");
      const images: ImageRequest[] = rows.map((r) => ({
        name: r.name,
        ...(r.pa.trim() ? { pa: parseU64(r.pa, `${r.name}: load address`) } : {}),
        blob: r.blob,
        url: r.url,
        size: r.size,
      }));
      setBusy(true);
      const t0 = performance.now();
      const res = await client.call(
        {
          op: "load",
          name: rows.map((r) => r.name).join(" + "),
          images,
          registers: rf.registers,
          ...(kernelVersion.trim() ? { kernelVersion: kernelVersion.trim() } : {}),
        },
        (done, total, name) => setProgress(`${name}: ${(done / 2 ** 20).toFixed(0)} / ${(total / 2 ** 20).toFixed(0)} MiB`),
      );
      setProgress(`loaded in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      onLoaded(res.info);
    } catch (e) {
      setErr((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  /** `vmsa serve --gdb`: read the running guest's registers and tables again, and redraw its ptdump. */
  const refreshLive = async (): Promise<void> => {
    setErr("");
    setReport(undefined);
    setBusy(true);
    try {
      const t0 = performance.now();
      const res = await client.call({
        op: "live",
        url: new URL("gdb/tables", document.baseURI).href,
        ...(kernelVersion.trim() ? { kernelVersion: kernelVersion.trim() } : {}),
      });
      onLoaded(res.info);
      setPtText((await client.call({ op: "ptdump", fixmapSize: 0x407000n })).text);
      setProgress(`read at ${new Date().toLocaleTimeString()} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    } catch (e) {
      setErr((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const dumpIsLoaded = source !== undefined && (source.images.length > 0 || source.live === true);
  return (
    <section id="dump">
      <h2>Dump</h2>
      <p class="small">
        Open a dump and its registers, read as <code>vmsa dump</code> reads them: an ELF core (QEMU <code>dump-guest-memory</code>, kdump
        vmcore), a kdump-compressed file (zlib, LZO, snappy, zstd; flattened or not), or raw RAM at a load address. Files are read by this
        page only, a page at a time as the tables need them; nothing is uploaded. Gzip raw images are decompressed as they stream; a gzip
        core or kdump file is decompressed into memory (up to 512 MiB: decompress bigger ones first).
      </p>
      <div class="controls column">
        <label>
          Memory image(s): <input type="file" id="dump-images" multiple onChange={(e) => addFiles((e.target as HTMLInputElement).files)} />
        </label>
        {rows.length > 0 && (
          <table id="dump-rows">
            <tbody>
              {rows.map((r, i) => (
                <tr>
                  <td class="mono">{r.name}</td>
                  <td>
                    @{" "}
                    <input
                      title="load address of a raw image; ignored for an ELF core or kdump file"
                      class="dump-pa mono"
                      value={r.pa}
                      size={14}
                      onInput={(e) => setRows(rows.map((x, j) => (j === i ? { ...x, pa: (e.target as HTMLInputElement).value } : x)))}
                    />
                  </td>
                  <td>
                    <button type="button" onClick={() => setRows(rows.filter((_, j) => j !== i))}>
                      remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <label>
          Registers (gdb <code>info registers</code> output, machine.json or NAME=VALUE lines; what they lack comes from the dump's
          VMCOREINFO):{" "}
          <input
            type="file"
            id="dump-regs-file"
            onChange={async (e) => {
              const f = (e.target as HTMLInputElement).files?.[0];
              if (!f) return;
              const t = await f.text();
              setRegText(t);
              try {
                const rf = parseRegisterText(t, f.name);
                if (rf.loadAt !== undefined) setRows(rows.map((r) => (r.pa === "0x0" ? { ...r, pa: hex(rf.loadAt as bigint) } : r)));
              } catch (x) {
                setErr((x as Error).message);
              }
            }}
          />
        </label>
        <textarea
          id="dump-regs"
          rows={6}
          cols={70}
          value={regText}
          onInput={(e) => setRegText((e.target as HTMLTextAreaElement).value)}
          placeholder={"TTBR1_EL1      0x…\nTCR_EL1        0x…\n(blank: from the dump's VMCOREINFO)"}
        />
        {served.length > 0 && (
          <div id="dump-served">
            Files named on the <code>vmsa serve</code> command line:{" "}
            {served.map((s) => (
              <button type="button" onClick={() => useServed(s)}>
                {s.name}
                {s.pa ? `@${s.pa}` : ""}
              </button>
            ))}
          </div>
        )}
        <label>
          Kernel version (default: VMCOREINFO OSRELEASE, like <code>--kernel-version</code>):{" "}
          <input
            id="dump-kernel-version"
            size={14}
            value={kernelVersion}
            onInput={(e) => setKernelVersion((e.target as HTMLInputElement).value)}
          />
        </label>
        {liveGdb && (
          <div id="dump-live">
            Live guest (<code>vmsa serve --gdb {liveGdb}</code>): its registers and tables are read through the gdbstub at each refresh (the
            guest is stopped while they are read).{" "}
            <button type="button" id="dump-live-refresh" disabled={busy} onClick={refreshLive}>
              {source?.live ? "Refresh" : "Read the live guest"}
            </button>
          </div>
        )}
        <div>
          <button type="button" id="dump-load" disabled={busy} onClick={load}>
            Load dump
          </button>{" "}
          <span id="dump-progress" class="small">
            {progress}
          </span>
        </div>
      </div>
      {err && (
        <p class="error" id="dump-error">
          {err}
        </p>
      )}
      {dumpIsLoaded && source && (
        <div id="dump-info">
          <h3>{source.name}</h3>
          <table>
            <tbody>
              {source.images.map((s) => (
                <tr>
                  <td class="mono">{s.name}</td>
                  <td class="mono">{s.pa !== undefined ? `${hex(s.pa)}–${hex(s.pa + BigInt(s.bytes))}` : ""}</td>
                  <td>
                    {sizeText(s.bytes)}
                    {s.gzip ? " (gzip)" : ""}
                    {s.storedFrames !== undefined ? `, ${s.storedFrames} non-zero 4K frames` : ""}
                  </td>
                  <td class="small dump-desc">{s.desc}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {source.layout && (
            <p class="small" id="dump-layout">
              Layout and markers: {source.layout}
              {source.layoutExact === false && !/markers are a guess/.test(source.layout) ? " (ptdump uses Linux 6.1's markers)" : ""}
            </p>
          )}
          {source.regSources && (
            <details id="dump-registers">
              <summary class="small">Registers and where each came from</summary>
              <table class="small">
                <tbody>
                  {Object.entries(source.regSources).map(([name, from]) => (
                    <tr data-reg={name}>
                      <td class="mono">{name}</td>
                      <td class="mono reg-value">{regValue(source, name)}</td>
                      <td>{from}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </details>
          )}
          {source.notes && source.notes.length > 0 && (
            <ul class="small" id="dump-notes">
              {source.notes.map((n) => (
                <li>{n}</li>
              ))}
            </ul>
          )}
          {source.stage2 && (
            <div id="dump-stage2">
              <h3>Stage 2</h3>
              <p class="small">
                {source.stage2.ipaBits}-bit IPA space, start level {source.stage2.startLevel};{" "}
                {Object.entries(source.stage2.sources)
                  .map(([k, v]) => `${k}: ${v}`)
                  .join("; ")}
              </p>
              <p>
                <select id="dump-kvm-file" value={kvmFile} onChange={(e) => setKvmFile((e.target as HTMLSelectElement).value as KvmFile)}>
                  <option value="stage2_page_tables">stage2_page_tables</option>
                  <option value="ipa_range">ipa_range</option>
                  <option value="stage2_levels">stage2_levels</option>
                </select>{" "}
                <button
                  type="button"
                  id="dump-stage2-run"
                  onClick={() =>
                    client.call({ op: "kvm-stage2", file: kvmFile }).then(
                      (r) => setS2Text(r.text),
                      (e: Error) => setErr(e.message),
                    )
                  }
                >
                  KVM debugfs file (vmsa dump --stage 2)
                </button>
              </p>
              {s2Text !== undefined && <pre id="stage2-text">{s2Text}</pre>}
            </div>
          )}
          {source.stage1 !== false && (
            <>
              <p>
                <a href="#/map?half=1">Map TTBR1</a> · <a href="#/map?half=0">Map TTBR0</a> · <a href="#/walk">Walk an address</a> ·{" "}
                <button
                  type="button"
                  id="dump-ptdump"
                  onClick={() =>
                    client.call({ op: "ptdump", fixmapSize: 0x407000n }).then(
                      (r) => setPtText(r.text),
                      (e: Error) => setErr(e.message),
                    )
                  }
                >
                  Kernel ptdump (vmsa dump)
                </button>
              </p>
              <h3>Audit</h3>
              <p>
                <button
                  type="button"
                  id="dump-audit-run"
                  onClick={() =>
                    client.call({ op: "audit", userHalf: false }).then(
                      (r) => setReport(r.report),
                      (e: Error) => setErr(e.message),
                    )
                  }
                >
                  Audit TTBR1 (vmsa audit)
                </button>
              </p>
              {report && (
                <div id="dump-audit">
                  <p>
                    {report.wx.summary} ·{" "}
                    <strong id="dump-audit-verdict" data-verdict={auditCounts(report).verdict} class={auditCounts(report).verdict}>
                      {auditHeadline(auditCounts(report))}
                    </strong>{" "}
                    · {report.leaves[1]} kernel leaves
                  </p>
                  {report.findings.length > 0 && (
                    <table>
                      <tbody>
                        {report.findings.map((f) => (
                          <tr class={f.severity}>
                            <td>{f.severity}</td>
                            <td>{f.kind}</td>
                            <td class="mono">
                              <a href={`#/walk?va=0x${f.va.toString(16)}&acc=r1&src=dump`}>0x{f.va.toString(16)}</a> +0x
                              {f.size.toString(16)}
                            </td>
                            <td>
                              {f.message} <span class="small">({f.rule})</span>
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  )}
                </div>
              )}
              {ptText !== undefined && <pre id="ptdump">{ptText}</pre>}
            </>
          )}
        </div>
      )}
    </section>
  );
}
