// libiscsi's conformance suite (iscsi-test-cu) against a private tgtd. Every test is scored
// (passed / skipped / failed); failures in the iSCSI-layer and core block suites fail this test,
// the rest are listed for the SCSI engine work. CU_TESTS picks a subset (e.g. CU_TESTS='ALL.iSCSI*').
import t from 'tap';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { addTarget, makeSparseFile, requireTool, run, startTgtd, Daemon, findTool } from '../helpers/daemon';
import {
  cunitVerdicts,
  formatCuScore,
  scoreCuLog,
  separateTrailingSkipNotes,
  testsWithVerdict,
} from '../helpers/cu-score';

const testCu = requireTool('iscsi-test-cu');

const IQN = 'iqn.2026-11.io.curve.test:conformance';
const LUN_BYTES = 256 * 1024 * 1024;
const CAP_MS = 20 * 60 * 1000;
const selection = process.env.CU_TESTS ?? 'ALL';

/** Suites whose failures fail this test (by name prefix). */
const ASSERTED_SUITES = /^(iSCSI|Read|Write|Inquiry|TestUnitReady|Mandatory)/;

/**
 * Failures Debian's tgt 1.0.85 itself shows in those suites: it ignores a bad DataSN, and rejects
 * WRITE SAME with UNMAP on a thick LU. Excused only when the daemon under test is Debian's.
 */
const KNOWN_TGT_FAILURES = new Set([
  'iSCSIdatasn.iSCSIDataSnInvalid',
  'WriteSame10.UnmapVPD',
  'WriteSame16.UnmapVPD',
]);

t.test('scorer reads CUnit verbose output the way cu-score.py does', async (t) => {
  const sample = [
    'Suite: Alpha',
    '  Test: Simple ...passed',
    '  Test: Skipped ...    [SKIPPED] not implemented.',
    '    [SKIPPED] not implemented.',
    'passed',
    '  Test: Broken ...FAILED',
    '    1. test_x.c:98  - CU_ASSERT_NOT_EQUAL(ret,0)',
    'Suite: Beta',
    '  Test: Inline ...    [FAILED] WRITESAME10 command failed',
    'passed',
    '  Test: Late ...passed    [FAILED] PRIN command: failed with sense.',
    '  Test: Multi ...',
    '    step one',
    '    [FAILED] step two',
    'FAILED',
  ].join('\r\n');
  const s = scoreCuLog(sample);
  t.same(Object.fromEntries(s.results), {
    'Alpha.Simple': 'passed',
    'Alpha.Skipped': 'skipped',
    'Alpha.Broken': 'failed',
    'Beta.Inline': 'failed',
    'Beta.Late': 'failed',
    'Beta.Multi': 'failed',
  });
  const glued = '  Test: Simple ...passed    [SKIPPED] PERSISTENT RESERVE IN is not implemented.\n';
  t.equal(scoreCuLog('Suite: G\n' + glued).total, 0, 'a glued clean-up note hides the verdict');
  t.same(Object.fromEntries(scoreCuLog('Suite: G\n' + separateTrailingSkipNotes(glued)).results), {
    'G.Simple': 'passed',
  });
  t.equal(
    formatCuScore(s, true),
    'failed: Alpha.Broken\nfailed: Beta.Inline\nfailed: Beta.Late\nfailed: Beta.Multi\n' +
      'skipped: Alpha.Skipped\npassed 1, skipped 1, failed 4, total 6\n',
  );
});

let d: Daemon;
t.before(async () => {
  d = await startTgtd({});
  const backing = path.join(d.dir, 'conformance.img');
  makeSparseFile(backing, LUN_BYTES);
  await addTarget(d, { tid: 1, iqn: IQN, store: 'rdwr', path: backing });
  // Thin-provisioned (UNMAP, WRITE SAME with UNMAP, GET LBA STATUS) and removable (START STOP UNIT,
  // PREVENT ALLOW MEDIUM REMOVAL, NoMedia suites run instead of skipping).
  await d.tgtadmOk([
    '--op',
    'update',
    '--mode',
    'logicalunit',
    '--tid',
    '1',
    '--lun',
    '1',
    '-P',
    'thin_provisioning=1,removable=1',
  ]);
  // LUN 2: the same kind of LUN, read-only, for the ReadOnly suite.
  const roBacking = path.join(d.dir, 'readonly.img');
  makeSparseFile(roBacking, 64 * 1024 * 1024);
  await d.tgtadmOk(['--op', 'new', '--mode', 'logicalunit', '--tid', '1', '--lun', '2', '-b', roBacking]);
  await d.tgtadmOk([
    '--op',
    'update',
    '--mode',
    'logicalunit',
    '--tid',
    '1',
    '--lun',
    '2',
    '-P',
    'thin_provisioning=1,readonly=1',
  ]);
});
t.teardown(async () => {
  if (d) await d.stop();
});

