// The Raft benchmark, short: one group, 4 in flight, half a second per cell, every mode.
import t from 'tap';
import { runRaftBench } from './raft-bench';

t.test('raft bench measures every mode', { timeout: 120_000 }, async (t) => {
  process.env.RAFT_BENCH_GROUPS = '1';
  process.env.RAFT_BENCH_INFLIGHT = '4';
  const modes = ['inproc', 'procs', 'procs-local', 'procs-nofsync'];
  const cells = await runRaftBench({ quick: true, seconds: 0.5, modes, log: (l) => t.comment(l) });
  t.same(
    cells.map((c) => c.mode),
    ['in-process', '3 processes + fsync', '3 procs, local props', '3 processes, no fsync'],
  );
  for (const c of cells) {
    t.ok(c.commitsPerSec > 0, `${c.mode}: ${c.commitsPerSec.toFixed(0)} commits/s`);
    t.ok(c.p50ms > 0 && c.p99ms >= c.p50ms, `${c.mode}: p50 ${c.p50ms} p99 ${c.p99ms}`);
  }
});
