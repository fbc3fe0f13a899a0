// Metrics recorded per I/O as plain numbers and handed to prom-client only when scraped. prom-client's
// labelled inc()/observe() hash the label set on every call (a chunkserver made five such calls per
// write: ~3% of its event loop); here a hot path keeps a bound series object and bumps fields.
import type { Registry } from 'prom-client';
import { registry as sharedRegistry } from './metrics';

type Labels = Record<string, string | number>;

/** One label set of a TallyHistogram: observe() is a bucket search and three additions. */
export class HistogramSeries {
  /** counts[i]: observations <= bounds[i] and > bounds[i-1]; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

interface MetricValue {
  labels: Labels;
  value: number;
  metricName: string;
}

/**
 * A Prometheus histogram (same exposition as prom-client's) whose series are plain objects. Registered in
 * the registry as a metric object of its own (prom-client reads `get()` when scraped).
 */
export class TallyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bySeries = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registers: Registry[] = [sharedRegistry],
  ) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i] > bounds[i - 1])) throw new Error(`${name}: buckets must increase`);
    }
    for (const r of registers) r.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The series of `labels` (created on first use); keep it to observe without a lookup. */
  series(labels: Labels): HistogramSeries {
    const sorted = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1));
    const key = JSON.stringify(sorted);
    let s = this.bySeries.get(key);
    if (!s) this.bySeries.set(key, (s = new HistogramSeries(Object.fromEntries(sorted), this.bounds)));
    return s;
  }

  get(): Promise<{ name: string; help: string; type: string; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    for (const s of this.bySeries.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += s.counts[i];
        const le = i < this.bounds.length ? this.bounds[i] : '+Inf';
        values.push({ labels: { le, ...s.labels }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values,
    });
  }

  reset(): void {
    for (const s of this.bySeries.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
