// Real processes (curve-mds + 4 curve-chunkserver, one per zone), shortened health timeouts:
// `curve leader balance` evens out leaders piled onto one chunkserver; then one chunkserver is SIGKILLed
// and kept down past the offline timeout: the recover scheduler gives every affected copyset 3 healthy
// replicas again, `curve status --json` shows the progress and finally nothing under-replicated, and the
// volume's data reads back intact; after SIGKILL and restart of every process the metadata is unchanged.
import t from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setLogLevel } from '../../../src/common/log';
import { CurveVolume } from '../../../src/curve/client/curve-volume';
import { cliCall, closeGrpcClients } from '../chunkserver/cs-harness';
import { CLI_BIN, killProc, metadataSnapshot, ProcCluster, waitFor } from './proc-cluster';

setLogLevel('error');
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
type Rec = Record<string, unknown>;

function curve(c: ProcCluster, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI_BIN, '--mds', c.mdsAddrs.join(','), ...args],
      { timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

interface Status {
  chunkservers: { id: number; state: string; leaders: number }[];
  offlineChunkservers: { id: number; state: string }[];
  copysets: { total: number; healthy: number; underReplicated: { copyset: string; down: string }[] };
  operators: { copyset: string; scheduler: string; steps: string }[];
}

async function status(c: ProcCluster): Promise<Status> {
  const r = await curve(c, ['--json', 'status']);
  if (r.code !== 0) throw new Error(`curve status exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Status;
}

t.test('leader balance and recovery from a lost chunkserver', { timeout: 150_000 }, async (t) => {
  const c = new ProcCluster({
    chunkservers: 4,
    copysets: 8,
    mdsArgs: ['--unstable-after-ms', '1500', '--offline-after-ms', '4000', '--recover-interval-ms', '500'],
  });
  t.teardown(async () => {
    closeGrpcClients();
    await c.stop();
  });
  await c.start();
  const ids = new Map<string, number>();
  for (const cs of (await c.topo('ListChunkServer', {})).chunkServerInfos as Rec[])
    ids.set(`${String(cs.hostIp)}:${String(cs.port)}`, Number(cs.chunkServerID));
  const addrOf = (id: number): string => [...ids.entries()].find(([, v]) => v === id)![0];

  await t.test('curve leader balance evens out leaders piled on one chunkserver', async (t) => {
    const pile = ids.get(c.csEndpoint(0))!;
    for (const x of await c.copysets()) {
      const members = x.chunkServerIDs as number[];
      if (!members.includes(pile) || x.leader === pile) continue;
      await cliCall(addrOf(Number(x.leader)), 'TransferLeader', {
        logicPoolId: x.logicalPoolId,
        copysetId: x.copysetId,
        leader: { address: `${addrOf(Number(x.leader))}:0` },
        transferee: { address: `${addrOf(pile)}:0` },
      }).catch(() => undefined);
    }
    const piled = await waitFor('leaders piled on cs1 as seen by the MDS', 20_000, async () => {
      const list = await c.copysets();
      const mine = list.filter((x) => (x.chunkServerIDs as number[]).includes(pile));
      return mine.every((x) => x.leader === pile) ? mine.length : undefined;
    });
    t.ok(piled >= 4, `cs1 leads all ${piled} copysets it is in`);
    const r = await curve(c, ['--json', 'leader', 'balance', '--timeout', '60']);
    t.equal(r.code, 0, `curve leader balance exits 0 (${r.stderr.trim()})`);
    const res = JSON.parse(r.stdout) as {
      balanced: boolean;
      moves: unknown[];
      chunkservers: { id: number; before: number; after: number }[];
    };
    t.equal(res.balanced, true);
    t.ok(res.moves.length > 0, `${res.moves.length} leader transfers`);
    t.equal(res.chunkservers.find((x) => x.id === pile)!.before, piled, 'before: the pile');
    const after = res.chunkservers.map((x) => x.after);
    t.ok(Math.max(...after) - Math.min(...after) <= 2, `after: even (${after.join(',')})`);
    t.equal(
      after.reduce((a, b) => a + b, 0),
      8,
      'every copyset has exactly one leader',
    );
    const text = await curve(c, ['leader', 'balance', '--timeout', '20']);
    t.equal(text.code, 0);
    t.match(text.stdout, /BEFORE\s+AFTER/, 'human table with before/after columns');
    t.match(text.stdout, /leaders balanced/);
  });

  await t.test('SIGKILL a chunkserver past the offline timeout: 3 healthy replicas again', async (t) => {
    const created = await c.client.call<{ statusCode: number }>('nameserver', 'CreateFile', {
      fileName: '/v',
      owner: 'root',
      fileType: 1,
      fileLength: 10 * GiB,
    });
    t.equal(created.statusCode, 0);
    const vol = await CurveVolume.open({ mdsAddresses: c.mdsAddrs, fileName: '/v', owner: 'root' });
    // one 1 MiB block in each of 8 chunks, so every copyset of the pool holds data
    const blocks = Array.from({ length: 8 }, (_, i) => ({
      off: i * 16 * MiB + i * 4096,
      data: randomBytes(MiB),
    }));
    for (const b of blocks) await vol.write(b.off, b.data);
    await vol.close();

    const victimIdx = 3;
    const victim = ids.get(c.csEndpoint(victimIdx))!;
    const affected = (await c.copysets())
      .filter((x) => (x.chunkServerIDs as number[]).includes(victim))
      .map((x) => `${String(x.logicalPoolId)}.${String(x.copysetId)}`);
    t.ok(affected.length > 0, `cs${victimIdx + 1} (id ${victim}) is in ${affected.length} copysets`);
    c.cs[victimIdx]!.child.kill('SIGKILL');
    await c.cs[victimIdx]!.exited;

    const seen = { offline: false, under: 0, operators: 0 };
    const final = await waitFor('every copyset healthy without the dead chunkserver', 75_000, async () => {
      const s = await status(c);
      if (s.offlineChunkservers.some((x) => x.id === victim && x.state === 'offline')) seen.offline = true;
      seen.under = Math.max(seen.under, s.copysets.underReplicated.length);
      seen.operators = Math.max(seen.operators, s.operators.filter((o) => o.scheduler === 'recover').length);
      const list = await c.copysets();
      const done =
        seen.offline &&
        s.copysets.underReplicated.length === 0 &&
        s.operators.length === 0 &&
        list.every((x) => x.health === 'healthy' && !(x.chunkServerIDs as number[]).includes(victim));
      return done ? { s, list } : undefined;
    });
    t.ok(seen.offline, 'curve status showed the chunkserver offline');
    t.ok(seen.under > 0, `curve status showed ${seen.under} under-replicated copysets during recovery`);
    // `curve status` is sampled (one CLI process per poll) and recovery can finish between two samples;
    // the MDS also keeps its last finished operators, so recover operators must show up in one or the other
    const sched = await c.client.call<{ finished: { scheduler: string; outcome: string }[] }>(
      'topology',
      'GetScheduleStatus',
      {},
    );
    const recovered = (sched.finished ?? []).filter((f) => f.scheduler === 'recover' && f.outcome === 'done');
    t.ok(
      seen.operators > 0 || recovered.length > 0,
      `recover operators: ${seen.operators} seen in flight by curve status, ${recovered.length} finished`,
    );
    t.equal(final.s.copysets.healthy, 8, 'finally all 8 copysets healthy');
    for (const x of final.list) {
      const members = x.chunkServerIDs as number[];
      t.equal(new Set(members).size, 3, `copyset ${String(x.copysetId)}: 3 distinct replicas`);
    }

    const reader = await CurveVolume.open({
      mdsAddresses: c.mdsAddrs,
      fileName: '/v',
      owner: 'root',
      readonly: true,
    });
    for (const b of blocks) t.same(await reader.read(b.off, MiB), b.data, `data at ${b.off} intact`);
    await reader.close();

    // Restart everything (embedded store): SIGKILL the MDS and the live chunkservers, start them again.
    const before = await metadataSnapshot(c.client, ['/v']);
    const live = [0, 1, 2];
    await Promise.all([...live.map((i) => killProc(c.cs[i])), killProc(c.mds[0])]);
    await c.startMds(0);
    await Promise.all(live.map((i) => c.startCs(i)));
    await c.waitHealthy(60_000);
    t.same(await metadataSnapshot(c.client, ['/v']), before, 'topology, namespace and allocations unchanged');
    const again = await CurveVolume.open({
      mdsAddresses: c.mdsAddrs,
      fileName: '/v',
      owner: 'root',
      readonly: true,
    });
    for (const b of blocks)
      t.same(await again.read(b.off, MiB), b.data, `data at ${b.off} after the restart`);
    await again.close();
  });
});
