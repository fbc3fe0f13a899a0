// The receive low-water mark of a connection while solicited Data-Out is on its way. After an R2T the
// initiator owes us that many payload bytes; with the socket's SO_RCVLOWAT raised to (most of) them, the
// kernel wakes us once per burst instead of at every 8 KiB Data-Out segment. Each wake-up of an idle
// event loop costs the sender a cross-CPU wake (an IPI and, in a VM, an exit): against a null LUN,
// 1 MiB writes from qemu-img woke the daemon 11-20 times per write and tgt 0.4 times, and the initiator
// spent ~20% more CPU per write against us (docs/benchmarks.md, session 14).
//
// Safe by construction, with a guard: the mark never exceeds the payload bytes still owed minus two PDUs
// (one may be partly read already), so what it waits for must come unless the initiator gives up on the
// burst (an ABORT TASK, a lost connection). For that case a timer puts the mark back to 1 when no read
// happened for GUARD_MS, so a PDU sitting below the mark waits at most that long.
//
// Off unless TGTD_RECEIVE_LOW_WATER=1: Linux raises a socket's receive buffer and clamps its window to the
// mark when it sets SO_RCVLOWAT (a window cap on long fat links), and one CI run of the curve-LUN copy
// under chunkserver kills stalled with it on, unexplained and not reproduced in 7 later runs.
import type * as net from 'node:net';
import { receiveLowWaterAvailable, setReceiveLowWater } from '../common/socket-low-water';

/** Is the mark to be used on new connections (the addon is built and TGTD_RECEIVE_LOW_WATER=1)? */
export function receiveLowWaterEnabled(): boolean {
  return receiveLowWaterAvailable && process.env.TGTD_RECEIVE_LOW_WATER === '1';
}

/** Below this many certain bytes the mark stays at 1: waking per segment costs little then. */
export const MIN_LOW_WATER = 16 << 10;
/** At most this much is waited for at once (the kernel grows the receive buffer to hold twice it). */
export const MAX_LOW_WATER = 128 << 10;
/** A raised mark with no read for this long is put back to 1. */
export const GUARD_MS = 5;

/**
 * The mark for `awaited` solicited payload bytes when a Data-Out PDU carries at most `maxPduBytes` on the
 * wire (header, digests and data): 1 unless at least MIN_LOW_WATER are certain to come.
 */
export function lowWaterMark(awaited: number, maxPduBytes: number): number {
  const certain = awaited - 2 * maxPduBytes;
  return certain >= MIN_LOW_WATER ? Math.min(certain, MAX_LOW_WATER) : 1;
}

export class ReceiveLowWater {
  private mark = 1;
  private reads = 0;
  private readsAtGuard = 0;
  private guard: NodeJS.Timeout | undefined;
  private disabled = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly maxPduBytes: number,
    private readonly set: (socket: net.Socket, bytes: number) => boolean = setReceiveLowWater,
  ) {}

  /** The current mark (1: every byte wakes the reader). */
  get current(): number {
    return this.mark;
  }

  /** After each socket read: `awaited` solicited payload bytes are still owed on this connection. */
  update(awaited: number): void {
    this.reads++;
    if (this.disabled) return;
    this.apply(lowWaterMark(awaited, this.maxPduBytes));
  }

  /** The connection is gone. */
  dispose(): void {
    this.disabled = true;
    clearTimeout(this.guard);
    this.guard = undefined;
  }

  private apply(want: number): void {
    if (want === this.mark) return;
    if (!this.set(this.socket, want)) {
      // Not settable here (no addon, socket gone): stay at the kernel's default of 1.
      this.dispose();
      this.mark = 1;
      return;
    }
    this.mark = want;
    if (want > 1 && !this.guard) this.armGuard();
  }

  private armGuard(): void {
    this.readsAtGuard = this.reads;
    this.guard = setTimeout(() => {
      this.guard = undefined;
      if (this.disabled || this.mark === 1) return;
      if (this.reads === this.readsAtGuard) this.apply(1);
      else this.armGuard();
    }, GUARD_MS);
    this.guard.unref();
  }
}
