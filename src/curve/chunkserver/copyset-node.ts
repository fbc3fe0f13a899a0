// One copyset on this chunkserver: its Raft group (durable segmented log in <dir>/raft), its chunk store
// (<dir>/data) and its metadata (<dir>/meta, checksummed). The Raft host hands committed entries over in
// log order; they are started at once on the chunk store, which runs operations on one chunk in arrival
// order and on different chunks concurrently. `appliedIndex` is the highest index below which every entry
// has finished, which is what reads and snapshots wait for.
//
// Snapshots: the Raft snapshot holds only metadata (epoch, peer addresses, the node that took it). A
// follower that installs one fetches the chunk files from a peer over the data-plane RPC (rate limited),
// after that peer has applied at least the snapshot's index; the chunks it gets may be newer than the
// snapshot, which is fine because every later log entry is an idempotent overwrite (as in Curve).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createLogger, type Logger } from '../../common/log';
import { bootstrapState, joiningState } from '../raft/bootstrap';
import { decodeConfChange } from '../raft/conf-change';
import { FileStorage } from '../raft/file-storage';
import type { HostJournal } from '../raft/host-journal';
import { NotLeaderError, type MultiRaftHost } from '../raft/multi-raft-host';
import type { RaftCore } from '../raft/raft-core';
import { EntryType, type Entry, type Snapshot } from '../raft/types';
import { ChunkDataStore } from './chunk-datastore';
import type { ChunkFilePool } from './chunk-file-pool';
import { ChunkLogOp, decodeChunkLogEntry, encodeChunkLogEntry, type ChunkLogEntry } from './chunk-op-codec';
import { ChunkOpStatus, ChunkStoreError, statusOfError } from './chunk-status';
import { readChecksummedJson, writeChecksummedJson, writeChecksummedJsonAsync } from './checksummed-file';
import { copysetName, groupIdOf, nodeIdOf } from './copyset-id';
import { SNAPSHOT_LIST_CHUNKS, SNAPSHOT_READ_PIECE } from './internal-methods';
import type { PeerClients } from './peer-clients';
import { Proposal, type ProposalListener } from './proposal';
import type { RaftRpcTransport } from './raft-rpc-transport';

export interface CopysetNodeOptions {
  logicPoolId: number;
  copysetId: number;
  /** This copyset's directory. */
  dir: string;
  pool: ChunkFilePool;
  host: MultiRaftHost;
  transport: RaftRpcTransport;
  peers: PeerClients;
  /** This chunkserver's "ip:port". */
  self: string;
  /** Founding members ("ip:port"); empty or without self: join an existing group (learn from the leader). */
  initialPeers: string[];
  /** Take a snapshot (and compact the log) every this many applied entries (0: never). */
  snapshotIntervalEntries: number;
  /** Entries kept in the log below a snapshot for followers slightly behind. */
  snapshotRetainEntries: number;
  /**
   * Also snapshot after this many bytes of applied entries (0: no byte limit). The Raft log keeps every
   * entry in memory until a snapshot compacts it: an entry count alone lets 1 MiB writes pin gigabytes.
   */
  snapshotIntervalBytes?: number;
  /** At most this many bytes of entries are kept below a snapshot (0: no byte limit). */
  snapshotRetainBytes?: number;
  raftSegmentBytes: number;
  /**
   * The host's shared Raft journal: this group's appends become durable with the one fdatasync that
   * covers every group's (else each group's log files are fsynced on their own).
   */
  journal?: HostJournal;
  /** Snapshot install copy rate limit (bytes/s, 0: unlimited). */
  snapshotThrottleBytesPerSec: number;
  /** Piece size of snapshot copies. */
  snapshotPieceBytes?: number;
  /** The chunkserver-wide bound on unsnapshotted log bytes (see log-memory-budget.ts). */
  logBudget?: SnapshotBudget;
}

/** What a copyset tells the chunkserver-wide log budget (CopysetManager implements it). */
export interface SnapshotBudget {
  /** `node` applied `bytes` more of log; the budget may ask some copyset to snapshot (snapshotNow). */
  grew(node: CopysetNode, bytes: number): void;
  /** A snapshot of `node` covered `bytes`, or (done) a snapshot it was asked for ended either way. */
  released(node: CopysetNode, bytes: number, done: boolean): void;
  /** `node` closed: it holds nothing any more. */
  removed(node: CopysetNode): void;
}

