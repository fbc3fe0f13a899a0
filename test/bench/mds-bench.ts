// MDS benchmark: OpenFile, GetFileInfo and GetOrAllocateSegment (new segments: allocation; existing:
// lookup) over gRPC at a fixed concurrency, and heartbeat processing for 1,000 simulated chunkservers
// with 100 copysets each (33,334 copysets, 3 replicas), with the embedded store and with etcd (when
// /usr/bin/etcd exists). The MDS runs in this process (copyset pushes and chunk commands are no-ops);
// the client calls go through gRPC on loopback.
//   node dist/test/bench/mds-bench.js [--calls 2000] [--concurrency 16] [--chunkservers 1000]
//        [--per-cs 100] [--rounds 3] [--store level,etcd] [--json]
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { setLogLevel } from '../../src/common/log';
import type { ChunkCommander } from '../../src/curve/mds/chunk-commander';
import type { CopysetPusher } from '../../src/curve/mds/copyset-pusher';
import type { HeartbeatRequest } from '../../src/curve/mds/heartbeat';
import { defaultMdsConfig, type MdsConfig } from '../../src/curve/mds/mds-config';
import { MdsClient } from '../../src/curve/mds/mds-client';
import { MdsServer } from '../../src/curve/mds/mds-server';
import { startEtcd, type EtcdProcess } from '../curve/mds/etcd-harness';

setLogLevel('error');
const GiB = 1024 ** 3;
type R = Record<string, unknown> & { statusCode: number };

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}
const CALLS = Number(arg('calls', '2000'));
const CONC = Number(arg('concurrency', '16'));
const NCS = Number(arg('chunkservers', '1000'));
const PER_CS = Number(arg('per-cs', '100'));
const ROUNDS = Number(arg('rounds', '3'));
const STORES = arg('store', 'level,etcd').split(',');
const JSON_OUT = process.argv.includes('--json');

const noPusher: CopysetPusher = { createCopysets: () => Promise.resolve() };
const noCommander: ChunkCommander = {
  deleteChunk: () => Promise.resolve(true),
  updateEpoch: () => Promise.resolve(true),
  close: () => Promise.resolve(),
};

interface Result {
  store: string;
  op: string;
  n: number;
  perSec: number;
  p50ms: number;
  p99ms: number;
  /** longest the event loop was blocked during the measurement (timers such as the lease keep-alive wait that long) */
  maxLoopDelayMs: number;
}

/** The MDS under test stopped being leader (its etcd lease was not renewed in time). */
class LeadershipLost extends Error {}

/** What the run could not measure and why (printed with the results). */
const notes: string[] = [];

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];

