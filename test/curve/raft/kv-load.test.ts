// Load generated inside a replica (kv-load.ts): the pure driver with fake proposals, then the kv-node's
// "load" op on a real three-process cluster (what the Raft benchmark's procs-local cells use).
import t from 'tap';
import { proposeLoad, validLoad } from '../../../src/curve/raft/kv-load';
import { decodeKvCommand } from '../../../src/curve/raft/kv-state-machine';
import { KvCluster, KvConnection, KvReply } from './kv-cluster';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('validLoad bounds what a request may ask for', async (t) => {
  t.ok(validLoad(1, 1));
  t.ok(validLoad(4096, 600_000));
  for (const [inflight, ms] of [
    [0, 100],
    [4097, 100],
    [1.5, 100],
    ['8', 100],
    [8, 0],
    [8, 600_001],
    [8, '100'],
    [undefined, undefined],
  ])
    t.notOk(validLoad(inflight, ms), `inflight ${String(inflight)}, ms ${String(ms)}`);
});

t.test('proposeLoad keeps N proposals in flight and reports their latencies', async (t) => {
  let inFlight = 0;
  let maxInFlight = 0;
  const seen: string[] = [];
  const r = await proposeLoad(
    async (data) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      seen.push(decodeKvCommand(data).key);
      await sleep(1);
      inFlight--;
      return seen.length;
    },
    7,
    8,
    60,
  );
  t.equal(maxInFlight, 8, 'eight at a time');
  t.ok(r.commits >= 8, `${r.commits} commits`);
  t.equal(r.commits, seen.length, 'every proposal counted once');
  t.ok(r.p50ms > 0 && r.p99ms >= r.p50ms, `p50 ${r.p50ms} p99 ${r.p99ms}`);
  t.equal(seen[0], 'load-0');
});

t.test('proposeLoad rejects with the first failure and stops proposing', async (t) => {
  let calls = 0;
  const failing = proposeLoad(
    async () => {
      if (++calls === 5) throw new Error('not leader');
      await sleep(1);
      return calls;
    },
    1,
    4,
    5_000,
  );
  const started = Date.now();
  await t.rejects(failing, /not leader/);
  t.ok(Date.now() - started < 1_000, 'did not run out the clock');
  const after = calls;
  await sleep(20);
  t.ok(calls <= after + 4, 'workers stop after the failure');
});

t.test('the kv-node load op runs on the leader and is refused elsewhere', { timeout: 60_000 }, async (t) => {
  const cluster = new KvCluster(3, 1, 50, true);
  await cluster.init();
  t.teardown(async () => {
    await cluster.stopAll();
    cluster.cleanup();
  });
  for (let id = 1; id <= 3; id++) await cluster.start(id);
  const conns = new Map([1, 2, 3].map((id) => [id, new KvConnection(cluster.clientPorts.get(id)!)]));
  t.teardown(() => conns.forEach((c) => c.close()));
  // Wait for a leader: a put succeeds on it, others answer with a hint.
  let leader = 0;
  for (let i = 0; i < 200 && !leader; i++) {
    for (const [id, c] of conns) {
      const r = await c.call({ op: 'put', key: 'warm', value: 'x' });
      if (r.ok) leader = id;
    }
    if (!leader) await sleep(50);
  }
  t.ok(leader > 0, `leader is node ${leader}`);
  const r = (await conns.get(leader)!.call({ op: 'load', inflight: 16, ms: 400 }, 10_000)) as KvReply & {
    commits: number;
    p50ms: number;
    p99ms: number;
  };
  t.ok(r.ok, JSON.stringify(r));
  t.ok(r.commits > 16, `${r.commits} commits in 400 ms`);
  t.ok(r.p50ms > 0 && r.p99ms >= r.p50ms, `p50 ${r.p50ms} p99 ${r.p99ms}`);
  const follower = [1, 2, 3].find((id) => id !== leader)!;
  const refused = await conns.get(follower)!.call({ op: 'load', inflight: 4, ms: 100 });
  t.notOk(refused.ok, 'a follower refuses');
  t.equal(refused.leader, leader, 'and names the leader');
  const bad = await conns.get(leader)!.call({ op: 'load', inflight: 0, ms: 100 });
  t.same({ ok: bad.ok, error: bad.error }, { ok: false, error: 'bad load request' });
  // The load's writes are replicated: every replica applies up to the leader's index.
  const applied = async (id: number): Promise<number> =>
    (await conns.get(id)!.call({ op: 'state', group: 1 })).applied ?? 0;
  const target = await applied(leader);
  let lagging = [1, 2, 3];
  for (let i = 0; i < 100 && lagging.length; i++) {
    const now = await Promise.all(lagging.map(async (id) => [id, await applied(id)] as const));
    lagging = now.filter(([, a]) => a < target).map(([id]) => id);
    if (lagging.length) await sleep(50);
  }
  t.same(lagging, [], `all replicas applied ${target}`);
});
