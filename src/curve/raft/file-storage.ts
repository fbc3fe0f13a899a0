// Durable storage for one Raft group: a segmented log (records carry a CRC32C so a torn tail is found and
// cut off on restart), a hard-state file replaced atomically (write temp, fsync, rename, fsync directory),
// and a snapshot file written the same way, after which whole log segments below it are deleted.
// Appends are buffered writes; sync() makes everything durable with one fsync, so many appends share it.
// With a host journal the journal record is what makes an append durable, so an entry reaches the
// segment files only when the journal is about to forget it: when a checkpoint releases the journal file
// holding its record (syncFilesAsync(beforeSeq)), or at a sync() or close(). Entries a snapshot covers by then are never written at all (with frequent snapshots, most of
// them): they live in the journal and in memory (the Raft log holds them anyway) until compacted. A
// snapshot then needs nothing from the group's files: entries above it are in the journal, and replay
// skips those below. The files may thus start after a gap below the snapshot; recovery drops segments
// that lie wholly below it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32c } from '../../iscsi/crc32c';
import { fsyncDirAsync, HostJournal, JournaledFiles, JournalRecord } from './host-journal';
import { ConfState, Entry, EntryType, HardState, InitialState, Snapshot } from './types';

const RECORD_HEADER = 8; // u32 payload length, u32 crc32c(payload)
const ENTRY_HEADER = 17; // u64 term, u64 index, u8 type
const SEGMENT_PREFIX = 'segment-';

export interface FileStorageOptions {
  /** Start a new segment once the current one is larger than this. */
  segmentBytes?: number;
  /**
   * Share one journal (and so one fsync per flush) with the other groups of the host: appends are made
   * durable by the journal, this group's own files only at journal checkpoints. Requires `group`.
   */
  journal?: HostJournal;
  /** This group's id in the journal. */
  group?: number;
}

interface Segment {
  file: string;
  firstIndex: number;
  /** Byte offset of each entry's record. */
  offsets: number[];
  size: number;
}

interface HardStateFile extends HardState {
  forcedConf?: { confState: ConfState; index: number };
}

export interface RecoveryReport {
  /** Bytes cut from the end of the log because the last record was torn or corrupt. */
  truncatedBytes: number;
}

export class FileStorage implements JournaledFiles {
  private segments: Segment[] = [];
  private fd = -1;
  private hard: HardStateFile = { term: 0, vote: 0, commit: 0 };
  private hardDirty = false;
  /** Journal mode: the hard state is durable in the journal but not yet in the hardstate file. */
  private hardFileStale = false;
  private logDirty = false;
  private snap: Snapshot | null = null;
  private syncsInFlight = 0;
  /** The last syncAsync() without a journal (they run in order). */
  private syncChain: Promise<void> = Promise.resolve();
  private closed = false;
  private retiredFds: number[] = [];
  /** Full segments written but not yet fsynced. */
  private rolledFds: number[] = [];
  /** A segment was created since the directory was last fsynced. */
  private dirDirty = false;
  private readonly entries: Entry[] = [];
  /** Journal mode: entries in the log, after those in the segment files, not yet written (see header). */
  private unwritten: Entry[] = [];
  /**
   * Journal mode: which journal file holds the records of `unwritten`: runs of entries from `index` on,
   * in file `seq`, up to notedTo (entries after it are being appended: their record is not written yet).
   */
  private journalRuns: { index: number; seq: number }[] = [];
  private notedTo = 0;
  /** Journal mode, hardFileStale: the journal file holding the newest hard state. */
  private hardSeq = Infinity;
  /** Closed: the oldest journal file still needed (its files could not be made durable on close). */
  private pinnedSeq = Infinity;
  readonly recovery: RecoveryReport = { truncatedBytes: 0 };
  private readonly segmentBytes: number;
  private readonly journal: HostJournal | null;
  private readonly group: number;

  private constructor(
    readonly dir: string,
    opts: FileStorageOptions,
  ) {
    this.segmentBytes = opts.segmentBytes ?? 64 << 20;
    this.journal = opts.journal ?? null;
    if (this.journal && opts.group === undefined) throw new Error('raft storage: a journal needs a group id');
    this.group = opts.group ?? 0;
  }

