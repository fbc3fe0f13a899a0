// Pure planners and the operator controller, on hand-built snapshots.
import t from 'tap';
import { placeCopysets, placeCopysetsInSteps } from '../../../src/curve/mds/copyset-placement';
import { copysetHealth, onlineStateFor } from '../../../src/curve/mds/chunkserver-health';
import { OperatorController } from '../../../src/curve/mds/operator-controller';
import { ClusterSnapshot, SnapshotCopyset } from '../../../src/curve/mds/schedule-types';
import {
  pickNewPeer,
  planCopysetBalance,
  planLeaderBalance,
  planRecover,
  planReplicaCount,
} from '../../../src/curve/mds/schedulers';

const cs = (id: number, zoneId: number, onlineState = 0) => ({
  id,
  zoneId,
  physicalPoolId: 1,
  onlineState,
  diskOk: true,
  writable: true,
});
const copyset = (copysetId: number, members: number[], leader = members[0], epoch = 1): SnapshotCopyset => ({
  logicalPoolId: 1,
  copysetId,
  members,
  leader,
  epoch,
  replicaNum: 3,
});

t.test('placement in steps: pauses every perStep copysets, same result as in one go', async (t) => {
  const nodes = Array.from({ length: 12 }, (_, i) => ({ id: i + 1, zoneId: (i % 4) + 1 }));
  const load = new Map([[3, 5]]);
  const steps = placeCopysetsInSteps(nodes, 95, 3, load, 10);
  let pauses = 0;
  let r = steps.next();
  while (!r.done) {
    pauses++;
    r = steps.next();
  }
  t.equal(pauses, 9, '95 copysets, a pause after every 10');
  t.same(r.value, placeCopysets(nodes, 95, 3, load));
  t.ok(r.value.ok);
});

t.test('placement: distinct zones, even spread, not enough zones', async (t) => {
  const nodes = [1, 2, 3, 4, 5, 6].map((id) => ({ id, zoneId: ((id - 1) % 3) + 1 }));
  const r = placeCopysets(nodes, 100, 3);
  if (!r.ok) throw new Error(r.reason);
  const load = new Map<number, number>();
  for (const members of r.copysets) {
    t.equal(new Set(members.map((m) => nodes[m - 1].zoneId)).size, 3);
    for (const m of members) load.set(m, (load.get(m) ?? 0) + 1);
  }
  t.ok(Math.max(...load.values()) - Math.min(...load.values()) <= 1, `spread ${[...load.values()]}`);
  t.equal(new Set(r.copysets.map((m) => m.join())).size > 1, true, 'not all copysets on the same three');
  const bad = placeCopysets(nodes.slice(0, 2), 1, 3);
  t.equal(bad.ok, false);
  const seeded = placeCopysets(
    nodes,
    3,
    3,
    new Map([
      [1, 10],
      [2, 10],
      [3, 10],
    ]),
  );
  if (!seeded.ok) throw new Error('seeded');
  t.same(
    seeded.copysets,
    [
      [4, 5, 6],
      [4, 5, 6],
      [4, 5, 6],
    ],
    'existing load steers new copysets away',
  );
});

t.test('health by heartbeat age and copyset health', async (t) => {
  const to = { unstableAfterMs: 100, offlineAfterMs: 1000 };
  t.equal(onlineStateFor(1000, 1050, to), 0);
  t.equal(onlineStateFor(1000, 1100, to), 2);
  t.equal(onlineStateFor(1000, 2000, to), 1);
  t.equal(copysetHealth([0, 0, 0], 3), 'healthy');
  t.equal(copysetHealth([0, 0, 1], 3), 'degraded');
  t.equal(copysetHealth([0, 2, 0], 3), 'degraded', 'unstable member: not healthy');
  t.equal(copysetHealth([0, 1, 1], 3), 'unavailable');
  t.equal(copysetHealth([0, 0], 3), 'degraded', 'missing replica');
});

t.test('recover: add in the dead zone-fitting place, then remove the dead one', async (t) => {
  const snap: ClusterSnapshot = {
    chunkservers: [cs(1, 1), cs(2, 2), cs(3, 3, 1), cs(4, 3), cs(5, 4)],
    copysets: [copyset(1, [1, 2, 3]), copyset(2, [1, 2, 4]), copyset(3, [1, 3, 5], 1, 4)],
    busy: new Set(),
  };
  const ops = planRecover(snap);
  t.same(
    ops.map((o) => [o.copysetId, o.steps.map((s) => `${s.kind} ${s.target}`)]),
    [
      // copyset 1 keeps zones 1,2: cs4 (zone 3) and cs5 (zone 4) hold one copyset each; lower id wins
      [1, ['add 4', 'remove 3']],
      // copyset 3 keeps zones 1,4: cs2 and cs4 now hold two each; lower id wins
      [3, ['add 2', 'remove 3']],
    ],
  );
  t.equal(ops[1].startEpoch, 4);
  const busy = planRecover({ ...snap, busy: new Set(['1.1', '1.3']) });
  t.same(busy, [], 'copysets with operators in flight are skipped');
  const noMajority = planRecover({
    chunkservers: [cs(1, 1), cs(2, 2, 1), cs(3, 3, 1), cs(4, 4)],
    copysets: [copyset(1, [1, 2, 3])],
    busy: new Set(),
  });
  t.same(noMajority, [], 'no live majority: nothing can be changed');
  const extra = planRecover({
    chunkservers: [cs(1, 1), cs(2, 2), cs(3, 3, 1), cs(4, 4)],
    copysets: [copyset(1, [1, 2, 3, 4])],
    busy: new Set(),
  });
  t.same(extra[0].steps, [{ kind: 'remove', target: 3 }], 'already re-added: only remove');
});

