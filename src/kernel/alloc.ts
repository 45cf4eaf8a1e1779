/**
 * Table-page allocators (linux-arm64-mm.md 1.4, 5.1). An allocator hands out one page per call
 * or fails (undefined); the mapping code turns failure into -ENOMEM or a refusal, as its caller
 * in the kernel does.
 */
import { KernelError } from "./errors.js";
import type { MachinePort } from "./port.js";

export interface TableAllocator {
  readonly name: string;
  /** Page size handed out. */
  readonly pageSize: number;
  /** Pages come back already zeroed (and published) by the allocator itself. */
  readonly returnsZeroed: boolean;
  /** One page for a table at hardware `level`, or undefined when out of memory. */
  alloc(port: MachinePort, cpu: number, level: number): number | undefined;
  /** Give a page back (after its table was unlinked and the walk caches invalidated). */
  free(pa: number): void;
  /** Pages handed out so far (including freed ones). */
  readonly allocated: number;
}

function checkPage(pa: number, pageSize: number, what: string): void {
  if (!Number.isSafeInteger(pa) || pa < 0 || pa % pageSize !== 0) {
    throw new KernelError(
      "EKERN_ALIGN",
      `${what}: 0x${pa.toString(16)} is not a ${pageSize}-byte aligned physical address`,
      "page tables are page aligned",
    );
  }
}

/**
 * memblock-like bump allocator over [base, base+size): uninitialised pages, so the mapping code
 * zeroes each one and publishes it (DSB ISHST) before linking it, as early_pgtable_alloc does.
 * Freed pages are reused first (LIFO), which is what makes use-after-free of tables observable.
 */
export class MemblockAllocator implements TableAllocator {
  readonly name = "memblock";
  readonly returnsZeroed = false;
  readonly pageSize: number;
  private next: number;
  private readonly end: number;
  private readonly freed: number[] = [];
  allocated = 0;

  constructor(base: number | bigint, size: number | bigint, pageSize: number) {
    const b = Number(base);
    checkPage(b, pageSize, "MemblockAllocator base");
    this.pageSize = pageSize;
    this.next = b;
    this.end = b + Number(size);
  }

  alloc(): number | undefined {
    const f = this.freed.pop();
    if (f !== undefined) {
      this.allocated++;
      return f;
    }
    if (this.next + this.pageSize > this.end) return undefined;
    const pa = this.next;
    this.next += this.pageSize;
    this.allocated++;
    return pa;
  }

  free(pa: number): void {
    checkPage(pa, this.pageSize, "MemblockAllocator.free");
    this.freed.push(pa);
  }

  /** Next address the bump pointer would hand out. */
  get cursor(): number {
    return this.next;
  }
}

/**
 * "Safe page" allocator (hibernate's get_safe_page, kexec's control pages): a fixed pool of pages
 * that the restore/relocation will not overwrite; each page is zeroed through the machine before
 * it is returned, so callers need not (trans_pgd relies on the allocator for zeroing).
 */
export class SafePageAllocator implements TableAllocator {
  readonly name = "safe-page";
  readonly returnsZeroed = true;
  readonly pageSize: number;
  private readonly pool: number[];
  allocated = 0;

  constructor(pages: readonly (number | bigint)[], pageSize: number) {
    this.pageSize = pageSize;
    this.pool = pages.map((p) => Number(p)).reverse();
    for (const p of this.pool) checkPage(p, pageSize, "SafePageAllocator page");
  }

  static range(base: number | bigint, count: number, pageSize: number): SafePageAllocator {
    const b = Number(base);
    return new SafePageAllocator(
      Array.from({ length: count }, (_, i) => b + i * pageSize),
      pageSize,
    );
  }

  alloc(port: MachinePort, cpu: number): number | undefined {
    const pa = this.pool.pop();
    if (pa === undefined) return undefined;
    port.zero(cpu, pa, this.pageSize);
    port.dsb(cpu, "ISHST");
    this.allocated++;
    return pa;
  }

  free(pa: number): void {
    checkPage(pa, this.pageSize, "SafePageAllocator.free");
    this.pool.push(pa);
  }

  get remaining(): number {
    return this.pool.length;
  }
}

/**
 * Wraps an allocator and fails on demand: after `failAfter` successful allocations, or whenever
 * `shouldFail(callIndex, level)` says so. Used to exercise -ENOMEM paths.
 */
export class FailingAllocator implements TableAllocator {
  readonly name: string;
  private readonly inner: TableAllocator;
  private readonly shouldFail: (call: number, level: number) => boolean;
  private calls = 0;
  failures = 0;

  constructor(inner: TableAllocator, when: { failAfter: number } | ((call: number, level: number) => boolean)) {
    this.inner = inner;
    this.name = `failing(${inner.name})`;
    this.shouldFail = typeof when === "function" ? when : (call) => call >= when.failAfter;
  }

  get pageSize(): number {
    return this.inner.pageSize;
  }

  get returnsZeroed(): boolean {
    return this.inner.returnsZeroed;
  }

  get allocated(): number {
    return this.inner.allocated;
  }

  alloc(port: MachinePort, cpu: number, level: number): number | undefined {
    const call = this.calls++;
    if (this.shouldFail(call, level)) {
      this.failures++;
      return undefined;
    }
    return this.inner.alloc(port, cpu, level);
  }

  free(pa: number): void {
    this.inner.free(pa);
  }
}
