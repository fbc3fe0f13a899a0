// Chunkserver benchmark: 3 curve-chunkserver processes on loopback, one copyset and then 64 copysets;
// 4 KiB random writes and reads at QD 1/32/128, 64 KiB and 1 MiB sequential writes. Prints IOPS, MB/s and
// p50/p99 latency.   node dist/test/bench/chunkserver-bench.js [--quick] [--json] [--seconds N]
//   [--layout 1|64] (only that many copysets) [--test randwrite|randread|seqwrite] (only that kind)
//   [--qd N] (that queue depth instead of the default ones) [--rounds N] (each row run N times, back to
//   back; the row shown is the run with the median IOPS, with the range of all N: this machine's runs
//   of the same build differ by 10-20%, so goals are judged on medians; default 3, 1 with --quick)
import * as fs from 'node:fs';
import { processCpuTicks } from './bench';
import {
  ChunkClient,
  STATUS,
  closeGrpcClients,
  createCopyset,
  freePort,
  startChunkserver,
  stopChunkserver,
  tempDir,
  waitLeader,
  type ChunkAddr,
  type CsProc,
} from '../curve/chunkserver/cs-harness';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const json = argv.includes('--json');
const secIdx = argv.indexOf('--seconds');
const SECONDS = secIdx >= 0 ? Number(argv[secIdx + 1]) : quick ? 1.5 : 4;
const optionValue = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const onlyLayout = optionValue('--layout');
const onlyTest = optionValue('--test');
const onlyQd = optionValue('--qd');
const ROUNDS = Math.max(1, Number(optionValue('--rounds') ?? (quick ? 1 : 3)));
const CHUNK = 4 << 20;
const CHUNKS_PER_COPYSET = 4;

interface Row {
  layout: string;
  test: string;
  qd: number;
  iops: number;
  mbps: number;
  p50us: number;
  p99us: number;
  errors: number;
  /** CPU time per operation, us: the three chunkservers together, and this (client) process. */
  cpuUsPerOp: { servers: number; client: number };
  /** IOPS of every round (the row's figures are those of the median one). */
  roundsIops: number[];
}