export interface ApplyResult {
  status: ChunkOpStatus;
  message?: string;
}

interface CopysetMeta {
  logicPoolId: number;
  copysetId: number;
  initialPeers: string[];
  addresses: Record<string, string>;
}

interface SnapshotData {
  epoch: number;
  creator: string;
  addresses: Record<string, string>;
}

export interface ConfigChangeProgress {
  type: 'add' | 'remove' | 'transfer' | 'change';
  peer: string;
  finished: boolean;
  failed: boolean;
}

const SNAPSHOT_MARKER = 'installed-snapshot';
/** The outcome of most applies (shared: read, never changed). */
const APPLIED: ApplyResult = Object.freeze({ status: ChunkOpStatus.SUCCESS });

export class CopysetNode {
  readonly group: number;
  readonly name: string;
  private readonly log: Logger;
  private core!: RaftCore;
  private applied = 0;
  private readonly completed = new Map<number, ApplyResult>();
  private readonly resultWaiters = new Map<number, Proposal>();
  private appliedWaiters: { index: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private readonly inflight = new Set<Promise<unknown>>();
  private barrier: Promise<void> | undefined;
  private restoringTo = 0;
  private confEpoch = 0;
  private lastSnapshotIndex = 0;
  /** Bytes of entries applied since the last snapshot. */
  private bytesSinceSnapshot = 0;
  private snapshotting = false;
  private closed = false;
  deleted = false;
  change: ConfigChangeProgress | undefined;
  readonly addresses = new Map<number, string>();
  readonly counters = { snapshotsTaken: 0, snapshotsInstalled: 0, applyErrors: 0 };

  private constructor(
    private readonly opts: CopysetNodeOptions,
    readonly datastore: ChunkDataStore,
    private readonly storage: FileStorage,
    private meta: CopysetMeta,
  ) {
    this.group = groupIdOf(opts.logicPoolId, opts.copysetId);
    this.name = copysetName(opts.logicPoolId, opts.copysetId);
    this.log = createLogger('copyset', { copyset: this.name });
  }

  /** Creates (first time) or loads (restart) the copyset and registers its Raft group with the host. */
  static async open(opts: CopysetNodeOptions): Promise<CopysetNode> {
    fs.mkdirSync(opts.dir, { recursive: true });
    const metaFile = path.join(opts.dir, 'meta');
    let meta = readChecksummedJson<CopysetMeta>(metaFile);
    if (!meta) {
      meta = {
        logicPoolId: opts.logicPoolId,
        copysetId: opts.copysetId,
        initialPeers: [...opts.initialPeers],
        addresses: Object.fromEntries(opts.initialPeers.map((p) => [String(nodeIdOf(p)), p])),
      };
      writeChecksummedJson(metaFile, meta);
    }
    const datastore = await ChunkDataStore.open({ dir: path.join(opts.dir, 'data'), pool: opts.pool });
    const storage = FileStorage.open(path.join(opts.dir, 'raft'), {
      segmentBytes: opts.raftSegmentBytes,
      ...(opts.journal ? { journal: opts.journal, group: groupIdOf(opts.logicPoolId, opts.copysetId) } : {}),
    });
    const node = new CopysetNode(opts, datastore, storage, meta);
    if (storage.recovery.truncatedBytes > 0) {
      // A torn or corrupt record: it and everything after it were cut; the leader re-replicates them.
      node.log.error('raft log corruption detected and cut', {
        truncatedBytes: storage.recovery.truncatedBytes,
      });
    }
    for (const [id, why] of datastore.corruptChunks()) {
      node.log.error('corrupt chunk file refused', { chunkId: id, err: why });
    }
    for (const [id, addr] of Object.entries(meta.addresses)) node.learn(Number(id), addr);
    const selfId = nodeIdOf(opts.self);
    const founding = meta.initialPeers.map(nodeIdOf);
    const boot = founding.includes(selfId) ? bootstrapState(founding) : joiningState();
    const init = storage.initialState(boot);
    node.lastSnapshotIndex = init.snapshot?.meta.index ?? 0;
    node.applied = node.lastSnapshotIndex;
    node.core = opts.host.addGroup(node.group, init, storage, {
      apply: (e) => node.apply(e),
      restore: (s) => node.restore(s),
    });
    return node;
  }

  // ---- state ----

  get appliedIndex(): number {
    return this.applied;
  }

  get epoch(): number {
    return this.confEpoch;
  }

  get raft(): RaftCore {
    return this.core;
  }

  get selfId(): number {
    return nodeIdOf(this.opts.self);
  }

  isLeader(): boolean {
    return this.core.role === 'leader';
  }

  /** "ip:port" of the leader when known. */
  leaderEndpoint(): string | undefined {
    const lead = this.core.lead;
    if (!lead) return undefined;
    return lead === this.selfId ? this.opts.self : this.addresses.get(lead);
  }

  /** Voters as "ip:port" (unknown addresses as "?<id>"). */
  peerEndpoints(): string[] {
    return this.core.conf.voters.map((v) =>
      v === this.selfId ? this.opts.self : (this.addresses.get(v) ?? `?${v}`),
    );
  }

  storageDir(): string {
    return this.opts.dir;
  }

  firstLogIndex(): number {
    return this.core.log.firstIndex();
  }

  private learn(id: number, address: string): void {
    this.addresses.set(id, address);
    this.opts.transport.learn(id, address);
  }

  // ---- writes ----

  /** Replicates a chunk operation; resolves with its outcome once applied here (throws NotLeaderError). */
  propose(e: ChunkLogEntry): Promise<ApplyResult> {
    return new Promise((resolve, reject) =>
      this.proposeTo(e, { proposalApplied: resolve, proposalFailed: reject }),
    );
  }

  /**
   * propose() for the write path, without promises: `listener` hears the outcome once (maybe before this
   * returns: NotLeaderError when this replica does not lead).
   */
  proposeTo(e: ChunkLogEntry, listener: ProposalListener): void {
    const p = new Proposal(this, listener, e);
    const index = this.opts.host.proposeTo(this.group, encodeChunkLogEntry(e), p);
    if (index === 0) {
      listener.proposalFailed(new NotLeaderError(this.core.lead));
      return;
    }
    p.index = index;
    this.resultWaiters.set(index, p);
  }

  /** @internal (Proposal) */
  forgetProposal(p: Proposal): void {
    if (this.resultWaiters.get(p.index) === p) this.resultWaiters.delete(p.index);
  }

  /** Resolves once every entry up to `index` has been applied here. */
  waitApplied(index: number): Promise<void> {
    if (index <= this.applied) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('copyset closed'));
    return new Promise((resolve, reject) => this.appliedWaiters.push({ index, resolve, reject }));
  }

