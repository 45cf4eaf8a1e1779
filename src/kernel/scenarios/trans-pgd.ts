/**
 * Thread 004 (James Morse on Pavel Tatashin's "arm64, trans_pgd: make trans_pgd_map_page
 * generic", Sep 2019): trans_pgd_map_page creates the tables for one page in a fresh set of
 * tables and never meets a block; the linear-map copy used by hibernate/kexec must drop
 * read-only permissions, since its whole point is to overwrite memory.
 */
import { hex64 } from "../../arch/u64.js";
import { KernelError } from "../errors.js";
import { type LinearMap, segment } from "../image.js";
import { transitionToCopy, transPgdCreateCopy, transPgdMapPage } from "../transpgd.js";
import { buildWorld, finish, type ScenarioRun, type ThreadScenario, type Variant } from "./world.js";

function run(variant: Variant, flavour: "hibernate" | "kexec"): ScenarioRun {
  const w = buildWorld({ linearMap: true });
  const { k, port } = w;
  const narrative: string[] = [];
  const errors: string[] = [];
  const lm = w.lm as LinearMap;
  narrative.push("the live kernel has its linear map (2 MiB / 1 GiB blocks) and a read-only alias of text/rodata");
  const info = { alloc: w.safe };
  const codePage = w.safe.alloc(port, k.cpu) as number;
  const text = segment(w.image, "text");
  // The page the restore / relocation overwrites: kernel text, through its read-only linear alias.
  const target = lm.lmAlias(text.pa + 0x3000);
  if (variant === "bad") {
    const copy = transPgdCreateCopy(k, info, w.initPgd, w.layout.PAGE_OFFSET, w.layout.PAGE_END, { keepReadOnly: true });
    narrative.push(
      `trans_pgd_create_copy without making entries writable (the proposed TRANS_MKWRITE flag left clear): ${copy.tables} tables`,
    );
    try {
      transPgdMapPage(k, info, copy.pgd, codePage, lm.lmAlias(codePage), k.prots.PAGE_KERNEL_EXEC, { variant: "generic" });
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      errors.push(e.message.split(" [rule")[0] as string);
      narrative.push(
        "the generalised trans_pgd_map_page, asked to map the exit code into the linear-map copy, walks into a block and fails with -ENXIO",
      );
    }
    // Carry on as the code would with its RO copy: switch and try to restore.
    port.msr(k.cpu, "TTBR1_EL1", BigInt(w.reserved));
    port.isb(k.cpu);
    port.tlbi(k.cpu, "VMALLE1");
    port.dsb(k.cpu, "NSH");
    port.msr(k.cpu, "TTBR1_EL1", BigInt(copy.pgd));
    port.isb(k.cpu);
    narrative.push("TTBR1 switched to the copy through the zero page");
  } else {
    const t = transitionToCopy(
      k,
      info,
      {
        livePgd: w.initPgd,
        start: w.layout.PAGE_OFFSET,
        end: w.layout.PAGE_END,
        codePage,
        codeVa: lm.lmAlias(codePage),
        reserved: w.reserved,
        ...(flavour === "kexec" ? { zeroPage: w.reserved } : {}),
      },
      flavour,
    );
    narrative.push(...t.steps);
  }
  const r = port.access(k.cpu, target, "write");
  narrative.push(
    `${flavour === "hibernate" ? "restore" : "relocation"} writes kernel text through its linear alias ${hex64(target)}: ${r.ok ? `PA 0x${r.pa.toString(16)}` : `${r.fault} fault`}`,
  );
  if (!r.ok) errors.push(`write to ${hex64(target)} takes a ${r.fault} fault: the copy kept the read-only permission`);
  return finish(w, flavour === "hibernate" ? "trans-pgd" : "trans-pgd-kexec", variant, narrative, errors);
}

export const TRANS_PGD: ThreadScenario = {
  id: "trans-pgd",
  thread: "004_da3ea3fa10ff29a7.txt",
  title: "trans_pgd for hibernate: map_page into fresh tables, a writable linear-map copy",
  bad: "map_page generalised to walk existing tables trips on a block (-ENXIO); a copy that keeps read-only entries cannot be used to overwrite memory",
  good: "trans_pgd_create_copy makes every entry writable; the exit code page is idmapped in its own tables (trans_pgd_idmap_page); TTBR1 switched with break-before-make through a zero page",
  run: (v) => run(v, "hibernate"),
};

export const TRANS_PGD_KEXEC: ThreadScenario = {
  id: "trans-pgd-kexec",
  thread: "004_da3ea3fa10ff29a7.txt",
  title: "trans_pgd for kexec relocation",
  bad: "the same read-only copy and generalised map_page, used by kexec",
  good: "kexec's flow: copy of the linear map, relocation code idmapped and cleaned to PoC, empty_zero_page for the TTBR1 break",
  run: (v) => run(v, "kexec"),
};
