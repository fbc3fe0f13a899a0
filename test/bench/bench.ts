// A/B benchmark of two tgtd daemons (default A = ours, B = Debian's tgt) on loopback with real
// initiators: libiscsi's iscsi-perf for reads, qemu-img bench over libiscsi for writes, alternating
// A B A B per round (a port of shared/tools/perf-pair.sh), plus each daemon's peak RSS under
// 16 sessions x QD32 x 1 MiB writes.
//   node dist/test/bench/bench.js [--quick] [--json]
//   env: BENCH_ROUNDS (default 2), BENCH_SECONDS (read run length, default 5),
//        BENCH_A_IMPL (default ours), BENCH_B_IMPL (default debian)
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { addTarget, makeSparseFile, requireTool, run, startTgtd, Daemon, TgtdImpl } from '../helpers/daemon';

export type Store = 'null' | 'rdwr';
export type Workload = 'r4k' | 'w4k' | 'r1m' | 'w1m';

export interface BenchOptions {
  aImpl: TgtdImpl;
  bImpl: TgtdImpl;
  rounds: number;
  /** Length of each iscsi-perf read run. */
  readSeconds: number;
  /** Requests per qemu-img bench write run. */
  w4kCount: number;
  w1mCount: number;
  /** Requests per session in the RSS phase (16 sessions, QD32, 1 MiB). */
  rssCountPerSession: number;
  log?: (line: string) => void;
}

export interface Figure {
  store: Store;
  workload: Workload;
  unit: 'IOPS' | 'MB/s';
  a: number[];
  b: number[];
  aMedian: number;
  bMedian: number;
  /** aMedian / bMedian, 0 when B measured nothing. */
  ratio: number;
  /** CPU time per operation, median over the rounds (see CpuPerOp). */
  aCpu: CpuPerOp;
  bCpu: CpuPerOp;
}

/**
 * Where the time goes: CPU microseconds per I/O of the daemon (user + system, its threads included) and of
 * the whole machine (daemon, initiator, kernel work such as loopback TCP). On this 2-core machine the
 * initiator and the daemon compete for the same cores, so a daemon that needs less CPU per I/O leaves more
 * to the initiator; the machine figure shows whether a run was bound by CPU at all.
 */
export interface CpuPerOp {
  daemonUs: number;
  machineUs: number;
}

export interface RssFigure {
  impl: TgtdImpl;
  /** Largest VmRSS seen while the 16 writers ran, in KiB. */
  peakRssKiB: number;
  /** The kernel's VmHWM for the daemon at the end of that phase, in KiB. */
  hwmKiB: number;
  /** MB/s the 16 writers reached together. */
  mbps: number;
}

export interface BenchReport {
  options: BenchOptions;
  figures: Figure[];
  rss: { a: RssFigure; b: RssFigure };
}

export const QUICK: Partial<BenchOptions> = { rounds: 1, readSeconds: 1, w4kCount: 5000, w1mCount: 200 };

export function optionsFromEnv(quick: boolean): BenchOptions {
  const env = process.env;
  const impl = (v: string | undefined, dflt: TgtdImpl): TgtdImpl => {
    const x = v ?? dflt;
    if (x !== 'ours' && x !== 'debian') throw new Error(`impl must be ours or debian, not ${x}`);
    return x;
  };
  const base: BenchOptions = {
    aImpl: impl(env.BENCH_A_IMPL, 'ours'),
    bImpl: impl(env.BENCH_B_IMPL, 'debian'),
    rounds: 2,
    readSeconds: 5,
    w4kCount: 60000,
    w1mCount: 2000,
    rssCountPerSession: 256,
  };
  const opts = quick ? { ...base, ...QUICK, rssCountPerSession: 32 } : base;
  if (env.BENCH_ROUNDS) opts.rounds = Math.max(1, Number(env.BENCH_ROUNDS));
  if (env.BENCH_SECONDS) opts.readSeconds = Math.max(1, Number(env.BENCH_SECONDS));
  return opts;
}

