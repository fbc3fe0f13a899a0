// Raft benchmark: commits/s and p50/p99 commit latency for 4 KiB entries at 1, 32 and 256 proposals in
// flight, with 1, 100 and 2,000 groups; three replicas in one process (in-memory network, no fsync) and in
// three kv-node processes on loopback (TCP, binary client puts, fsync batched or off), and, for one group,
// with the proposals made inside the leader's process (procs-local: no client process or client socket in
// the path, the Raft library's own commit rate). Prints a table.
//   node dist/test/bench/raft-bench.js [--quick] [--json]
//   env: RAFT_BENCH_SECONDS (per cell, default 3), RAFT_BENCH_MODES (inproc,procs,procs-local,procs-nofsync),
//        RAFT_BENCH_GROUPS (1,100,2000), RAFT_BENCH_INFLIGHT (1,32,256) to pick cells,
//        RAFT_BENCH_NODE_ARGS (more kv-node options, e.g. "--snapshot-bytes 67108864")
import { bootstrapState } from '../../src/curve/raft/bootstrap';
import { MultiRaftHost, NullStorage } from '../../src/curve/raft/multi-raft-host';
import { LocalNetwork } from '../../src/curve/raft/transport';
import { keepInFlight, LoadResult, percentile } from '../../src/curve/raft/kv-load';
import { KvCluster, KvConnection, KvReply } from '../curve/raft/kv-cluster';

export interface Cell {
  mode: 'in-process' | '3 processes + fsync' | '3 processes, no fsync' | '3 procs, local props';
  groups: number;
  inflight: number;
  commitsPerSec: number;
  p50ms: number;
  p99ms: number;
}

const ENTRY = Buffer.alloc(4096, 0x61);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function inProcess(groups: number, inflight: number, seconds: number): Promise<Cell> {
  const net = new LocalNetwork();
  const hosts = [1, 2, 3].map(
    (id) => new MultiRaftHost({ transport: net.connect(id), tickMs: 20, raft: { maxInflight: 256 } }),
  );
  for (const h of hosts) {
    for (let g = 1; g <= groups; g++)
      h.addGroup(g, bootstrapState([1, 2, 3]), new NullStorage(), { apply() {}, restore() {} });
    h.start();
  }
  // Elect leaders quickly: node 1 campaigns everywhere.
  for (let g = 1; g <= groups; g++) hosts[0].core(g)!.campaign('transfer');
  while (![...Array(groups).keys()].every((i) => hosts.some((h) => h.core(i + 1)!.role === 'leader')))
    await sleep(20);
  const leaderOf = (g: number): MultiRaftHost => hosts.find((h) => h.core(g)!.role === 'leader')!;
  const lat = await keepInFlight(inflight, seconds * 1000, async (w) => {
    const g = 1 + (w % groups);
    try {
      await leaderOf(g).propose(g, ENTRY);
      return true;
    } catch {
      return false;
    }
  });
  await Promise.all(hosts.map((h) => h.stop()));
  lat.sort((a, b) => a - b);
  return {
    mode: 'in-process',
    groups,
    inflight,
    commitsPerSec: lat.length / seconds,
    p50ms: percentile(lat, 50),
    p99ms: percentile(lat, 99),
  };
}

function loadOn(conn: KvConnection, inflight: number, seconds: number): Promise<KvReply> {
  return conn.call({ op: 'load', group: 1, inflight, ms: seconds * 1000 }, seconds * 1000 + 10_000);
}

/** Keys per group: clients overwrite a bounded key space (like blocks of a volume), so replica memory stays flat. */
const KEYS_PER_GROUP = 1024;

