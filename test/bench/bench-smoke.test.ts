// The benchmark in --quick mode runs end to end and measures something on both sides.
// Side A is TGTD_IMPL's daemon (default ours), side B Debian's tgt.
import { readFileSync } from 'node:fs';
import t from 'tap';
import {
  cpuPerOp,
  formatReport,
  machineBusyTicks,
  optionsFromEnv,
  parseIscsiPerf,
  parseQemuBench,
  processCpuTicks,
  runBench,
} from './bench';
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

t.test('CPU accounting reads /proc and divides by the operations', async (t) => {
  // A command name with spaces and a parenthesis: fields are counted from the last ')'.
  const stat = '4242 (node (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 567 0 0 20 0 11 0 100 0 0';
  t.equal(processCpuTicks(stat), 1234 + 567, 'utime + stime');
  const procStat = 'cpu  100 5 50 1000 20 3 7 0 0 0\ncpu0 50 2 25 500 10 1 3 0 0 0\n';
  t.equal(machineBusyTicks(procStat), 100 + 5 + 50 + 3 + 7, 'all but idle and iowait, first line only');
  t.same(cpuPerOp({ daemon: 10, machine: 40 }, { daemon: 110, machine: 240 }, 50_000), {
    daemonUs: 20,
    machineUs: 40,
  });
  t.same(cpuPerOp({ daemon: 0, machine: 0 }, { daemon: 5, machine: 5 }, 0), { daemonUs: 0, machineUs: 0 });
  t.ok(processCpuTicks(readFileSync('/proc/self/stat', 'utf8')) >= 0, 'this process');
  t.ok(machineBusyTicks(readFileSync('/proc/stat', 'utf8')) > 0, 'this machine');
});

t.test('bench --quick measures both daemons', { timeout: 600_000 }, async (t) => {
  const opts = { ...optionsFromEnv(true), aImpl: defaultImpl(), log: (l: string) => t.comment(l) };
  const report = await runBench(opts);
  t.comment('\n' + formatReport(report));
  t.equal(report.figures.length, 8, 'two stores x four workloads');
  for (const f of report.figures) {
    t.ok(f.aMedian > 0, `A ${f.store} ${f.workload} ${f.aMedian} ${f.unit}`);
    t.ok(f.bMedian > 0, `B ${f.store} ${f.workload} ${f.bMedian} ${f.unit}`);
    // Each side spent CPU on its I/O (the machine's ticks are sampled, so no closer comparison).
    for (const c of [f.aCpu, f.bCpu])
      t.ok(c.daemonUs > 0 && c.machineUs > 0, `CPU per I/O ${JSON.stringify(c)}`);
  }
  for (const x of [report.rss.a, report.rss.b]) {
    t.ok(x.peakRssKiB > 0 && x.hwmKiB >= x.peakRssKiB * 0.5, `${x.impl} RSS sampled: ${x.peakRssKiB} KiB`);
    t.ok(x.mbps > 0, `${x.impl} 16-session writes: ${x.mbps} MB/s`);
  }
});
