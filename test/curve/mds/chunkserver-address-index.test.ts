// Chunkserver lookup by address: the pure index, and the topology keeping it in step with registration,
// retirement, address changes and a restart from the store; heartbeats resolve peers through it.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ChunkServerAddressIndex, parsePeerAddress } from '../../../src/curve/mds/chunkserver-address-index';
import { HeartbeatHandler, HeartbeatRequest } from '../../../src/curve/mds/heartbeat';
import { LevelKvStore } from '../../../src/curve/mds/kv-level';
import { OperatorController } from '../../../src/curve/mds/operator-controller';
import { Topology, TopoResult } from '../../../src/curve/mds/topology';
import { ChunkServerStatus, TopoCode } from '../../../src/curve/mds/topology-types';

const { READWRITE, RETIRED } = ChunkServerStatus;

function must<T>(r: TopoResult<T>): T {
  if (r.code !== 0 || r.value === undefined) throw new Error(`topology call failed: ${JSON.stringify(r)}`);
  return r.value;
}

t.test('parsePeerAddress', async (t) => {
  t.same(parsePeerAddress('10.0.0.1:8200:0'), { ip: '10.0.0.1', port: 8200 });
  t.same(parsePeerAddress('10.0.0.1:8200'), { ip: '10.0.0.1', port: 8200 });
  for (const bad of [
    '',
    '10.0.0.1',
    ':8200:0',
    '10.0.0.1::0',
    '10.0.0.1:x:0',
    '10.0.0.1:70000:0',
    '10.0.0.1:0',
  ])
    t.equal(parsePeerAddress(bad), undefined, `'${bad}' is not an address`);
});

t.test('index: lookup, retired records, replacement, address change, delete', async (t) => {
  const idx = new ChunkServerAddressIndex<{
    chunkServerID: number;
    hostIp: string;
    port: number;
    status: number;
  }>();
  const a = { chunkServerID: 1, hostIp: '10.0.0.1', port: 8200, status: READWRITE as number };
  const b = { chunkServerID: 2, hostIp: '10.0.0.2', port: 8200, status: READWRITE as number };
  idx.put(a);
  idx.put(b);
  t.equal(idx.size, 2);
  t.equal(idx.idOf('10.0.0.1:8200:0'), 1);
  t.equal(idx.idOf('10.0.0.2:8200'), 2);
  t.equal(idx.idOf('10.0.0.1:8201:0'), 0, 'another port');
  t.equal(idx.idOf('10.0.0.3:8200:0'), 0, 'another host');
  t.equal(idx.idOf('garbage'), 0);

  a.status = RETIRED;
  t.equal(idx.idOf('10.0.0.1:8200:0'), 0, 'a retired chunkserver is not answered');
  const replacement = { chunkServerID: 3, hostIp: '10.0.0.1', port: 8200, status: READWRITE as number };
  idx.put(replacement);
  t.equal(idx.idOf('10.0.0.1:8200:0'), 3, 'the disk that replaced it is');
  t.equal(idx.at('10.0.0.1', 8200), replacement);

  const moved = { ...b, port: 8300 };
  idx.put(moved);
  t.equal(idx.idOf('10.0.0.2:8200:0'), 0, 'the old address is forgotten');
  t.equal(idx.idOf('10.0.0.2:8300:0'), 2, 'the new one answers');
  t.equal(idx.size, 3, 'a move does not add an entry');

  idx.delete(3);
  t.equal(idx.idOf('10.0.0.1:8200:0'), 0);
  idx.delete(99); // unknown: no-op
  t.equal(idx.size, 2);
});

