// The A/B tool: paired statistics, picking numbers out of the benchmarks' output, argument parsing, and
// one real run with a trivial command on both sides.
import t from 'tap';
import { formatPaired, median, pairedStats, pickValue, PICKS } from './ab-stats';
import { abBench, parseArgs } from './ab-bench';

t.test('paired statistics', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.ok(Number.isNaN(median([])));
  const s = pairedStats([100, 200, 100, 50], [110, 180, 120, 50]);
  t.equal(s.pairs, 4);
  t.equal(s.bWins, 2, 'ties are not wins');
  t.equal(s.ratioMedian, 1.05);
  t.equal(s.ratioMean.toFixed(4), ((1.1 + 0.9 + 1.2 + 1) / 4).toFixed(4));
  t.same(s.a, { runs: 4, median: 100, min: 50, max: 200 });
  const gap = pairedStats([100, NaN, 100], [120, 130, 80]);
  t.equal(gap.pairs, 2, 'a run without a value drops its pair');
  t.equal(gap.a.runs, 2);
  t.match(
    formatPaired(s, 'old', 'new'),
    /A old: median 100 \(50-200\) over 4 runs\nB new: .*\nB\/A paired: median 1\.050, mean 1\.050, B higher in 2 of 4 pairs/,
  );
});

t.test('numbers picked from the benchmarks’ output', async (t) => {
  const cs =
    '1 copyset    4K randwrite  QD128    13435 IOPS      55 MB/s  p50   7425 us  cpu/op 97+15 us  (3 runs 12160-14072)\n';
  t.equal(pickValue(cs, PICKS.iops), 13435);
  const raft =
    '4 KiB entries, 3 replicas\nmode                  groups in-flight  commits/s   p50 ms   p99 ms\n' +
    '3 processes + fsync        1         1       1021     0.75     4.80\n' +
    '3 procs, local props       1       256      22848     8.88    43.43\n';
  t.equal(pickValue(raft, PICKS.commits), 22848, 'the last row');
  t.equal(pickValue('mbps=812.5 done', /mbps=([\d.]+)/), 812.5, 'any expression with a group');
  t.ok(Number.isNaN(pickValue('nothing here', PICKS.iops)));
});

t.test('arguments', async (t) => {
  const o = parseArgs([
    '--a',
    '/x',
    '--rounds',
    '3',
    '--pick',
    'commits',
    '--env-b',
    'K=a=b',
    '--',
    'node',
    '-v',
  ]);
  t.same(
    [o.dirA, o.dirB, o.rounds, o.pick, o.envB, o.command],
    ['/x', '.', 3, PICKS.commits, { K: 'a=b' }, ['node', '-v']],
  );
  t.throws(() => parseArgs(['--', 'x']), /exactly one of --a, --rev/);
  t.throws(() => parseArgs(['--a', '.', '--rev', 'HEAD', '--', 'x']), /exactly one/);
  t.throws(() => parseArgs(['--a', '.']), /no command/);
  t.throws(() => parseArgs(['--a', '.', '--rounds', '0', '--', 'x']), /rounds/);
  t.throws(() => parseArgs(['--a', '.', '--env-a', 'novalue', '--', 'x']), /K=V/);
  t.throws(() => parseArgs(['--a', '.', '--bogus', '--', 'x']), /unknown option/);
});

t.test('a run alternates the sides and compares them', async (t) => {
  const lines: string[] = [];
  const report = abBench(
    {
      dirA: '.',
      dirB: '.',
      rounds: 3,
      pick: PICKS.iops,
      envA: { AB_VALUE: '100' },
      envB: { AB_VALUE: '125' },
      command: [process.execPath, '-e', 'console.log(`${process.env.AB_VALUE} IOPS`)'],
    },
    (l) => lines.push(l),
  );
  t.same(lines, ['A 100', 'B 125', 'A 100', 'B 125', 'A 100', 'B 125']);
  t.match(report, /B\/A paired: median 1\.250, mean 1\.250, B higher in 3 of 3 pairs/);
});
