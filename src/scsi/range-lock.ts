// Block-range locks for one LU: plain writes share, COMPARE AND WRITE is exclusive over its blocks, so a
// compare-and-write is atomic against every other write to those blocks. Uncontended locking is
// synchronous and allocates one small entry.

export interface RangeEntry {
  readonly start: number;
  readonly end: number;
  readonly exclusive: boolean;
  waiters?: Array<() => void>;
}

function overlaps(a: RangeEntry, start: number, end: number): boolean {
  return a.start < end && start < a.end;
}

export class RangeLock {
  private readonly active: RangeEntry[] = [];

  private blocker(start: number, end: number, exclusive: boolean): RangeEntry | undefined {
    for (const e of this.active) if ((exclusive || e.exclusive) && overlaps(e, start, end)) return e;
    return undefined;
  }

  /** Take [start, end) now if nothing conflicts, else undefined. */
  tryLock(start: number, end: number, exclusive: boolean): RangeEntry | undefined {
    if (this.active.length && this.blocker(start, end, exclusive)) return undefined;
    const e: RangeEntry = { start, end, exclusive };
    this.active.push(e);
    return e;
  }

  /** Take [start, end), waiting for every conflicting holder to unlock. */
  async lock(start: number, end: number, exclusive: boolean): Promise<RangeEntry> {
    for (;;) {
      const e = this.tryLock(start, end, exclusive);
      if (e) return e;
      const b = this.blocker(start, end, exclusive)!;
      await new Promise<void>((resolve) => (b.waiters ??= []).push(resolve));
    }
  }

  unlock(e: RangeEntry): void {
    const i = this.active.indexOf(e);
    if (i >= 0) this.active.splice(i, 1);
    if (e.waiters) for (const w of e.waiters) w();
  }

  /** Number of ranges held (for tests). */
  size(): number {
    return this.active.length;
  }
}
