// A bound on bytes of command data held in memory at once (write buffers and read results), shared by
// every session of the daemon. Waiters are served in FIFO order; one request larger than the whole
// budget is still admitted when nothing else is acquired, so a big command cannot starve.
//
// Data the peer sends unasked (immediate data waiting for its command's buffer) is `held`: it counts
// towards overLimit(), which makes connections stop reading, but never makes acquire() wait. Holding
// while waiting to acquire would deadlock: every command could hold a part and wait for the rest.

export class ByteBudget {
  private used = 0;
  private held = 0;
  private waiters: Array<{ n: number; resume: () => void }> = [];
  /** Called once when use falls back to the limit (connections that stopped reading). */
  private underLimitWaiters: Array<() => void> = [];

  constructor(readonly limit: number) {}

  /** Bytes acquired or charged (buffers the target allocated). */
  inUse(): number {
    return this.used;
  }

  /** Bytes held by hold() (unasked data waiting for a buffer). */
  heldBytes(): number {
    return this.held;
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

  /** Would acquire(n) succeed right now? (Nothing is taken.) */
  hasRoom(n: number): boolean {
    return this.waiters.length === 0 && this.fits(n);
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
    this.checkUnderLimit();
  }

  /** Count unasked data that is in memory but owns no acquired buffer yet. */
  hold(n: number): void {
    this.held += n;
  }

  unhold(n: number): void {
    this.held -= n;
    if (this.held < 0) this.held = 0;
    this.checkUnderLimit();
  }

  /** Acquired plus held bytes exceed the limit: time to stop taking new work from the network. */
  overLimit(): boolean {
    return this.used + this.held > this.limit;
  }

  /** Run `fn` once, the next time acquired plus held bytes drop to the limit (now, if they are). */
  whenUnderLimit(fn: () => void): void {
    if (!this.overLimit()) fn();
    else this.underLimitWaiters.push(fn);
  }

  /** Drop a queued waiter (its task was aborted). */
  cancel(resume: () => void): void {
    this.waiters = this.waiters.filter((w) => w.resume !== resume);
  }

  private checkUnderLimit(): void {
    if (this.underLimitWaiters.length === 0 || this.overLimit()) return;
    const ws = this.underLimitWaiters;
    this.underLimitWaiters = [];
    for (const fn of ws) fn();
  }

  private fits(n: number): boolean {
    return this.used + n <= this.limit || this.used === 0;
  }
}
