// Inputs and outputs of the schedulers: a read-only snapshot of the cluster, and operators (a copyset
// configuration change made of ordered steps) for the operator controller to hand to copyset leaders.

export interface SnapshotChunkServer {
  id: number;
  zoneId: number;
  physicalPoolId: number;
  /** 0 online, 1 offline, 2 unstable (topology.proto OnlineState) */
  onlineState: number;
  diskOk: boolean;
  /** false when retired or pending: takes no new replicas */
  writable: boolean;
}

export interface SnapshotCopyset {
  logicalPoolId: number;
  copysetId: number;
  members: number[];
  leader: number;
  epoch: number;
  replicaNum: number;
}

export interface ClusterSnapshot {
  chunkservers: SnapshotChunkServer[];
  copysets: SnapshotCopyset[];
  /** copysets that already have an operator in flight ("pool.copyset") */
  busy: Set<string>;
}

export type StepKind = 'add' | 'remove' | 'transfer';

export interface OperatorStep {
  kind: StepKind;
  target: number;
}

export interface Operator {
  logicalPoolId: number;
  copysetId: number;
  /** copyset epoch when planned; progress is judged against the reported membership */
  startEpoch: number;
  steps: OperatorStep[];
  scheduler: 'recover' | 'replica' | 'leader' | 'copyset';
}

export const ONLINE = 0;
export const OFFLINE = 1;
export const csKey = (c: { logicalPoolId: number; copysetId: number }): string =>
  `${c.logicalPoolId}.${c.copysetId}`;