/** iscsi-perf's last "iops average N (M MB/s)" figure (it redraws its line with \r). */
export function parseIscsiPerf(output: string): { iops: number; mbps: number } | undefined {
  const all = [...output.matchAll(/iops average (\d+) \((\d+) MB\/s\)/g)];
  const last = all[all.length - 1];
  return last ? { iops: Number(last[1]), mbps: Number(last[2]) } : undefined;
}

/** qemu-img bench's "Run completed in S seconds." turned into IOPS and MB/s (10^6 bytes). */
export function parseQemuBench(
  output: string,
  count: number,
  sizeBytes: number,
): { iops: number; mbps: number } | undefined {
  const m = /Run completed in ([0-9.]+) seconds/.exec(output);
  if (!m) return undefined;
  const secs = Number(m[1]);
  if (!(secs > 0)) return undefined;
  return { iops: Math.trunc(count / secs), mbps: Math.trunc((count * sizeBytes) / secs / 1e6) };
}

export function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Kernel clock ticks per second of /proc's CPU times (USER_HZ, 100 on every Linux architecture). */
const CLK_TCK = 100;

/** utime + stime (ticks) from the text of /proc/<pid>/stat; the command name may contain spaces. */
export function processCpuTicks(statText: string): number {
  const f = statText.slice(statText.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5), counted after "pid (comm)": 3 is state, so utime is f[11].
  return Number(f[11]) + Number(f[12]);
}

/** Busy ticks of all CPUs together (everything but idle and iowait) from the text of /proc/stat. */
export function machineBusyTicks(procStatText: string): number {
  const cpu = procStatText.slice(0, procStatText.indexOf('\n')).trim().split(/\s+/).slice(1, 9).map(Number);
  return cpu.reduce((a, b) => a + b, 0) - cpu[3] - cpu[4];
}

interface CpuSnapshot {
  daemon: number;
  machine: number;
}

function cpuSnapshot(pid: number): CpuSnapshot {
  return {
    daemon: processCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')),
    machine: machineBusyTicks(readFileSync('/proc/stat', 'utf8')),
  };
}

/** CPU per operation between two snapshots; zeros when nothing was done. */
export function cpuPerOp(before: CpuSnapshot, after: CpuSnapshot, ops: number): CpuPerOp {
  if (!(ops > 0)) return { daemonUs: 0, machineUs: 0 };
  const us = (ticks: number): number => Math.round(((ticks * 1e6) / CLK_TCK / ops) * 10) / 10;
  return { daemonUs: us(after.daemon - before.daemon), machineUs: us(after.machine - before.machine) };
}

const WORKLOADS: Workload[] = ['r4k', 'w4k', 'r1m', 'w1m'];
const STORES: Store[] = ['null', 'rdwr'];
const IQN: Record<Store, string> = {
  null: 'iqn.2026-11.io.curve.bench:null',
  rdwr: 'iqn.2026-11.io.curve.bench:rdwr',
};
const GiB = 1024 * 1024 * 1024;

/** One run: the figure (IOPS or MB/s) and how many I/Os it took (for CPU per operation). */
async function measure(
  url: string,
  w: Workload,
  o: BenchOptions,
  log: (l: string) => void,
): Promise<{ value: number; ops: number }> {
  const perf = async (
    qd: number,
    blocks: number,
    random: boolean,
  ): Promise<{ iops: number; mbps: number }> => {
    const args = [
      '-m',
      String(qd),
      '-b',
      String(blocks),
      '-t',
      String(o.readSeconds),
      ...(random ? ['-r'] : []),
    ];
    const r = await run(requireTool('iscsi-perf'), [...args, url], {
      timeoutMs: (o.readSeconds + 10) * 1000,
    });
    const p = parseIscsiPerf(r.stdout + r.stderr);
    if (!p)
      log(`  iscsi-perf ${args.join(' ')} ${url}: no figure (exit ${r.code}) ${r.stderr.trim().slice(-300)}`);
    return p ?? { iops: 0, mbps: 0 };
  };
  const bench = async (
    qd: number,
    size: '4k' | '1M',
    count: number,
  ): Promise<{ iops: number; mbps: number }> => {
    const args = [
      'bench',
      '-f',
      'raw',
      '-t',
      'none',
      '-w',
      '-d',
      String(qd),
      '-s',
      size,
      '-c',
      String(count),
    ];
    const r = await run(requireTool('qemu-img'), [...args, url], { timeoutMs: 120_000 });
    const p = parseQemuBench(r.stdout + r.stderr, count, size === '4k' ? 4096 : 1 << 20);
    if (!p)
      log(`  qemu-img ${args.join(' ')} ${url}: no figure (exit ${r.code}) ${r.stderr.trim().slice(-300)}`);
    return p ?? { iops: 0, mbps: 0 };
  };
  switch (w) {
    case 'r4k': {
      const p = await perf(32, 8, true);
      return { value: p.iops, ops: p.iops * o.readSeconds };
    }
    case 'r1m': {
      const p = await perf(8, 2048, false);
      return { value: p.mbps, ops: p.iops * o.readSeconds };
    }
    case 'w4k': {
      const p = await bench(32, '4k', o.w4kCount);
      return { value: p.iops, ops: p.iops > 0 ? o.w4kCount : 0 };
    }
    case 'w1m': {
      const p = await bench(8, '1M', o.w1mCount);
      return { value: p.mbps, ops: p.iops > 0 ? o.w1mCount : 0 };
    }
  }
}