async function threeProcesses(
  groups: number,
  inflight: number,
  seconds: number,
  fsync: boolean,
  local = false,
): Promise<Cell> {
  // RAFT_BENCH_NODE_ARGS adds kv-node options, e.g. "--snapshot-bytes 67108864".
  const nodeArgs = (process.env.RAFT_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const cluster = new KvCluster(3, groups, 20, fsync, nodeArgs);
  await cluster.init();
  try {
    for (let id = 1; id <= 3; id++) await cluster.start(id);
    const conns = new Map([1, 2, 3].map((id) => [id, new KvConnection(cluster.clientPorts.get(id)!)]));
    const leader = new Map<number, number>();
    const put = async (g: number, key: string): Promise<boolean> => {
      const target = leader.get(g) ?? 1;
      const r = await conns.get(target)!.put(g, key, ENTRY, 5000);
      if (!r.ok) {
        leader.set(g, r.leader && r.leader > 0 ? r.leader : 1 + (target % 3));
        await sleep(5);
      }
      return r.ok;
    };
    // Warm up: every group has a leader and the client knows it (64 groups at a time).
    let nextGroup = 1;
    await Promise.all(
      Array.from({ length: Math.min(64, groups) }, async () => {
        for (let g = nextGroup++; g <= groups; g = nextGroup++)
          while (!(await put(g, 'warm'))) await sleep(20);
      }),
    );
    if (local) {
      // Proposals made in the leader's own process (no client hop): the Raft library's commit rate.
      // A leader change during the run (an election after a long disk stall) fails the load: find the
      // leader again with a put and run it once more.
      let lead = leader.get(1) ?? 1;
      let r = await loadOn(conns.get(lead)!, inflight, seconds);
      for (let tries = 1; !r.ok && tries < 5; tries++) {
        if (r.leader) leader.set(1, r.leader);
        while (!(await put(1, 'warm'))) await sleep(20);
        lead = leader.get(1) ?? 1;
        r = await loadOn(conns.get(lead)!, inflight, seconds);
      }
      if (!r.ok) throw new Error(`raft bench: load on node ${lead} failed: ${JSON.stringify(r)}`);
      const res = r as unknown as LoadResult;
      for (const c of conns.values()) c.close();
      return {
        mode: '3 procs, local props',
        groups,
        inflight,
        commitsPerSec: res.commits / seconds,
        p50ms: res.p50ms,
        p99ms: res.p99ms,
      };
    }
    let n = 0;
    const lat = await keepInFlight(inflight, seconds * 1000, (w) =>
      put(1 + (w % groups), `k${n++ % KEYS_PER_GROUP}`),
    );
    for (const c of conns.values()) c.close();
    lat.sort((a, b) => a - b);
    return {
      mode: fsync ? '3 processes + fsync' : '3 processes, no fsync',
      groups,
      inflight,
      commitsPerSec: lat.length / seconds,
      p50ms: percentile(lat, 50),
      p99ms: percentile(lat, 99),
    };
  } finally {
    await cluster.stopAll();
    cluster.cleanup();
  }
}

export async function runRaftBench(opts: {
  quick: boolean;
  seconds: number;
  modes: string[];
  log: (l: string) => void;
}): Promise<Cell[]> {
  const cells: Cell[] = [];
  const list = (env: string | undefined, def: number[]): number[] => (env ? env.split(',').map(Number) : def);
  const groupsList = list(process.env.RAFT_BENCH_GROUPS, opts.quick ? [1, 100] : [1, 100, 2000]);
  const inflightList = list(process.env.RAFT_BENCH_INFLIGHT, [1, 32, 256]);
  for (const mode of opts.modes) {
    for (const groups of groupsList) {
      // Load generated in the leader's process drives one group (kv-load.ts).
      if (mode === 'procs-local' && groups !== 1) continue;
      for (const inflight of inflightList) {
        const cell =
          mode === 'inproc'
            ? await inProcess(groups, inflight, opts.seconds)
            : await threeProcesses(
                groups,
                inflight,
                opts.seconds,
                mode !== 'procs-nofsync',
                mode === 'procs-local',
              );
        opts.log(formatRow(cell));
        cells.push(cell);
      }
    }
  }
  return cells;
}

export function formatRow(c: Cell): string {
  return [
    c.mode.padEnd(21),
    String(c.groups).padStart(6),
    String(c.inflight).padStart(9),
    c.commitsPerSec.toFixed(0).padStart(10),
    c.p50ms.toFixed(2).padStart(8),
    c.p99ms.toFixed(2).padStart(8),
  ].join(' ');
}

export const HEADER = `${'mode'.padEnd(21)} ${'groups'.padStart(6)} ${'in-flight'.padStart(9)} ${'commits/s'.padStart(10)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`;

if (require.main === module) {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const json = argv.includes('--json');
  const seconds = Number(process.env.RAFT_BENCH_SECONDS ?? (quick ? 1 : 3));
  const modes = (process.env.RAFT_BENCH_MODES ?? 'inproc,procs,procs-local,procs-nofsync').split(',');
  if (!json) process.stdout.write(`4 KiB entries, 3 replicas\n${HEADER}\n`);
  runRaftBench({ quick, seconds, modes, log: (l) => (json ? undefined : process.stdout.write(l + '\n')) })
    .then((cells) => {
      if (json) process.stdout.write(JSON.stringify(cells, null, 2) + '\n');
    })
    .catch((err) => {
      process.stderr.write(`raft-bench: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    });
}
