// Heartbeats over gRPC: authentication, liveness states, copyset epochs, and a full recover cycle
// (one of 4 chunkservers goes silent; the leader is told to add a peer, then to remove the dead one).
import t from 'tap';
import { planRecover } from '../../../src/curve/mds/schedulers';
import { heartbeat } from './fake-chunkserver';
import { buildCluster, startMds } from './mds-harness';

interface Detail {
  logicalPoolId: number;
  copysetId: number;
  chunkServerIDs: number[];
  leader: number;
  epoch: number;
  health: string;
  pending: string;
}

t.test('heartbeat and recovery', async (t) => {
  const h = await startMds({ unstableAfterMs: 1000, offlineAfterMs: 2500 });
  t.teardown(() => h.stop());
  await buildCluster(h, 4);
  const c = h.client;
  await c.call('topology', 'CreateLogicalPool', {
    logicalPoolName: 'lp1',
    physicalPoolName: 'pool1',
    copysetNum: 8,
  });
  const list = async (): Promise<Detail[]> =>
    (await c.call<{ copysets: Detail[] }>('topology', 'ListCopySet', {})).copysets;
  const byId = new Map(h.fakes.map((f) => [f.id, f]));
  const member = (id: number): { id: number; port: number } => ({ id, port: byId.get(id)!.port });

  t.test('authentication', async (t) => {
    const f = h.fakes[0];
    t.equal((await heartbeat(c, { ...f, token: 'bad' })).statusCode, 3, 'hbChunkserverTokenNotMatch');
    t.equal((await heartbeat(c, { ...f, id: 999 })).statusCode, 1, 'hbChunkserverUnknown');
    t.equal((await heartbeat(c, { ...f, port: 1 })).statusCode, 2, 'hbChunkserverIpPortNotMatch');
    t.equal((await heartbeat(c, f)).statusCode, 0);
  });

  t.test('leaders report copysets; only newer epochs replace the configuration', async (t) => {
    const cs1 = (await list())[0];
    const leader = byId.get(cs1.chunkServerIDs[0])!;
    await heartbeat(c, leader, [
      { pool: cs1.logicalPoolId, copyset: cs1.copysetId, members: cs1.chunkServerIDs.map(member), epoch: 1 },
    ]);
    let now = (await list())[0];
    t.equal(now.epoch, 1);
    t.equal(now.leader, leader.id);
    // a stale report (older epoch, fewer members) is ignored
    await heartbeat(c, leader, [
      {
        pool: cs1.logicalPoolId,
        copyset: cs1.copysetId,
        members: cs1.chunkServerIDs.slice(0, 2).map(member),
        epoch: 0,
      },
    ]);
    now = (await list())[0];
    t.same(now.chunkServerIDs, cs1.chunkServerIDs);
    // a follower's report does not change the configuration
    const follower = byId.get(cs1.chunkServerIDs[1])!;
    await heartbeat(c, follower, [
      {
        pool: cs1.logicalPoolId,
        copyset: cs1.copysetId,
        members: cs1.chunkServerIDs.slice(0, 2).map(member),
        epoch: 5,
        leader: leader.id,
      },
    ]);
    t.equal((await list())[0].epoch, 1);
    const info = await c.call<{ chunkServerInfo: { diskUsed: number; onlineState: number } }>(
      'topology',
      'GetChunkServer',
      {
        chunkServerID: leader.id,
      },
    );
    t.equal(info.chunkServerInfo.diskUsed, 2 ** 30);
    t.equal(info.chunkServerInfo.onlineState, 0, 'ONLINE');
  });

  t.test('silence: unstable, then offline; recover adds then removes', async (t) => {
    const dead = h.fakes[3];
    const alive = h.fakes.slice(0, 3);
    // everyone leads what it leads: the first member of each copyset
    const report = async (): Promise<Map<number, Record<string, unknown>[]>> => {
      const out = new Map<number, Record<string, unknown>[]>();
      const copysets = await list();
      for (const f of alive) {
        const mine = copysets.filter((x) => x.chunkServerIDs.find((id) => id !== dead.id) === f.id);
        const res = await heartbeat(
          c,
          f,
          mine.map((x) => ({
            pool: x.logicalPoolId,
            copyset: x.copysetId,
            members: x.chunkServerIDs.map(member),
            epoch: x.epoch,
          })),
        );
        out.set(f.id, res.needUpdateCopysets);
      }
      return out;
    };
    await report();
    await new Promise((r) => setTimeout(r, 1200));
    await report();
    const cs = await c.call<{ chunkServerInfos: { chunkServerID: number; onlineState: number }[] }>(
      'topology',
      'ListChunkServer',
      {},
    );
    t.equal(cs.chunkServerInfos.find((x) => x.chunkServerID === dead.id)!.onlineState, 2, 'UNSTABLE');
    await new Promise((r) => setTimeout(r, 1500));
    await report();
    const cs2 = await c.call<{ chunkServerInfos: { chunkServerID: number; onlineState: number }[] }>(
      'topology',
      'ListChunkServer',
      {},
    );
    t.equal(cs2.chunkServerInfos.find((x) => x.chunkServerID === dead.id)!.onlineState, 1, 'OFFLINE');
    const affected = (await list()).filter((x) => x.chunkServerIDs.includes(dead.id));
    t.ok(affected.length > 0);
    t.ok(affected.every((x) => x.health === 'degraded'));

    const planned = h.mds.state!.driver.runOnce(planRecover);
    t.ok(planned.length > 0);
    const perTarget = new Map<number, number>();
    for (const op of planned) perTarget.set(op.steps[0].target, (perTarget.get(op.steps[0].target) ?? 0) + 1);
    t.ok(
      [...perTarget.values()].every((n) => n <= 2),
      'rate limit: at most 2 operators per new-replica chunkserver',
    );
    // drive to completion like chunkservers would: apply each instruction, report the new config
    for (let round = 0; round < 20; round++) {
      const instructions = await report();
      let any = false;
      for (const confs of instructions.values())
        for (const conf of confs) {
          any = true;
          const copysets = await list();
          const x = copysets.find((y) => y.copysetId === conf.copysetID)!;
          const item = (conf.configchangeItem as { id: number }).id;
          const members =
            conf.type === 1 ? [...x.chunkServerIDs, item] : x.chunkServerIDs.filter((id) => id !== item);
          const leader = byId.get(members.find((id) => id !== dead.id)!)!;
          await heartbeat(c, leader, [
            { pool: x.logicalPoolId, copyset: x.copysetId, members: members.map(member), epoch: x.epoch + 1 },
          ]);
        }
      if (!any) {
        if (h.mds.state!.driver.runOnce(planRecover).length === 0) break;
      }
    }
    const final = await list();
    t.ok(
      final.every(
        (x) => !x.chunkServerIDs.includes(dead.id) && x.chunkServerIDs.length === 3 && x.health === 'healthy',
      ),
      'every copyset has 3 healthy replicas again',
    );
    for (const x of final) {
      const zones = new Set(x.chunkServerIDs.map((id) => h.fakes.findIndex((f) => f.id === id)));
      t.equal(zones.size, 3, `copyset ${x.copysetId} still spans 3 zones`);
    }
    t.ok(h.mds.state!.operators.finished.filter((f) => f.outcome === 'done').length >= affected.length);
  });
});

t.test('the recover scheduler runs on its own interval', async (t) => {
  const h = await startMds({ unstableAfterMs: 700, offlineAfterMs: 1500, recoverIntervalMs: 100 });
  t.teardown(() => h.stop());
  await buildCluster(h, 4);
  await h.client.call('topology', 'CreateLogicalPool', {
    logicalPoolName: 'lp1',
    physicalPoolName: 'pool1',
    copysetNum: 4,
  });
  const alive = h.fakes.slice(0, 3);
  const deadline = Date.now() + 8000;
  while (Date.now() < deadline && h.mds.state!.operators.list().length === 0) {
    for (const f of alive) await heartbeat(h.client, f);
    await new Promise((r) => setTimeout(r, 100));
  }
  const ops = h.mds.state!.operators.list();
  t.ok(ops.length > 0, 'operators planned without any explicit call');
  t.ok(
    ops.every((o) => o.op.scheduler === 'recover' && o.op.steps.at(-1)!.target === h.fakes[3].id),
    'all of them replace the silent chunkserver',
  );
});
