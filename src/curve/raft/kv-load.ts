// Load generated inside a replica: `inflight` proposals kept running for `ms`, each a 4 KiB put, with
// their commit latencies. The Raft benchmark uses it on the leader to measure the library's commit rate
// without a client process and its socket in the path (commits/s with N proposals in flight).
import { encodeKvPut } from './kv-state-machine';

export interface LoadResult {
  commits: number;
  p50ms: number;
  p99ms: number;
}

/** Keys overwritten round-robin (like blocks of a volume), so the replicas' memory stays flat. */
const LOAD_KEYS = 1024;
const LOAD_VALUE = Buffer.alloc(4096, 0x61);
/** Bounds on what a load request may ask for. */
export const MAX_LOAD_INFLIGHT = 4096;
export const MAX_LOAD_MS = 600_000;

export function validLoad(inflight: unknown, ms: unknown): inflight is number {
  return (
    Number.isInteger(inflight) &&
    (inflight as number) >= 1 &&
    (inflight as number) <= MAX_LOAD_INFLIGHT &&
    typeof ms === 'number' &&
    ms > 0 &&
    ms <= MAX_LOAD_MS
  );
}

/**
 * Keep `inflight` operations running until `ms` elapse; the latencies (ms) of those that returned true.
 * An operation that throws stops every worker and rejects with its error.
 */
export async function keepInFlight(
  inflight: number,
  ms: number,
  op: (worker: number) => Promise<boolean>,
): Promise<number[]> {
  const lat: number[] = [];
  const end = performance.now() + ms;
  let failed = false;
  await Promise.all(
    Array.from({ length: inflight }, async (_, w) => {
      while (!failed && performance.now() < end) {
        const t0 = performance.now();
        try {
          if (await op(w)) lat.push(performance.now() - t0);
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    }),
  );
  return lat;
}

/** The p-th percentile of ascending `sorted` (NaN when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Rejects with the first failed proposal's error (e.g. leadership lost); the other workers stop. */
export async function proposeLoad(
  propose: (data: Uint8Array) => Promise<number>,
  client: number,
  inflight: number,
  ms: number,
): Promise<LoadResult> {
  let seq = 0;
  const lat = await keepInFlight(inflight, ms, async () => {
    const n = seq++;
    await propose(encodeKvPut(client, n, `load-${n % LOAD_KEYS}`, LOAD_VALUE));
    return true;
  });
  lat.sort((a, b) => a - b);
  return { commits: lat.length, p50ms: percentile(lat, 50), p99ms: percentile(lat, 99) };
}