t.test('topology keeps the index in step, also across a restart from the store', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cs-index-'));
  let store = await LevelKvStore.open(dir);
  t.teardown(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const noPusher = { createCopysets: () => Promise.resolve() };
  let topo = await Topology.load(store, noPusher);
  await topo.createPhysicalPool('pool1');
  for (const z of ['z1', 'z2', 'z3']) await topo.createZone(z, 'pool1');
  const ids: number[] = [];
  for (let i = 1; i <= 3; i++) {
    const srv = await topo.registerServer({
      hostName: `h${i}`,
      internalIp: `10.0.0.${i}`,
      internalPort: 0,
      externalIp: '',
      externalPort: 0,
      zoneName: `z${i}`,
      physicalPoolName: 'pool1',
      desc: '',
    });
    t.equal(srv.code, 0);
    const cs = await topo.registerChunkServer({
      diskType: 'ssd',
      diskPath: '/d1',
      hostIp: `10.0.0.${i}`,
      port: 8200,
      externalIp: '',
      diskCapacity: 1 << 30,
    });
    ids.push(must(cs).chunkServerID);
  }
  const [id1, id2, id3] = ids;
  t.equal(topo.chunkServerIdOf('10.0.0.1:8200:0'), id1, 'registered chunkservers are found by address');
  t.equal(topo.chunkServerAt('10.0.0.3', 8200)?.chunkServerID, id3);

  // address change: chunkserver 2 now serves on port 8300
  const moved = await topo.updateChunkServer(id2, { port: 8300 });
  t.equal(moved.code, 0);
  t.equal(topo.chunkServerIdOf('10.0.0.2:8200:0'), 0);
  t.equal(topo.chunkServerIdOf('10.0.0.2:8300:0'), id2);
  t.equal(topo.chunkservers.get(id2)?.port, 8300);
  const clash = await topo.updateChunkServer(id1, { hostIp: '10.0.0.2', port: 8300 });
  t.equal(clash.code, TopoCode.IpPortDuplicated, 'an address in use by another chunkserver is refused');
  t.equal(topo.chunkServerIdOf('10.0.0.1:8200:0'), id1, 'a refused change leaves the index alone');
  t.equal((await topo.updateChunkServer(id1, { port: 0 })).code, TopoCode.InvalidParam);
  t.equal((await topo.updateChunkServer(12345, { port: 8400 })).code, TopoCode.ChunkServerNotFound);

  // retirement, then a new disk registered at the same address
  t.equal((await topo.updateChunkServer(id3, { status: RETIRED })).code, 0);
  t.equal(topo.chunkServerIdOf('10.0.0.3:8200:0'), 0, 'a retired chunkserver no longer answers');
  t.equal(
    (await topo.updateChunkServer(id3, { status: READWRITE })).code,
    TopoCode.InvalidParam,
    'retirement is final',
  );
  const fresh = await topo.registerChunkServer({
    diskType: 'ssd',
    diskPath: '/d1',
    hostIp: '10.0.0.3',
    port: 8200,
    externalIp: '',
    diskCapacity: 1 << 30,
  });
  const id4 = must(fresh).chunkServerID;
  t.not(id4, id3, 'the retired disk is not handed back');
  t.equal(topo.chunkServerIdOf('10.0.0.3:8200:0'), id4);
  const again = await topo.registerChunkServer({
    diskType: 'ssd',
    diskPath: '/d1',
    hostIp: '10.0.0.2',
    port: 8300,
    externalIp: '',
    diskCapacity: 1 << 30,
  });
  t.equal(must(again).chunkServerID, id2, 'a moved disk re-registers at its new address');

  // restart: a new leader loads the topology from the store and rebuilds the index
  await store.close();
  store = await LevelKvStore.open(dir);
  topo = await Topology.load(store, noPusher);
  t.equal(topo.chunkServerIdOf('10.0.0.1:8200:0'), id1);
  t.equal(topo.chunkServerIdOf('10.0.0.2:8200:0'), 0);
  t.equal(topo.chunkServerIdOf('10.0.0.2:8300:0'), id2, 'the move was persisted');
  t.equal(topo.chunkServerIdOf('10.0.0.3:8200:0'), id4, 'the retired record stays out of lookups');
  t.equal(topo.chunkservers.get(id3)?.status, RETIRED);

  // heartbeats resolve peers reported by address through the index
  const lp = await topo.createLogicalPool({
    logicalPoolName: 'lp',
    physicalPoolName: 'pool1',
    physicalPoolID: 0,
    replicaNum: 3,
    copysetNum: 1,
    zoneNum: 3,
    scatterWidth: 0,
    type: 0,
  });
  must(lp);
  const c = [...topo.copysets.values()][0];
  t.same([...c.chunkServerIDs].sort(), [id1, id2, id4].sort(), 'placement uses the chunkservers in service');
  const hb = new HeartbeatHandler(() => topo, new OperatorController(), {
    unstableAfterMs: 60_000,
    offlineAfterMs: 120_000,
  });
  const leader = topo.chunkservers.get(id1)!;
  const report = (peerAddresses: string[], epoch: number): HeartbeatRequest => ({
    chunkServerID: id1,
    token: leader.token,
    ip: leader.hostIp,
    port: leader.port,
    diskState: null,
    diskCapacity: 0,
    diskUsed: 0,
    leaderCount: 1,
    copysetCount: 1,
    copysetInfos: [
      {
        logicalPoolID: c.logicalPoolId,
        copysetID: c.copysetId,
        peers: peerAddresses.map((address) => ({ id: 0, address })),
        epoch,
        leaderPeer: { id: 0, address: '10.0.0.1:8200:0' },
      },
    ],
  });
  const key = `${c.logicalPoolId}.${c.copysetId}`;
  t.equal(
    (await hb.handle(report(['10.0.0.1:8200:0', '10.0.0.2:8200:0', '10.0.0.3:8200:0'], 1))).statusCode,
    0,
  );
  t.equal(topo.copysets.get(key)?.epoch, 0, 'a peer at an address nobody serves: not adopted');
  await hb.handle(report(['10.0.0.1:8200:0', '10.0.0.2:8300:0', '10.0.0.3:8200:0'], 1));
  t.equal(topo.copysets.get(key)?.epoch, 1);
  t.same(
    topo.copysets.get(key)?.chunkServerIDs,
    [id1, id2, id4],
    'peers resolved to the chunkservers in service',
  );
  t.equal(topo.copysets.get(key)?.leader, id1);
});