  /**
   * Linearizable read point: the leader's lease (or a ReadIndex round), then local apply. While the lease
   * holds this is what `host.read(group, 'lease')` would answer (the commit index), taken synchronously:
   * no host flush, no promise round through the Raft loop. A quiesced group's lease clock stood still, so
   * it (and an expired lease) goes through the host, which confirms leadership with a heartbeat round.
   */
  readBarrier(): Promise<void> {
    const core = this.core;
    if (!this.opts.host.isQuiet(this.group) && core.leaseValid()) return this.waitApplied(core.log.committed);
    return this.opts.host.read(this.group, 'lease').then((index) => this.waitApplied(index));
  }

  // ---- state machine ----

  private apply(e: Entry): void {
    this.bytesSinceSnapshot += e.data.length;
    this.opts.logBudget?.grew(this, e.data.length);
    if (e.type === EntryType.ConfChange) {
      this.confEpoch++;
      try {
        const cc = decodeConfChange(e.data);
        this.log.info('configuration change applied', { index: e.index, type: cc.type, node: cc.node });
      } catch {
        // the core already validated it
      }
      this.complete(e.index, { status: ChunkOpStatus.SUCCESS });
      return;
    }
    if (e.data.length === 0) {
      this.complete(e.index, { status: ChunkOpStatus.SUCCESS });
      return;
    }
    // This replica's own proposal (same index and term: the same entry) needs no decoding.
    const mine = this.resultWaiters.get(e.index);
    let op: ChunkLogEntry;
    try {
      op = mine && mine.term === e.term ? mine.op : decodeChunkLogEntry(e.data);
    } catch (err) {
      this.log.error('undecodable log entry', { index: e.index, err: err as Error });
      this.complete(e.index, { status: ChunkOpStatus.FAILURE_UNKNOWN, message: String(err) });
      return;
    }
    if (op.op === ChunkLogOp.WRITE && !this.barrier) {
      // Most applies: a buffered write to an open chunk, done now rather than through execute's chain.
      let done: boolean;
      try {
        done = this.datastore.tryWriteChunkNow(op.chunkId, op.sn, op.data, op.offset);
      } catch (err) {
        this.finishApply(e.index, op, { status: statusOfError(err), message: (err as Error).message });
        return;
      }
      if (done) {
        this.complete(e.index, APPLIED);
        return;
      }
    }
    const run = (): Promise<ApplyResult> => this.execute(op);
    const p = (this.barrier ? this.barrier.then(run) : run()).then(
      (r) => r,
      (err: unknown) => ({ status: statusOfError(err), message: String((err as Error)?.message ?? err) }),
    );
    this.inflight.add(p);
    void p.then((r) => {
      this.inflight.delete(p);
      this.finishApply(e.index, op, r);
    });
  }