  /** Open (creating if needed) and recover: verify every record, cut a torn tail. */
  static open(dir: string, opts: FileStorageOptions = {}): FileStorage {
    fs.mkdirSync(dir, { recursive: true });
    const s = new FileStorage(dir, opts);
    s.recover();
    if (s.journal) s.replayJournal(s.journal.takeRecovered(s.group));
    return s;
  }

  /** What the Raft core restarts from; `bootstrap` is used when the storage is brand new. */
  initialState(bootstrap: InitialState): InitialState {
    if (this.hard.term === 0 && this.snap === null && this.entries.length === 0) {
      this.append(bootstrap.entries);
      this.setHardState(bootstrap.hardState);
      this.sync();
      return bootstrap;
    }
    const base = this.snap ? this.snap.meta.index : 0;
    return {
      hardState: { term: this.hard.term, vote: this.hard.vote, commit: Math.max(this.hard.commit, base) },
      snapshot: this.snap,
      entries: this.entries.filter((e) => e.index > base),
      confState: bootstrap.confState,
    };
  }

  forcedConf(): { confState: ConfState; index: number } | undefined {
    return this.hard.forcedConf;
  }

  lastIndex(): number {
    const n = this.unwritten.length;
    if (n) return this.unwritten[n - 1].index;
    return Math.max(this.lastWrittenIndex(), this.snap ? this.snap.meta.index : 0);
  }

  /** Index of the last entry in the segment files (0: none). */
  private lastWrittenIndex(): number {
    const seg = this.segments[this.segments.length - 1];
    return seg ? seg.firstIndex + seg.offsets.length - 1 : 0;
  }

  /** Buffered append; entries[0].index may be <= lastIndex (a conflict): the log is truncated there first. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const records = this.writeEntries(entries);
    if (this.journal) {
      const first = entries[0].index;
      const last = entries[entries.length - 1].index;
      this.journal.append(this.group, this, records, (seq) => this.noteRun(first, last, seq));
    }
  }

  /** Journal mode: entries first..last (now in `unwritten`) have their record in journal file `seq`. */
  private noteRun(first: number, last: number, seq: number): void {
    const runs = this.journalRuns;
    if (!runs.length || runs[runs.length - 1].seq !== seq) runs.push({ index: first, seq });
    this.notedTo = last;
  }

  /** The oldest journal file holding a record this group still needs (Infinity: none). */
  oldestJournalSeq(): number {
    if (this.closed) return this.pinnedSeq;
    const hard = this.hardFileStale ? this.hardSeq : Infinity;
    const runs = this.journalRuns;
    if (!this.unwritten.length) {
      runs.length = 0;
      return hard;
    }
    // Runs wholly before the first unwritten entry were written out or compacted away.
    const first = this.unwritten[0].index;
    let n = 0;
    while (n + 1 < runs.length && runs[n + 1].index <= first) n++;
    if (n) runs.splice(0, n);
    return runs.length ? Math.min(runs[0].seq, hard) : hard;
  }

  /** The last unwritten entry whose record lies in a journal file before `seq`. */
  private lastIndexBefore(seq: number): number {
    for (const r of this.journalRuns) if (r.seq >= seq) return r.index - 1;
    return this.notedTo;
  }

  /**
   * Add entries to the log (truncating at a conflict): written to the segment files at once without a
   * journal, kept unwritten with one. Returns their records (the journal's record body).
   */
  private writeEntries(entries: Entry[]): Buffer {
    const first = entries[0].index;
    if (first <= this.lastIndex()) this.truncateFrom(first);
    else if ((this.segments.length || this.unwritten.length) && first !== this.lastIndex() + 1) {
      throw new Error(`raft storage: gap before ${first} (last ${this.lastIndex()})`);
    }
    let bytes = 0;
    for (const e of entries) bytes += recordBytes(e);
    if (!this.journal) return this.writeToSegments(entries, 0, entries.length, bytes);
    // The records are written synchronously (by the journal, right after this), so one buffer serves
    // every append: no allocation per append, which would otherwise drive V8's external-memory GCs.
    const all = journalScratch.get(bytes);
    let o = 0;
    for (const e of entries) {
      o += writeRecord(all, o, e);
      this.unwritten.push(e);
    }
    return all;
  }