t.test('pickNewPeer honours zones, health and load', async (t) => {
  const snap: ClusterSnapshot = {
    chunkservers: [cs(1, 1), cs(2, 2), cs(3, 3, 1), cs(4, 1), cs(5, 4, 2), cs(6, 5), cs(7, 6)],
    copysets: [copyset(1, [1, 2, 3]), copyset(2, [6, 2, 1])],
    busy: new Set(),
  };
  t.equal(pickNewPeer(snap, snap.copysets[0], [3]), 7, 'zone 1 taken, 5 unstable, 6 busier than 7');
  snap.chunkservers[6].diskOk = false;
  t.equal(pickNewPeer(snap, snap.copysets[0], [3]), 6);
  snap.chunkservers[5].writable = false;
  t.equal(pickNewPeer(snap, snap.copysets[0], [3]), undefined);
});

t.test('replica count: remove extra, add missing', async (t) => {
  const snap: ClusterSnapshot = {
    chunkservers: [cs(1, 1), cs(2, 2), cs(3, 3), cs(4, 1), cs(5, 4)],
    copysets: [copyset(1, [1, 2, 3, 4]), copyset(2, [2, 3])],
    busy: new Set(),
  };
  const ops = planReplicaCount(snap);
  t.same(ops[0].steps, [{ kind: 'remove', target: 4 }], 'the zone duplicate that is not the leader');
  t.same(ops[1].steps, [{ kind: 'add', target: 5 }], 'least loaded fitting chunkserver');
});

t.test('leader balance: transfers from overloaded to underloaded members', async (t) => {
  const snap: ClusterSnapshot = {
    chunkservers: [cs(1, 1), cs(2, 2), cs(3, 3)],
    copysets: [1, 2, 3, 4, 5, 6].map((id) => copyset(id, [1, 2, 3], 1)),
    busy: new Set(),
  };
  const ops = planLeaderBalance(snap);
  const after = new Map([
    [1, 6],
    [2, 0],
    [3, 0],
  ]);
  for (const o of ops) {
    t.equal(o.steps[0].kind, 'transfer');
    after.set(1, after.get(1)! - 1);
    after.set(o.steps[0].target, after.get(o.steps[0].target)! + 1);
  }
  t.same([...after.values()], [2, 2, 2], 'two leaders each after the plan');
  const balanced = planLeaderBalance({
    ...snap,
    copysets: snap.copysets.map((c, i) => ({ ...c, leader: (i % 3) + 1 })),
  });
  t.same(balanced, [], 'balanced: nothing to do');
});

t.test('copyset balance: moves a replica from the fullest to the emptiest chunkserver', async (t) => {
  const snap: ClusterSnapshot = {
    chunkservers: [cs(1, 1), cs(2, 2), cs(3, 3), cs(4, 3)],
    copysets: [1, 2, 3].map((id) => copyset(id, [1, 2, 3], 1)),
    busy: new Set(),
  };
  const ops = planCopysetBalance(snap);
  t.same(ops.length, 1);
  t.same(
    ops[0].steps,
    [
      { kind: 'add', target: 4 },
      { kind: 'remove', target: 3 },
    ],
    'same zone swap keeps zones distinct',
  );
  t.same(planCopysetBalance({ ...snap, chunkservers: snap.chunkservers.slice(0, 3) }), [], 'already even');
  const withOffline = { ...snap, chunkservers: [...snap.chunkservers.slice(0, 3), cs(4, 3, 1)] };
  t.same(planCopysetBalance(withOffline), [], 'waits for recovery');
});

t.test('operator controller: one per copyset, per-chunkserver limit, steps, timeouts', async (t) => {
  const oc = new OperatorController(1, 1000);
  const op = {
    logicalPoolId: 1,
    copysetId: 1,
    startEpoch: 1,
    steps: [
      { kind: 'add' as const, target: 5 },
      { kind: 'remove' as const, target: 3 },
    ],
    scheduler: 'recover' as const,
  };
  t.equal(oc.add(op, 0), true);
  t.equal(oc.add({ ...op }, 0), false, 'copyset busy');
  t.equal(
    oc.add({ ...op, copysetId: 2, steps: [{ kind: 'add', target: 5 }] }, 0),
    false,
    'chunkserver 5 at its limit',
  );
  t.equal(
    oc.add(
      {
        ...op,
        copysetId: 3,
        steps: [
          { kind: 'add', target: 6 },
          { kind: 'remove', target: 3 },
        ],
      },
      0,
    ),
    true,
    'removed peers do not count',
  );
  const rep = { logicalPoolId: 1, copysetId: 1, leader: 1, epoch: 1, members: [1, 2, 3] };
  t.same(oc.onReport(rep, 10), { kind: 'add', target: 5 });
  t.same(oc.onReport({ ...rep, members: [1, 2, 3, 5], epoch: 2 }, 20), { kind: 'remove', target: 3 });
  t.equal(oc.onReport({ ...rep, members: [1, 2, 5], epoch: 3 }, 30), undefined);
  t.same(
    oc.finished.map((f) => f.outcome),
    ['done'],
  );
  oc.expire(2000);
  t.same(
    oc.finished.map((f) => f.outcome),
    ['done', 'timeout'],
  );
  t.same(oc.list(), []);
});
