// Crash test with real processes and files: three kv-node processes on loopback, one SIGKILLed at random
// every couple of seconds and restarted, while clients write. Afterwards every acknowledged write must be
// in the durable log of a majority, and all replicas must converge to the same state.
import t from 'tap';
import * as path from 'node:path';
import { FileStorage } from '../../../src/curve/raft/file-storage';
import { HostJournal } from '../../../src/curve/raft/host-journal';
import { decodeKvCommand, KvStateMachine } from '../../../src/curve/raft/kv-state-machine';
import { bootstrapState } from '../../../src/curve/raft/bootstrap';
import { Prng } from '../../../src/curve/raft/prng';
import { EntryType } from '../../../src/curve/raft/types';
import { KvCluster, KvConnection } from './kv-cluster';

const CHAOS_MS = Number(process.env.RAFT_CRASH_MS ?? 20000);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('SIGKILL a random replica every few seconds while clients write', { timeout: 120_000 }, async (t) => {
  // Small journal checkpoints and snapshots: the kills also land while journal files are checkpointed and
  // recycled and while snapshots are saved and the log compacted; a replica restarted behind the
  // leader's compacted log catches up by snapshot.
  const cluster = new KvCluster(3, 1, 50, true, [
    ...['--journal-checkpoint-bytes', String(256 << 10)],
    ...['--snapshot-bytes', String(16 << 10)],
  ]);
  await cluster.init();
  t.teardown(async () => {
    await cluster.stopAll();
    cluster.cleanup();
  });
  for (let id = 1; id <= 3; id++) await cluster.start(id);
  const rng = new Prng(Date.now() & 0xffff);
  const acked = new Map<string, string>();
  let attempts = 0;
  let stop = false;
  const writer = async (w: number): Promise<void> => {
    let target = 1 + (w % 3);
    let conn = new KvConnection(cluster.clientPorts.get(target)!);
    let n = 0;
    while (!stop) {
      const key = `w${w}-${n++}`;
      const value = `v${w}-${n}`;
      attempts++;
      const r = await conn.call({ op: 'put', key, value }, 2000);
      if (r.ok) {
        acked.set(key, value);
        continue;
      }
      // Not leader, timeout or connection lost: go to the hinted leader or the next node.
      conn.close();
      target = r.leader && r.leader > 0 ? r.leader : 1 + (target % 3);
      await sleep(20);
      conn = new KvConnection(cluster.clientPorts.get(target)!);
    }
    conn.close();
  };
  const writers = [0, 1, 2, 3].map(writer);
  const end = Date.now() + CHAOS_MS;
  let kills = 0;
  while (Date.now() < end) {
    await sleep(1500 + rng.int(1500));
    const victim = 1 + rng.int(3);
    await cluster.kill(victim, 'SIGKILL');
    kills++;
    await sleep(300 + rng.int(700));
    await cluster.start(victim);
  }
  stop = true;
  await Promise.all(writers);
  t.comment(`${kills} kills, ${acked.size} acknowledged writes of ${attempts} attempts`);
  t.ok(kills >= 3, 'replicas were killed');
  t.ok(acked.size > 100, 'writes were acknowledged despite the kills');

  // Convergence: all three replicas reach the same applied index and the same map.
  const conns = [1, 2, 3].map((id) => new KvConnection(cluster.clientPorts.get(id)!));
  let states: { applied?: number; map?: [string, string][] }[] = [];
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    // A final write makes the leader commit in its term and push the commit index everywhere.
    await Promise.all(conns.map((c) => c.call({ op: 'put', key: 'final', value: 'x' }, 1000)));
    await sleep(300);
    states = await Promise.all(conns.map((c) => c.call({ op: 'state' })));
    if (
      states.every(
        (s) => s.applied === states[0].applied && JSON.stringify(s.map) === JSON.stringify(states[0].map),
      )
    ) {
      break;
    }
  }
  for (const c of conns) c.close();
  t.ok(
    states.every((s) => s.applied === states[0].applied),
    `replicas applied ${states.map((s) => s.applied)}`,
  );
  t.ok(
    states.every((s) => JSON.stringify(s.map) === JSON.stringify(states[0].map)),
    'replicas agree on the state',
  );
  const finalMap = new Map(states[0].map ?? []);
  const missing = [...acked].filter(([k, v]) => finalMap.get(k) !== v);
  t.same(missing, [], 'every acknowledged write is in the replicated state');

  // Durability: read each replica's files after a final SIGKILL, as its restart would (its snapshot, the
  // group's segment files and its host journal's records); each acked write is on a majority.
  await cluster.stopAll();
  const onDisk = new Map<string, number>();
  let snapshots = 0;
  for (let id = 1; id <= 3; id++) {
    const journal = HostJournal.open(path.join(cluster.dir, `n${id}`, 'journal'));
    const s = FileStorage.open(path.join(cluster.dir, `n${id}`, 'group-1'), { journal, group: 1 });
    const init = s.initialState(bootstrapState([1, 2, 3]));
    s.close();
    journal.close();
    const here = new Map<string, string>();
    if (init.snapshot) {
      snapshots++;
      const kv = new KvStateMachine();
      kv.restore(init.snapshot.data, init.snapshot.meta.index);
      for (const [k, v] of kv.map) here.set(k, v);
    }
    for (const e of init.entries) {
      if (e.type !== EntryType.Normal || e.data.length === 0) continue;
      const cmd = decodeKvCommand(e.data);
      here.set(cmd.key, cmd.value);
    }
    for (const [k, v] of here) if (acked.get(k) === v) onDisk.set(k, (onDisk.get(k) ?? 0) + 1);
  }
  t.ok(snapshots >= 2, `${snapshots} replicas had compacted their log into a snapshot`);
  const notMajority = [...acked.keys()].filter((k) => (onDisk.get(k) ?? 0) < 2);
  t.same(notMajority, [], 'every acknowledged write is durable on at least 2 of 3 replicas');
});
