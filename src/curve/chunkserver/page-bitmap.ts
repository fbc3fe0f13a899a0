// One bit per page of a chunk: pages written in a clone chunk, or pages copied into a snapshot file.

export interface PageRange {
  /** First page, inclusive. */
  begin: number;
  /** Last page, inclusive. */
  end: number;
}

export class PageBitmap {
  readonly bytes: Uint8Array;

  constructor(
    readonly bits: number,
    bytes?: Uint8Array,
  ) {
    this.bytes = new Uint8Array((bits + 7) >> 3);
    if (bytes) this.bytes.set(bytes.subarray(0, this.bytes.length));
  }

  static byteLength(bits: number): number {
    return (bits + 7) >> 3;
  }

  test(i: number): boolean {
    return (this.bytes[i >> 3] & (1 << (i & 7))) !== 0;
  }

  setRange(begin: number, end: number): void {
    for (let i = begin; i <= end; i++) this.bytes[i >> 3] |= 1 << (i & 7);
  }

  /** True when every page is set. */
  isFull(): boolean {
    for (let i = 0; i < this.bits; i++) if (!this.test(i)) return false;
    return true;
  }

  count(): number {
    let n = 0;
    for (let i = 0; i < this.bits; i++) if (this.test(i)) n++;
    return n;
  }

  /** Splits [begin, end] into maximal runs of clear and of set pages. */
  divide(begin: number, end: number): { clear: PageRange[]; set: PageRange[] } {
    const clear: PageRange[] = [];
    const set: PageRange[] = [];
    let runStart = begin;
    for (let i = begin; i <= end; i++) {
      const v = this.test(i);
      if (i === end || this.test(i + 1) !== v) {
        (v ? set : clear).push({ begin: runStart, end: i });
        runStart = i + 1;
      }
    }
    return { clear, set };
  }

  clone(): PageBitmap {
    return new PageBitmap(this.bits, this.bytes);
  }
}