/** Runs fn(i) for i in [0, n) with `conc` in flight; per-call latencies and the rate. */
async function measure(
  store: string,
  op: string,
  n: number,
  conc: number,
  fn: (i: number) => Promise<void>,
): Promise<Result> {
  const lat: number[] = [];
  let next = 0;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (next < n) {
        const i = next++;
        const s = performance.now();
        await fn(i);
        lat.push(performance.now() - s);
        // in-process calls that never wait for I/O would otherwise run back to back in one macrotask and
        // starve timers and sockets (the etcd lease keep-alive among them); requests arriving over the
        // network get the event loop between them, so give it here too (outside the measured latency)
        await yieldToLoop();
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  loop.disable();
  lat.sort((a, b) => a - b);
  const r: Result = {
    store,
    op,
    n,
    perSec: Math.round(n / secs),
    p50ms: pct(lat, 50),
    p99ms: pct(lat, 99),
    maxLoopDelayMs: Math.round(loop.max / 1e6),
  };
  if (!JSON_OUT) console.log(line(r));
  return r;
}

function ok(r: R, what: string): void {
  if (r.statusCode !== 0) throw new Error(`${what}: status ${r.statusCode}`);
}

async function benchStore(store: 'level' | 'etcd', etcd: EtcdProcess | undefined): Promise<Result[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mds-bench-'));
  const config: MdsConfig = {
    ...defaultMdsConfig,
    listen: '127.0.0.1:0',
    store,
    dataDir: path.join(dir, 'db'),
    etcdEndpoints: etcd ? [etcd.endpoint] : [],
    electionKey: `bench/${Date.now()}`,
    // long lease: a loaded machine must not lose leadership in the middle of a measurement
    leaseTtlSec: 15,
    leaseMarginMs: 3000,
    recoverIntervalMs: 0,
    replicaIntervalMs: 0,
    leaderIntervalMs: 0,
    copysetIntervalMs: 0,
    metrics: 'off',
  };
  const mds = new MdsServer(config, noPusher, noCommander);
  await mds.start();
  const client = new MdsClient([mds.address()], 30_000, 120_000);
  const results: Result[] = [];
  try {
    const electedBy = Date.now() + 20_000;
    while (!mds.isLeader()) {
      if (Date.now() > electedBy) throw new Error('the MDS did not become leader within 20 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const topo = async (m: string, req: Record<string, unknown>): Promise<R> => {
      const r = await client.call<R>('topology', m, req);
      ok(r, m);
      return r;
    };
    // topology: 1 physical pool, 3 zones, NCS servers/chunkservers spread over them
    await topo('CreatePhysicalPool', { physicalPoolName: 'pool1' });
    for (let z = 1; z <= 3; z++)
      await topo('CreateZone', { zoneName: `zone${z}`, physicalPoolName: 'pool1' });
    const regT0 = performance.now();
    const ids: { id: number; token: string; port: number }[] = [];
    for (let i = 0; i < NCS; i++) {
      const port = 10_000 + i;
      await topo('RegistServer', {
        hostName: `s${i}`,
        internalIp: '127.0.0.1',
        internalPort: port,
        zoneName: `zone${(i % 3) + 1}`,
        physicalPoolName: 'pool1',
      });
      const r = await topo('RegistChunkServer', {
        diskType: 'ssd',
        diskPath: `/d${i}`,
        hostIp: '127.0.0.1',
        port,
        serverName: `s${i}`,
        diskCapacity: 2 ** 40,
      });
      ids.push({ id: Number(r.chunkServerID), token: String(r.token), port });
    }
    const regMs = performance.now() - regT0;
    const copysetNum = Math.ceil((NCS * PER_CS) / 3);
    const lpT0 = performance.now();
    await topo('CreateLogicalPool', { logicalPoolName: 'lp1', physicalPoolName: 'pool1', copysetNum });
    const lpMs = performance.now() - lpT0;
    if (!JSON_OUT)
      console.log(
        `[${store}] registered ${NCS} servers+chunkservers in ${(regMs / 1000).toFixed(1)} s; ` +
          `logical pool with ${copysetNum} copysets in ${(lpMs / 1000).toFixed(1)} s`,
      );

    // namespace calls over gRPC
    const ns = async (m: string, req: Record<string, unknown>): Promise<R> => {
      const r = await client.call<R>('nameserver', m, { owner: 'u', ...req });
      ok(r, m);
      return r;
    };
    await ns('CreateFile', { fileName: '/b', fileType: 1, fileLength: 20 * 1024 * GiB });
    results.push(
      await measure(store, 'GetFileInfo', CALLS, CONC, () =>
        ns('GetFileInfo', { fileName: '/b' }).then(() => undefined),
      ),
    );
    results.push(
      await measure(store, 'OpenFile', CALLS, CONC, (i) =>
        ns('OpenFile', { fileName: '/b', clientIP: '10.0.0.1', clientPort: i }).then(() => undefined),
      ),
    );
    results.push(
      await measure(store, 'GetOrAllocateSegment (allocate)', CALLS, CONC, (i) =>
        ns('GetOrAllocateSegment', { fileName: '/b', offset: i * GiB, allocateIfNotExist: true }).then(
          () => undefined,
        ),
      ),
    );
    results.push(
      await measure(store, 'GetOrAllocateSegment (existing)', CALLS, CONC, (i) =>
        ns('GetOrAllocateSegment', { fileName: '/b', offset: i * GiB, allocateIfNotExist: false }).then(
          () => undefined,
        ),
      ),
    );

    // heartbeats: each chunkserver reports its copysets; it leads about a third of them
    const topology = mds.state!.topology;
    const byCs = new Map<number, HeartbeatRequest['copysetInfos']>();
    const addr = (id: number): string => {
      const cs = topology.chunkservers.get(id)!;
      return `${cs.hostIp}:${cs.port}:0`;
    };
    for (const c of topology.copysets.values()) {
      const leader = c.chunkServerIDs[c.copysetId % c.chunkServerIDs.length];
      for (const m of c.chunkServerIDs) {
        const list = byCs.get(m) ?? [];
        list.push({
          logicalPoolID: c.logicalPoolId,
          copysetID: c.copysetId,
          peers: c.chunkServerIDs.map((p) => ({ id: 0, address: addr(p) })),
          epoch: c.epoch,
          leaderPeer: { id: 0, address: addr(leader) },
        });
        byCs.set(m, list);
      }
    }
    const requests: HeartbeatRequest[] = ids.map((x) => ({
      chunkServerID: x.id,
      token: x.token,
      ip: '127.0.0.1',
      port: x.port,
      diskState: { errType: 0, errMsg: '' },
      diskCapacity: 2 ** 40,
      diskUsed: 2 ** 30,
      leaderCount: 0,
      copysetCount: byCs.get(x.id)?.length ?? 0,
      copysetInfos: byCs.get(x.id) ?? [],
    }));
    const perCs = requests.reduce((s, r) => s + r.copysetInfos.length, 0) / requests.length;
    // the whole heartbeat part: how long the event loop was ever blocked, to tell whether a lost lease is
    // this process's fault (a keep-alive never sent) or etcd's (sent, not answered in time)
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        const r = await measure(
          store,
          `heartbeat round ${round} (${NCS} cs x ${perCs.toFixed(0)} copysets)`,
          requests.length,
          8,
          async (i) => {
            const res = await mds.handleHeartbeat(requests[i]);
            if (!res) throw new LeadershipLost('this MDS lost its leadership during the heartbeat run');
            if (res.statusCode !== 0) throw new Error(`heartbeat refused: ${res.statusCode}`);
          },
        );
        results.push(r);
      }
      const viaGrpc = await measure(
        store,
        `heartbeat over gRPC (${NCS} cs)`,
        requests.length,
        8,
        async (i) => {
          const res = await client.call<R>('heartbeat', 'ChunkServerHeartbeat', requests[i]);
          if (res.statusCode !== 0 && !mds.isLeader())
            throw new LeadershipLost('this MDS lost its leadership during the heartbeat run');
          ok(res, 'heartbeat');
        },
      );
      results.push(viaGrpc);
      if (!mds.isLeader()) throw new LeadershipLost('this MDS lost its leadership during the heartbeat run');
    } catch (err) {
      if (!(err instanceof LeadershipLost)) throw err;
      const blockedMs = Math.round(loop.max / 1e6);
      // a keep-alive goes out every ttl/3; the leader serves until ttl - margin after the last one sent
      const budgetMs = config.leaseTtlSec * 1000 - config.leaseMarginMs - (config.leaseTtlSec * 1000) / 3;
      if (blockedMs >= budgetMs)
        throw new Error(
          `${err.message}: the event loop was blocked for ${blockedMs} ms, longer than the ${budgetMs} ms ` +
            'a lease keep-alive may be late (MDS or benchmark work starves the keep-alive)',
        );
      notes.push(
        `[${store}] ${err.message}, although the event loop was never blocked longer than ${blockedMs} ms ` +
          `(keep-alives were sent; budget ${budgetMs} ms): etcd did not answer the lease keep-alive in ` +
          `time, i.e. the machine is overloaded. The remaining ${store} heartbeat figures are missing.`,
      );
      console.log(notes[notes.length - 1]);
    } finally {
      loop.disable();
    }
  } finally {
    client.close();
    await mds.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return results;
}

function line(r: Result): string {
  return `${r.store.padEnd(6)} ${r.op.padEnd(46)} ${String(r.perSec).padStart(8)} ${r.p50ms.toFixed(2).padStart(10)} ${r.p99ms.toFixed(2).padStart(8)} ${String(r.maxLoopDelayMs).padStart(18)}`;
}

async function main(): Promise<void> {
  const all: Result[] = [];
  for (const store of STORES) {
    if (store === 'etcd') {
      if (!fs.existsSync('/usr/bin/etcd')) {
        console.log('[etcd] skipped: /usr/bin/etcd not installed');
        continue;
      }
      const etcd = await startEtcd();
      try {
        all.push(...(await benchStore('etcd', etcd)));
      } finally {
        await etcd.stop();
      }
    } else if (store === 'level') all.push(...(await benchStore('level', undefined)));
    else throw new Error(`unknown store ${store}`);
  }
  if (JSON_OUT) {
    console.log(JSON.stringify({ results: all, notes }, null, 2));
    return;
  }
  console.log(`\nconcurrency ${CONC}, ${CALLS} calls each`);
  console.log(
    'store  operation                                       calls/s     p50 ms   p99 ms  max loop delay ms',
  );
  for (const r of all) console.log(line(r));
  for (const n of notes) console.log(`note: ${n}`);
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err);
    process.exit(1);
  },
);
