// Prometheus metrics of the Curve client, registered once per process on the shared registry.
import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from '../../common/metrics';

export interface ClientMetrics {
  ios: Counter<'op' | 'result'>;
  bytes: Counter<'op'>;
  latency: Histogram<'op'>;
  retries: Counter<'reason'>;
  held: Gauge<'volume'>;
  inflight: Gauge<'volume'>;
  mdsCalls: Counter<'method' | 'result'>;
  fenced: Gauge<'volume'>;
}

let metrics: ClientMetrics | undefined;

export function clientMetrics(): ClientMetrics {
  metrics ??= {
    ios: new Counter({
      name: 'curve_client_io_total',
      help: 'User I/Os completed by the Curve client',
      labelNames: ['op', 'result'],
      registers: [registry],
    }),
    bytes: new Counter({
      name: 'curve_client_io_bytes_total',
      help: 'Bytes read and written by the Curve client',
      labelNames: ['op'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'curve_client_io_seconds',
      help: 'User I/O latency',
      labelNames: ['op'],
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [registry],
    }),
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
    inflight: new Gauge({
      name: 'curve_client_inflight_requests',
      help: 'Chunk requests in flight',
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
