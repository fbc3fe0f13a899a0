// Topology service over gRPC against fake chunkservers: registration, placement, copyset push, lists.
import t from 'tap';
import { buildCluster, startMds } from './mds-harness';

interface CsInfo {
  copysetId: number;
  csLocs: { chunkServerID: number; port: number }[];
}

t.test('registration, pools, copyset placement and listings', async (t) => {
  const h = await startMds();
  t.teardown(() => h.stop());
  await buildCluster(h, 4);
  const c = h.client;

  t.test('chunkserver registration: id + token, same disk same id', async (t) => {
    const f = h.fakes[0];
    t.ok(f.id > 0 && /^[0-9a-f]{16}$/.test(f.token));
    const again = await c.call<{ statusCode: number; chunkServerID: number; token: string }>(
      'topology',
      'RegistChunkServer',
      {
        diskPath: '/data/cs1',
        hostIp: '127.0.0.1',
        port: f.port,
        serverName: 'server1',
      },
    );
    t.same([again.statusCode, again.chunkServerID, again.token], [0, f.id, f.token]);
    const otherDisk = await c.call('topology', 'RegistChunkServer', {
      diskPath: '/data/other',
      hostIp: '127.0.0.1',
      port: f.port,
      serverName: 'server1',
    });
    t.equal(otherDisk.statusCode, -15, 'same ip:port, another disk: kTopoErrCodeIpPortDuplicated');
    const noServer = await c.call('topology', 'RegistChunkServer', {
      diskPath: '/d',
      hostIp: '10.9.9.9',
      port: 1,
    });
    t.equal(noServer.statusCode, -7, 'kTopoErrCodeServerNotFound');
    const ambiguous = await c.call('topology', 'RegistChunkServer', {
      diskPath: '/d',
      hostIp: '127.0.0.1',
      port: 2,
    });
    t.equal(ambiguous.statusCode, -2, 'several servers on one ip need serverName');
    const badIp = await c.call('topology', 'RegistChunkServer', {
      diskPath: '/d',
      hostIp: '300.1.1.1',
      port: 2,
    });
    t.equal(badIp.statusCode, -2);
  });

  t.test('duplicates and unknown parents get clear codes', async (t) => {
    t.equal((await c.call('topology', 'CreatePhysicalPool', { physicalPoolName: 'pool1' })).statusCode, -16);
    t.equal(
      (await c.call('topology', 'CreateZone', { zoneName: 'z', physicalPoolName: 'nope' })).statusCode,
      -9,
    );
    t.equal(
      (await c.call('topology', 'CreateZone', { zoneName: 'zone1', physicalPoolName: 'pool1' })).statusCode,
      -16,
    );
    t.equal(
      (await c.call('topology', 'CreatePhysicalPool', { physicalPoolName: 'bad name!' })).statusCode,
      -2,
    );
    const srv = await c.call('topology', 'RegistServer', {
      hostName: 'sx',
      internalIp: '127.0.0.1',
      internalPort: 9999,
      zoneName: 'nozone',
      physicalPoolName: 'pool1',
    });
    t.equal(srv.statusCode, -8);
    t.equal(
      (
        await c.call('topology', 'CreateLogicalPool', {
          logicalPoolName: 'lp',
          physicalPoolName: 'nope',
          copysetNum: 4,
        })
      ).statusCode,
      -9,
    );
  });

  t.test('logical pool: 3 replicas in 3 zones, spread evenly, pushed to chunkservers', async (t) => {
    h.fakes[1].failFirst = 1; // one transient failure: retried
    const res = await c.call<{
      statusCode: number;
      logicalPoolInfo: { logicalPoolID: number; copysetNum: number };
    }>('topology', 'CreateLogicalPool', {
      logicalPoolName: 'lp1',
      physicalPoolName: 'pool1',
      replicaNum: 3,
      copysetNum: 8,
      zoneNum: 3,
    });
    t.equal(res.statusCode, 0);
    const lp = res.logicalPoolInfo.logicalPoolID;
    const ids = Array.from({ length: 8 }, (_, i) => i + 1);
    const got = await c.call<{ statusCode: number; csInfo: CsInfo[] }>(
      'topology',
      'GetChunkServerListInCopySets',
      {
        logicalPoolId: lp,
        copysetId: ids,
      },
    );
    t.equal(got.statusCode, 0);
    const zoneOf = new Map(h.fakes.map((f, i) => [f.id, i]));
    const perCs = new Map<number, number>();
    for (const cs of got.csInfo) {
      const zones = new Set(cs.csLocs.map((l) => zoneOf.get(l.chunkServerID)));
      t.equal(zones.size, 3, `copyset ${cs.copysetId} spans 3 zones`);
      for (const l of cs.csLocs) perCs.set(l.chunkServerID, (perCs.get(l.chunkServerID) ?? 0) + 1);
      for (const l of cs.csLocs) {
        const fake = h.fakes.find((f) => f.id === l.chunkServerID)!;
        const rec = fake.created.find((x) => x.logicalPoolId === lp && x.copysetId === cs.copysetId);
        t.ok(rec, `copyset ${cs.copysetId} created on chunkserver ${l.chunkServerID}`);
        t.same(
          rec!.peers.map((p) => p.id).sort(),
          cs.csLocs.map((x) => x.chunkServerID).sort(),
          'with the full peer list',
        );
      }
    }
    t.same([...perCs.values()].sort(), [6, 6, 6, 6], '24 replicas over 4 chunkservers: 6 each');
    t.equal(h.fakes[1].calls, 2, 'the failed push was retried');

    const onCs = await c.call<{ copysetInfos: unknown[] }>('topology', 'GetCopySetsInChunkServer', {
      chunkServerID: h.fakes[0].id,
    });
    t.equal(onCs.copysetInfos.length, 6);
    t.equal(
      (await c.call('topology', 'GetChunkServerListInCopySets', { logicalPoolId: lp, copysetId: [99] }))
        .statusCode,
      -11,
    );
    t.equal(
      (
        await c.call('topology', 'CreateLogicalPool', {
          logicalPoolName: 'lp1',
          physicalPoolName: 'pool1',
          copysetNum: 2,
        })
      ).statusCode,
      -19,
    );
  });

  t.test('a chunkserver that never accepts: nothing recorded', async (t) => {
    h.fakes[2].failFirst = 1000;
    const res = await c.call('topology', 'CreateLogicalPool', {
      logicalPoolName: 'lp-fail',
      physicalPoolName: 'pool1',
      copysetNum: 4,
    });
    t.equal(res.statusCode, -17, 'kTopoErrCodeCreateCopysetNodeOnChunkServerFail');
    const pools = await c.call<{ logicalPoolInfos: { logicalPoolName: string }[] }>(
      'topology',
      'ListLogicalPool',
      {},
    );
    t.same(
      pools.logicalPoolInfos.map((p) => p.logicalPoolName),
      ['lp1'],
    );
    h.fakes[2].failFirst = 0;
  });

  t.test('list and cluster info', async (t) => {
    const pp = await c.call<{ physicalPoolInfos: { physicalPoolName: string }[] }>(
      'topology',
      'ListPhysicalPool',
      {},
    );
    t.same(
      pp.physicalPoolInfos.map((p) => p.physicalPoolName),
      ['pool1'],
    );
    const zones = await c.call<{ zones: unknown[] }>('topology', 'ListPoolZone', {
      physicalPoolName: 'pool1',
    });
    t.equal(zones.zones.length, 4);
    const servers = await c.call<{ serverInfo: { hostName: string }[] }>('topology', 'ListZoneServer', {
      zoneName: 'zone2',
    });
    t.same(
      servers.serverInfo.map((s) => s.hostName),
      ['server2'],
    );
    const css = await c.call<{
      chunkServerInfos: { chunkServerID: number; token: string; copysetNum: number }[];
    }>('topology', 'ListChunkServer', {});
    t.equal(css.chunkServerInfos.length, 4);
    t.ok(
      css.chunkServerInfos.every((x) => x.token === ''),
      'tokens are not listed',
    );
    const info = await c.call<{ statusCode: number; clusterId: string }>('topology', 'GetClusterInfo', {});
    t.match(info.clusterId, /^[0-9a-f]{32}$/);
    const cs = await c.call<{ statusCode: number }>('topology', 'GetChunkServer', { chunkServerID: 999 });
    t.equal(cs.statusCode, -6);
  });

  t.test('restart: topology comes back unchanged', async (t) => {
    const before = await c.call('topology', 'ListCopySet', {});
    const cluster = await c.call('topology', 'GetClusterInfo', {});
    await h.restart();
    const after = await h.client.call('topology', 'ListCopySet', {});
    t.same(after, before);
    t.same(await h.client.call('topology', 'GetClusterInfo', {}), cluster);
    const again = await h.client.call<{ chunkServerID: number }>('topology', 'RegistChunkServer', {
      diskPath: '/data/cs2',
      hostIp: '127.0.0.1',
      port: h.fakes[1].port,
      serverName: 'server2',
    });
    t.equal(again.chunkServerID, h.fakes[1].id, 're-registration after restart keeps the id');
  });
});
