// Bounds the calls and bytes a client has in flight. Callers over the bound wait in FIFO order (so a
// large request is not starved by small ones); the wait list itself is bounded, and a caller beyond it
// is refused with OVERLOAD rather than queued without limit.

import { RpcError, RpcStatus } from './rpc-status';

export interface InflightLimits {
  maxCalls: number;
  maxBytes: number;
  maxWaiters: number;
}

interface Waiter {
  bytes: number;
  grant: () => void;
  cancelled: boolean;
}

export class InflightLimiter {
  private calls = 0;
  private bytes = 0;
  private waiters: Waiter[] = [];
  private waiterHead = 0;

  constructor(private readonly limits: InflightLimits) {}

  get inFlightCalls(): number {
    return this.calls;
  }
  get inFlightBytes(): number {
    return this.bytes;
  }
  get waiting(): number {
    return this.waiters.length - this.waiterHead;
  }

  /**
   * Takes a slot for `bytes` now (returns undefined) or returns a waiter to await. A request larger
   * than maxBytes is admitted alone, when nothing else is in flight.
   */
  tryAcquire(bytes: number): Waiter | undefined {
    if (this.waiting === 0 && this.fits(bytes)) {
      this.calls++;
      this.bytes += bytes;
      return undefined;
    }
    if (this.waiting >= this.limits.maxWaiters) {
      throw new RpcError(RpcStatus.OVERLOAD, `more than ${this.limits.maxWaiters} calls waiting for a slot`);
    }
    const w: Waiter = { bytes, grant: () => undefined, cancelled: false };
    this.waiters.push(w);
    return w;
  }

  /** Waits for a slot obtained via tryAcquire; `grant` is called once it is held. */
  wait(w: Waiter, grant: () => void): void {
    w.grant = grant;
  }

  /** Withdraws a waiter that no longer wants its slot (timeout or cancel). */
  cancel(w: Waiter): void {
    w.cancelled = true;
    this.drain();
  }

  release(bytes: number): void {
    this.calls--;
    this.bytes -= bytes;
    this.drain();
  }

  private fits(bytes: number): boolean {
    if (this.calls >= this.limits.maxCalls) return false;
    return this.calls === 0 || this.bytes + bytes <= this.limits.maxBytes;
  }

  private drain(): void {
    while (this.waiterHead < this.waiters.length) {
      const w = this.waiters[this.waiterHead];
      if (!w.cancelled) {
        if (!this.fits(w.bytes)) break;
        this.calls++;
        this.bytes += w.bytes;
      }
      this.waiterHead++;
      if (!w.cancelled) w.grant();
    }
    if (this.waiterHead > 64 && this.waiterHead * 2 > this.waiters.length) {
      this.waiters = this.waiters.slice(this.waiterHead);
      this.waiterHead = 0;
    }
  }
}