  /** Write entries[from, to) (`bytes` of records) at the end of the segment files, in one write. */
  private writeToSegments(entries: readonly Entry[], from: number, to: number, bytes: number): Buffer {
    let seg = this.segments[this.segments.length - 1];
    if (!seg || seg.size >= this.segmentBytes) seg = this.newSegment(entries[from].index);
    const all = segmentScratch.get(bytes);
    let size = seg.size;
    let o = 0;
    for (let i = from; i < to; i++) {
      seg.offsets.push(size);
      const n = writeRecord(all, o, entries[i]);
      o += n;
      size += n;
    }
    fs.writeSync(this.fd, all, 0, all.length, seg.size);
    seg.size = size;
    this.logDirty = true;
    if (seg.size >= this.segmentBytes) this.rollSegment();
    return all;
  }

  /**
   * Journal mode: write the unwritten entries that no snapshot covers to the segment files (unsynced),
   * before the journal forgets them (a checkpoint) or a sync() needs the files complete.
   */
  private writeUnwritten(maxBytes = Infinity, upTo = Infinity): void {
    const list = this.unwritten;
    if (list.length === 0) return;
    const base = this.snap ? this.snap.meta.index : 0;
    let i = 0;
    while (i < list.length && list[i].index <= base) i++;
    if (i < list.length && list[i].index <= upTo && list[i].index !== this.lastWrittenIndex() + 1) {
      // The entries in between were compacted before they were ever written, so everything the files
      // hold is below the snapshot: start again from this entry.
      this.dropSegments();
    }
    let written = 0;
    while (i < list.length && list[i].index <= upTo && written < maxBytes) {
      let bytes = 0;
      let end = i;
      while (end < list.length && list[end].index <= upTo && bytes < WRITE_CHUNK_BYTES)
        bytes += recordBytes(list[end++]);
      this.writeToSegments(list, i, end, bytes);
      written += bytes;
      i = end;
    }
    this.unwritten = i === list.length ? [] : list.slice(i);
  }

  /**
   * writeUnwritten for a checkpoint, a slice at a time: a checkpoint may find tens of MiB unwritten, and
   * writing them in one go blocked the event loop for tens of ms. Slices of all groups share one queue,
   * ~1 MiB per event-loop turn. Entries appended meanwhile are left for the next time (they are in the
   * journal's new file); a truncation or a snapshot meanwhile simply changes what is left to write.
   */
  private async writeUnwrittenInSlices(upTo: number): Promise<void> {
    const pending = (): boolean =>
      !this.closed && this.unwritten.length > 0 && this.unwritten[0].index <= upTo;
    while (pending()) await inSlice(() => pending() && this.writeUnwritten(WRITE_CHUNK_BYTES, upTo));
  }

  /** Re-apply journal records this group's files may have lost (they were not fsynced). */
  private replayJournal(records: JournalRecord[]): void {
    if (records.length === 0) return;
    const base = this.snap ? this.snap.meta.index : 0;
    for (const { kind, body: run, seq } of records) {
      if (kind === 'hardState') {
        const hs = JSON.parse(run.toString('utf8')) as HardStateFile;
        // Never step back: a checkpoint may already have written a newer state to the file.
        if (hs.term > this.hard.term || (hs.term === this.hard.term && this.hard.vote === 0)) {
          this.hard = { ...this.hard, term: hs.term, vote: hs.vote };
          this.hardFileStale = true;
          this.hardSeq = seq;
        }
        this.hard.commit = Math.max(hs.commit, this.hard.commit);
        continue;
      }
      const entries: Entry[] = [];
      for (let o = 0; o < run.length;) {
        const r = decodeRecord(run, o);
        if (!r) throw new Error('raft storage: corrupt journal record');
        if (r.entry.index > base) entries.push(r.entry);
        o += r.length;
      }
      if (entries.length === 0) continue;
      const first = entries[0].index;
      while (this.entries.length && this.entries[this.entries.length - 1].index >= first) this.entries.pop();
      this.writeEntries(entries);
      this.noteRun(first, entries[entries.length - 1].index, seq);
      this.entries.push(...entries);
    }
    this.journal!.noteWritten(this);
  }

