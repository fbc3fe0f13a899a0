// Prometheus metrics of the chunkserver (one set per process, in the shared registry): requests by
// method and status, bytes, latency histograms, and gauges filled from live state at scrape time. The
// per-request figures are plain numbers (`ChunkserverMetrics.tally`) that the metrics take in when scraped (see
// common/tally-metrics): a labelled prom-client call per request cost ~3% of a leader's event loop.
import { Counter, Gauge } from 'prom-client';
import { registry } from '../../common/metrics';
import { type HistogramSeries, TallyHistogram } from '../../common/tally-metrics';

/** What ChunkService instances of this process count between scrapes. */
export interface ChunkserverTally {
  readBytes: number;
  writeBytes: number;
  /** Requests in progress now (a level, not a count). */
  inflight: number;
  /** method -> status -> requests completed since the last scrape. */
  requests: Map<string, Map<number, number>>;
}

export interface ChunkserverMetrics {
  tally: ChunkserverTally;
  /** The latency series of `method`. */
  latency(method: string): HistogramSeries;
}

let metrics: ChunkserverMetrics | undefined;

export function chunkserverMetrics(): ChunkserverMetrics {
  if (metrics) return metrics;
  const tally: ChunkserverTally = { readBytes: 0, writeBytes: 0, inflight: 0, requests: new Map() };
  new Counter({
    name: 'curve_chunkserver_requests_total',
    help: 'ChunkService requests by method and CHUNK_OP_STATUS',
    labelNames: ['method', 'status'],
    registers: [registry],
    collect() {
      for (const [method, byStatus] of tally.requests) {
        for (const [status, n] of byStatus) if (n > 0) this.inc({ method, status }, n);
        byStatus.clear();
      }
    },
  });
  new Counter({
    name: 'curve_chunkserver_bytes_total',
    help: 'Chunk data bytes read and written',
    labelNames: ['method'],
    registers: [registry],
    collect() {
      if (tally.readBytes > 0) this.inc({ method: 'read' }, tally.readBytes);
      if (tally.writeBytes > 0) this.inc({ method: 'write' }, tally.writeBytes);
      tally.readBytes = tally.writeBytes = 0;
    },
  });
  new Gauge({
    name: 'curve_chunkserver_inflight_requests',
    help: 'ChunkService requests in progress',
    registers: [registry],
    collect() {
      this.set(tally.inflight);
    },
  });
  const latency = new TallyHistogram(
    'curve_chunkserver_request_seconds',
    'ChunkService request latency',
    [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
  );
  metrics = { tally, latency: (method) => latency.series({ method }) };
  return metrics;
}

export interface LiveState {
  copysets(): { name: string; role: string; term: number; applied: number; commit: number; epoch: number }[];
  pool(): { available: number; target: number; progress: number; trash: number };
  corruptChunks(): number;
  /** The chunkserver-wide log budget: bytes held, the budget, snapshots it asked for. */
  logBudget(): { held: number; budget: number; snapshotsAsked: number };
}

let liveRegistered = false;

/** Gauges computed at scrape time from `state` (registered once per process). */
export function registerLiveGauges(state: LiveState): void {
  if (liveRegistered) return;
  liveRegistered = true;
  new Gauge({
    name: 'curve_chunkserver_copyset_is_leader',
    help: '1 when this replica leads the copyset',
    labelNames: ['copyset'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of state.copysets()) this.set({ copyset: c.name }, c.role === 'leader' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'curve_chunkserver_copyset_raft',
    help: 'Raft term, commit index, applied index and conf epoch per copyset',
    labelNames: ['copyset', 'field'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of state.copysets()) {
        this.set({ copyset: c.name, field: 'term' }, c.term);
        this.set({ copyset: c.name, field: 'commit' }, c.commit);
        this.set({ copyset: c.name, field: 'applied' }, c.applied);
        this.set({ copyset: c.name, field: 'epoch' }, c.epoch);
      }
    },
  });
  new Gauge({
    name: 'curve_chunkserver_chunkfilepool',
    help: 'Chunk file pool: available files, target, format progress (0..1), files in trash',
    labelNames: ['field'],
    registers: [registry],
    collect() {
      const p = state.pool();
      this.set({ field: 'available' }, p.available);
      this.set({ field: 'target' }, p.target);
      this.set({ field: 'progress' }, p.progress);
      this.set({ field: 'trash' }, p.trash);
    },
  });
  new Gauge({
    name: 'curve_chunkserver_corrupt_chunks',
    help: 'Chunks that failed their checksum and are refused',
    registers: [registry],
    collect() {
      this.set(state.corruptChunks());
    },
  });
  new Gauge({
    name: 'curve_chunkserver_log_budget',
    help: 'Raft log bytes all copysets hold since their last snapshots (held), the bound (budget, 0 = none), snapshots it asked for',
    labelNames: ['field'],
    registers: [registry],
    collect() {
      const b = state.logBudget();
      this.set({ field: 'held' }, b.held);
      this.set({ field: 'budget' }, b.budget);
      this.set({ field: 'snapshots_asked' }, b.snapshotsAsked);
    },
  });
}
