// Paired A/B statistics for benchmark runs on a noisy machine: runs of two builds (or settings) alternate,
// A then B, so each pair shares a window; the pairs' ratios say more than two medians do. Pure.
import { median as benchMedian } from './bench';

export interface PairedStats {
  a: Summary;
  b: Summary;
  pairs: number;
  /** Median and mean of b[i] / a[i]. */
  ratioMedian: number;
  ratioMean: number;
  /** Pairs in which B measured higher. */
  bWins: number;
}

export interface Summary {
  runs: number;
  median: number;
  min: number;
  max: number;
}

/** bench.ts's median, but NaN (not 0) when there is nothing: "no value" must not read as a measurement. */
export function median(values: readonly number[]): number {
  return values.length === 0 ? NaN : benchMedian([...values]);
}

export function summarize(values: readonly number[]): Summary {
  return {
    runs: values.length,
    median: median(values),
    min: values.length ? Math.min(...values) : NaN,
    max: values.length ? Math.max(...values) : NaN,
  };
}

/** a[i] and b[i] were measured back to back; a run without a value (NaN) drops its pair. */
export function pairedStats(a: readonly number[], b: readonly number[]): PairedStats {
  const ratios: number[] = [];
  let bWins = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (!Number.isFinite(a[i]) || !Number.isFinite(b[i]) || a[i] === 0) continue;
    ratios.push(b[i] / a[i]);
    if (b[i] > a[i]) bWins++;
  }
  return {
    a: summarize(a.filter(Number.isFinite)),
    b: summarize(b.filter(Number.isFinite)),
    pairs: ratios.length,
    ratioMedian: median(ratios),
    ratioMean: ratios.length ? ratios.reduce((x, y) => x + y, 0) / ratios.length : NaN,
    bWins,
  };
}

/** Named patterns for the project's benchmarks' output. */
export const PICKS: Record<string, RegExp> = {
  /** chunkserver-bench, rpc and iSCSI rows: "... 13435 IOPS ..." */
  iops: /(\d+(?:\.\d+)?) IOPS/g,
  /** raft-bench rows: "<mode> <groups> <in flight> <commits/s> <p50> <p99>" */
  commits: /^\S.*?\s(\d+)\s+\d+(?:\.\d+)?\s+\d+(?:\.\d+)?\s*$/gm,
};

/** The first capture group of the last match of `pattern` in `output` as a number (NaN: no match). */
export function pickValue(output: string, pattern: RegExp): number {
  const re = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : pattern.flags + 'g');
  let last: string | undefined;
  for (const m of output.matchAll(re)) last = m[1] ?? m[0];
  return last === undefined ? NaN : Number(last);
}

export function formatPaired(s: PairedStats, labelA: string, labelB: string): string {
  const n = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
  const line = (label: string, x: Summary): string =>
    `${label}: median ${n(x.median)} (${n(x.min)}-${n(x.max)}) over ${x.runs} runs`;
  return [
    line(`A ${labelA}`, s.a),
    line(`B ${labelB}`, s.b),
    `B/A paired: median ${s.ratioMedian.toFixed(3)}, mean ${s.ratioMean.toFixed(3)}, ` +
      `B higher in ${s.bWins} of ${s.pairs} pairs`,
  ].join('\n');
}
