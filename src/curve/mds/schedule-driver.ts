// Runs each scheduler on its own interval over a fresh snapshot of the topology and hands the operators
// it plans to the operator controller (which enforces one per copyset and the per-chunkserver limit).
import { Logger } from '../../common/log';
import { HeartbeatHandler } from './heartbeat';
import { OperatorController } from './operator-controller';
import { ClusterSnapshot, Operator } from './schedule-types';
import { planCopysetBalance, planLeaderBalance, planRecover, planReplicaCount } from './schedulers';
import { Topology } from './topology';
import { ChunkServerStatus, DiskState } from './topology-types';

export interface SchedulerIntervals {
  recoverMs: number;
  replicaMs: number;
  leaderMs: number;
  copysetMs: number;
}

export function snapshotOf(topo: Topology, busy: Set<string>): ClusterSnapshot {
  return {
    chunkservers: [...topo.chunkservers.values()].map((cs) => ({
      id: cs.chunkServerID,
      zoneId: cs.zoneID,
      physicalPoolId: topo.zones.get(cs.zoneID)?.physicalPoolID ?? 0,
      onlineState: cs.onlineState,
      diskOk: cs.diskStatus === DiskState.NORMAL,
      writable: cs.status === ChunkServerStatus.READWRITE,
    })),
    copysets: [...topo.copysets.values()].map((c) => ({
      logicalPoolId: c.logicalPoolId,
      copysetId: c.copysetId,
      members: [...c.chunkServerIDs],
      leader: c.leader,
      epoch: c.epoch,
      replicaNum: topo.logicalPools.get(c.logicalPoolId)?.replicaNum ?? 3,
    })),
    busy,
  };
}

export class ScheduleDriver {
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly topology: () => Topology,
    private readonly heartbeat: HeartbeatHandler,
    private readonly operators: OperatorController,
    private readonly intervals: SchedulerIntervals,
    private readonly log: Logger,
  ) {}

  /** One pass of one planner (also used by tests and `curve leader balance`). */
  runOnce(plan: (s: ClusterSnapshot) => Operator[], nowMs = Date.now()): Operator[] {
    this.heartbeat.refreshStates(nowMs);
    this.operators.expire(nowMs);
    const accepted: Operator[] = [];
    for (const op of plan(snapshotOf(this.topology(), this.operators.busy()))) {
      if (this.operators.add(op, nowMs)) {
        accepted.push(op);
        this.log.info('operator planned', {
          scheduler: op.scheduler,
          copyset: `${op.logicalPoolId}.${op.copysetId}`,
          steps: op.steps.map((s) => `${s.kind} ${s.target}`).join(', '),
        });
      }
    }
    return accepted;
  }

  start(): void {
    const every = (ms: number, plan: (s: ClusterSnapshot) => Operator[]): void => {
      if (ms <= 0) return;
      const t = setInterval(() => {
        try {
          this.runOnce(plan);
        } catch (err) {
          this.log.error('scheduler pass failed', { err: err as Error });
        }
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.intervals.recoverMs, planRecover);
    every(this.intervals.replicaMs, planReplicaCount);
    every(this.intervals.leaderMs, planLeaderBalance);
    every(this.intervals.copysetMs, (s) => planCopysetBalance(s));
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
}
