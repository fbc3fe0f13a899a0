// The session's command window (RFC 7143 4.2.2.1): non-immediate commands are delivered strictly in
// CmdSN order; commands that arrive early wait here; commands outside [ExpCmdSN, MaxCmdSN] are dropped.
// Pure: the session feeds it and acts on what it returns.
import { snAdd, snDiff, snLt } from './serial';

export type Admission = 'deliver' | 'queued' | 'drop';

export class CmdWindow<T> {
  private pending = new Map<number, T | null>();

  constructor(
    private exp: number,
    /** Queue depth offered to the initiator: MaxCmdSN = ExpCmdSN + depth - 1. */
    readonly depth: number,
  ) {}

  get expCmdSN(): number {
    return this.exp;
  }

  get maxCmdSN(): number {
    return snAdd(this.exp, this.depth - 1);
  }

  /** Is cmdSN within [ExpCmdSN, MaxCmdSN]? */
  inWindow(cmdSN: number): boolean {
    return snDiff(cmdSN, this.exp) < this.depth;
  }

  /** Already delivered (below the window)? */
  isOld(cmdSN: number): boolean {
    return snLt(cmdSN, this.exp);
  }

  /**
   * Offer a non-immediate command. 'deliver': it is next in order; the caller runs it and then calls
   * advance(). 'queued': held until the gap before it fills. 'drop': outside the window or a duplicate.
   */
  offer(cmdSN: number, item: T): Admission {
    if (!this.inWindow(cmdSN)) return 'drop';
    if (cmdSN === this.exp) return 'deliver';
    if (this.pending.has(cmdSN)) return 'drop';
    this.pending.set(cmdSN, item);
    return 'queued';
  }

  /** The delivered command consumed ExpCmdSN; returns the queued commands that are now in order. */
  advance(): T[] {
    this.exp = snAdd(this.exp, 1);
    const ready: T[] = [];
    while (this.pending.has(this.exp)) {
      const item = this.pending.get(this.exp)!;
      this.pending.delete(this.exp);
      if (item !== null) ready.push(item);
      this.exp = snAdd(this.exp, 1);
    }
    return ready;
  }

  /**
   * A CmdSN is to be treated as received without a command (ABORT TASK for a command that never
   * arrived, RFC 7143 11.5.1). Returns commands that became deliverable.
   */
  consumeGap(cmdSN: number): T[] {
    if (!this.inWindow(cmdSN)) return [];
    if (cmdSN === this.exp) return this.advance();
    if (!this.pending.has(cmdSN)) this.pending.set(cmdSN, null);
    return [];
  }

  /** Remove a queued command (aborted before delivery) but keep its CmdSN slot consumed. */
  cancel(cmdSN: number): void {
    if (this.pending.has(cmdSN)) this.pending.set(cmdSN, null);
  }

  queued(): T[] {
    return [...this.pending.values()].filter((v): v is T => v !== null);
  }

  queuedCount(): number {
    return this.pending.size;
  }
}