  /** Term and vote changes must be durable before the next sync returns; commit may lag (it is a hint). */
  setHardState(hs: HardState): void {
    const changed = hs.term !== this.hard.term || hs.vote !== this.hard.vote;
    this.hard = { ...this.hard, term: hs.term, vote: hs.vote, commit: Math.max(hs.commit, this.hard.commit) };
    if (!changed) return;
    if (this.journal) {
      // Durable through the journal; the hardstate file catches up at the next checkpoint.
      this.hardSeq = this.journal.hardState(this.group, this, Buffer.from(JSON.stringify(this.hard)));
      this.hardFileStale = true;
    } else this.hardDirty = true;
  }

  /** An unsafe peer reset: remember the forced configuration durably. */
  setForcedConf(confState: ConfState, index: number): void {
    this.hard = { ...this.hard, forcedConf: { confState, index } };
    this.hardDirty = true;
  }

  /** fsync the log, then replace the hard-state file if term or vote changed. */
  sync(): void {
    this.writeUnwritten();
    for (const fd of this.rolledFds.splice(0)) {
      fs.fsyncSync(fd);
      this.closeFd(fd);
    }
    if (this.logDirty && this.fd >= 0) fs.fsyncSync(this.fd);
    this.logDirty = false;
    if (this.dirDirty) {
      this.dirDirty = false;
      this.fsyncDir();
    }
    if (this.hardDirty || this.hardFileStale) {
      this.hardDirty = this.hardFileStale = false;
      this.writeAtomic('hardstate', Buffer.from(JSON.stringify(this.hard)));
    }
  }

  /**
   * Same as sync() but the fsyncs run on the thread pool so the event loop keeps going. Appends may
   * continue meanwhile (they are covered by the next sync); an fd closed meanwhile is kept open until the
   * fsync returns, so the number is never reused under it.
   */
  syncAsync(): Promise<void> {
    if (this.journal) return this.journal.syncAsync().then(() => this.writeHardStateIfDirty());
    // Without a journal, overlapping calls run one after another: a later call must not rewrite the
    // hard state (its commit index) before the entries of an earlier one are durable.
    const run = this.syncChain.then(async () => {
      await this.syncFilesAsync();
      this.writeHardStateIfDirty();
    });
    this.syncChain = run.catch(() => {});
    return run;
  }

  private writeHardStateIfDirty(): void {
    if (this.hardDirty) {
      this.hardDirty = false;
      this.writeAtomic('hardstate', Buffer.from(JSON.stringify(this.hard)));
    }
  }

  /**
   * fsync this group's own log files (and directory) on the thread pool; rewrite a stale hardstate file.
   * Journal mode: first write out the entries whose records lie in journal files before `beforeSeq`.
   */
  async syncFilesAsync(beforeSeq = Infinity): Promise<void> {
    if (this.hardFileStale) {
      this.hardFileStale = false;
      await this.writeAtomicAsync('hardstate', Buffer.from(JSON.stringify(this.hard)));
    }
    await this.writeUnwrittenInSlices(this.lastIndexBefore(beforeSeq));
    const rolled = this.rolledFds.splice(0);
    const fds = this.logDirty && this.fd >= 0 ? [...rolled, this.fd] : [...rolled];
    this.logDirty = false;
    let dirFd = -1;
    if (this.dirDirty) {
      this.dirDirty = false;
      dirFd = fs.openSync(this.dir, 'r');
      fds.push(dirFd);
    }
    if (fds.length) {
      this.syncsInFlight++;
      try {
        await Promise.all(
          fds.map((fd) => new Promise<void>((ok, fail) => fs.fsync(fd, (e) => (e ? fail(e) : ok())))),
        );
      } finally {
        this.syncsInFlight--;
        for (const fd of rolled) this.closeFd(fd);
        if (dirFd >= 0) this.closeFd(dirFd);
        if (this.syncsInFlight === 0) {
          for (const old of this.retiredFds) fs.closeSync(old);
          this.retiredFds = [];
        }
      }
    }
  }

