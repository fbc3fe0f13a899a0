// Prometheus metrics of the chunkserver (one set per process, in the shared registry): requests by
// method and status, bytes, latency histograms, and gauges filled from live state at scrape time.
import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from '../../common/metrics';

export interface ChunkserverMetrics {
  requests: Counter<'method' | 'status'>;
  bytes: Counter<'method'>;
  latency: Histogram<'method'>;
  inflight: Gauge;
}

let metrics: ChunkserverMetrics | undefined;

export function chunkserverMetrics(): ChunkserverMetrics {
  metrics ??= {
    requests: new Counter({
      name: 'curve_chunkserver_requests_total',
      help: 'ChunkService requests by method and CHUNK_OP_STATUS',
      labelNames: ['method', 'status'],
      registers: [registry],
    }),
    bytes: new Counter({
      name: 'curve_chunkserver_bytes_total',
      help: 'Chunk data bytes read and written',
      labelNames: ['method'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'curve_chunkserver_request_seconds',
      help: 'ChunkService request latency',
      labelNames: ['method'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    inflight: new Gauge({
      name: 'curve_chunkserver_inflight_requests',
      help: 'ChunkService requests in progress',
      registers: [registry],
    }),
  };
  return metrics;
}

export interface LiveState {
  copysets(): { name: string; role: string; term: number; applied: number; commit: number; epoch: number }[];
  pool(): { available: number; target: number; progress: number; trash: number };
  corruptChunks(): number;
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
}
