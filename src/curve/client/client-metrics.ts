// Prometheus metrics of the Curve client, registered once per process on the shared registry. What is
// counted per user I/O (successes, bytes, latency, the in-flight level) is kept in plain numbers that
// the metrics take in when scraped (see common/tally-metrics); failures and retries are rare and use
// prom-client directly.
import { Counter, Gauge } from 'prom-client';
import { registry } from '../../common/metrics';
import { type HistogramSeries, TallyHistogram } from '../../common/tally-metrics';

/** Per user-I/O operation ("read", "write", ...): successes and bytes since the last scrape, latency. */
export interface OpTally {
  ok: number;
  bytes: number;
  latency: HistogramSeries;
}

/** A volume's figures that are levels, read when scraped. */
export interface VolumeLevels {
  volume: string;
  /** Chunk requests in flight now. */
  inflight: number;
}

export interface ClientMetrics {
  /** Failed user I/Os, by result (successes are in `op(name).ok`). */
  ios: Counter<'op' | 'result'>;
  /** The tally of operation `op`. */
  op(op: string): OpTally;
  /** Report `levels` (the in-flight gauge) until the returned function is called. */
  addVolume(levels: VolumeLevels): () => void;
  retries: Counter<'reason'>;
  held: Gauge<'volume'>;
  mdsCalls: Counter<'method' | 'result'>;
  fenced: Gauge<'volume'>;
}

let metrics: ClientMetrics | undefined;

export function clientMetrics(): ClientMetrics {
  if (metrics) return metrics;
  const ops = new Map<string, OpTally>();
  const volumes = new Set<VolumeLevels>();
  const latency = new TallyHistogram(
    'curve_client_io_seconds',
    'User I/O latency',
    [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5, 30],
  );
  new Counter({
    name: 'curve_client_io_bytes_total',
    help: 'Bytes read and written by the Curve client',
    labelNames: ['op'],
    registers: [registry],
    collect() {
      for (const [op, t] of ops) {
        if (t.bytes > 0) this.inc({ op }, t.bytes);
        t.bytes = 0;
      }
    },
  });
  new Gauge({
    name: 'curve_client_inflight_requests',
    help: 'Chunk requests in flight',
    labelNames: ['volume'],
    registers: [registry],
    collect() {
      this.reset();
      for (const v of volumes) this.set({ volume: v.volume }, v.inflight);
    },
  });
  metrics = {
    ios: new Counter({
      name: 'curve_client_io_total',
      help: 'User I/Os completed by the Curve client',
      labelNames: ['op', 'result'],
      registers: [registry],
      collect() {
        for (const [op, t] of ops) {
          if (t.ok > 0) this.inc({ op, result: 'ok' }, t.ok);
          t.ok = 0;
        }
      },
    }),
    op(op: string): OpTally {
      let t = ops.get(op);
      if (!t) ops.set(op, (t = { ok: 0, bytes: 0, latency: latency.series({ op }) }));
      return t;
    },
    addVolume(levels: VolumeLevels): () => void {
      volumes.add(levels);
      return () => volumes.delete(levels);
    },
    retries: new Counter({
      name: 'curve_client_chunk_retries_total',
      help: 'Chunk requests retried, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    held: new Gauge({
      name: 'curve_client_held_requests',
      help: 'Chunk requests currently held by retries or a lost session lease',
      labelNames: ['volume'],
      registers: [registry],
    }),
    mdsCalls: new Counter({
      name: 'curve_client_mds_calls_total',
      help: 'Calls from the Curve client to the MDS',
      labelNames: ['method', 'result'],
      registers: [registry],
    }),
    fenced: new Gauge({
      name: 'curve_client_fenced',
      help: '1 when a newer opener fenced this client off the volume',
      labelNames: ['volume'],
      registers: [registry],
    }),
  };
  return metrics;
}