  /**
   * Persist a snapshot (installed from the leader, or taken locally) atomically, then delete log segments
   * entirely at or below compactTo. A leader-sent snapshot that doesn't match the log replaces it.
   */
  saveSnapshot(s: Snapshot, compactTo = s.meta.index, replaceLog = false): void {
    if (this.journal) {
      // Make this group's files durable, then tell the journal to forget its older records: replaying
      // them after the log below is replaced or compacted would bring back entries that no longer exist.
      this.sync();
      this.journal.barrier(this.group);
    }
    this.writeAtomic('snapshot', encodeSnapshotFile(s));
    this.snapshotSaved(s, compactTo, replaceLog);
  }

  /**
   * A snapshot the application took itself, saved with the slow parts (writing and fsyncing the file;
   * without a journal, fsyncing this group's log too) on the thread pool; only the rename and a directory
   * fsync block the event loop. With a journal the group's files need nothing: the entries above the
   * snapshot are durable in the journal (and reach the files before it forgets them), and replay skips
   * those below, so no barrier is written either. If a newer snapshot was saved meanwhile (installed
   * from the leader), or the storage was closed, this one is dropped. Resolves once it is durable and the
   * log is compacted to `compactTo`.
   */
  async saveSnapshotAsync(s: Snapshot, compactTo = s.meta.index): Promise<void> {
    const tmp = path.join(this.dir, 'snapshot.tmp-async');
    await Promise.all([
      writeFileDurably(tmp, encodeSnapshotFile(s)),
      this.journal ? undefined : this.syncFilesAsync(),
    ]);
    if (this.closed || (this.snap && this.snap.meta.index >= s.meta.index)) {
      await fs.promises.rm(tmp, { force: true });
      return;
    }
    fs.renameSync(tmp, path.join(this.dir, 'snapshot'));
    this.fsyncDir();
    this.snapshotSaved(s, compactTo, false);
  }

  private snapshotSaved(s: Snapshot, compactTo: number, replaceLog: boolean): void {
    this.snap = s;
    if (replaceLog) this.dropAllSegments();
    else {
      this.compact(compactTo);
      // Entries the snapshot covers need never be written (writeUnwritten would skip them).
      let n = 0;
      while (n < this.unwritten.length && this.unwritten[n].index <= s.meta.index) n++;
      if (n > 0) this.unwritten = this.unwritten.slice(n);
    }
    if (this.hard.commit < s.meta.index) this.hard = { ...this.hard, commit: s.meta.index };
  }

  snapshot(): Snapshot | null {
    return this.snap;
  }

  close(): void {
    const needed = this.journal ? this.oldestJournalSeq() : Infinity;
    this.closed = true;
    this.writeUnwritten();
    if (this.journal) this.releaseJournal(needed);
    for (const fd of this.rolledFds.splice(0)) this.closeFd(fd);
    this.closeCurrent();
  }

  /**
   * On close: make durable what the journal holds for this group (just written out above) and tell the
   * journal it may delete those files. When that fails (a removed group's directory, say), the group
   * keeps the files it needed (until the process restarts and replays them).
   */
  private releaseJournal(needed: number): void {
    this.pinnedSeq = needed;
    try {
      for (const fd of this.rolledFds) fs.fsyncSync(fd);
      if (this.logDirty && this.fd >= 0) fs.fsyncSync(this.fd);
      this.logDirty = false;
      if (this.dirDirty) this.fsyncDir();
      this.dirDirty = false;
      if (this.hardFileStale) this.writeAtomic('hardstate', Buffer.from(JSON.stringify(this.hard)));
      this.hardFileStale = false;
    } catch {
      return;
    }
    this.pinnedSeq = Infinity;
    this.journal!.forget(this);
  }

  // ---- internals ----

  private closeCurrent(): void {
    if (this.fd >= 0) this.closeFd(this.fd);
    this.fd = -1;
  }

  /** Close now, or once the fsyncs in flight return (they may be using this fd). */
  private closeFd(fd: number): void {
    if (this.syncsInFlight > 0) this.retiredFds.push(fd);
    else fs.closeSync(fd);
  }

