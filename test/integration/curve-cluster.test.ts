// The one-machine launcher end to end: READY, iscsi-inq and a qemu-img write+read through the printed
// URL, SIGTERM stops every daemon it started, and a second start on the same data dir reuses the volume.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { requireTool, run } from '../helpers/daemon';
import {
  IQN,
  freeBasePort,
  killAll,
  lunWindow,
  pidAlive,
  startCluster,
  stopCluster,
  type Cluster,
} from './cluster-harness';

const iscsiInq = requireTool('iscsi-inq');
const qemuImg = requireTool('qemu-img');
const MiB = 1024 * 1024;
// Past the first 1 GiB segment and across a 16 MiB chunk boundary.
const OFFSET = 1024 * MiB + 15 * MiB;
const SIZE = 4 * MiB;

t.test('launcher: READY, I/O through the URL, clean stop, restart reuses the data', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curve-cluster-'));
  const clusters: Cluster[] = [];
  t.teardown(() => {
    for (const c of clusters) killAll(c);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const dataDir = path.join(dir, 'data');
  const port = await freeBasePort();

  const started = Date.now();
  const c1 = await startCluster(dataDir, port);
  clusters.push(c1);
  t.comment(`READY after ${Date.now() - started} ms`);
  t.equal(c1.url, `iscsi://127.0.0.1:${port}/${IQN}/1`, 'READY carries the libiscsi URL of LUN 1');
  t.equal(c1.stdout.filter((l) => l.startsWith('READY ')).length, 1, 'exactly one READY line');
  t.ok(
    c1.stdout.some((l) => l.includes(`iscsiadm -m discovery -t sendtargets -p 127.0.0.1:${port}`)),
    'prints the open-iscsi discovery line',
  );
  t.same(
    c1.pids.map((p) => p.name),
    ['mds', 'cs1', 'cs2', 'cs3', 'tgtd'],
    'one process per daemon',
  );
  for (const p of c1.pids) {
    const cmdline = fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0');
    if (p.name === 'tgtd') t.ok(cmdline.includes(path.join(dataDir, 'tgtd')), 'tgtd has its state dir');
    else t.ok(cmdline.includes(path.join(dataDir, p.name)), `${p.name} has its data dir on its command line`);
    // --listen (default 127.0.0.1) reaches every daemon as its bind address.
    const listen = cmdline[cmdline.indexOf('--listen') + 1];
    if (p.name === 'mds') t.equal(listen, `127.0.0.1:${port + 1}`, 'the MDS binds --listen:P+1');
    else if (p.name.startsWith('cs')) t.equal(listen, '127.0.0.1', `${p.name} binds --listen`);
    else t.ok(cmdline.includes(`portal=127.0.0.1:${port}`), 'tgtd has its portal on --listen:P');
  }

  const inq = await run(iscsiInq, [c1.url], { timeoutMs: 30_000 });
  t.equal(inq.code, 0, `iscsi-inq: ${inq.stderr.trim()}`);
  t.match(inq.stdout, /DIRECT_ACCESS/, 'a disk answers INQUIRY');

  const src = path.join(dir, 'src.img');
  const back1 = path.join(dir, 'back1.img');
  const data = randomBytes(SIZE);
  fs.writeFileSync(src, data);
  const w = await run(
    qemuImg,
    ['convert', '-n', '-f', 'raw', src, '--target-image-opts', lunWindow(port, OFFSET, SIZE)],
    { timeoutMs: 120_000 },
  );
  t.equal(w.code, 0, `qemu-img write: ${w.stderr.trim()}`);
  const r1 = await run(
    qemuImg,
    ['convert', '-O', 'raw', '--image-opts', lunWindow(port, OFFSET, SIZE), back1],
    {
      timeoutMs: 120_000,
    },
  );
  t.equal(r1.code, 0, `qemu-img read: ${r1.stderr.trim()}`);
  t.ok(fs.readFileSync(back1).equals(data), 'read back what was written');

  const code = await stopCluster(c1);
  t.equal(code, 0, 'launcher exits 0 on SIGTERM');
  const alive = c1.pids.filter((p) => pidAlive(p.pid));
  t.same(alive, [], 'every daemon it started is gone');
  t.ok(
    c1.stdout.some((l) => l.includes('[cluster] stopped')),
    'says it stopped',
  );

  const c2 = await startCluster(dataDir, port);
  clusters.push(c2);
  t.ok(
    c2.stdout.some((l) => l.includes('volume /vol0 exists; reusing it')),
    'the volume is reused',
  );
  t.notOk(
    c2.stdout.some((l) => l.includes('[cluster] topology:')),
    'the topology is not created again',
  );
  const back2 = path.join(dir, 'back2.img');
  const r2 = await run(
    qemuImg,
    ['convert', '-O', 'raw', '--image-opts', lunWindow(port, OFFSET, SIZE), back2],
    {
      timeoutMs: 120_000,
    },
  );
  t.equal(r2.code, 0, `qemu-img read after restart: ${r2.stderr.trim()}`);
  t.ok(fs.readFileSync(back2).equals(data), 'data written before the restart reads back');
  t.equal(await stopCluster(c2), 0, 'second launcher exits 0');
  t.same(
    c2.pids.filter((p) => pidAlive(p.pid)),
    [],
    'its daemons are gone too',
  );
});

t.test('a taken iSCSI port is a clear error', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curve-cluster-port-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const net = await import('node:net');
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => srv.close());
  const port = (srv.address() as import('node:net').AddressInfo).port;
  const r = await run(
    process.execPath,
    [path.resolve(__dirname, '../../src/bin/curve-cluster.js'), '--data-dir', dir, '--port', String(port)],
    {
      timeoutMs: 30_000,
    },
  );
  t.equal(r.code, 1, 'exits 1');
  t.match(r.stderr, new RegExp(`port ${port} on 127.0.0.1 is already in use`), r.stderr.trim());
  t.notOk(fs.existsSync(path.join(dir, 'mds')), 'started nothing');
});
