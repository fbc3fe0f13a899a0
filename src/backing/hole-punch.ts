// Deallocating file ranges without native code. Node has no fallocate(2), so hole punching goes through
// util-linux's `fallocate --punch-hole` (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) when it exists; the
// caller falls back to writing zeros otherwise. One process per UNMAP range costs ~1 ms: fine for
// deallocation, which initiators batch, and never on the read/write path.
import { execFile } from 'child_process';
import { accessSync, constants } from 'fs';

const CANDIDATES = ['/usr/bin/fallocate', '/bin/fallocate', '/usr/sbin/fallocate', '/sbin/fallocate'];

let cached: string | null | undefined;

/** Path of the fallocate tool, or null when there is none. */
export function fallocateTool(): string | null {
  if (cached !== undefined) return cached;
  cached = null;
  for (const p of CANDIDATES) {
    try {
      accessSync(p, constants.X_OK);
      cached = p;
      break;
    } catch {
      // try the next place
    }
  }
  return cached;
}

/** Punch a hole in [offset, offset+length) of the file at `path`; the size is kept. Rejects on failure
 *  (e.g. a filesystem without hole support), so callers can fall back. */
export function punchHole(path: string, offset: number, length: number): Promise<void> {
  const tool = fallocateTool();
  if (!tool) return Promise.reject(new Error('fallocate(1) not available'));
  return new Promise((resolve, reject) => {
    execFile(
      tool,
      ['--punch-hole', '--offset', String(offset), '--length', String(length), '--', path],
      { timeout: 60_000 },
      (err) => (err ? reject(err) : resolve()),
    );
  });
}

/** Split [offset, offset+length) into maximal runs of all-zero and non-zero `granule`-sized pieces of
 *  `data` (which starts at `offset`). A zero granule reads like a deallocated one on an LBPRZ disk. */
export function zeroRuns(
  data: Buffer,
  offset: number,
  granule: number,
): Array<{ offset: number; length: number; mapped: boolean }> {
  const runs: Array<{ offset: number; length: number; mapped: boolean }> = [];
  for (let at = 0; at < data.length; at += granule) {
    const end = Math.min(at + granule, data.length);
    let mapped = false;
    for (let i = at; i < end; i++) {
      if (data[i] !== 0) {
        mapped = true;
        break;
      }
    }
    const last = runs[runs.length - 1];
    if (last && last.mapped === mapped) last.length += end - at;
    else runs.push({ offset: offset + at, length: end - at, mapped });
  }
  return runs;
}
