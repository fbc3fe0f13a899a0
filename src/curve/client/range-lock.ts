// Exclusive locks over byte ranges: a holder of [a, b) excludes every overlapping holder. Waiters are
// served in arrival order among overlapping ranges; non-overlapping ranges never wait. The number of
// holders and waiters is bounded by the caller's own in-flight limit, so lists stay short.

interface Held {
  start: number;
  end: number;
}

interface Waiter extends Held {
  grant: () => void;
}

export class RangeLock {
  private held: Held[] = [];
  private waiters: Waiter[] = [];

  /** Resolves with a release function once [offset, offset+length) is free. */
  acquire(offset: number, length: number): Promise<() => void> {
    const want: Held = { start: offset, end: offset + Math.max(length, 1) };
    if (!this.blocked(want, this.waiters.length)) return Promise.resolve(this.take(want));
    return new Promise((resolve) => {
      this.waiters.push({ ...want, grant: () => resolve(this.take(want)) });
    });
  }

  get holders(): number {
    return this.held.length;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  private take(h: Held): () => void {
    this.held.push(h);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held.splice(this.held.indexOf(h), 1);
      this.wake();
    };
  }

  /** Overlaps a holder, or an earlier waiter (FIFO among overlapping ranges). */
  private blocked(r: Held, waitersBefore: number): boolean {
    for (const h of this.held) if (h.start < r.end && r.start < h.end) return true;
    for (let i = 0; i < waitersBefore; i++) {
      const w = this.waiters[i];
      if (w.start < r.end && r.start < w.end) return true;
    }
    return false;
  }

  private wake(): void {
    for (let i = 0; i < this.waiters.length;) {
      const w = this.waiters[i];
      if (!this.blocked(w, i)) {
        this.waiters.splice(i, 1);
        w.grant();
      } else i++;
    }
  }
}
