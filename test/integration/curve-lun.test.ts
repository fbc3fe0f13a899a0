// Data integrity on a curve-backed LUN under a fault: qemu-img converts a random image (CURVE_E2E_MB,
// default 64 MiB) into LUN 1 of the one-machine cluster while the test SIGKILLs the leader chunkserver of
// a copyset the copy has yet to write; the launcher restarts it after 3 s. The copy must finish without
// an I/O error and read back bit-identical. With CURVE_CU=1, also iscsi-test-cu -t ALL on the LUN.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { MdsClient } from '../../src/curve/mds/mds-client';
import { cliCall, closeGrpcClients } from '../curve/chunkserver/cs-harness';
import { formatCuScore, scoreCuLog } from '../helpers/cu-score';
import { requireTool, run } from '../helpers/daemon';
import {
  freeBasePort,
  killAll,
  lunWindow,
  pidAlive,
  sha256,
  startCluster,
  stopCluster,
} from './cluster-harness';

const qemuImg = requireTool('qemu-img');
const MiB = 1024 * 1024;
const IMAGE_BYTES = Number(process.env.CURVE_E2E_MB ?? 64) * MiB;

type Rec = Record<string, unknown>;

t.test('qemu-img convert into the curve LUN survives a SIGKILLed copyset leader', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curve-lun-'));
  const port = await freeBasePort();
  const c = await startCluster(path.join(dir, 'data'), port, ['--restart-delay', '3']);
  const mds = new MdsClient([`127.0.0.1:${port + 1}`]);
  t.teardown(async () => {
    mds.close();
    closeGrpcClients();
    await stopCluster(c);
    killAll(c);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const csPorts = [port + 2, port + 3, port + 4];

  const src = path.join(dir, 'src.img');
  const fd = fs.openSync(src, 'w');
  for (let o = 0; o < IMAGE_BYTES; o += 4 * MiB)
    fs.writeSync(fd, randomBytes(Math.min(4 * MiB, IMAGE_BYTES - o)));
  fs.closeSync(fd);
  const srcHash = sha256(src);

  const started = Date.now();
  let copyDone = false;
  const copy = run(
    qemuImg,
    ['convert', '-n', '-f', 'raw', src, '--target-image-opts', lunWindow(port, 0, IMAGE_BYTES)],
    { timeoutMs: 170_000 },
  ).finally(() => (copyDone = true));

  // The first segment exists once the copy's first write arrived; its last chunk the image covers
  // is written last, so its copyset is about to be busy.
  const seg = await (async () => {
    for (;;) {
      const r = await mds.call<Rec>('nameserver', 'GetOrAllocateSegment', {
        fileName: '/vol0',
        owner: 'root',
        offset: 0,
        allocateIfNotExist: false,
        date: Date.now(),
      });
      if (r.statusCode === 0) return r.pageFileSegment as Rec;
      await new Promise((r2) => setTimeout(r2, 50));
    }
  })();
  const chunkSize = Number(seg.chunkSize);
  const segmentSize = Number(seg.segmentSize);
  const lastChunk = Math.floor((Math.min(IMAGE_BYTES, segmentSize) - 1) / chunkSize);
  const chunks = seg.chunks as Rec[];
  const pool = Number(seg.logicalPoolID);
  const copyset = Number(chunks[lastChunk].copysetID);
  let leaderPort = 0;
  for (const p of csPorts) {
    try {
      const r = await cliCall<{ leader?: { address: string } }>(`127.0.0.1:${p}`, 'GetLeader', {
        logicPoolId: pool,
        copysetId: copyset,
      });
      if (r.leader?.address) {
        leaderPort = Number(r.leader.address.split(':')[1]);
        break;
      }
    } catch {
      // ask the next one
    }
  }
  t.not(leaderPort, 0, `copyset ${pool}_${copyset} (chunk ${lastChunk}) has a leader`);
  const victim = `cs${csPorts.indexOf(leaderPort) + 1}`;
  const victimPid = c.pidOf(victim)!;
  t.notOk(copyDone, `the copy is still running when ${victim} (pid ${victimPid}) is killed`);
  process.kill(victimPid, 'SIGKILL');
  t.comment(`SIGKILL ${victim} (leader of ${pool}_${copyset}) ${Date.now() - started} ms into the copy`);

  const w = await copy;
  t.comment(`copy of ${IMAGE_BYTES / MiB} MiB took ${Date.now() - started} ms`);
  t.equal(w.code, 0, `qemu-img convert finished without an I/O error: ${w.stderr.trim()}`);
  await c.waitLine(new RegExp(`^\\[cluster\\] ${victim} restarted`), 60_000);
  t.not(c.pidOf(victim), victimPid, `${victim} runs again under a new pid`);
  t.notOk(pidAlive(victimPid), 'the killed one is gone');

  const back = path.join(dir, 'back.img');
  const r = await run(
    qemuImg,
    ['convert', '-O', 'raw', '--image-opts', lunWindow(port, 0, IMAGE_BYTES), back],
    {
      timeoutMs: 170_000,
    },
  );
  t.equal(r.code, 0, `read back: ${r.stderr.trim()}`);
  t.equal(sha256(back), srcHash, 'the LUN holds the image bit-identical');

  if (process.env.CURVE_CU === '1') {
    const testCu = requireTool('iscsi-test-cu');
    const cuStart = Date.now();
    const cu = await run(testCu, ['-d', '-v', '-t', process.env.CU_TESTS ?? 'ALL', c.url, c.url], {
      timeoutMs: 3600_000,
    });
    const score = scoreCuLog(cu.stdout);
    t.comment(
      `iscsi-test-cu on the curve LUN (${Math.round((Date.now() - cuStart) / 1000)} s): ${formatCuScore(score, true)}`,
    );
    t.ok(score.total > 0, 'iscsi-test-cu ran tests');
    t.equal(score.failed, 0, 'no iscsi-test-cu test failed');
  }
});
