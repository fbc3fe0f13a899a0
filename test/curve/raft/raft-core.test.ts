// Unit tests of the pure Raft core through a synchronous harness.
import t from 'tap';
import { bootstrapState } from '../../../src/curve/raft/bootstrap';
import { Prng } from '../../../src/curve/raft/prng';
import { RaftCore } from '../../../src/curve/raft/raft-core';
import { EntryType, makeMessage } from '../../../src/curve/raft/types';
import { Harness, str, text } from './cluster-harness';

const normal = (entries: { type: EntryType; data: Uint8Array }[]): string[] =>
  entries.filter((e) => e.type === EntryType.Normal && e.data.length > 0).map((e) => str(e.data));

t.test('a single-node group elects itself and commits proposals', async (t) => {
  const h = new Harness([1]);
  h.tickAll(25);
  const n = h.node(1);
  t.equal(n.role, 'leader');
  t.ok(n.propose(text('x')) > 0);
  h.settle();
  t.same(normal(h.applied.get(1)!), ['x']);
});

t.test('election by timeout with pre-vote, then replication and commit on every node', async (t) => {
  const h = new Harness([1, 2, 3]);
  h.tickAll(40);
  const leader = h.leader()!;
  t.ok(leader, 'a leader was elected by timeouts');
  t.equal(leader.term, 2, 'one election round: pre-vote does not burn terms');
  for (let i = 0; i < 10; i++) leader.propose(text(`v${i}`));
  h.settle();
  for (const id of [1, 2, 3])
    t.same(
      normal(h.applied.get(id)!),
      [...Array(10).keys()].map((i) => `v${i}`),
    );
  t.equal(leader.propose.length, 1);
});

t.test('batching: many proposals between Readys travel in one append', async (t) => {
  const h = new Harness([1, 2, 3]);
  h.elect(1);
  h.tickAll(1);
  const before = h.sent.length;
  for (let i = 0; i < 50; i++) h.node(1).propose(text(`b${i}`));
  h.flush();
  const apps = h.sent.slice(before).filter((m) => m.type === 'app' && m.entries.length > 0);
  t.equal(apps.length, 2, 'one append per follower');
  t.equal(apps[0].entries.length, 50);
});

t.test(
  'pre-vote: an isolated node does not raise its term; check-quorum: an isolated leader steps down',
  async (t) => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    const term = h.node(1).term;
    h.isolate(3);
    h.tickAll(100);
    t.equal(h.node(3).term, term, 'isolated follower kept its term');
    t.equal(h.node(1).role, 'leader');
    h.heal();
    h.isolate(1);
    h.tickAll(60);
    t.not(h.node(1).role, 'leader', 'isolated leader stepped down');
    const newLeader = h.leader()!;
    t.not(newLeader.id, 1);
    h.heal();
    h.tickAll(5);
    t.equal(h.node(1).lead, newLeader.id, 'old leader rejoins as follower without disruption');
  },
);

t.test(
  'voters ignore campaigns while they hear from a leader (lease), unless it is a transfer',
  async (t) => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.tickAll(3);
    const term = h.node(1).term;
    h.node(3).campaign('election');
    h.settle();
    t.equal(h.node(1).role, 'leader');
    t.equal(h.node(2).vote, 1, 'node 2 did not vote for 3');
    t.ok(h.node(3).term > term && h.node(3).role !== 'leader');
  },
);

t.test('fast backtracking: a divergent follower is repaired in a few round trips', async (t) => {
  const h = new Harness([1, 2, 3], { maxEntriesPerMsg: 1000 });
  h.elect(1);
  h.isolate(1);
  for (let i = 0; i < 200; i++) h.node(1).propose(text(`lost${i}`)); // uncommittable, on node 1 only
  h.settle();
  h.heal();
  h.isolate(1);
  h.elect(2);
  for (let i = 0; i < 100; i++) h.node(2).propose(text(`kept${i}`));
  h.settle();
  h.heal();
  const before = h.sent.length;
  h.tickAll(3);
  const rejects = h.sent.slice(before).filter((m) => m.type === 'appResp' && m.reject && m.from === 1);
  t.ok(rejects.length <= 2, `${rejects.length} rejections instead of ~200`);
  t.same(
    normal(h.applied.get(1)!),
    [...Array(100).keys()].map((i) => `kept${i}`),
  );
});