  /** An apply's outcome: failures are counted and logged, then the entry completes. */
  private finishApply(index: number, op: ChunkLogEntry, r: ApplyResult): void {
    if (r.status !== ChunkOpStatus.SUCCESS) {
      this.counters.applyErrors++;
      this.log.warn('apply failed', {
        index,
        op: op.op,
        chunkId: op.chunkId,
        status: r.status,
        err: r.message,
      });
    }
    this.complete(index, r);
  }

  private async execute(op: ChunkLogEntry): Promise<ApplyResult> {
    const ds = this.datastore;
    try {
      switch (op.op) {
        case ChunkLogOp.WRITE:
          await ds.writeChunk(op.chunkId, op.sn, op.data, op.offset);
          break;
        case ChunkLogOp.DELETE:
          await ds.deleteChunk(op.chunkId, op.sn);
          break;
        case ChunkLogOp.DELETE_SNAP:
          await ds.deleteSnapshotChunkOrCorrectSn(op.chunkId, op.correctedSn);
          break;
        case ChunkLogOp.CREATE_CLONE:
          await ds.createCloneChunk(op.chunkId, op.sn, op.correctedSn, op.size, op.location);
          break;
        case ChunkLogOp.PASTE:
          await ds.pasteChunk(op.chunkId, op.data, op.offset);
          break;
        case ChunkLogOp.PEER_ADDRESS:
          this.learn(op.chunkId, op.location);
          this.meta = {
            ...this.meta,
            addresses: { ...this.meta.addresses, [String(op.chunkId)]: op.location },
          };
          if (!this.deleted) writeChecksummedJson(path.join(this.opts.dir, 'meta'), this.meta);
          break;
      }
      return { status: ChunkOpStatus.SUCCESS };
    } catch (err) {
      return { status: statusOfError(err), message: (err as Error).message };
    }
  }

  private complete(index: number, r: ApplyResult): void {
    this.resultWaiters.get(index)?.applied(r);
    if (index <= this.applied) return;
    if (index === this.applied + 1 && this.completed.size === 0) {
      // The usual case, applies finishing in log order: no map traffic (each set and delete of a map
      // that keeps emptying reallocates its table).
      this.applied = index;
    } else {
      this.completed.set(index, r);
      while (this.completed.has(this.applied + 1)) {
        this.completed.delete(this.applied + 1);
        this.applied++;
      }
    }
    if (this.restoringTo > this.applied) return;
    this.releaseWaiters();
    this.maybeSnapshot();
  }

  private releaseWaiters(): void {
    if (!this.appliedWaiters.length) return;
    const left: typeof this.appliedWaiters = [];
    for (const w of this.appliedWaiters) {
      if (w.index <= this.applied) w.resolve();
      else left.push(w);
    }
    this.appliedWaiters = left;
  }

