// A bound on bytes of command data held in memory at once (write buffers and read results), shared by
// every session of the daemon. Waiters are served in FIFO order; one request larger than the whole
// budget is still admitted when nothing else is held, so a big command cannot starve.

export class ByteBudget {
  private used = 0;
  private waiters: Array<{ n: number; resume: () => void }> = [];

  constructor(readonly limit: number) {}

  inUse(): number {
    return this.used;
  }

  waiting(): number {
    return this.waiters.length;
  }

  /** Take n bytes now if possible (returns true) or queue `resume` to run once they are taken. */
  acquire(n: number, resume: () => void): boolean {
    if (this.waiters.length === 0 && this.fits(n)) {
      this.used += n;
      return true;
    }
    this.waiters.push({ n, resume });
    return false;
  }

  /** Take n bytes without waiting (data the peer may send unasked, already bounded by the protocol). */
  charge(n: number): void {
    this.used += n;
  }

  release(n: number): void {
    this.used -= n;
    if (this.used < 0) this.used = 0;
    while (this.waiters.length > 0 && this.fits(this.waiters[0].n)) {
      const w = this.waiters.shift()!;
      this.used += w.n;
      w.resume();
    }
  }

  /** Drop a queued waiter (its task was aborted). */
  cancel(resume: () => void): void {
    this.waiters = this.waiters.filter((w) => w.resume !== resume);
  }

  private fits(n: number): boolean {
    return this.used + n <= this.limit || this.used === 0;
  }
}
