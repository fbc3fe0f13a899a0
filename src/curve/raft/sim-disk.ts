// A simulated disk for one node: what survives a crash. Writes first go to a volatile queue; sync()
// makes them durable; crash() keeps a random prefix of what was not synced (a torn last write).
import { Prng } from './prng';
import { ConfState, emptyHardState, Entry, HardState, InitialState, Snapshot } from './types';

export interface PendingWrite {
  snapshot: Snapshot | null;
  entries: Entry[];
  hardState: HardState | null;
}

export class SimDisk {
  hardState: HardState = emptyHardState();
  snapshot: Snapshot | null = null;
  private log = new Map<number, Entry>();
  private lo = 1;
  private last = 0;
  private pending: PendingWrite[] = [];

  private readonly bootstrap: ConfState;

  constructor(initial: InitialState) {
    this.bootstrap = initial.confState;
    this.hardState = { ...initial.hardState };
    for (const e of initial.entries) this.log.set(e.index, e);
    this.last = initial.entries.length;
  }

  write(w: PendingWrite): void {
    this.pending.push(w);
  }

  hasPending(): boolean {
    return this.pending.length > 0;
  }

  sync(): void {
    for (const w of this.pending) {
      if (w.snapshot) this.installSnapshot(w.snapshot);
      this.writeEntries(w.entries, w.entries.length);
      // The hard state is renamed into place only after the log is fsynced.
      if (w.hardState) this.hardState = w.hardState;
    }
    this.pending = [];
  }

  /** Lose unsynced writes, except a random prefix of the log appends (what the page cache flushed). */
  crash(rng: Prng): void {
    let units = 0;
    for (const w of this.pending) units += (w.snapshot ? 1 : 0) + w.entries.length;
    let keep = rng.chance(0.5) ? rng.int(units + 1) : 0;
    for (const w of this.pending) {
      if (keep <= 0) break;
      if (w.snapshot) {
        this.installSnapshot(w.snapshot);
        keep--;
      }
      if (keep <= 0) break;
      const n = Math.min(keep, w.entries.length);
      this.writeEntries(w.entries, n);
      keep -= n;
    }
    this.pending = [];
  }

  /** Persist a locally taken snapshot (atomic file) and drop log entries up to compactTo. */
  saveSnapshot(s: Snapshot, compactTo: number): void {
    if (this.snapshot && this.snapshot.meta.index >= s.meta.index) return;
    this.snapshot = s;
    for (let i = this.lo; i <= Math.min(compactTo, this.last); i++) this.log.delete(i);
    this.lo = Math.max(this.lo, compactTo + 1);
  }

  initialState(): InitialState {
    const base = this.snapshot ? this.snapshot.meta.index : 0;
    const entries: Entry[] = [];
    for (let i = base + 1; i <= this.last; i++) {
      const e = this.log.get(i);
      if (!e) break;
      entries.push(e);
    }
    return { hardState: { ...this.hardState }, snapshot: this.snapshot, entries, confState: this.bootstrap };
  }

  /** Durable copy of the entry at index (for invariant checks). */
  durableTerm(index: number): number {
    if (this.snapshot && this.snapshot.meta.index === index) return this.snapshot.meta.term;
    return this.log.get(index)?.term ?? -1;
  }

  private installSnapshot(s: Snapshot): void {
    this.snapshot = s;
    this.log.clear();
    this.lo = s.meta.index + 1;
    this.last = s.meta.index;
  }

  private writeEntries(entries: Entry[], count: number): void {
    if (entries.length === 0) return;
    const first = entries[0].index;
    for (let i = first; i <= this.last; i++) this.log.delete(i);
    this.last = first - 1;
    const base = this.snapshot ? this.snapshot.meta.index : 0;
    for (let k = 0; k < count; k++) {
      const e = entries[k];
      if (e.index > base) this.log.set(e.index, e);
      this.last = e.index;
    }
    if (this.last < base) this.last = base;
    if (this.lo > first && first > base) this.lo = first;
  }
}