  private restore(s: Snapshot): void {
    let data: SnapshotData;
    try {
      data = JSON.parse(Buffer.from(s.data).toString('utf8')) as SnapshotData;
    } catch {
      this.log.error('undecodable snapshot', { index: s.meta.index });
      return;
    }
    this.confEpoch = data.epoch;
    for (const [id, addr] of Object.entries(data.addresses)) this.learn(Number(id), addr);
    const marker = this.readMarker();
    if (marker >= s.meta.index) {
      // Our own snapshot (restart), or one installed before: the chunk files are already that new.
      this.applied = Math.max(this.applied, s.meta.index);
      this.lastSnapshotIndex = s.meta.index;
      return;
    }
    this.log.info('installing snapshot', { index: s.meta.index, from: data.creator });
    this.restoringTo = s.meta.index;
    const earlier = Promise.allSettled([...this.inflight]);
    this.barrier = earlier.then(() => this.fetchSnapshot(s.meta.index, data.creator));
    const b = this.barrier;
    void b.then(() => {
      if (this.barrier === b) this.barrier = undefined;
      this.restoringTo = 0;
      this.applied = Math.max(this.applied, s.meta.index);
      for (const i of [...this.completed.keys()]) if (i <= this.applied) this.completed.delete(i);
      while (this.completed.has(this.applied + 1)) {
        this.completed.delete(this.applied + 1);
        this.applied++;
      }
      this.lastSnapshotIndex = s.meta.index;
      this.counters.snapshotsInstalled++;
      this.writeMarker(s.meta.index);
      this.releaseWaiters();
      this.log.info('snapshot installed', { index: s.meta.index });
    });
  }

