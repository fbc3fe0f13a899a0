// Tracks scheduler operators in flight: at most one per copyset, at most `maxPerChunkServer` touching any
// chunkserver, each with a deadline. Copyset leaders learn the current step from heartbeat responses;
// a step is done when the reported membership/leader shows it.
import { csKey, Operator, OperatorStep } from './schedule-types';

export interface InFlight {
  op: Operator;
  step: number;
  createdMs: number;
  deadlineMs: number;
}

export interface ReportedCopyset {
  logicalPoolId: number;
  copysetId: number;
  members: number[];
  leader: number;
  epoch: number;
}

export type Outcome = 'done' | 'timeout';

export class OperatorController {
  private readonly ops = new Map<string, InFlight>();
  readonly finished: { op: Operator; outcome: Outcome }[] = [];

  constructor(
    private readonly maxPerChunkServer = 2,
    private readonly timeoutMs = 60_000,
    private readonly keepFinished = 100,
  ) {}

  /** Chunkservers that do work for the operator: new replicas and new leaders (not removed peers). */
  private touches(op: Operator): number[] {
    return op.steps.filter((s) => s.kind !== 'remove').map((s) => s.target);
  }

  private load(chunkServerId: number): number {
    let n = 0;
    for (const f of this.ops.values()) if (this.touches(f.op).includes(chunkServerId)) n++;
    return n;
  }

  /** Accepts an operator unless its copyset is busy or a chunkserver it touches is at its limit. */
  add(op: Operator, nowMs: number): boolean {
    const key = csKey(op);
    if (this.ops.has(key)) return false;
    if (this.touches(op).some((id) => this.load(id) >= this.maxPerChunkServer)) return false;
    this.ops.set(key, { op, step: 0, createdMs: nowMs, deadlineMs: nowMs + this.timeoutMs });
    return true;
  }

  busy(): Set<string> {
    return new Set(this.ops.keys());
  }

  get(logicalPoolId: number, copysetId: number): InFlight | undefined {
    return this.ops.get(csKey({ logicalPoolId, copysetId }));
  }

  list(): InFlight[] {
    return [...this.ops.values()];
  }

  private finish(key: string, f: InFlight, outcome: Outcome): void {
    this.ops.delete(key);
    this.finished.push({ op: f.op, outcome });
    if (this.finished.length > this.keepFinished) this.finished.shift();
  }

  static stepDone(step: OperatorStep, c: ReportedCopyset): boolean {
    if (step.kind === 'add') return c.members.includes(step.target);
    if (step.kind === 'remove') return !c.members.includes(step.target);
    return c.leader === step.target;
  }

  /** Advances the copyset's operator from a leader's report; returns the step the leader should run now. */
  onReport(c: ReportedCopyset, nowMs: number): OperatorStep | undefined {
    const key = csKey(c);
    const f = this.ops.get(key);
    if (!f) return undefined;
    if (nowMs > f.deadlineMs) {
      this.finish(key, f, 'timeout');
      return undefined;
    }
    while (f.step < f.op.steps.length && OperatorController.stepDone(f.op.steps[f.step], c)) f.step++;
    if (f.step >= f.op.steps.length) {
      this.finish(key, f, 'done');
      return undefined;
    }
    return f.op.steps[f.step];
  }

  /** Drops operators past their deadline. */
  expire(nowMs: number): void {
    for (const [key, f] of this.ops) if (nowMs > f.deadlineMs) this.finish(key, f, 'timeout');
  }

  clear(): void {
    this.ops.clear();
  }
}