t.test('only entries of the current term commit by counting replicas', async (t) => {
  const h = new Harness([1, 2, 3]);
  h.elect(1);
  h.isolate(3);
  h.isolate(1);
  h.node(1).propose(text('old'));
  h.settle(); // entry at term T on node 1 only
  // Node 1 replicates it to node 2 directly after a restart into a new term, without committing anything new.
  h.heal();
  h.cut.add('1>3').add('3>1');
  const n1 = h.node(1);
  const last = n1.log.lastIndex();
  const oldTerm = n1.log.term(last);
  h.isolate(1);
  h.elect(2); // node 2 leads a newer term; node 1's entry is not there
  h.heal();
  h.tickAll(3);
  t.not(h.node(2).log.term(last), oldTerm, 'the old-term entry was overwritten, it had never committed');
});

t.test(
  'lease reads answer at once; ReadIndex needs a heartbeat round; both wait for a current-term commit',
  async (t) => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    const n1 = h.node(1);
    h.tickAll(1);
    t.ok(n1.leaseValid());
    n1.propose(text('w'));
    h.settle();
    n1.readIndex('lease-ctx', 'lease');
    h.flush();
    t.same(
      h.reads.get(1)!.map((r) => r.ctx),
      ['lease-ctx'],
      'lease read answered without messages',
    );
    const before = h.sent.length;
    n1.readIndex('safe-ctx', 'safe');
    h.flush();
    t.equal(h.reads.get(1)!.length, 1, 'safe read waits for the heartbeat round');
    t.ok(h.sent.slice(before).some((m) => m.type === 'heartbeat' && m.readSeq > 0));
    h.settle();
    t.same(
      h.reads.get(1)!.map((r) => r.ctx),
      ['lease-ctx', 'safe-ctx'],
    );
    t.equal(h.reads.get(1)![1].index, n1.log.committed);
    // Isolated: the lease expires before followers may elect anyone, and safe reads never complete.
    h.isolate(1);
    for (let i = 0; i < 8; i++) n1.tick();
    t.notOk(n1.leaseValid(), 'lease expired after electionTicks - drift');
    n1.readIndex('stuck', 'lease');
    h.settle();
    t.equal(h.reads.get(1)!.length, 2);
  },
);

t.test('snapshots: a follower behind the compacted log receives and installs one', async (t) => {
  const h = new Harness([1, 2, 3]);
  h.elect(1);
  h.isolate(3);
  for (let i = 0; i < 20; i++) h.node(1).propose(text(`s${i}`));
  h.settle();
  const snap = h.node(1).createSnapshot(text('STATE'));
  t.equal(h.node(1).log.offset, snap.meta.index);
  h.heal();
  const before = h.sent.length;
  h.tickAll(3);
  const snaps = h.sent.slice(before).filter((m) => m.type === 'snap' && m.to === 3);
  t.equal(snaps.length, 1);
  t.equal(h.node(3).log.committed, h.node(1).log.committed);
  t.same(h.node(3).conf.voters, [1, 2, 3], 'configuration came with the snapshot');
  h.node(1).propose(text('after'));
  h.settle();
  t.same(normal(h.applied.get(3)!), ['after']);
});