  private compact(upTo: number): void {
    const doomed: string[] = [];
    while (this.segments.length > 1) {
      const seg = this.segments[0];
      const next = this.segments[1];
      if (next.firstIndex - 1 > upTo) break;
      doomed.push(path.join(this.dir, seg.file));
      this.segments.shift();
    }
    // The last segment is kept open even when all of it is compacted; the next append continues it.
    // Deleted on the thread pool: unlinking a 64 MiB segment frees its blocks inside the syscall. A
    // segment that survives a crash is harmless (recovery keeps only entries above the snapshot).
    if (doomed.length) void removeFiles(this.dir, doomed);
  }

  /** Forget every segment (all below the snapshot): closed now, deleted on the thread pool. */
  private dropSegments(): void {
    this.closeCurrent();
    for (const fd of this.rolledFds.splice(0)) this.closeFd(fd);
    const doomed = this.segments.map((seg) => path.join(this.dir, seg.file));
    this.segments = [];
    if (doomed.length) void removeFiles(this.dir, doomed);
  }

  private dropAllSegments(): void {
    this.unwritten = [];
    this.journalRuns = [];
    this.closeCurrent();
    for (const seg of this.segments) fs.rmSync(path.join(this.dir, seg.file), { force: true });
    this.segments = [];
    this.fsyncDir();
  }

  private newSegment(firstIndex: number): Segment {
    this.closeCurrent();
    const file = `${SEGMENT_PREFIX}${String(firstIndex).padStart(20, '0')}.log`;
    this.fd = fs.openSync(path.join(this.dir, file), 'w+');
    const seg: Segment = { file, firstIndex, offsets: [], size: 0 };
    this.segments.push(seg);
    // The new name is made durable by the next sync, before anything in the segment is acknowledged.
    this.dirDirty = true;
    return seg;
  }

  /** The full segment is fsynced by the next sync, together with the new one; no blocking fsync here. */
  private rollSegment(): void {
    this.rolledFds.push(this.fd);
    this.fd = -1;
  }

  private truncateFrom(index: number): void {
    const runs = this.journalRuns;
    while (runs.length && runs[runs.length - 1].index >= index) runs.pop();
    if (this.notedTo >= index) this.notedTo = index - 1;
    const u = this.unwritten;
    if (u.length && index > u[0].index) {
      u.length = index - u[0].index; // only unwritten entries go
      return;
    }
    this.unwritten = [];
    if (index > this.lastWrittenIndex()) return;
    while (this.segments.length) {
      const seg = this.segments[this.segments.length - 1];
      if (seg.firstIndex >= index) {
        if (this.fd >= 0) this.closeCurrent();
        fs.rmSync(path.join(this.dir, seg.file), { force: true });
        this.segments.pop();
        continue;
      }
      const keep = index - seg.firstIndex;
      if (keep < seg.offsets.length) {
        seg.size = seg.offsets[keep];
        seg.offsets.length = keep;
      }
      if (this.fd >= 0) this.closeCurrent();
      this.fd = fs.openSync(path.join(this.dir, seg.file), 'r+');
      fs.ftruncateSync(this.fd, seg.size);
      break;
    }
    this.fsyncDir();
  }

