// Data integrity on a curve-backed LUN under faults, with real processes: qemu-img converts a 512 MiB
// pseudo-random image (CURVE_E2E_MB) into LUN 1 of the one-machine cluster (libiscsi, qemu's iscsi
// driver) while the test SIGKILLs the leader chunkserver of the copyset being written, restarts the MDS
// (SIGKILL; the launcher restarts it) and kills a busy leader again. The copy must finish without an I/O
// error and compare equal; then the whole cluster is stopped and started on the same data and the volume
// must still compare equal.
import { spawn } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { MdsClient } from '../../src/curve/mds/mds-client';
import { closeGrpcClients } from '../curve/chunkserver/cs-harness';
import { requireTool, run } from '../helpers/daemon';
import {
  freeBasePort,
  killAll,
  lunWindow,
  pidAlive,
  startCluster,
  stopCluster,
  type Cluster,
} from './cluster-harness';
import { copysetAt, leaderPort } from './copyset-probe';

const qemuImg = requireTool('qemu-img');
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const CHUNK = 16 * MiB;
const IMAGE_BYTES = Number(process.env.CURVE_E2E_MB ?? 512) * MiB;
// The image straddles the first two segments (about 7/16 in the first), so the copy allocates a segment
// on the MDS around the time the MDS is restarted.
const WINDOW_OFFSET = GiB - Math.floor((IMAGE_BYTES * 7) / 16 / CHUNK) * CHUNK;
const RESTART_DELAY_S = 2;

/** A deterministic pseudo-random image: AES-128-CTR keystream under a fixed key (fast, seedable). */
function writeImage(file: string, bytes: number, seed: number): void {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(seed, 0);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(4 * MiB);
  const fd = fs.openSync(file, 'w');
  try {
    for (let o = 0; o < bytes; o += zeros.length)
      fs.writeSync(fd, cipher.update(zeros.subarray(0, Math.min(zeros.length, bytes - o))));
  } finally {
    fs.closeSync(fd);
  }
}

/** qemu-img convert -p into the LUN window: progress (0..1) is reported as qemu prints it. */
function convertWithProgress(
  src: string,
  target: string,
  timeoutMs: number,
): { progress: () => number; done: Promise<{ code: number | null; stderr: string; timedOut: boolean }> } {
  let pct = 0;
  let stderr = '';
  const child = spawn(qemuImg, ['convert', '-p', '-n', '-f', 'raw', src, '--target-image-opts', target], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s: string) => {
    for (const m of s.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)) pct = Math.max(pct, Number(m[1]));
  });
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const done = new Promise<{ code: number | null; stderr: string; timedOut: boolean }>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, timedOut });
    }),
  );
  return { progress: () => pct / 100, done };
}

async function compareLun(port: number, src: string): Promise<{ code: number | null; out: string }> {
  const r = await run(
    qemuImg,
    [
      'compare',
      '--image-opts',
      `driver=raw,file.filename=${src}`,
      lunWindow(port, WINDOW_OFFSET, IMAGE_BYTES),
    ],
    { timeoutMs: 150_000 },
  );
  return { code: r.code, out: (r.stdout + r.stderr).trim() };
}

t.test(
  '512 MiB through qemu-img into a curve LUN survives leader kills, an MDS restart and a full restart',
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curve-lun-'));
    const dataDir = path.join(dir, 'data');
    const port = await freeBasePort();
    const csPorts = [port + 2, port + 3, port + 4];
    const clusters: Cluster[] = [];
    const mds = new MdsClient([`127.0.0.1:${port + 1}`], 2000, 4000);
    t.teardown(async () => {
      mds.close();
      closeGrpcClients();
      for (const c of clusters) {
        await stopCluster(c);
        killAll(c);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const c = await startCluster(dataDir, port, ['--restart-delay', String(RESTART_DELAY_S)]);
    clusters.push(c);

    const src = path.join(dir, 'src.img');
    writeImage(src, IMAGE_BYTES, 0x5eed);

    const started = Date.now();
    const copy = convertWithProgress(src, lunWindow(port, WINDOW_OFFSET, IMAGE_BYTES), 200_000);
    let copyDone = false;
    void copy.done.then(() => (copyDone = true));
    const since = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;
    const waitProgress = async (fraction: number): Promise<void> => {
      const until = Date.now() + 120_000;
      while (copy.progress() < fraction && !copyDone) {
        if (Date.now() > until) throw new Error(`copy not at ${fraction * 100}% within 120 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    /** The chunkserver leading the copyset of the chunk the copy is writing now. */
    const busyLeader = async (): Promise<{ name: string; pid: number; what: string }> => {
      const at = WINDOW_OFFSET + Math.floor(copy.progress() * IMAGE_BYTES);
      const ref = await copysetAt(mds, '/vol0', at);
      const p = await leaderPort(csPorts, ref);
      const name = `cs${csPorts.indexOf(p) + 1}`;
      return { name, pid: c.pidOf(name)!, what: `leader of ${ref.pool}_${ref.copyset} (chunk ${ref.chunk})` };
    };
    const killAndAwaitRestart = async (name: string, pid: number, what: string): Promise<void> => {
      t.notOk(copyDone, `the copy is still running when ${name} (${what}) is killed`);
      const restartsBefore = c.stdout.filter((l) => l.startsWith(`[cluster] ${name} restarted`)).length;
      process.kill(pid, 'SIGKILL');
      t.comment(
        `${since()}: SIGKILL ${name} pid ${pid}, ${what}, copy at ${(copy.progress() * 100).toFixed(1)}%`,
      );
      const until = Date.now() + 60_000;
      while (c.stdout.filter((l) => l.startsWith(`[cluster] ${name} restarted`)).length === restartsBefore) {
        if (Date.now() > until) throw new Error(`${name} not restarted within 60 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
      t.not(c.pidOf(name), pid, `${name} runs again under a new pid (${since()})`);
      t.notOk(pidAlive(pid), `the killed ${name} is gone`);
    };

    await waitProgress(0.05);
    const first = await busyLeader();
    await killAndAwaitRestart(first.name, first.pid, first.what);

    await waitProgress(0.3);
    await killAndAwaitRestart('mds', c.pidOf('mds')!, 'the MDS');

    await waitProgress(0.55);
    const second = await busyLeader();
    await killAndAwaitRestart(second.name, second.pid, second.what);

    const w = await copy.done;
    t.comment(`${since()}: copy of ${IMAGE_BYTES / MiB} MiB done`);
    t.notOk(w.timedOut, 'the copy finished within 200 s');
    t.equal(w.code, 0, `qemu-img convert finished without an I/O error: ${w.stderr.trim()}`);

    const cmp1 = await compareLun(port, src);
    t.equal(cmp1.code, 0, `the LUN holds the image bit-identical (qemu-img compare: ${cmp1.out})`);
    t.comment(`${since()}: compared`);

    t.equal(await stopCluster(c), 0, 'the whole cluster stops cleanly');
    for (const p of c.pids) t.notOk(pidAlive(p.pid), `${p.name} (pid ${p.pid}) stopped`);
    const c2 = await startCluster(dataDir, port, ['--restart-delay', String(RESTART_DELAY_S)]);
    clusters.push(c2);
    t.ok(
      c2.stdout.some((l) => l.includes('volume /vol0 exists; reusing it')),
      'the restarted cluster reuses the volume',
    );
    const cmp2 = await compareLun(port, src);
    t.equal(
      cmp2.code,
      0,
      `after a full restart the LUN still holds the image (qemu-img compare: ${cmp2.out})`,
    );
    t.comment(`${since()}: compared after the restart`);
  },
);