  /** Copies every chunk from a peer that has applied `index` (retrying peers until one answers). */
  private async fetchSnapshot(index: number, creator: string): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      const sources = [creator, ...this.peerEndpoints()].filter(
        (p, i, all) => p !== this.opts.self && !p.startsWith('?') && all.indexOf(p) === i,
      );
      for (const src of sources) {
        try {
          await this.copyFrom(src, index);
          return;
        } catch (err) {
          this.log.warn('snapshot copy failed', { source: src, err: err as Error });
        }
      }
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
    }
  }

  private async copyFrom(src: string, index: number): Promise<void> {
    const client = this.opts.peers.get(src);
    const list = await client.call(
      SNAPSHOT_LIST_CHUNKS,
      { group: this.group, minApplied: index },
      { timeoutMs: 30_000, lane: 'control' },
    );
    if (list.response.status !== ChunkOpStatus.SUCCESS)
      throw new Error(`ListChunks status ${list.response.status}`);
    const ids = list.response.chunkIds.map(Number);
    const sns = list.response.chunkSns.map(Number);
    const keep = new Set(ids);
    for (const id of this.datastore.chunkIds())
      if (!keep.has(id)) await this.datastore.deleteChunk(id, Number.MAX_SAFE_INTEGER);
    const piece = Math.min(this.opts.snapshotPieceBytes ?? 1 << 20, this.datastore.chunkSize);
    const rate = this.opts.snapshotThrottleBytesPerSec;
    const started = Date.now();
    let copied = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const local = this.safeInfo(id);
      if (local && local.curSn > sns[i]) await this.datastore.deleteChunk(id, Number.MAX_SAFE_INTEGER);
      for (let off = 0; off < this.datastore.chunkSize; off += piece) {
        const len = Math.min(piece, this.datastore.chunkSize - off);
        const r = await client.call(
          SNAPSHOT_READ_PIECE,
          { group: this.group, chunkId: id, offset: off, length: len },
          { timeoutMs: 30_000, responseBytes: len },
        );
        if (r.response.status === ChunkOpStatus.CHUNK_NOTEXIST) {
          await this.datastore.deleteChunk(id, Number.MAX_SAFE_INTEGER);
          break;
        }
        if (r.response.status !== ChunkOpStatus.SUCCESS || r.attachment.length !== len) {
          throw new Error(`ReadPiece chunk ${id}@${off}: status ${r.response.status}`);
        }
        await this.datastore.writeChunk(id, sns[i], r.attachment, off);
        copied += len;
        if (rate > 0) {
          const due = started + (copied / rate) * 1000;
          const wait = due - Date.now();
          if (wait > 0) await new Promise((res) => setTimeout(res, wait));
        }
      }
    }
    await this.datastore.syncAll();
    this.log.info('snapshot copied', { source: src, chunks: ids.length, bytes: copied });
  }

  private safeInfo(id: number): { curSn: number } | undefined {
    try {
      return this.datastore.getChunkInfo(id);
    } catch {
      return undefined;
    }
  }

  /** Answers a peer's ListChunks once this replica has applied `minApplied` (bounded wait). */
  async listChunksFor(minApplied: number): Promise<{ ids: number[]; sns: number[] }> {
    await Promise.race([
      this.waitApplied(minApplied),
      new Promise((_, reject) => setTimeout(() => reject(new Error('not applied yet')), 20_000)),
    ]);
    const ids: number[] = [];
    const sns: number[] = [];
    for (const id of this.datastore.chunkIds()) {
      const info = this.safeInfo(id);
      if (!info) continue;
      ids.push(id);
      sns.push(info.curSn);
    }
    return { ids, sns };
  }

  private maybeSnapshot(): void {
    const every = this.opts.snapshotIntervalEntries;
    const everyBytes = this.opts.snapshotIntervalBytes ?? 0;
    if (every <= 0 && everyBytes <= 0) return;
    if (!this.canSnapshotNow()) return;
    const byEntries = every > 0 && this.applied - this.lastSnapshotIndex >= every;
    const byBytes = everyBytes > 0 && this.bytesSinceSnapshot >= everyBytes;
    if (!byEntries && !byBytes) return;
    this.startSnapshot(false);
  }

  /** Not snapshotting already, and open and serving. */
  canSnapshotNow(): boolean {
    return !this.snapshotting && !this.closed && !this.deleted && !this.restoringTo;
  }

  /** The chunkserver-wide log budget asks for a snapshot now; false if one cannot start. */
  snapshotNow(): boolean {
    if (!this.canSnapshotNow()) return false;
    this.startSnapshot(true);
    return true;
  }

  private startSnapshot(forBudget: boolean): void {
    this.snapshotting = true;
    const before = this.counters.snapshotsTaken;
    void this.takeSnapshot()
      .catch((err: unknown) => this.log.warn('snapshot failed', { err: err as Error }))
      .finally(() => {
        this.snapshotting = false;
        if (forBudget) this.opts.logBudget?.released(this, 0, true);
        // Entries applied while it ran may already call for the next one; don't wait for another write.
        // (Only after a success: a failed or postponed snapshot is retried by the next apply.)
        if (this.counters.snapshotsTaken > before) this.maybeSnapshot();
      });
  }

  private async takeSnapshot(): Promise<void> {
    // Everything up to `index` has finished; later entries may be running and may already be in the chunk
    // files. That is fine: the snapshot is the files as they are, and replaying entries after `index` over
    // them converges because every chunk operation is idempotent (as in Curve). Waiting for a moment with
    // nothing in flight instead starves snapshots under a steady write load.
    const index = this.applied;
    // The applied bytes this snapshot covers; entries applied while it syncs count toward the next one.
    const covered = this.bytesSinceSnapshot;
    if (!this.core.canSnapshotAt(index)) return; // a configuration change is being applied: try later
    // The chunk files must be durable before the log below `index` may go (the Raft log files need
    // nothing: see FileStorage.saveSnapshotAsync).
    await this.datastore.syncAll();
    if (this.closed || this.deleted || !this.core.canSnapshotAt(index)) return;
    const data: SnapshotData = {
      epoch: this.confEpoch,
      creator: this.opts.self,
      addresses: Object.fromEntries([...this.addresses].map(([k, v]) => [String(k), v])),
    };
    const retain = this.retainBelow(index);
    this.bytesSinceSnapshot = Math.max(0, this.bytesSinceSnapshot - covered);
    this.opts.logBudget?.released(this, covered, false);
    const snap = this.core.createSnapshot(Buffer.from(JSON.stringify(data)), retain, index);
    // The file writes and fsyncs run on the thread pool: a busy copyset snapshots several times a second.
    // (A marker older than the chunk files is safe: a restart then fetches them again.)
    const installs = this.counters.snapshotsInstalled;
    await this.storage.saveSnapshotAsync(snap, Math.max(0, snap.meta.index - retain));
    if (!this.deleted && !this.closed && this.counters.snapshotsInstalled === installs)
      await writeChecksummedJsonAsync(path.join(this.opts.dir, SNAPSHOT_MARKER), { index: snap.meta.index });
    this.lastSnapshotIndex = snap.meta.index;
    this.counters.snapshotsTaken++;
    this.log.info('snapshot taken', { index: snap.meta.index, firstLogIndex: this.core.log.firstIndex() });
  }

  /** Entries to keep below a snapshot at `index`: snapshotRetainEntries, fewer if they exceed the byte cap. */
  private retainBelow(index: number): number {
    const maxEntries = this.opts.snapshotRetainEntries;
    const maxBytes = this.opts.snapshotRetainBytes ?? 0;
    if (maxBytes <= 0) return maxEntries;
    const first = this.core.log.firstIndex();
    let n = 0;
    let bytes = 0;
    while (n < maxEntries && index - n >= first) {
      bytes += this.core.log.entry(index - n).data.length;
      if (bytes > maxBytes) break;
      n++;
    }
    return n;
  }

  private readMarker(): number {
    try {
      return readChecksummedJson<{ index: number }>(path.join(this.opts.dir, SNAPSHOT_MARKER))?.index ?? 0;
    } catch {
      return 0;
    }
  }

  private writeMarker(index: number): void {
    if (!this.deleted) writeChecksummedJson(path.join(this.opts.dir, SNAPSHOT_MARKER), { index });
  }

  // ---- membership (leader only) ----

  /** Records a peer's address in the log (so every replica can reach it), then adds it as a voter. */
  async addPeer(endpoint: string): Promise<void> {
    const id = nodeIdOf(endpoint);
    if (this.core.conf.voters.includes(id)) return;
    const r = await this.propose({
      op: ChunkLogOp.PEER_ADDRESS,
      chunkId: id,
      offset: 0,
      size: 0,
      sn: 0,
      correctedSn: 0,
      location: endpoint,
      data: Buffer.alloc(0),
    });
    if (r.status !== ChunkOpStatus.SUCCESS) throw new ChunkStoreError(r.status, r.message ?? 'peer address');
    const index = await this.opts.host.proposeConfChange(this.group, { type: 'addVoter', node: id });
    await this.waitApplied(index);
  }

  async removePeer(endpoint: string): Promise<void> {
    const id = nodeIdOf(endpoint);
    if (!this.core.conf.voters.includes(id)) return;
    const index = await this.opts.host.proposeConfChange(this.group, { type: 'removeNode', node: id });
    if (id !== this.selfId) await this.waitApplied(index);
  }

  /** Starts a leadership transfer and waits (up to timeoutMs) for it to happen. */
  async transferLeader(endpoint: string, timeoutMs: number): Promise<boolean> {
    const id = nodeIdOf(endpoint);
    if (this.core.lead === id) return true;
    // A quiesced group first gets a heartbeat round (progress and lease fresh), then the transfer request,
    // repeated every 200 ms in case a TimeoutNow was lost.
    await this.opts.host.read(this.group, 'safe').catch(() => 0);
    const until = Date.now() + timeoutMs;
    let nextTry = 0;
    while (Date.now() < until) {
      if (this.core.lead === id) return true;
      if (Date.now() >= nextTry && this.core.role === 'leader') {
        this.opts.host.transferLeader(this.group, id);
        nextTry = Date.now() + 200;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.core.lead === id;
  }

  /** UNSAFE disaster recovery (Curve's ResetPeer): force this replica's configuration. */
  resetPeers(endpoints: string[]): void {
    for (const e of endpoints) this.learn(nodeIdOf(e), e);
    const ids = endpoints.map(nodeIdOf);
    this.core.unsafeResetPeers(ids);
    this.storage.setForcedConf(this.core.conf, this.core.log.lastIndex());
    this.storage.sync();
    // No public "mark dirty" in the host: a transfer request to nobody wakes the group and schedules a flush.
    this.opts.host.transferLeader(this.group, 0);
  }

  // ---- lifecycle ----

  async close(): Promise<void> {
    this.closed = true;
    this.opts.logBudget?.removed(this);
    // A deleted copyset's journal records must not be replayed into a later copyset with the same id.
    if (this.deleted) this.opts.journal?.barrier(this.group);
    for (const w of this.appliedWaiters) w.reject(new Error('copyset closed'));
    this.appliedWaiters = [];
    await Promise.allSettled([...this.inflight]);
    await this.datastore.close();
    this.storage.close();
  }
}