t.test('snapshots at an earlier finished index; never across a configuration change', async (t) => {
  const h = new Harness([1, 2, 3]);
  h.elect(1);
  for (let i = 0; i < 10; i++) h.node(1).propose(text(`p${i}`));
  h.settle();
  const leader = h.node(1);
  const applied = leader.log.applied;
  t.ok(leader.canSnapshotAt(applied - 3), 'an index below applied with only normal entries after it');
  t.notOk(leader.canSnapshotAt(applied + 1), 'not beyond what was handed out for apply');
  const snap = leader.createSnapshot(text('S'), 0, applied - 3);
  t.equal(snap.meta.index, applied - 3, 'the snapshot is at the index asked for');
  t.equal(snap.meta.term, leader.log.term(applied - 3));
  t.equal(leader.log.firstIndex(), applied - 2, 'the log is compacted up to it');
  t.notOk(leader.canSnapshotAt(applied - 4), 'not below the compacted log');
  h.add(4);
  t.ok(leader.proposeConfChange({ type: 'addLearner', node: 4 }) > 0);
  leader.propose(text('after-conf'));
  h.settle();
  const confIndex = leader.log.applied - 1;
  t.notOk(leader.canSnapshotAt(confIndex - 1), 'a configuration change after the index refuses it');
  t.throws(() => leader.createSnapshot(text('S'), 0, confIndex - 1), /configuration change/);
  t.ok(leader.canSnapshotAt(confIndex), 'at or after the change it is fine');
});

t.test('membership: learner catches up without voting, is promoted, then a voter is removed', async (t) => {
  const h = new Harness([1, 2, 3]);
  h.elect(1);
  h.node(1).propose(text('a'));
  h.settle();
  h.add(4);
  t.ok(h.node(1).proposeConfChange({ type: 'addLearner', node: 4 }) > 0);
  t.equal(h.node(1).proposeConfChange({ type: 'addVoter', node: 4 }), 0, 'one change at a time');
  h.settle();
  t.same(h.node(4).conf, { voters: [1, 2, 3], learners: [4] });
  t.same(normal(h.applied.get(4)!), ['a']);
  t.ok(h.node(1).proposeConfChange({ type: 'addVoter', node: 4 }) > 0);
  h.settle();
  t.same(h.node(1).conf.voters, [1, 2, 3, 4]);
  t.ok(h.node(1).proposeConfChange({ type: 'removeNode', node: 1 }) > 0);
  h.settle();
  t.equal(h.node(1).role, 'follower', 'removed leader stepped down');
  t.same(h.node(2).conf.voters, [2, 3, 4]);
  h.tickAll(40);
  const leader = h.leader()!;
  t.ok([2, 3, 4].includes(leader.id));
  leader.propose(text('b'));
  h.settle();
  t.same(normal(h.applied.get(4)!), ['a', 'b']);
});

t.test('leadership transfer with TimeoutNow; the old leader stops lease reads', async (t) => {
  const h = new Harness([1, 2, 3]);
  h.elect(1);
  h.tickAll(2);
  h.node(1).transferLeadership(3);
  t.notOk(h.node(1).leaseValid(), 'lease given up once TimeoutNow is sent');
  t.equal(h.node(1).propose(text('x')), 0, 'no proposals during a transfer');
  h.settle();
  t.equal(h.leader()!.id, 3);
  t.equal(h.node(1).lead, 3);
});

t.test('unsafeResetPeers lets a lone survivor form a new group', async (t) => {
  const h = new Harness([1, 2, 3]);
  h.elect(1);
  h.node(1).propose(text('a'));
  h.settle();
  h.isolate(3);
  h.tickAll(60);
  t.not(h.node(3).role, 'leader', 'alone, node 3 cannot lead');
  h.node(3).unsafeResetPeers([3]);
  h.tickAll(1);
  t.equal(h.node(3).role, 'leader');
  h.node(3).propose(text('b'));
  h.settle();
  t.same(normal(h.applied.get(3)!), ['a', 'b']);
});

t.test(
  'restart from storage keeps term, vote and log; stale messages are answered with the new term',
  async (t) => {
    const rng = new Prng(7);
    const init = bootstrapState([1, 2, 3]);
    init.hardState = { term: 5, vote: 2, commit: 3 };
    const n = new RaftCore({ id: 1, random: (k) => rng.int(k) }, init);
    t.equal(n.term, 5);
    t.equal(n.vote, 2);
    const stale = makeMessage('app', 2, 1, 4);
    n.step(stale);
    const rd = n.ready();
    t.equal(rd.messages.length, 1);
    t.equal(rd.messages[0].type, 'appResp');
    t.equal(rd.messages[0].term, 5);
    t.same(
      rd.committedEntries.map((e) => e.index),
      [1, 2, 3],
      'committed bootstrap entries replayed',
    );
  },
);
