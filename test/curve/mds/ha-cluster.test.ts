// Active/standby MDS over a real etcd with real chunkservers and a real client (ha.test.ts covers the
// election itself with fake chunkservers): the leader MDS is SIGKILLed while a client keeps writing to new
// regions of a volume (each write allocates a segment); a standby takes over within ~2 lease TTLs, no
// allocated segment is lost or handed out twice, the chunkservers heartbeat to the new leader and the
// client's writes complete. Then every process is SIGKILLed and restarted: metadata comes back unchanged.
import t from 'tap';
import { setLogLevel } from '../../../src/common/log';
import { CurveVolume } from '../../../src/curve/client/curve-volume';
import { startEtcd } from './etcd-harness';
import { killProc, metadataSnapshot, ProcCluster, waitFor } from './proc-cluster';

setLogLevel('error');
const GiB = 1024 ** 3;
type Rec = Record<string, unknown>;
type Seg = { chunks: { chunkID: number }[] };

t.test('MDS failover under segment allocation, then a full restart', { timeout: 150_000 }, async (t) => {
  const etcd = await startEtcd();
  t.teardown(() => etcd.stop());
  const c = new ProcCluster({ chunkservers: 3, copysets: 4, etcd: etcd.endpoint, mdsCount: 2 });
  t.teardown(() => c.stop());
  await c.start();
  const role = async (i: number): Promise<string> =>
    c.client
      .callAt<{ isLeader: boolean }>(c.mdsAddrs[i], 'status', 'GetMdsStatus', {})
      .then((r) => (r.isLeader ? 'leader' : 'standby'))
      .catch(() => 'down');
  const leaderIdx = await waitFor('one leader MDS', 15_000, async () => {
    const roles = [await role(0), await role(1)];
    return roles.filter((r) => r === 'leader').length === 1 ? roles.indexOf('leader') : undefined;
  });
  const standbyIdx = 1 - leaderIdx;

  const SEGMENTS = 24;
  const created = await c.client.call<{ statusCode: number }>('nameserver', 'CreateFile', {
    fileName: '/ha',
    owner: 'root',
    fileType: 1,
    fileLength: SEGMENTS * GiB,
  });
  t.equal(created.statusCode, 0);
  const vol = await CurveVolume.open({
    mdsAddresses: c.mdsAddrs,
    fileName: '/ha',
    owner: 'root',
    holdLimitMs: 60_000,
  });
  t.teardown(() => vol.close().catch(() => undefined));
  const block = (i: number): Buffer => Buffer.alloc(4096, i + 1);

  // the writer: one 4 KiB block per segment, each a first write that makes the MDS allocate
  let written = 0;
  const writer = (async () => {
    for (let i = 0; i < SEGMENTS; i++) {
      await vol.write(i * GiB + 8192, block(i));
      written = i + 1;
    }
  })();
  await waitFor('a few segments allocated', 20_000, async () => (written >= 6 ? true : undefined));
  const killedAt = Date.now();
  const allocatedBefore = written;
  await killProc(c.mds[leaderIdx], 'SIGKILL');
  const took = await waitFor('the standby takes over', 15_000, async () =>
    (await role(standbyIdx)) === 'leader' ? Date.now() - killedAt : undefined,
  );
  t.ok(took < 2 * 2000 + 1500, `standby leader after ${took} ms (lease TTL 2 s)`);
  await writer;
  t.equal(written, SEGMENTS, `the client kept writing through the failover (${allocatedBefore} before it)`);

  await t.test('no segment lost or handed out twice', async (t) => {
    const snap = await metadataSnapshot(c.client, ['/ha']);
    const segs = snap.segments as Record<string, Seg>;
    t.equal(Object.keys(segs).length, SEGMENTS, 'every written segment is allocated');
    const ids = Object.values(segs).flatMap((s) => s.chunks.map((ch) => ch.chunkID));
    t.equal(new Set(ids).size, ids.length, `${ids.length} chunk ids, all distinct`);
    for (let i = 0; i < SEGMENTS; i++)
      t.same(await vol.read(i * GiB + 8192, 4096), block(i), `segment ${i} data reads back`);
  });

  await t.test('chunkservers heartbeat to the new leader', async (t) => {
    const online = await waitFor('all chunkservers online at the new leader', 20_000, async () => {
      const r = await c.client.callAt<Rec>(c.mdsAddrs[standbyIdx], 'topology', 'ListChunkServer', {});
      const list = r.chunkServerInfos as Rec[];
      return list.every((x) => x.onlineState === 0) ? list.length : undefined;
    });
    t.equal(online, 3);
    const list = await c.waitHealthy(20_000);
    t.ok(
      list.every((x) => x.leader),
      'copyset leaders known to the new MDS',
    );
  });

  await t.test('restart everything (etcd store): metadata unchanged, data readable', async (t) => {
    await vol.close();
    await c.startMds(leaderIdx); // the old leader comes back as a standby
    const before = await metadataSnapshot(c.client, ['/ha']);
    await Promise.all([...c.cs.map((p) => killProc(p)), ...c.mds.map((p) => killProc(p))]);
    await c.startMds(0);
    await c.startMds(1);
    await Promise.all([0, 1, 2].map((i) => c.startCs(i)));
    await c.waitHealthy(60_000);
    t.same(
      await metadataSnapshot(c.client, ['/ha']),
      before,
      'topology, namespace and allocations unchanged',
    );
    const r = await CurveVolume.open({
      mdsAddresses: c.mdsAddrs,
      fileName: '/ha',
      owner: 'root',
      readonly: true,
    });
    for (let i = 0; i < SEGMENTS; i += 5)
      t.same(await r.read(i * GiB + 8192, 4096), block(i), `segment ${i} after the restart`);
    await r.close();
  });
});
