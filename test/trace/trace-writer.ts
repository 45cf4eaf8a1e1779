/**
 * Builds `vmsa record` traces for tests (the format of docs/trace-format.md, written the way the
 * plugin writes it), so the reader and the replay are tested on exact byte layouts.
 */
export class TraceWriter {
  private readonly parts: Buffer[] = [];

  constructor(
    readonly cpus = 2,
    readonly ramBase = 0x40000000n,
    readonly ramSize = 0x1000000n,
  ) {
    const h = Buffer.alloc(32);
    h.write("VMSATRC1", 0, "latin1");
    h.writeUInt16LE(1, 8);
    h.writeUInt16LE(cpus, 10);
    h.writeBigUInt64LE(ramBase, 16);
    h.writeBigUInt64LE(ramSize, 24);
    this.parts.push(h);
  }

  private rec(type: number, cpu: number, len: number): Buffer {
    const b = Buffer.alloc(len);
    b.writeUInt8(type, 0);
    b.writeUInt8(cpu, 1);
    this.parts.push(b);
    return b;
  }

  store(cpu: number, pa: bigint, value: bigint, pc = 0xffff800008001000n, sizeLog2 = 3): this {
    const b = this.rec(1, cpu, 27);
    b.writeUInt8(sizeLog2, 2);
    b.writeBigUInt64LE(pa, 3);
    b.writeBigUInt64LE(value, 11);
    b.writeBigUInt64LE(pc, 19);
    return this;
  }

  /** A table page's content (entries: index → value; the others are zero). */
  page(cpu: number, pa: bigint, level: number, entries: ReadonlyMap<number, bigint>, granuleShift = 12, count = 512): this {
    const b = this.rec(2, cpu, 16 + entries.size * 10);
    b.writeInt8(level, 2);
    b.writeUInt8(granuleShift, 3);
    b.writeBigUInt64LE(pa, 4);
    b.writeUInt16LE(count - 1, 12);
    b.writeUInt16LE(entries.size, 14);
    let o = 16;
    for (const [i, v] of entries) {
      b.writeUInt16LE(i, o);
      b.writeBigUInt64LE(v, o + 2);
      o += 10;
    }
    return this;
  }

  /** kind 0 DSB, 1 DMB, 2 ISB; crm the domain option (15 SY, 11 ISH, 10 ISHST, ...). */
  barrier(cpu: number, kind: 0 | 1 | 2, crm = 15, pc = 0xffff800008002000n): this {
    const b = this.rec(3, cpu, 11);
    b.writeUInt8(kind | (crm << 4), 2);
    b.writeBigUInt64LE(pc, 3);
    return this;
  }

  dsb(cpu: number, crm = 11): this {
    return this.barrier(cpu, 0, crm);
  }

  isb(cpu: number): this {
    return this.barrier(cpu, 2, 15);
  }

  /** PSCI CPU_OFF by vCPU `cpu`. */
  cpuOff(cpu: number, pc = 0xffff800008007000n): this {
    this.rec(10, cpu, 10).writeBigUInt64LE(pc, 2);
    return this;
  }

  /** An ACCESS record: kind 0 read, 1 write, 2 fetch, + 0x10 for EL0 permissions. */
  access(cpu: number, kind: number, va: bigint, pc = 0xffff800008006000n): this {
    const b = this.rec(9, cpu, 19);
    b.writeUInt8(kind, 2);
    b.writeBigUInt64LE(va, 3);
    b.writeBigUInt64LE(pc, 11);
    return this;
  }

  /** enc = op1 << 7 | CRm << 3 | op2 (TLBI VAE1IS: CRm 3, op2 1 → 25). */
  tlbi(cpu: number, enc: number, operand: bigint, pc = 0xffff800008003000n): this {
    const b = this.rec(4, cpu, 20);
    b.writeUInt16LE(enc, 2);
    b.writeBigUInt64LE(operand, 4);
    b.writeBigUInt64LE(pc, 12);
    return this;
  }

  /** reg: 0 TTBR0, 1 TTBR1, 2 TCR, 3 MAIR, 4 SCTLR, 5 VBAR. */
  msr(cpu: number, reg: number, value: bigint, pc = 0xffff800008004000n): this {
    const b = this.rec(5, cpu, 19);
    b.writeUInt8(reg, 2);
    b.writeBigUInt64LE(value, 3);
    b.writeBigUInt64LE(pc, 11);
    return this;
  }

  exception(cpu: number, slot: number, vector: bigint, elr: bigint): this {
    const b = this.rec(6, cpu, 19);
    b.writeUInt8(slot, 2);
    b.writeBigUInt64LE(vector, 3);
    b.writeBigUInt64LE(elr, 11);
    return this;
  }

  eret(cpu: number, pc = 0xffff800008005000n): this {
    const b = this.rec(7, cpu, 10);
    b.writeBigUInt64LE(pc, 2);
    return this;
  }

  /** The END record and the whole trace. */
  end(zvaUnresolved = 0n): Buffer {
    const b = Buffer.alloc(2 + 17 * 8);
    b.writeUInt8(15, 0);
    b.writeBigUInt64LE(zvaUnresolved, 2 + 16 * 8);
    return Buffer.concat([...this.parts, b]);
  }
}
