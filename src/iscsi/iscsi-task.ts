// One SCSI command in flight on a session: where its data-out stands (immediate, unsolicited, R2T
// bursts) and its lifecycle. The session drives it; this file holds the bookkeeping only.
import type { ScsiTask } from '../scsi/scsi-types';
import type { Connection } from './connection';
import type { DataBufferPool } from '../common/data-buffer-pool';
import type { ScsiCommand } from './pdu-types';

export interface OutstandingR2T {
  ttt: number;
  offset: number;
  length: number;
  received: number;
  /** DataSN the next Data-Out of this R2T's sequence must carry (each sequence counts from 0). */
  expDataSN: number;
}

export type TaskState = 'waiting-order' | 'collecting' | 'executing' | 'done';

export class IscsiTask {
  state: TaskState = 'waiting-order';
  aborted = false;
  /** The full data-out buffer once allocated (EDTL bytes); before that, immediate data is kept as a slice. */
  buf: Buffer | undefined;
  immediate: Buffer | undefined;
  /** Bytes of data-out received so far (unsolicited + solicited). */
  received = 0;
  /** End of the unsolicited range: data beyond it only comes in answer to R2Ts. */
  readonly unsolicitedEnd: number;
  unsolicitedReceived = 0;
  /** DataSN expected on the next unsolicited Data-Out. */
  unsolicitedDataSN = 0;
  /** Next offset an R2T will ask for. */
  nextR2TOffset: number;
  r2tSN = 0;
  r2ts: OutstandingR2T[] = [];
  dataSN = 0;
  /** Bytes charged to the data budget (released on completion). */
  charged = 0;
  /** Immediate data counted as held by the data budget until it moves into `buf`. */
  held = 0;
  /** Budget waiter, when the task waits for buffer space. */
  budgetWaiter: (() => void) | undefined;
  private settleWaiters: Array<() => void> = [];

  constructor(
    readonly conn: Connection,
    readonly cmd: ScsiCommand,
    readonly lun: number,
    readonly scsi: ScsiTask,
    firstBurstLength: number,
    initialR2T: boolean,
  ) {
    const edtl = cmd.expectedDataTransferLength;
    const imm = cmd.data.length;
    if (!cmd.write || edtl === 0) this.unsolicitedEnd = 0;
    else if (cmd.final || initialR2T) this.unsolicitedEnd = Math.min(imm, edtl);
    else this.unsolicitedEnd = Math.min(Math.max(firstBurstLength, imm), edtl);
    this.nextR2TOffset = this.unsolicitedEnd;
    if (imm > 0) {
      this.immediate = cmd.data;
      this.received = imm;
      this.unsolicitedReceived = imm;
    }
  }

  get itt(): number {
    return this.cmd.itt;
  }

  get edtl(): number {
    return this.cmd.expectedDataTransferLength;
  }

  get dataComplete(): boolean {
    return !this.cmd.write || this.received >= this.edtl;
  }

  /** Make sure the whole EDTL buffer exists, moving immediate data into it. */
  ensureBuffer(pool: DataBufferPool): Buffer {
    if (!this.buf) {
      this.buf = pool.take(this.edtl);
      if (this.immediate) this.immediate.copy(this.buf, 0);
      this.immediate = undefined;
    }
    return this.buf;
  }

  /** Take over an EDTL-sized buffer whose start already holds the immediate data (received in place). */
  adoptBuffer(buf: Buffer): void {
    this.buf = buf;
    this.immediate = undefined;
  }

  /** The outstanding R2T with this Target Transfer Tag. */
  r2tFor(ttt: number): OutstandingR2T | undefined {
    const r2ts = this.r2ts;
    for (let i = 0; i < r2ts.length; i++) if (r2ts[i].ttt === ttt) return r2ts[i];
    return undefined;
  }

  /** The data-out as the SCSI layer should see it. */
  dataOut(): Buffer | undefined {
    if (!this.cmd.write) return undefined;
    if (this.buf) return this.buf.subarray(0, this.received);
    return this.immediate ?? Buffer.alloc(0);
  }

  /** Resolve when the task has finished (completed or aborted and its backend I/O settled). */
  whenSettled(fn: () => void): void {
    if (this.state === 'done') fn();
    else this.settleWaiters.push(fn);
  }

  settle(): void {
    this.state = 'done';
    const w = this.settleWaiters;
    this.settleWaiters = [];
    for (const fn of w) fn();
  }
}
