// The curve-mds entry point and the curve ops CLI, as processes: config errors, metrics endpoint,
// topology apply, volume commands, status, copyset check and exit codes.
import t from 'tap';
import { spawn, ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { MdsClient } from '../../../src/curve/mds/mds-client';
import { freePort } from './etcd-harness';
import { FakeChunkServer, heartbeat } from './fake-chunkserver';

const BIN = path.join(__dirname, '..', '..', '..', 'src', 'bin');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(BIN, cmd), ...args], {
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const get = (url: string): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) =>
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject),
  );

t.test('curve-mds rejects bad configuration with exit code 2', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mds-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'bad.json'), JSON.stringify({ lisen: '1.2.3.4:5' }));
  const r1 = await run('curve-mds.js', ['--config', path.join(dir, 'bad.json')]);
  t.equal(r1.code, 2);
  t.match(r1.stderr, /unknown key 'lisen'/);
  const r2 = await run('curve-mds.js', ['--no-such-flag']);
  t.equal(r2.code, 2);
  const r3 = await run('curve-mds.js', ['--lease-ttl', '1', '--lease-margin-ms', '5000']);
  t.equal(r3.code, 2);
  t.match(r3.stderr, /lease TTL/);
  const r4 = await run('curve-mds.js', ['--listen', '0.0.0.0:6700', '--store', 'etcd']);
  t.equal(r4.code, 2, 'a wildcard listen address on etcd needs --advertise');
  t.match(r4.stderr, /give --advertise/);
  const r5 = await run('curve-mds.js', ['--listen', 'nohost']);
  t.equal(r5.code, 2);
  t.match(r5.stderr, /bad listen address 'nohost'/);
});