  private recover(): void {
    this.readHardState();
    this.readSnapshot();
    const files = fs
      .readdirSync(this.dir)
      .filter((f) => f.startsWith(SEGMENT_PREFIX) && f.endsWith('.log'))
      .sort();
    // A segment whose successor starts at or below the snapshot's next index holds only compacted
    // entries: its removal had not reached the disk, or (journal mode) the next one was written after
    // a gap of entries that were compacted before they were written.
    const base = this.snap ? this.snap.meta.index : 0;
    while (files.length > 1 && Number(files[1].slice(SEGMENT_PREFIX.length, -4)) - 1 <= base) {
      fs.rmSync(path.join(this.dir, files.shift()!), { force: true });
    }
    let expected = -1;
    for (let i = 0; i < files.length; i++) {
      const file = files[i];
      const firstIndex = Number(file.slice(SEGMENT_PREFIX.length, -4));
      const buf = fs.readFileSync(path.join(this.dir, file));
      const seg: Segment = { file, firstIndex, offsets: [], size: 0 };
      let off = 0;
      let torn = false;
      while (off < buf.length) {
        const e = decodeRecord(buf, off);
        if (!e || e.entry.index !== firstIndex + seg.offsets.length) {
          torn = true;
          break;
        }
        seg.offsets.push(off);
        this.entries.push(e.entry);
        off += e.length;
      }
      seg.size = off;
      if (expected >= 0 && firstIndex !== expected)
        throw new Error(`raft storage: segment ${file} out of sequence`);
      expected = firstIndex + seg.offsets.length;
      this.segments.push(seg);
      if (torn) {
        this.recovery.truncatedBytes += buf.length - off;
        fs.truncateSync(path.join(this.dir, file), off);
        for (const later of files.slice(i + 1)) {
          this.recovery.truncatedBytes += fs.statSync(path.join(this.dir, later)).size;
          fs.rmSync(path.join(this.dir, later));
        }
        break;
      }
    }
    const last = this.segments[this.segments.length - 1];
    if (last) this.fd = fs.openSync(path.join(this.dir, last.file), 'r+');
  }

  private readHardState(): void {
    const p = path.join(this.dir, 'hardstate');
    if (!fs.existsSync(p)) return;
    const buf = fs.readFileSync(p);
    const crc = buf.readUInt32BE(0);
    if (crc32c(buf.subarray(4)) !== crc) throw new Error('raft storage: hard state checksum mismatch');
    this.hard = JSON.parse(buf.subarray(4).toString('utf8')) as HardStateFile;
  }

  private readSnapshot(): void {
    const p = path.join(this.dir, 'snapshot');
    if (!fs.existsSync(p)) return;
    const buf = fs.readFileSync(p);
    if (buf.length < 8 || crc32c(buf.subarray(8)) !== buf.readUInt32BE(4)) {
      throw new Error('raft storage: snapshot checksum mismatch');
    }
    const len = buf.readUInt32BE(0);
    const meta = JSON.parse(buf.subarray(8, 8 + len).toString('utf8')) as Snapshot['meta'];
    this.snap = { meta, data: new Uint8Array(buf.subarray(8 + len)) };
  }

  /** writeAtomic on the thread pool (checkpoints rewrite many groups' files at once). */
  private async writeAtomicAsync(name: string, body: Buffer): Promise<void> {
    const tmp = path.join(this.dir, `${name}.tmp-async`);
    await writeFileDurably(tmp, name === 'hardstate' ? withCrc(body) : body);
    await fs.promises.rename(tmp, path.join(this.dir, name));
    await fsyncDirAsync(this.dir);
  }