/** measure() with the CPU the daemon and the machine spent on it. */
async function measureWithCpu(
  d: Daemon,
  url: string,
  w: Workload,
  o: BenchOptions,
  log: (l: string) => void,
): Promise<{ value: number; cpu: CpuPerOp }> {
  const before = cpuSnapshot(d.pid);
  const m = await measure(url, w, o, log);
  return { value: m.value, cpu: cpuPerOp(before, cpuSnapshot(d.pid), m.ops) };
}

/** The median of each CPU figure over the rounds. */
function medianCpu(xs: CpuPerOp[]): CpuPerOp {
  return { daemonUs: median(xs.map((x) => x.daemonUs)), machineUs: median(xs.map((x) => x.machineUs)) };
}

function procStatusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** 16 concurrent qemu-img bench writers (QD32, 1 MiB) while VmRSS is polled every 50 ms. */
async function rssUnderLoad(d: Daemon, o: BenchOptions, log: (l: string) => void): Promise<RssFigure> {
  const sessions = 16;
  let peak = procStatusKiB(d.pid, 'VmRSS');
  const poll = setInterval(() => {
    peak = Math.max(peak, procStatusKiB(d.pid, 'VmRSS'));
  }, 50);
  const started = process.hrtime.bigint();
  const count = o.rssCountPerSession;
  const args = ['bench', '-f', 'raw', '-t', 'none', '-w', '-d', '32', '-s', '1M', '-c', String(count)];
  try {
    const results = await Promise.all(
      Array.from({ length: sessions }, () =>
        run(requireTool('qemu-img'), [...args, d.url(IQN.rdwr, 1)], { timeoutMs: 300_000 }),
      ),
    );
    const failed = results.filter((r) => !/Run completed/.test(r.stdout + r.stderr));
    if (failed.length) log(`  ${d.impl}: ${failed.length}/${sessions} RSS-phase writers failed`);
    const secs = Number(process.hrtime.bigint() - started) / 1e9;
    const okCount = (sessions - failed.length) * count;
    return {
      impl: d.impl,
      peakRssKiB: Math.max(peak, procStatusKiB(d.pid, 'VmRSS')),
      hwmKiB: procStatusKiB(d.pid, 'VmHWM'),
      mbps: Math.trunc((okCount * (1 << 20)) / secs / 1e6),
    };
  } finally {
    clearInterval(poll);
  }
}

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const log = o.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tgt-bench-'));
  const daemons: Daemon[] = [];
  try {
    for (const tool of ['iscsi-perf', 'qemu-img']) requireTool(tool);
    const a = await startTgtd({ impl: o.aImpl });
    daemons.push(a);
    const b = await startTgtd({ impl: o.bImpl });
    daemons.push(b);
    for (const [side, d] of [
      ['a', a],
      ['b', b],
    ] as const) {
      await addTarget(d, { tid: 1, iqn: IQN.null, store: 'null', path: '/dev/null' });
      const file = path.join(dir, `${side}-${d.impl}.img`);
      makeSparseFile(file, GiB);
      await addTarget(d, { tid: 2, iqn: IQN.rdwr, store: 'rdwr', path: file });
    }
    log(`A = ${o.aImpl} (port ${a.port}, pid ${a.pid}), B = ${o.bImpl} (port ${b.port}, pid ${b.pid})`);

    const figures: Figure[] = [];
    for (const store of STORES) {
      for (const workload of WORKLOADS) {
        const fa: number[] = [];
        const fb: number[] = [];
        const ca: CpuPerOp[] = [];
        const cb: CpuPerOp[] = [];
        for (let round = 0; round < o.rounds; round++) {
          const ra = await measureWithCpu(a, a.url(IQN[store], 1), workload, o, log);
          fa.push(ra.value);
          ca.push(ra.cpu);
          const rb = await measureWithCpu(b, b.url(IQN[store], 1), workload, o, log);
          fb.push(rb.value);
          cb.push(rb.cpu);
        }
        const aMedian = median(fa);
        const bMedian = median(fb);
        const unit = workload.endsWith('4k') ? 'IOPS' : 'MB/s';
        const ratio = bMedian ? Math.round((aMedian / bMedian) * 100) / 100 : 0;
        const fig: Figure = {
          store,
          workload,
          unit,
          a: fa,
          b: fb,
          aMedian,
          bMedian,
          ratio,
          aCpu: medianCpu(ca),
          bCpu: medianCpu(cb),
        };
        figures.push(fig);
        log(`  ${store} ${workload}: A ${fa.join('/')} B ${fb.join('/')} ${unit}`);
      }
    }
    const rssA = await rssUnderLoad(a, o, log);
    const rssB = await rssUnderLoad(b, o, log);
    return { options: o, figures, rss: { a: rssA, b: rssB } };
  } finally {
    for (const d of daemons) await d.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatReport(r: BenchReport): string {
  const { aImpl, bImpl, rounds } = r.options;
  const A = `A(${aImpl})`;
  const B = `B(${bImpl})`;
  const lines = [
    `median of ${rounds} round(s); IOPS for 4 KiB, MB/s for 1 MiB`,
    `${'store'.padEnd(6)}${'workload'.padEnd(10)}${'unit'.padEnd(6)}${A.padStart(14)}${B.padStart(14)}${'A/B'.padStart(8)}`,
  ];
  for (const f of r.figures) {
    lines.push(
      `${f.store.padEnd(6)}${f.workload.padEnd(10)}${f.unit.padEnd(6)}` +
        `${String(Math.round(f.aMedian)).padStart(14)}${String(Math.round(f.bMedian)).padStart(14)}` +
        `${f.ratio.toFixed(2).padStart(8)}`,
    );
  }
  const ratios = r.figures.map((f) => f.ratio);
  lines.push(`worst ratio A/B: ${Math.min(...ratios).toFixed(2)}`);
  lines.push(
    'CPU per I/O, median, in microseconds: the daemon / the whole machine (initiator and kernel too)',
  );
  const cpu = (c: CpuPerOp): string => `${c.daemonUs.toFixed(1)} / ${c.machineUs.toFixed(1)}`;
  for (const f of r.figures) {
    lines.push(
      `${f.store.padEnd(6)}${f.workload.padEnd(10)}${''.padEnd(6)}${cpu(f.aCpu).padStart(18)}${cpu(f.bCpu).padStart(18)}`,
    );
  }
  const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;
  lines.push('peak RSS during 16 sessions x QD32 x 1 MiB writes (rdwr LUN):');
  for (const [label, x] of [
    [A, r.rss.a],
    [B, r.rss.b],
  ] as const) {
    lines.push(`  ${label}: peak VmRSS ${mib(x.peakRssKiB)}, VmHWM ${mib(x.hwmKiB)}, ${x.mbps} MB/s`);
  }
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opts = optionsFromEnv(argv.includes('--quick'));
  const report = await runBench(opts);
  process.stdout.write(formatReport(report));
  if (argv.includes('--json')) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