t.test(`iscsi-test-cu -t ${selection}`, { timeout: CAP_MS + 60_000 }, async (t) => {
  const started = Date.now();
  // The same LUN given twice enables the multipath and two-initiator tests (as in the reference run).
  const url = d.url(IQN, 1);
  const r = await run(testCu, ['-d', '-v', '-t', selection, url, url], { timeoutMs: CAP_MS });
  const log = r.stdout + r.stderr;
  const logFile = path.join(os.tmpdir(), `iscsi-test-cu-${d.impl}-${process.pid}-${started}.log`);
  writeFileSync(logFile, log);
  // Kept for diagnosis only when something failed.
  t.teardown(() => {
    if (t.passing()) rmSync(logFile, { force: true });
  });
  t.comment(`iscsi-test-cu log (${d.impl}, ${Math.round((Date.now() - started) / 1000)} s): ${logFile}`);
  t.notOk(r.timedOut, 'finished within the 20-minute cap');
  t.equal(r.signal, null, 'iscsi-test-cu was not killed by a signal');

  const score = scoreCuLog(separateTrailingSkipNotes(log));
  const failed = testsWithVerdict(score, 'failed');
  t.comment(`passed ${score.passed}, skipped ${score.skipped}, failed ${score.failed}`);
  const raw = scoreCuLog(log);
  if (raw.total !== score.total) t.comment(`cu-score.py on the raw log: ${formatCuScore(raw).trim()}`);
  for (const name of failed) t.comment(`failed: ${name}`);

  // CUnit's own summary must agree with the scorer on how many tests ran.
  const summary = /^\s+tests\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(log);
  t.ok(summary, 'CUnit run summary present (the run completed)');
  t.ok(score.total > 0, `tests scored: ${score.total}`);
  if (summary) t.equal(score.total, Number(summary[2]), 'every test that ran was scored');

  const excused = (name: string): boolean => d.impl === 'debian' && KNOWN_TGT_FAILURES.has(name);
  // A test that expects a command to fail logs "[FAILED] ..." for that expected failure, which the
  // scorer counts as a failure; CUnit's own verdict ("passed"/"FAILED") is what the assertions said.
  const verdicts = cunitVerdicts(log);
  t.equal(verdicts.size, score.total, 'a CUnit verdict for every scored test');
  const loggedOnly = failed.filter((name) => verdicts.get(name) === 'passed');
  for (const name of loggedOnly)
    t.comment(`scored failed but CUnit verdict passed (expected-failure log line): ${name}`);
  const blocking = failed.filter(
    (name) => ASSERTED_SUITES.test(name) && !excused(name) && verdicts.get(name) !== 'passed',
  );
  t.same(blocking, [], 'no failures in iSCSI*, Read*, Write*, Inquiry*, TestUnitReady*, Mandatory* suites');

  if (selection === 'ALL' && d.impl === 'ours') {
    // Regression guard under issue 3's bar (200 passed without [SKIPPED]; measured 200 here): the
    // margin absorbs a test that skips on a slow run, the exact count is printed above.
    t.equal(score.failed - loggedOnly.length, 0, 'no test failed');
    t.ok(score.passed >= 195, `at least 195 tests passed without [SKIPPED] (${score.passed})`);
  }

  // The TypeScript scorer must agree with shared/tools/cu-score.py when that is around.
  const repoRoot = path.resolve(__dirname, '..', '..', '..');
  const pyScorer = path.resolve(repoRoot, '..', 'shared', 'tools', 'cu-score.py');
  const python = findTool('python3');
  if (python && existsSync(pyScorer)) {
    const py = await run(python, [pyScorer, logFile, '--list'], { timeoutMs: 60_000 });
    t.equal(py.code, 0, py.stderr);
    t.equal(formatCuScore(raw, true), py.stdout, 'TypeScript scorer output equals cu-score.py --list');
  } else {
    t.comment(`cu-score.py cross-check not run (python3 ${python ?? 'missing'}, ${pyScorer})`);
  }
});

t.test('ReadOnly suite against a read-only LUN', { timeout: 300_000 }, async (t) => {
  const url = d.url(IQN, 2);
  const r = await run(testCu, ['-d', '-v', '-t', 'ALL.ReadOnly', url], { timeoutMs: 240_000 });
  const log = r.stdout + r.stderr;
  const score = scoreCuLog(separateTrailingSkipNotes(log));
  t.comment(
    `ReadOnly on a read-only LUN: passed ${score.passed}, skipped ${score.skipped}, failed ${score.failed}`,
  );
  t.ok(score.total > 0, 'the suite ran');
  t.equal(score.failed, 0, 'no failures');
  t.equal(score.skipped, 0, 'nothing skipped: the LUN is read-only');
});