  private writeAtomic(name: string, body: Buffer): void {
    const tmp = path.join(this.dir, `${name}.tmp`);
    const data = name === 'hardstate' ? withCrc(body) : body;
    const fd = fs.openSync(tmp, 'w');
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, path.join(this.dir, name));
    this.fsyncDir();
  }

  private fsyncDir(): void {
    const fd = fs.openSync(this.dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** Write a file and fsync it, on the thread pool. */
export async function writeFileDurably(file: string, body: Buffer): Promise<void> {
  const fh = await fs.promises.open(file, 'w');
  try {
    await fh.writeFile(body);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** [u32 meta length][u32 crc32c of the rest][meta JSON][data] */
function encodeSnapshotFile(s: Snapshot): Buffer {
  const meta = Buffer.from(JSON.stringify(s.meta));
  const body = Buffer.allocUnsafe(8 + meta.length + s.data.byteLength);
  body.writeUInt32BE(meta.length, 0);
  meta.copy(body, 8);
  body.set(s.data, 8 + meta.length);
  body.writeUInt32BE(crc32c(body.subarray(8)), 4);
  return body;
}

async function removeFiles(dir: string, files: string[]): Promise<void> {
  try {
    for (const f of files) await fs.promises.rm(f, { force: true });
    await fsyncDirAsync(dir);
  } catch {
    // The directory may be gone (a deleted copyset); nothing depends on these deletions.
  }
}

/** writeUnwritten writes records in pieces of about this size. */
const WRITE_CHUNK_BYTES = 1 << 20;

/** The tail of the slice queue (see writeUnwrittenInSlices). */
let sliceQueue: Promise<unknown> = Promise.resolve();

/** Run fn in an event-loop turn of its own, after every slice queued before it. */
function inSlice<T>(fn: () => T): Promise<T> {
  const p = sliceQueue.then(
    () =>
      new Promise<T>((resolve, reject) =>
        setImmediate(() => {
          try {
            resolve(fn());
          } catch (err) {
            reject(err as Error);
          }
        }),
      ),
  );
  sliceQueue = p.catch(() => undefined);
  return p;
}

/**
 * Shared buffers of exactly `bytes` (grown as needed; large ones are not kept): one for the records an
 * append hands to the journal, one for segment writes. Two, because the journal may checkpoint before it
 * writes an append's records, and the checkpoint writes unwritten entries to the segment files first.
 */
class Scratch {
  private buf = Buffer.allocUnsafe(0);

  get(bytes: number): Buffer {
    if (bytes > 16 << 20) return Buffer.allocUnsafe(bytes);
    if (this.buf.length < bytes) this.buf = Buffer.allocUnsafe(Math.max(bytes, 1 << 20));
    return this.buf.subarray(0, bytes);
  }
}
const journalScratch = new Scratch();
const segmentScratch = new Scratch();

function withCrc(body: Buffer): Buffer {
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32BE(crc32c(body), 0);
  body.copy(out, 4);
  return out;
}

function recordBytes(e: Entry): number {
  return RECORD_HEADER + ENTRY_HEADER + e.data.length;
}

export function encodeRecord(e: Entry): Buffer {
  const rec = Buffer.allocUnsafe(RECORD_HEADER + ENTRY_HEADER + e.data.length);
  writeRecord(rec, 0, e);
  return rec;
}

/** Encode one record into buf at off; returns its length. u64 fields as two u32 halves (no BigInt). */
function writeRecord(buf: Buffer, off: number, e: Entry): number {
  const payloadLen = ENTRY_HEADER + e.data.length;
  buf.writeUInt32BE(payloadLen, off);
  writeU64(buf, off + 8, e.term);
  writeU64(buf, off + 16, e.index);
  buf[off + 24] = e.type;
  buf.set(e.data, off + 25);
  // Computed once per entry (see Entry.crc): a leader's journal append, then its segment write and
  // every follower's records reuse it.
  let crc = e.crc;
  if (crc === undefined)
    e.crc = crc = crc32c(buf.subarray(off + RECORD_HEADER, off + RECORD_HEADER + payloadLen));
  buf.writeUInt32BE(crc, off + 4);
  return RECORD_HEADER + payloadLen;
}

function writeU64(buf: Buffer, off: number, v: number): void {
  buf.writeUInt32BE(Math.floor(v / 0x100000000), off);
  buf.writeUInt32BE(v >>> 0, off + 4);
}

function readU64(buf: Buffer, off: number): number {
  return buf.readUInt32BE(off) * 0x100000000 + buf.readUInt32BE(off + 4);
}

/** One record at off, or null when it is short or its checksum fails (a torn or corrupt tail). */
export function decodeRecord(buf: Buffer, off: number): { entry: Entry; length: number } | null {
  if (off + RECORD_HEADER > buf.length) return null;
  const len = buf.readUInt32BE(off);
  if (len < ENTRY_HEADER || off + RECORD_HEADER + len > buf.length) return null;
  const payload = buf.subarray(off + RECORD_HEADER, off + RECORD_HEADER + len);
  const crc = buf.readUInt32BE(off + 4);
  if (crc32c(payload) !== crc) return null;
  const type = payload[16] as EntryType;
  if (type !== EntryType.Normal && type !== EntryType.ConfChange) return null;
  return {
    entry: {
      term: readU64(payload, 0),
      index: readU64(payload, 8),
      type,
      data: new Uint8Array(payload.subarray(ENTRY_HEADER)),
      crc,
    },
    length: RECORD_HEADER + len,
  };
}