/** The round with the median IOPS (the lower middle one of an even count). */
function medianRound<T extends { iops: number }>(runs: T[]): T {
  const sorted = [...runs].sort((a, b) => a.iops - b.iops);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** utime + stime of `pid` in seconds (USER_HZ is 100). */
function cpuSeconds(pid: number): number {
  return processCpuTicks(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')) / 100;
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function run(
  client: ChunkClient,
  copysets: number[],
  pool: number,
  kind: 'randwrite' | 'randread' | 'seqwrite',
  size: number,
  qd: number,
  serverPids: number[],
): Promise<Omit<Row, 'layout' | 'test' | 'qd' | 'roundsIops'>> {
  const lat: number[] = [];
  let errors = 0;
  const data = Buffer.alloc(size, 0x5a);
  const end = Date.now() + SECONDS * 1000;
  let seq = 0;
  const worker = async (w: number): Promise<void> => {
    while (Date.now() < end) {
      let a: ChunkAddr;
      let offset: number;
      if (kind === 'seqwrite') {
        const n = seq++;
        const perChunk = CHUNK / size;
        const chunkIndex = Math.floor(n / perChunk);
        const cs = copysets[chunkIndex % copysets.length];
        a = { pool, copyset: cs, chunkId: 1000 + (chunkIndex % (copysets.length * CHUNKS_PER_COPYSET)) };
        offset = (n % perChunk) * size;
      } else {
        const cs = copysets[Math.floor(Math.random() * copysets.length)];
        a = { pool, copyset: cs, chunkId: cs * 100 + Math.floor(Math.random() * CHUNKS_PER_COPYSET) };
        offset = Math.floor(Math.random() * (CHUNK / size)) * size;
      }
      const t0 = process.hrtime.bigint();
      const r =
        kind === 'randread' ? await client.read(a, offset, size) : await client.write(a, offset, data);
      lat.push(Number(process.hrtime.bigint() - t0) / 1000);
      if (r.status !== STATUS.SUCCESS) errors++;
      void w;
    }
  };
  const started = Date.now();
  const cpu0 = serverPids.reduce((t, pid) => t + cpuSeconds(pid), 0);
  const client0 = process.cpuUsage();
  await Promise.all(Array.from({ length: qd }, (_, i) => worker(i)));
  const secs = (Date.now() - started) / 1000;
  const serverCpu = serverPids.reduce((t, pid) => t + cpuSeconds(pid), 0) - cpu0;
  const clientCpu = process.cpuUsage(client0);
  lat.sort((x, y) => x - y);
  return {
    iops: Math.round(lat.length / secs),
    mbps: Math.round(((lat.length * size) / secs / 1e6) * 10) / 10,
    p50us: Math.round(percentile(lat, 50)),
    p99us: Math.round(percentile(lat, 99)),
    errors,
    cpuUsPerOp: {
      servers: Math.round((serverCpu * 1e6) / Math.max(1, lat.length)),
      client: Math.round((clientCpu.user + clientCpu.system) / Math.max(1, lat.length)),
    },
  };
}

async function main(): Promise<void> {
  const ports = [await freePort(), await freePort(), await freePort()];
  const dirs = ports.map(() => tempDir('c3-bench-'));
  const args = [
    '--chunk-size',
    String(CHUNK),
    '--pool-target-count',
    '16',
    '--tick-ms',
    '50',
    '--election-ticks',
    '10',
    '--snapshot-interval-entries',
    process.env.CS_BENCH_SNAPSHOT_ENTRIES ?? '0',
    // CS_BENCH_ARGS adds chunkserver flags, e.g. "--snapshot-interval-bytes 67108864".
    ...(process.env.CS_BENCH_ARGS ?? '').split(' ').filter(Boolean),
  ];
  const cs: CsProc[] = await Promise.all(ports.map((p, i) => startChunkserver(dirs[i], p, args)));
  const eps = cs.map((c) => c.endpoint);
  const pids = cs.map((c) => c.proc.pid!);
  const client = new ChunkClient(eps, 10_000);
  const rows: Row[] = [];
  try {
    const allLayouts: [string, number, number[]][] = [
      ['1 copyset', 1, [1]],
      ['64 copysets', 2, Array.from({ length: 64 }, (_, i) => i + 1)],
    ];
    const layouts = allLayouts.filter(([, , cs]) => !onlyLayout || String(cs.length) === onlyLayout);
    for (const [layout, pool, copysets] of layouts) {
      for (const c of copysets) await createCopyset(eps, pool, c);
      for (const c of copysets) await waitLeader(eps, pool, c, 20_000);
      // Pre-write the random-I/O chunks so reads find data.
      for (const c of copysets) {
        for (let k = 0; k < CHUNKS_PER_COPYSET; k++) {
          await client.write({ pool, copyset: c, chunkId: c * 100 + k }, 0, Buffer.alloc(4096, 1));
        }
      }
      const allTests: [string, 'randwrite' | 'randread' | 'seqwrite', number, number[]][] = [
        ['4K randwrite', 'randwrite', 4096, [1, 32, 128]],
        ['4K randread', 'randread', 4096, [1, 32, 128]],
        ['64K seqwrite', 'seqwrite', 64 << 10, [8]],
        ['1M seqwrite', 'seqwrite', 1 << 20, [4]],
      ];
      const tests = allTests.filter(([, kind]) => !onlyTest || kind === onlyTest);
      for (const [test, kind, size, qds] of tests) {
        for (const qd of onlyQd ? [Number(onlyQd)] : qds) {
          const runs = [];
          for (let i = 0; i < ROUNDS; i++) runs.push(await run(client, copysets, pool, kind, size, qd, pids));
          const r = medianRound(runs);
          const roundsIops = runs.map((x) => x.iops);
          const row = { layout, test, qd, ...r, errors: runs.reduce((n, x) => n + x.errors, 0), roundsIops };
          rows.push(row);
          if (!json) {
            const range =
              ROUNDS > 1 ? `  (${ROUNDS} runs ${Math.min(...roundsIops)}-${Math.max(...roundsIops)})` : '';
            process.stdout.write(
              `${layout.padEnd(12)} ${test.padEnd(13)} QD${String(qd).padEnd(4)} ${String(r.iops).padStart(7)} IOPS ${String(r.mbps).padStart(7)} MB/s  p50 ${String(r.p50us).padStart(6)} us  p99 ${String(r.p99us).padStart(7)} us  cpu/op ${r.cpuUsPerOp.servers}+${r.cpuUsPerOp.client} us${row.errors ? `  errors ${row.errors}` : ''}${range}\n`,
            );
          }
        }
      }
    }
    if (json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  } finally {
    await client.close();
    closeGrpcClients();
    for (const c of cs) await stopChunkserver(c, 'SIGTERM');
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`chunkserver-bench: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
