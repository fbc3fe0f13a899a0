// A/B benchmark of a curve-backed LUN (A: the one-machine cluster — MDS, 3 chunkservers, 3 replicas,
// our tgtd) against Debian's tgt on an rdwr file (B), same initiator (qemu-img bench over libiscsi),
// alternating A B per round, medians and ratios A/B. Both LUNs are used through the same 1 GiB window
// (filled first, so reads hit written data on both): 4 KiB random read/write QD32 (a large prime
// stride through the window), 1 MiB sequential read/write QD8, 4 KiB write QD1 mean latency.
// With --profile (or BENCH_PROFILE=1), a second cluster runs 4 KiB writes QD32 under `node --cpu-prof` and the self time of
// its tgtd and chunkservers is summarized.
//   node dist/test/bench/curve-bench.js [--quick] [--profile] [--json]
//   env: BENCH_ROUNDS (default 3), BENCH_SECONDS (target length of one run, default 4)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { addTarget, makeSparseFile, requireTool, run, startTgtd, type Daemon } from '../helpers/daemon';
import {
  freeBasePort,
  IQN,
  killAll,
  startCluster,
  stopCluster,
  type Cluster,
} from '../integration/cluster-harness';
import { median } from './bench';
import { formatProfileSummary, summarizeCpuProfile, type CpuProfile } from './cpu-profile-summary';

const MiB = 1024 * 1024;
const WINDOW = 1024 * MiB;
/** 4 KiB x a prime: successive requests land far apart and cover the window before repeating. */
const RANDOM_STEP = 4096 * 65_521;
const TGT_IQN = 'iqn.2026-11.io.curve.bench:tgt-rdwr';

type Workload = 'r4k' | 'w4k' | 'r1m' | 'w1m' | 'lat4k';
const WORKLOADS: Workload[] = ['r4k', 'w4k', 'r1m', 'w1m', 'lat4k'];
const UNIT: Record<Workload, string> = { r4k: 'IOPS', w4k: 'IOPS', r1m: 'MB/s', w1m: 'MB/s', lat4k: 'us' };

interface Spec {
  write: boolean;
  depth: number;
  size: number;
  step?: number;
}
const SPECS: Record<Workload, Spec> = {
  r4k: { write: false, depth: 32, size: 4096, step: RANDOM_STEP },
  w4k: { write: true, depth: 32, size: 4096, step: RANDOM_STEP },
  r1m: { write: false, depth: 8, size: MiB },
  w1m: { write: true, depth: 8, size: MiB },
  lat4k: { write: true, depth: 1, size: 4096, step: RANDOM_STEP },
};

interface Figure {
  workload: Workload;
  unit: string;
  a: number[];
  b: number[];
  aMedian: number;
  bMedian: number;
  /** aMedian / bMedian (for latency: lower is better, so > 1 means A is slower). */
  ratio: number;
}

/** qemu-img --image-opts for the first WINDOW bytes of an iSCSI LUN. */
function windowOpts(port: number, iqn: string): string {
  return (
    `driver=raw,offset=0,size=${WINDOW},file.driver=iscsi,file.transport=tcp,` +
    `file.portal=127.0.0.1:${port},file.target=${iqn},file.lun=1`
  );
}

/** One qemu-img bench run: seconds taken by `count` requests. */
async function bench(target: string, s: Spec, count: number): Promise<number> {
  const args = ['bench', '--image-opts', '-t', 'none', '-d', String(s.depth), '-s', String(s.size)];
  if (s.step) args.push('-S', String(s.step));
  if (s.write) args.push('-w');
  args.push('-c', String(count), target);
  const r = await run(requireTool('qemu-img'), args, { timeoutMs: 300_000 });
  const m = /Run completed in ([0-9.]+) seconds/.exec(r.stdout + r.stderr);
  if (!m || !(Number(m[1]) > 0))
    throw new Error(`qemu-img ${args.join(' ')}: exit ${r.code} ${(r.stdout + r.stderr).trim().slice(-300)}`);
  return Number(m[1]);
}

function figureOf(w: Workload, count: number, secs: number): number {
  const s = SPECS[w];
  if (w === 'lat4k') return Math.round((secs / count) * 1e6);
  if (s.size === 4096) return Math.round(count / secs);
  return Math.round((count * s.size) / secs / 1e6);
}

