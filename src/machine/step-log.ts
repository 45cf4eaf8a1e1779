/** Who wrote what when: the step of the last store per 8-byte physical location. */

const FRAME = 4096;

/** Step of the last store per 8-byte physical location: per-frame Int32Arrays (hot path, no hashing of PAs). */
export class PaSteps {
  private readonly frames = new Map<number, Int32Array>();
  private lastPfn = -1;
  private lastArr: Int32Array | undefined;
  private arr(pa: number, create: boolean): Int32Array | undefined {
    const pfn = Math.floor(pa / FRAME);
    if (pfn === this.lastPfn) return this.lastArr;
    let a = this.frames.get(pfn);
    if (a === undefined) {
      if (!create) return undefined;
      a = new Int32Array(FRAME / 8);
      this.frames.set(pfn, a);
    }
    this.lastPfn = pfn;
    this.lastArr = a;
    return a;
  }
  get(pa: number): number | undefined {
    if (this.frames.size === 0) return undefined;
    const a = this.arr(pa, false);
    return a === undefined ? undefined : a[(pa % FRAME) >>> 3];
  }
  set(pa: number, step: number): void {
    (this.arr(pa, true) as Int32Array)[(pa % FRAME) >>> 3] = step;
  }
}
