// Active/standby MDS on a real etcd: two curve-mds processes; the leader is SIGKILLed (the standby takes
// over, allocations survive and are not handed out twice), then the new leader is SIGSTOPped past its
// lease (the other takes over; the paused one, resumed, serves and writes nothing).
import t from 'tap';
import { spawn, ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { MdsClient } from '../../../src/curve/mds/mds-client';
import { freePort, startEtcd } from './etcd-harness';
import { FakeChunkServer } from './fake-chunkserver';
import { buildCluster } from './mds-harness';

const GiB = 1024 ** 3;
const BIN = path.join(__dirname, '..', '..', '..', 'src', 'bin', 'curve-mds.js');
type R = Record<string, unknown> & { statusCode: number };

interface Proc {
  addr: string;
  child: ChildProcess;
  stderr: string[];
}

function startMdsProcess(endpoint: string, port: number, dir: string): Proc {
  const child = spawn(
    process.execPath,
    [
      BIN,
      '--store',
      'etcd',
      '--etcd',
      endpoint,
      '--listen',
      `127.0.0.1:${port}`,
      '--lease-ttl',
      '2',
      '--lease-margin-ms',
      '700',
      '--metrics',
      'off',
      '--data-dir',
      dir,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const p: Proc = { addr: `127.0.0.1:${port}`, child, stderr: [] };
  child.stderr!.on('data', (d: Buffer) => p.stderr.push(...d.toString().split('\n').filter(Boolean)));
  return p;
}

async function role(c: MdsClient, addr: string): Promise<'leader' | 'standby' | 'down'> {
  try {
    const r = await c.callAt<{ isLeader: boolean }>(addr, 'status', 'GetMdsStatus', {});
    return r.isLeader ? 'leader' : 'standby';
  } catch {
    return 'down';
  }
}

async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const killAndWait = (p: Proc, sig: NodeJS.Signals): Promise<void> =>
  new Promise((resolve) => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
    p.child.once('exit', () => resolve());
    p.child.kill(sig);
  });

t.test('leader election, failover on SIGKILL, fencing after SIGSTOP', async (t) => {
  const etcd = await startEtcd();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mds-ha-'));
  const ports = [await freePort(), await freePort()];
  const procs: Proc[] = [];
  const probe = new MdsClient(
    ports.map((p) => `127.0.0.1:${p}`),
    1000,
    1000,
  );
  t.teardown(async () => {
    probe.close();
    for (const p of procs) {
      if (p.child.signalCode === null && p.child.exitCode === null) p.child.kill('SIGCONT');
      await killAndWait(p, 'SIGKILL');
    }
    await etcd.stop();
    await rm(dir, { recursive: true, force: true });
  });

  procs.push(startMdsProcess(etcd.endpoint, ports[0], path.join(dir, 'a')));
  await waitFor(
    async () => ((await role(probe, procs[0].addr)) === 'leader' ? true : undefined),
    10000,
    'first leader',
  );
  procs.push(startMdsProcess(etcd.endpoint, ports[1], path.join(dir, 'b')));
  await waitFor(
    async () => ((await role(probe, procs[1].addr)) === 'standby' ? true : undefined),
    10000,
    'standby up',
  );

  const client = new MdsClient(
    ports.map((p) => `127.0.0.1:${p}`),
    1000,
    20000,
  );
  t.teardown(() => client.close());
  const ns = (m: string, req: Record<string, unknown>): Promise<R> => client.call<R>('nameserver', m, req);

  t.test('the standby refuses with the leader address', async (t) => {
    await t.rejects(
      probe.callAt(procs[1].addr, 'nameserver', 'GetFileInfo', { fileName: '/', owner: 'root' }),
      {
        code: 14,
        details: `not leader; leader=${procs[0].addr}`,
      },
    );
  });

  const segments = new Map<number, unknown>();
  t.test('serve, SIGKILL the leader, the standby takes over with the same data', async (t) => {
    t.equal(
      (await ns('CreateFile', { fileName: '/ha', owner: 'u', fileType: 1, fileLength: 10 * GiB })).statusCode,
      0,
    );
    // no logical pool exists: allocation must fail cleanly, and nothing is written
    t.equal(
      (await ns('GetOrAllocateSegment', { fileName: '/ha', owner: 'u', offset: 0, allocateIfNotExist: true }))
        .statusCode,
      108,
      'kSegmentAllocateError without copysets',
    );
    const fakes: FakeChunkServer[] = [];
    t.teardown(async () => {
      for (const f of fakes) await f.stop();
    });
    await buildCluster({ client, fakes }, 3);
    t.equal(
      (
        await client.call<R>('topology', 'CreateLogicalPool', {
          logicalPoolName: 'lp',
          physicalPoolName: 'pool1',
          copysetNum: 3,
        })
      ).statusCode,
      0,
    );
    for (let i = 0; i < 5; i++)
      t.equal(
        (await ns('CreateFile', { fileName: `/f${i}`, owner: 'u', fileType: 1, fileLength: 10 * GiB }))
          .statusCode,
        0,
      );
    const ids = new Set<number>();
    const chunkIds = new Set<number>();
    const seg = (i: number): Promise<R> =>
      ns('GetOrAllocateSegment', { fileName: `/f${i}`, owner: 'u', offset: 0, allocateIfNotExist: true });
    for (let i = 0; i < 5; i++) {
      const info = await ns('GetFileInfo', { fileName: `/f${i}`, owner: 'u' });
      ids.add((info.fileInfo as { id: number }).id);
      const s = await seg(i);
      t.equal(s.statusCode, 0);
      for (const c of (s.pageFileSegment as { chunks: { chunkID: number }[] }).chunks)
        chunkIds.add(c.chunkID);
      segments.set(i, [info.fileInfo, s.pageFileSegment]);
    }
    const killedAt = Date.now();
    await killAndWait(procs[0], 'SIGKILL');
    const took = await waitFor(
      async () => ((await role(probe, procs[1].addr)) === 'leader' ? Date.now() - killedAt : undefined),
      15000,
      'takeover',
    );
    t.ok(took < 2 * 2000 + 1000, `standby took over in ${took} ms (lease TTL 2 s)`);
    for (let i = 0; i < 5; i++) {
      const info = await ns('GetFileInfo', { fileName: `/f${i}`, owner: 'u' });
      t.same(
        [info.fileInfo, (await seg(i)).pageFileSegment],
        segments.get(i),
        `/f${i} and its segment unchanged`,
      );
    }
    t.equal(
      (await ns('CreateFile', { fileName: '/after', owner: 'u', fileType: 1, fileLength: 10 * GiB }))
        .statusCode,
      0,
    );
    const after = await ns('GetFileInfo', { fileName: '/after', owner: 'u' });
    t.notOk(ids.has((after.fileInfo as { id: number }).id), 'inode ids are not handed out twice');
    const fresh = await ns('GetOrAllocateSegment', {
      fileName: '/after',
      owner: 'u',
      offset: 0,
      allocateIfNotExist: true,
    });
    const reused = (fresh.pageFileSegment as { chunks: { chunkID: number }[] }).chunks.filter((c) =>
      chunkIds.has(c.chunkID),
    );
    t.equal(reused.length, 0, 'chunk ids are not handed out twice');
  });

  t.test(
    'SIGSTOP the leader past its lease: the other takes over; the paused one writes nothing',
    async (t) => {
      procs[0] = startMdsProcess(etcd.endpoint, ports[0], path.join(dir, 'a2'));
      await waitFor(
        async () => ((await role(probe, procs[0].addr)) === 'standby' ? true : undefined),
        10000,
        'restarted standby',
      );
      const leader = procs[1];
      leader.child.kill('SIGSTOP');
      const paused = new MdsClient([leader.addr], 8000, 8000);
      t.teardown(() => paused.close());
      // queued in the paused leader's socket; handled only after SIGCONT
      const late = paused
        .callAt<R>(leader.addr, 'nameserver', 'CreateFile', {
          fileName: '/late',
          owner: 'u',
          fileType: 1,
          fileLength: 10 * GiB,
        })
        .then(
          (r) => ({ ok: true as const, r }),
          (e: { code: number; details: string }) => ({ ok: false as const, e }),
        );
      await waitFor(
        async () => ((await role(probe, procs[0].addr)) === 'leader' ? true : undefined),
        15000,
        'takeover after SIGSTOP',
      );
      t.equal(
        (await ns('CreateFile', { fileName: '/during', owner: 'u', fileType: 1, fileLength: 10 * GiB }))
          .statusCode,
        0,
      );
      leader.child.kill('SIGCONT');
      const res = await late;
      t.equal(res.ok, false, 'the resumed old leader refused the queued write');
      if (!res.ok) t.match(res.e.details, /not leader/);
      t.equal(
        (await ns('GetFileInfo', { fileName: '/late', owner: 'u' })).statusCode,
        102,
        '/late was never written',
      );
      t.equal((await role(probe, leader.addr)) !== 'leader', true, 'the old leader is a standby now');
      t.ok(
        leader.stderr.some((l) => l.includes('stepping down')),
        'it stepped down by its own clock',
      );
    },
  );
});
