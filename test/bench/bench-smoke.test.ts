// The benchmark in --quick mode runs end to end and measures something on both sides.
// Side A is TGTD_IMPL's daemon (default ours), side B Debian's tgt.
import t from 'tap';
import { formatReport, optionsFromEnv, parseIscsiPerf, parseQemuBench, runBench } from './bench';
import { defaultImpl } from '../helpers/daemon';

t.test('parsers read the initiators’ output', async (t) => {
  const perf =
    '00:00:01 - lba 1, iops current 74943 (292 MB/s), iops average 76002 (296 MB/s), in_flight 32\r' +
    'iops average 72552 (283 MB/s)                 \n\nfinished.\n';
  t.same(parseIscsiPerf(perf), { iops: 72552, mbps: 283 });
  t.equal(parseIscsiPerf('iscsi_connect failed'), undefined);
  const qemu =
    'Sending 2000 write requests, 1048576 bytes each, 8 in parallel\nRun completed in 2.000 seconds.\n';
  t.same(parseQemuBench(qemu, 2000, 1 << 20), { iops: 1000, mbps: 1048 });
  t.equal(parseQemuBench('qemu-img: Could not open', 1, 1), undefined);
});

t.test('bench --quick measures both daemons', { timeout: 600_000 }, async (t) => {
  const opts = { ...optionsFromEnv(true), aImpl: defaultImpl(), log: (l: string) => t.comment(l) };
  const report = await runBench(opts);
  t.comment('\n' + formatReport(report));
  t.equal(report.figures.length, 8, 'two stores x four workloads');
  for (const f of report.figures) {
    t.ok(f.aMedian > 0, `A ${f.store} ${f.workload} ${f.aMedian} ${f.unit}`);
    t.ok(f.bMedian > 0, `B ${f.store} ${f.workload} ${f.bMedian} ${f.unit}`);
  }
  for (const x of [report.rss.a, report.rss.b]) {
    t.ok(x.peakRssKiB > 0 && x.hwmKiB >= x.peakRssKiB * 0.5, `${x.impl} RSS sampled: ${x.peakRssKiB} KiB`);
    t.ok(x.mbps > 0, `${x.impl} 16-session writes: ${x.mbps} MB/s`);
  }
});