export async function runCurveBench(o: {
  rounds: number;
  seconds: number;
  log: (l: string) => void;
}): Promise<Figure[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curve-bench-'));
  let cluster: Cluster | undefined;
  let tgt: Daemon | undefined;
  try {
    const port = await freeBasePort();
    cluster = await startCluster(path.join(dir, 'data'), port);
    tgt = await startTgtd({ impl: 'debian' });
    const file = path.join(dir, 'tgt-rdwr.img');
    makeSparseFile(file, WINDOW);
    await addTarget(tgt, { tid: 1, iqn: TGT_IQN, store: 'rdwr', path: file });
    const sides = { a: windowOpts(port, IQN), b: windowOpts(tgt.port, TGT_IQN) };
    o.log(
      `A = curve LUN (3 replicas, port ${port}), B = Debian tgt rdwr file (port ${tgt.port}); 1 GiB window`,
    );

    // Fill both windows so every read hits written data.
    for (const [side, target] of Object.entries(sides)) {
      const secs = await bench(target, SPECS.w1m, WINDOW / MiB);
      o.log(`  fill ${side}: 1 GiB in ${secs.toFixed(1)} s`);
    }
    // Calibrate a request count per side and workload so that one run lasts about o.seconds.
    const counts: Record<string, number> = {};
    for (const w of WORKLOADS)
      for (const [side, target] of Object.entries(sides)) {
        const probe = SPECS[w].size === MiB ? 64 : w === 'lat4k' ? 200 : 2000;
        const secs = await bench(target, SPECS[w], probe);
        counts[`${side}.${w}`] = Math.max(probe, Math.round((probe / secs) * o.seconds));
      }
    const figures: Figure[] = [];
    for (const w of WORKLOADS) {
      const a: number[] = [];
      const b: number[] = [];
      for (let round = 0; round < o.rounds; round++) {
        const ca = counts[`a.${w}`];
        a.push(figureOf(w, ca, await bench(sides.a, SPECS[w], ca)));
        const cb = counts[`b.${w}`];
        b.push(figureOf(w, cb, await bench(sides.b, SPECS[w], cb)));
      }
      const aMedian = median(a);
      const bMedian = median(b);
      const ratio = bMedian ? Math.round((aMedian / bMedian) * 100) / 100 : 0;
      figures.push({ workload: w, unit: UNIT[w], a, b, aMedian, bMedian, ratio });
      o.log(`  ${w}: A ${a.join('/')} B ${b.join('/')} ${UNIT[w]}`);
    }
    return figures;
  } finally {
    if (tgt) await tgt.stop();
    if (cluster) {
      await stopCluster(cluster);
      killAll(cluster);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** 4 KiB random writes QD32 for `seconds` against a cluster whose daemons run under --cpu-prof. */
export async function profileCurveWrites(seconds: number, log: (l: string) => void): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curve-prof-'));
  const profDir = path.join(dir, 'profiles');
  fs.mkdirSync(profDir);
  let cluster: Cluster | undefined;
  try {
    const port = await freeBasePort();
    const env = { ...process.env, CURVE_NODE_ARGS: `--cpu-prof --cpu-prof-dir=${profDir}` };
    cluster = await startCluster(path.join(dir, 'data'), port, [], env);
    const target = windowOpts(port, IQN);
    // Only 4 KiB writes run in this cluster (the profile also holds start-up, a second or so of CPU).
    const probe = await bench(target, SPECS.w4k, 2000);
    const count = Math.round((2000 / probe) * seconds);
    const secs = await bench(target, SPECS.w4k, count);
    log(
      `profiled run: ${count} 4 KiB writes QD32 in ${secs.toFixed(1)} s (${Math.round(count / secs)} IOPS)`,
    );
    await stopCluster(cluster);
    const names = new Map(cluster.pids.map((p) => [p.pid, p.name]));
    let out = '';
    for (const f of fs.readdirSync(profDir).sort()) {
      const pid = Number(/^CPU\.\d+\.\d+\.(\d+)\./.exec(f)?.[1]);
      const name = names.get(pid);
      if (!name || name === 'mds') continue;
      const p = JSON.parse(fs.readFileSync(path.join(profDir, f), 'utf8')) as CpuProfile;
      out += formatProfileSummary(`${name} (pid ${pid})`, summarizeCpuProfile(p, 12));
    }
    if (!out) throw new Error(`no profiles of tgtd or chunkservers in ${profDir}`);
    return out;
  } finally {
    if (cluster) killAll(cluster);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function formatCurveReport(figures: Figure[], rounds: number): string {
  const lines = [
    `median of ${rounds} round(s); A = curve LUN (3 replicas), B = Debian tgt rdwr file`,
    `${'workload'.padEnd(30)}${'unit'.padEnd(6)}${'A'.padStart(10)}${'B'.padStart(10)}${'A/B'.padStart(8)}`,
  ];
  const label: Record<Workload, string> = {
    r4k: '4K random read QD32',
    w4k: '4K random write QD32',
    r1m: '1M sequential read QD8',
    w1m: '1M sequential write QD8',
    lat4k: '4K write QD1 mean latency',
  };
  for (const f of figures)
    lines.push(
      `${label[f.workload].padEnd(30)}${f.unit.padEnd(6)}${String(f.aMedian).padStart(10)}` +
        `${String(f.bMedian).padStart(10)}${f.ratio.toFixed(2).padStart(8)}`,
    );
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 3)));
  const seconds = Math.max(1, Number(process.env.BENCH_SECONDS ?? (quick ? 1 : 4)));
  const log = (l: string): void => void process.stdout.write(l + '\n');
  const figures = await runCurveBench({ rounds, seconds, log });
  process.stdout.write(formatCurveReport(figures, rounds));
  if (argv.includes('--json')) process.stdout.write(JSON.stringify(figures, null, 2) + '\n');
  if (argv.includes('--profile') || process.env.BENCH_PROFILE === '1')
    process.stdout.write(await profileCurveWrites(quick ? 5 : 15, log));
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`curve bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
