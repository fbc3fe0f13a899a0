// libiscsi's conformance suite on a curve-backed LUN: the one-machine cluster (MDS, 3 chunkservers,
// tgtd) with LUN 1 set up like the rdwr conformance LUN (thin_provisioning=1, removable=1), the URL given
// twice for the multipath and two-initiator tests. `npm test` runs a subset that exercises what the
// curve store does itself (reads and writes across sizes, COMPARE AND WRITE, UNMAP / WRITE SAME with
// UNMAP / GET LBA STATUS on segments, persistent reservations kept on the MDS, multipath); the full
// `-t ALL` takes 5-10 minutes on the 2-core machine and runs in `npm run soak` (CU_CURVE_TESTS=ALL).
import { writeFileSync } from 'node:fs';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import {
  cunitVerdicts,
  formatCuScore,
  scoreCuLog,
  separateTrailingSkipNotes,
  testsWithVerdict,
} from '../helpers/cu-score';
import { requireTool, run } from '../helpers/daemon';
import { freeBasePort, killAll, startCluster, stopCluster } from '../integration/cluster-harness';

const testCu = requireTool('iscsi-test-cu');
const CAP_MS = 20 * 60 * 1000;

// Chosen from a timed full run: every curve-store path (reads, writes, COMPARE AND WRITE, discard through
// WRITE SAME with UNMAP, allocation status, reservations on the MDS) in about a minute; the loops that
// write 1..256 blocks one command at a time (Write10.Simple, Unmap.Simple, CompareAndWrite.Simple) take
// 25-35 s each on a loaded 2-core machine and stay in the full run.
export const CURVE_SUBSET = [
  'ALL.Read10',
  'ALL.Write10.BeyondEol',
  'ALL.Write10.ZeroBlocks',
  'ALL.Write10.DpoFua',
  'ALL.Write10.Async',
  'ALL.CompareAndWrite.Miscompare',
  'ALL.CompareAndWrite.Unwritten',
  'ALL.Unmap.VPD',
  'ALL.Unmap.ZeroBlocks',
  'ALL.GetLBAStatus.Simple',
  'ALL.WriteSame16.Unmap',
  'ALL.PrinReadKeys',
  'ALL.PrinReportCapabilities',
  'ALL.ProutRegister',
  'ALL.ProutReserve',
  'ALL.ProutClear',
  'ALL.ProutPreempt',
].join(',');

const selection = process.env.CU_CURVE_TESTS ?? CURVE_SUBSET;

t.test(
  `iscsi-test-cu on a curve LUN (${selection === CURVE_SUBSET ? 'subset' : selection})`,
  { timeout: CAP_MS + 180_000 },
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curve-cu-'));
    const dataDir = path.join(dir, 'data');
    const c = await startCluster(dataDir, await freeBasePort());
    t.teardown(async () => {
      await stopCluster(c);
      killAll(c);
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const admin = await run(
      process.execPath,
      [
      path.resolve(__dirname, '../../src/bin/tgtadm.js'),
      '-C', '0', '--lld', 'iscsi', '--op', 'update', '--mode', 'logicalunit', '--tid', '1', '--lun', '1',
      '-P', 'thin_provisioning=1,removable=1',
    ], // prettier-ignore
      { env: { TGT_IPC_SOCKET: path.join(dataDir, 'tgtd', 'socket') }, timeoutMs: 30_000 },
    );
    t.equal(admin.code, 0, `LUN 1 set up like the rdwr conformance LUN: ${admin.stderr.trim()}`);

    const started = Date.now();
    const r = await run(testCu, ['-d', '-v', '-t', selection, c.url, c.url], { timeoutMs: CAP_MS });
    const log = r.stdout + r.stderr;
    const logFile = path.join(os.tmpdir(), `iscsi-test-cu-curve-${process.pid}-${started}.log`);
    writeFileSync(logFile, log);
    // Kept for diagnosis only when something failed.
    t.teardown(() => {
      if (t.passing()) fs.rmSync(logFile, { force: true });
    });
    t.comment(`iscsi-test-cu log (curve, ${Math.round((Date.now() - started) / 1000)} s): ${logFile}`);
    t.notOk(r.timedOut, 'finished within the 20-minute cap');
    t.equal(r.signal, null, 'iscsi-test-cu was not killed by a signal');

    const score = scoreCuLog(separateTrailingSkipNotes(log));
    t.comment(`passed ${score.passed}, skipped ${score.skipped}, failed ${score.failed}`);
    const summary = /^\s+tests\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(log);
    t.ok(summary, 'CUnit run summary present (the run completed)');
    if (summary) {
      t.equal(score.total, Number(summary[2]), 'every test that ran was scored');
      t.equal(Number(summary[4]), 0, 'CUnit counts no failed test');
    }
    if (selection === CURVE_SUBSET) t.ok(score.total >= 30, `the subset ran its tests (${score.total})`);
    else t.ok(score.total > 0, `tests ran: ${score.total}`);
    // A test that expects a command to fail logs "[FAILED] ..." for it; CUnit's verdict is what counts.
    const verdicts = cunitVerdicts(log);
    t.equal(verdicts.size, score.total, 'a CUnit verdict for every scored test');
    const failed = testsWithVerdict(score, 'failed').filter((name) => verdicts.get(name) !== 'passed');
    t.same(failed, [], 'no test failed');
    for (const name of testsWithVerdict(score, 'skipped')) t.comment(`skipped: ${name}`);
    if (failed.length) t.comment(formatCuScore(score, true));
  },
);