t.test('curve CLI against a curve-mds process', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mds-cli-'));
  const [port, metricsPort] = [await freePort(), await freePort()];
  await writeFile(
    path.join(dir, 'mds.json'),
    JSON.stringify({
      listen: `127.0.0.1:${port}`,
      dataDir: path.join(dir, 'db'),
      metrics: `127.0.0.1:${metricsPort}`,
    }),
  );
  const mds: ChildProcess = spawn(
    process.execPath,
    [path.join(BIN, 'curve-mds.js'), '--config', path.join(dir, 'mds.json')],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: string[] = [];
  mds.stderr!.on('data', (d: Buffer) => logs.push(d.toString()));
  const fakes: FakeChunkServer[] = [];
  const client = new MdsClient([`127.0.0.1:${port}`]);
  t.teardown(async () => {
    client.close();
    for (const f of fakes) await f.stop();
    if (mds.exitCode === null) {
      const exited = new Promise((r) => mds.once('exit', r));
      mds.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });
  await new Promise<void>((resolve) => mds.stdout!.once('data', () => resolve()));
  const env = { CURVE_MDS: `127.0.0.1:${port}` };
  const curve = (...args: string[]): Promise<Run> => run('curve.js', args, env);

  t.test('metrics endpoint and structured logs', async (t) => {
    const m = await get(`http://127.0.0.1:${metricsPort}/metrics`);
    t.equal(m.status, 200);
    t.match(m.body, /curve_mds_is_leader 1/);
    const line = logs
      .join('')
      .split('\n')
      .find((l) => l.includes('serving as leader'))!;
    t.match(JSON.parse(line), { level: 'info', comp: 'mds', msg: 'serving as leader' });
  });

  t.test('topology apply (twice: idempotent), show', async (t) => {
    const topo = {
      physicalPools: [{ name: 'pool1' }],
      zones: [1, 2, 3].map((z) => ({ name: `zone${z}`, physicalPool: 'pool1' })),
      servers: [1, 2, 3].map((z) => ({
        name: `server${z}`,
        internalIp: '127.0.0.1',
        internalPort: 8200 + z,
        zone: `zone${z}`,
        physicalPool: 'pool1',
      })),
      logicalPools: [],
    };
    await writeFile(path.join(dir, 'topo.json'), JSON.stringify(topo));
    const r = await curve('topology', 'apply', path.join(dir, 'topo.json'));
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout.split('\n').filter(Boolean).length, 7, '1 pool + 3 zones + 3 servers');
    const again = await curve('topology', 'apply', path.join(dir, 'topo.json'));
    t.equal(again.stdout, 'topology already up to date\n');
    await writeFile(
      path.join(dir, 'bad.json'),
      JSON.stringify({ zones: [{ name: 'z', physicalPool: 'nope' }] }),
    );
    const bad = await curve('topology', 'apply', path.join(dir, 'bad.json'));
    t.equal(bad.code, 2);
    t.match(bad.stderr, /unknown physical pool 'nope'/);
    // chunkservers register themselves, then the logical pool is applied
    for (let z = 1; z <= 3; z++) {
      const f = new FakeChunkServer();
      await f.start();
      fakes.push(f);
      const reg = await client.call<{ statusCode: number; chunkServerID: number; token: string }>(
        'topology',
        'RegistChunkServer',
        {
          diskPath: `/d${z}`,
          hostIp: '127.0.0.1',
          port: f.port,
          serverName: `server${z}`,
          diskCapacity: 2 ** 40,
        },
      );
      t.equal(reg.statusCode, 0);
      f.id = reg.chunkServerID;
      f.token = reg.token;
    }
    await writeFile(
      path.join(dir, 'topo.json'),
      JSON.stringify({ ...topo, logicalPools: [{ name: 'lp1', physicalPool: 'pool1', copysetNum: 6 }] }),
    );
    const lp = await curve('topology', 'apply', path.join(dir, 'topo.json'));
    t.equal(lp.stdout, 'CreateLogicalPool lp1\n');
    const show = await curve('--json', 'topology', 'show');
    const parsed = JSON.parse(show.stdout) as { logicalPools: { copysetNum: number }[]; servers: unknown[] };
    t.equal(parsed.servers.length, 3);
    t.equal(parsed.logicalPools[0].copysetNum, 6);
  });

  t.test('volume commands and their exit codes', async (t) => {
    t.equal((await curve('create', '/vol', '--size', '10GiB', '--owner', 'alice')).code, 0);
    const dup = await curve('create', '/vol', '--size', '10GiB', '--owner', 'alice');
    t.equal(dup.code, 1);
    t.match(dup.stderr, /kFileExists \(101\)/);
    t.equal((await curve('create', '/vol2', '--size', 'ten')).code, 2, 'bad size: usage error');
    t.equal((await curve('create', '/vol2')).code, 2, 'missing --size');
    t.equal((await curve('create', '/d', '--dir', '--owner', 'alice')).code, 0);
    t.equal((await curve('extend', '/vol', '--size', '20GiB', '--owner', 'alice')).code, 0);
    const stat = await curve('--json', 'stat', '/vol', '--owner', 'alice');
    t.match(JSON.parse(stat.stdout), {
      fileName: 'vol',
      length: 20 * 2 ** 30,
      owner: 'alice',
      allocatedSize: 0,
    });
    t.equal((await curve('stat', '/vol', '--owner', 'bob')).code, 1, 'kOwnerAuthFail');
    t.equal((await curve('rename', '/vol', '/d/vol', '--owner', 'alice')).code, 0);
    const ls = await curve('list', '/d', '--owner', 'alice');
    t.match(ls.stdout, /^NAME\s+ID\s+TYPE\s+OWNER\s+LENGTH\nvol\s+\d+\s+file\s+alice\s+20 GiB\n$/);
    t.equal((await curve('delete', '/d/vol', '--owner', 'alice')).code, 0);
    t.equal((await curve('stat', '/d/vol', '--owner', 'alice')).code, 1);
    t.equal((await curve('recover', '/d/vol', '--owner', 'alice')).code, 0);
    t.equal((await curve('stat', '/d/vol', '--owner', 'alice')).code, 0);
    t.equal((await curve('delete', '/d/vol', '--force', '--owner', 'alice')).code, 0);
    const bin = JSON.parse((await curve('--json', 'list', '/RecycleBin')).stdout) as unknown[];
    t.equal(bin.length, 0);
    t.equal((await curve('nonsense')).code, 2);
  });

  t.test('status, chunkserver list, copyset check', async (t) => {
    // chunkservers that stopped heartbeating would (rightly) show as unstable
    for (const f of fakes) t.equal((await heartbeat(client, f)).statusCode, 0);
    const st = JSON.parse((await curve('--json', 'status')).stdout) as {
      mds: { role: string }[];
      chunkservers: { state: string }[];
      copysets: { total: number; healthy: number };
      operators: unknown[];
      pendingChunkDeletes: number;
    };
    t.same(
      st.mds.map((m) => m.role),
      ['leader'],
    );
    t.equal(st.chunkservers.length, 3);
    t.same(st.copysets, {
      total: 6,
      healthy: 6,
      degraded: 0,
      unavailable: 0,
      changing: 0,
      underReplicated: [],
    });
    t.same(st.operators, [], 'no operators in flight');
    t.equal(st.pendingChunkDeletes, 0);
    const human = await curve('status');
    t.match(human.stdout, /COPYSETS total 6: healthy 6, degraded 0, unavailable 0/);
    const cs = await curve('chunkserver', 'list');
    t.equal(cs.stdout.trim().split('\n').length, 4, 'header + 3 rows');
    const check = await curve('copyset', 'check');
    t.equal(check.code, 0);
    t.equal(check.stdout.trim().split('\n').length, 7);
    const down = await run('curve.js', ['--mds', '127.0.0.1:1', 'status']);
    t.equal(down.code, 3, 'no MDS reachable');
  });
});
