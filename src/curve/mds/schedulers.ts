// The four MDS schedulers as pure planners: snapshot in, operators out. No I/O, no clock; the schedule
// driver runs them periodically and the operator controller rate-limits and executes what they plan.
import {
  ClusterSnapshot,
  csKey,
  OFFLINE,
  ONLINE,
  Operator,
  SnapshotChunkServer,
  SnapshotCopyset,
} from './schedule-types';

function index(snap: ClusterSnapshot): Map<number, SnapshotChunkServer> {
  return new Map(snap.chunkservers.map((c) => [c.id, c]));
}

function copysetCounts(snap: ClusterSnapshot): Map<number, number> {
  const m = new Map<number, number>(snap.chunkservers.map((c) => [c.id, 0]));
  for (const cs of snap.copysets) for (const id of cs.members) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
}

/**
 * A chunkserver to host a new replica of `copyset`: online, healthy disk, writable, same physical pool,
 * not a member, in a zone no other kept member uses; least loaded first (ties: lowest id).
 */
export function pickNewPeer(
  snap: ClusterSnapshot,
  copyset: SnapshotCopyset,
  excluding: number[] = [],
  counts = copysetCounts(snap),
): number | undefined {
  const byId = index(snap);
  const pool = copyset.members.map((m) => byId.get(m)?.physicalPoolId).find((p) => p !== undefined);
  const keptZones = new Set(
    copyset.members.filter((m) => !excluding.includes(m)).map((m) => byId.get(m)?.zoneId),
  );
  const candidates = snap.chunkservers.filter(
    (c) =>
      c.onlineState === ONLINE &&
      c.diskOk &&
      c.writable &&
      (pool === undefined || c.physicalPoolId === pool) &&
      !copyset.members.includes(c.id) &&
      !keptZones.has(c.zoneId),
  );
  candidates.sort((a, b) => (counts.get(a.id) ?? 0) - (counts.get(b.id) ?? 0) || a.id - b.id);
  return candidates[0]?.id;
}

/** Recover: a member offline -> add a peer in a fitting zone, then remove the dead one. */
export function planRecover(snap: ClusterSnapshot): Operator[] {
  const byId = index(snap);
  const counts = copysetCounts(snap);
  const ops: Operator[] = [];
  for (const cs of snap.copysets) {
    if (snap.busy.has(csKey(cs))) continue;
    const dead = cs.members.filter((m) => (byId.get(m)?.onlineState ?? OFFLINE) === OFFLINE);
    if (dead.length === 0) continue;
    // Without a live majority the copyset cannot change its configuration: nothing to plan.
    if ((cs.members.length - dead.length) * 2 <= cs.members.length) continue;
    const victim = dead[0];
    if (cs.members.length > cs.replicaNum) {
      ops.push({
        ...ids(cs),
        startEpoch: cs.epoch,
        steps: [{ kind: 'remove', target: victim }],
        scheduler: 'recover',
      });
      continue;
    }
    const peer = pickNewPeer(snap, cs, [victim], counts);
    if (peer === undefined) continue;
    counts.set(peer, (counts.get(peer) ?? 0) + 1);
    ops.push({
      ...ids(cs),
      startEpoch: cs.epoch,
      steps: [
        { kind: 'add', target: peer },
        { kind: 'remove', target: victim },
      ],
      scheduler: 'recover',
    });
  }
  return ops;
}

const ids = (cs: SnapshotCopyset): { logicalPoolId: number; copysetId: number } => ({
  logicalPoolId: cs.logicalPoolId,
  copysetId: cs.copysetId,
});

/** Replica count: too many members -> remove the most loaded (zone duplicates first); too few -> add. */
export function planReplicaCount(snap: ClusterSnapshot): Operator[] {
  const byId = index(snap);
  const counts = copysetCounts(snap);
  const ops: Operator[] = [];
  for (const cs of snap.copysets) {
    if (snap.busy.has(csKey(cs))) continue;
    if (cs.members.some((m) => (byId.get(m)?.onlineState ?? OFFLINE) === OFFLINE)) continue; // recover's job
    if (cs.members.length > cs.replicaNum) {
      const zoneUse = new Map<number, number>();
      for (const m of cs.members)
        zoneUse.set(byId.get(m)!.zoneId, (zoneUse.get(byId.get(m)!.zoneId) ?? 0) + 1);
      const victim = [...cs.members]
        .filter((m) => m !== cs.leader || cs.members.length === 1)
        .sort(
          (a, b) =>
            (zoneUse.get(byId.get(b)!.zoneId) ?? 0) - (zoneUse.get(byId.get(a)!.zoneId) ?? 0) ||
            (counts.get(b) ?? 0) - (counts.get(a) ?? 0) ||
            b - a,
        )[0];
      ops.push({
        ...ids(cs),
        startEpoch: cs.epoch,
        steps: [{ kind: 'remove', target: victim }],
        scheduler: 'replica',
      });
    } else if (cs.members.length < cs.replicaNum) {
      const peer = pickNewPeer(snap, cs, [], counts);
      if (peer === undefined) continue;
      counts.set(peer, (counts.get(peer) ?? 0) + 1);
      ops.push({
        ...ids(cs),
        startEpoch: cs.epoch,
        steps: [{ kind: 'add', target: peer }],
        scheduler: 'replica',
      });
    }
  }
  return ops;
}

