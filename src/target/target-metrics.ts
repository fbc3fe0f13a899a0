// Prometheus series per target and LUN, read at scrape time from the plain-number counters the
// execute path keeps (lu-stats.ts): nothing on the I/O path touches prom-client. Each metric is a
// small object with get(), which is all a prom-client Registry asks of a metric.
import type { Registry } from 'prom-client';
import type { LogicalUnit } from './logical-unit';
import { LATENCY_BUCKETS, type LatencyHistogram } from './lu-stats';
import type { TargetRegistry } from './registry';
import type { Target } from './target';

type Labels = Record<string, string | number>;
interface Sample {
  value: number;
  labels: Labels;
  metricName?: string;
}
interface ScrapeMetric {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: 'sum';
  get(): { name: string; help: string; type: string; aggregator: 'sum'; values: Sample[] };
}

function metric(
  name: string,
  help: string,
  type: ScrapeMetric['type'],
  samples: () => Sample[],
): ScrapeMetric {
  return {
    name,
    help,
    type,
    aggregator: 'sum',
    get: () => ({ name, help, type, aggregator: 'sum', values: samples() }),
  };
}

function eachLu(reg: TargetRegistry, fn: (t: Target, lu: LogicalUnit, labels: Labels) => Sample[]): Sample[] {
  const out: Sample[] = [];
  for (const t of reg.listTargets())
    for (const lu of t.sortedLuns()) out.push(...fn(t, lu, { target: t.name, lun: lu.lun }));
  return out;
}

function histogramSamples(name: string, h: LatencyHistogram, labels: Labels): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
    cumulative += h.counts[i];
    out.push({
      metricName: `${name}_bucket`,
      labels: { ...labels, le: LATENCY_BUCKETS[i] },
      value: cumulative,
    });
  }
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count });
  out.push({ metricName: `${name}_sum`, labels, value: h.sum });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
  return out;
}

/** The scrape-time metrics of a target registry (create once per registry). */
export function targetMetrics(reg: TargetRegistry): ScrapeMetric[] {
  const latency = 'tgtd_lun_latency_seconds';
  return [
    metric('tgtd_targets', 'Configured targets', 'gauge', () => [
      { labels: {}, value: reg.listTargets().length },
    ]),
    metric('tgtd_target_sessions', 'Open iSCSI sessions per target', 'gauge', () =>
      reg.listTargets().map((t) => ({ labels: { target: t.name }, value: sessionsOf(reg, t).length })),
    ),
    metric('tgtd_target_connections', 'Open iSCSI connections per target', 'gauge', () =>
      reg.listTargets().map((t) => ({
        labels: { target: t.name },
        value: sessionsOf(reg, t).reduce((n, s) => n + s.connections, 0),
      })),
    ),
    metric('tgtd_lun_ops_total', 'SCSI commands completed per LUN, by kind', 'counter', () =>
      eachLu(reg, (_t, lu, l) => [
        { labels: { ...l, op: 'read' }, value: lu.stats.readOps },
        { labels: { ...l, op: 'write' }, value: lu.stats.writeOps },
        { labels: { ...l, op: 'other' }, value: lu.stats.otherOps },
      ]),
    ),
    metric('tgtd_lun_bytes_total', 'Data bytes transferred per LUN', 'counter', () =>
      eachLu(reg, (_t, lu, l) => [
        { labels: { ...l, direction: 'read' }, value: lu.stats.readBytes },
        { labels: { ...l, direction: 'write' }, value: lu.stats.writeBytes },
      ]),
    ),
    metric(
      'tgtd_lun_errors_total',
      'SCSI commands per LUN that ended with a status other than GOOD',
      'counter',
      () => eachLu(reg, (_t, lu, l) => [{ labels: l, value: lu.stats.errors }]),
    ),
    metric('tgtd_lun_queue_depth', 'SCSI commands executing on the LUN now', 'gauge', () =>
      eachLu(reg, (_t, lu, l) => [{ labels: l, value: lu.inflight }]),
    ),
    metric('tgtd_lun_size_bytes', 'Size of the LUN backing store', 'gauge', () =>
      eachLu(reg, (_t, lu, l) => [{ labels: l, value: lu.size() }]),
    ),
    metric(latency, 'SCSI command execution time per LUN (device and backing store)', 'histogram', () =>
      eachLu(reg, (_t, lu, l) => [
        ...histogramSamples(latency, lu.stats.readLatency, { ...l, op: 'read' }),
        ...histogramSamples(latency, lu.stats.writeLatency, { ...l, op: 'write' }),
        ...histogramSamples(latency, lu.stats.otherLatency, { ...l, op: 'other' }),
      ]),
    ),
  ];
}

function sessionsOf(reg: TargetRegistry, t: Target): Array<{ connections: number }> {
  const live = reg.sessionsOf(t.tid);
  if (live) return live.map((s) => ({ connections: s.connections.length }));
  return [...t.nexuses.values()].map((n) => ({ connections: n.connections }));
}

/** Register the per-target/LUN metrics of `reg` in a prom-client registry. */
export function registerTargetMetrics(reg: TargetRegistry, prom: Registry): void {
  for (const m of targetMetrics(reg))
    prom.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0]);
}
