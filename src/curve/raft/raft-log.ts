// The in-memory Raft log: a compacted prefix (offset/offsetTerm) followed by entries, plus the commit,
// applied, handed-out-for-persistence and durable (stable) positions. Pure data structure, no I/O.
import { Entry } from './types';

export class RaftLog {
  /** Index of the last compacted entry (0 for none); entries[0].index === offset + 1. */
  offset = 0;
  offsetTerm = 0;
  entries: Entry[] = [];
  committed = 0;
  /** Highest index handed to the application to apply. */
  applied = 0;
  /** Highest index handed to the application to persist. */
  handedOut = 0;
  /** Highest index known durable. */
  stable = 0;

  /** Restore from storage: entries are durable. */
  static restore(offset: number, offsetTerm: number, entries: Entry[], commit: number): RaftLog {
    const log = new RaftLog();
    log.offset = offset;
    log.offsetTerm = offsetTerm;
    log.entries = entries;
    log.handedOut = log.stable = log.lastIndex();
    log.committed = Math.min(Math.max(commit, offset), log.lastIndex());
    log.applied = offset;
    return log;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.entries.length;
  }

  lastTerm(): number {
    return this.entries.length ? this.entries[this.entries.length - 1].term : this.offsetTerm;
  }

  /** Term of the entry at index, or -1 when compacted away or beyond the end. */
  term(index: number): number {
    if (index === this.offset) return this.offsetTerm;
    if (index < this.offset || index > this.lastIndex()) return -1;
    return this.entries[index - this.offset - 1].term;
  }

  entry(index: number): Entry {
    return this.entries[index - this.offset - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const t = this.lastTerm();
    return lastTerm > t || (lastTerm === t && lastIndex >= this.lastIndex());
  }

  /** Entries [lo, hi] capped by count and bytes (at least one entry when any is in range). */
  slice(lo: number, hi: number, maxCount: number, maxBytes: number): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= hi && out.length < maxCount; i++) {
      const e = this.entry(i);
      bytes += e.data.length + 24;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  append(e: Entry): void {
    this.entries.push(e);
  }

  /** Drop entries from index on (a conflict with the leader); never committed ones. */
  truncateFrom(index: number): void {
    if (index <= this.committed)
      throw new Error(`raft: truncating committed entry ${index} <= ${this.committed}`);
    this.entries.length = Math.max(0, index - this.offset - 1);
    this.handedOut = Math.min(this.handedOut, index - 1);
    this.stable = Math.min(this.stable, index - 1);
  }

  /**
   * Append a leader's entries that follow prevIndex, skipping those already present and truncating at the
   * first term conflict. Returns the index of the last new entry.
   */
  maybeAppend(prevIndex: number, entries: Entry[]): number {
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k];
      if (e.index <= this.offset) continue;
      if (e.index <= this.lastIndex()) {
        if (this.term(e.index) === e.term) continue;
        this.truncateFrom(e.index);
      }
      for (let j = k; j < entries.length; j++) this.append(entries[j]);
      break;
    }
    return prevIndex + entries.length;
  }

  commitTo(index: number): boolean {
    if (index > this.committed) {
      if (index > this.lastIndex())
        throw new Error(`raft: commit ${index} beyond last index ${this.lastIndex()}`);
      this.committed = index;
      return true;
    }
    return false;
  }

  /**
   * Fast backtracking: the largest index <= index whose term <= term (used by followers to hint the leader
   * and by the leader to pick the next probe).
   */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    while (i > this.offset && this.term(i) > term) i--;
    return i;
  }

  /** Replace everything with a snapshot's position. */
  restoreSnapshot(index: number, term: number): void {
    this.offset = index;
    this.offsetTerm = term;
    this.entries = [];
    this.committed = index;
    this.applied = index;
    this.handedOut = index;
    this.stable = Math.min(this.stable, index);
  }

  /** Discard entries up to and including index (already in a snapshot). */
  compact(index: number): void {
    if (index <= this.offset) return;
    if (index > this.applied) throw new Error(`raft: compacting unapplied entry ${index}`);
    const t = this.term(index);
    this.entries = this.entries.slice(index - this.offset);
    this.offset = index;
    this.offsetTerm = t;
  }

  unpersisted(): Entry[] {
    return this.handedOut < this.lastIndex() ? this.entries.slice(this.handedOut - this.offset) : [];
  }

  unapplied(): Entry[] {
    return this.applied < this.committed
      ? this.entries.slice(this.applied - this.offset, this.committed - this.offset)
      : [];
  }
}