/** Leader balance: move leadership from chunkservers above the average to members below it. */
export function planLeaderBalance(snap: ClusterSnapshot): Operator[] {
  const byId = index(snap);
  const leaders = new Map<number, number>();
  const hosts = snap.chunkservers.filter((c) => c.onlineState === ONLINE);
  for (const c of hosts) leaders.set(c.id, 0);
  const led = snap.copysets.filter((c) => c.leader && leaders.has(c.leader));
  for (const c of led) leaders.set(c.leader, (leaders.get(c.leader) ?? 0) + 1);
  if (hosts.length === 0) return [];
  const avg = led.length / hosts.length;
  const ops: Operator[] = [];
  for (const cs of [...led].sort((a, b) => a.copysetId - b.copysetId)) {
    if (snap.busy.has(csKey(cs))) continue;
    const from = leaders.get(cs.leader)!;
    if (from <= Math.ceil(avg)) continue;
    const targets = cs.members
      .filter((m) => m !== cs.leader && byId.get(m)?.onlineState === ONLINE)
      .filter((m) => (leaders.get(m) ?? 0) < Math.floor(avg) || (leaders.get(m) ?? 0) + 1 < from - 1)
      .sort((a, b) => (leaders.get(a) ?? 0) - (leaders.get(b) ?? 0) || a - b);
    if (targets.length === 0) continue;
    const to = targets[0];
    leaders.set(cs.leader, from - 1);
    leaders.set(to, (leaders.get(to) ?? 0) + 1);
    ops.push({
      ...ids(cs),
      startEpoch: cs.epoch,
      steps: [{ kind: 'transfer', target: to }],
      scheduler: 'leader',
    });
  }
  return ops;
}

/**
 * Copyset balance: when the most loaded chunkserver holds more than `tolerance` copysets above the least
 * loaded one, move one replica from it to the least loaded fitting chunkserver (add, then remove).
 */
export function planCopysetBalance(snap: ClusterSnapshot, tolerance = 1, maxOps = 1): Operator[] {
  const byId = index(snap);
  const healthy = snap.chunkservers.filter((c) => c.onlineState === ONLINE && c.diskOk && c.writable);
  if (healthy.length < 2) return [];
  if (snap.chunkservers.some((c) => c.onlineState === OFFLINE)) return []; // let recover finish first
  const counts = copysetCounts(snap);
  const ops: Operator[] = [];
  for (let i = 0; i < maxOps; i++) {
    const sorted = [...healthy].sort(
      (a, b) => (counts.get(a.id) ?? 0) - (counts.get(b.id) ?? 0) || a.id - b.id,
    );
    const low = sorted[0];
    const high = sorted[sorted.length - 1];
    if ((counts.get(high.id) ?? 0) - (counts.get(low.id) ?? 0) <= tolerance) break;
    const movable = snap.copysets.find((cs) => {
      if (
        snap.busy.has(csKey(cs)) ||
        ops.some((o) => o.copysetId === cs.copysetId && o.logicalPoolId === cs.logicalPoolId)
      )
        return false;
      if (!cs.members.includes(high.id) || cs.members.includes(low.id) || cs.leader === high.id) return false;
      if (cs.members.length !== cs.replicaNum) return false;
      const otherZones = cs.members.filter((m) => m !== high.id).map((m) => byId.get(m)?.zoneId);
      return (
        !otherZones.includes(low.zoneId) && byId.get(cs.members[0])?.physicalPoolId === low.physicalPoolId
      );
    });
    if (!movable) break;
    counts.set(high.id, (counts.get(high.id) ?? 0) - 1);
    counts.set(low.id, (counts.get(low.id) ?? 0) + 1);
    ops.push({
      ...ids(movable),
      startEpoch: movable.epoch,
      steps: [
        { kind: 'add', target: low.id },
        { kind: 'remove', target: high.id },
      ],
      scheduler: 'copyset',
    });
  }
  return ops;
}
