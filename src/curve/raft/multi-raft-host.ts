// Many Raft groups in one process (one per copyset): a single tick loop for all of them, one flush that
// gathers every group's Ready, persists them, syncs all touched storages together (fsync batching across
// groups), then sends one batch per destination node and lane (heartbeats of all groups coalesced into one
// message per node pair per tick). Idle groups quiesce: no ticks, no heartbeats; a node-level heartbeat per
// peer per tick tells followers whether a quiesced group's leader is still alive.
import { Prng } from './prng';
import { RaftCore, RaftConfig, ReadMode } from './raft-core';
import { GroupMessage } from './message-codec';
import { Lane, RaftTransport } from './transport';
import { ConfChange } from './conf-change';
import { splitEarlyMessages } from './early-send';
import { Entry, HardState, InitialState, isControlMessage, Message, NodeId, Snapshot } from './types';

export interface GroupStorage {
  append(entries: Entry[]): void;
  setHardState(hs: HardState): void;
  saveSnapshot(s: Snapshot, compactTo?: number, replaceLog?: boolean): void;
  syncAsync(): Promise<void>;
}

/** Storage that keeps nothing (the in-process benchmark and tests without durability). */
export class NullStorage implements GroupStorage {
  append(): void {}
  setHardState(): void {}
  saveSnapshot(): void {}
  async syncAsync(): Promise<void> {}
}

export interface GroupStateMachine {
  apply(entry: Entry): void;
  restore(snapshot: Snapshot): void;
}

export interface MultiRaftOptions {
  transport: RaftTransport;
  tickMs?: number;
  electionTicks?: number;
  seed?: number;
  /** Idle ticks before a leader quiesces its group. */
  quiesceAfterTicks?: number;
  raft?: Partial<Omit<RaftConfig, 'id' | 'random'>>;
}

/** Hears how a proposal ended: resolve(index) once committed and applied here, else reject. */
export interface ProposalWaiter {
  term: number;
  resolve: (index: number) => void;
  reject: (err: Error) => void;
}

class Group {
  quiet = false;
  quiescing = false;
  idleTicks = 0;
  proposals = new Map<number, ProposalWaiter>();
  reads: { index: number; resolve: (index: number) => void }[] = [];
  applied = 0;
  /** Term and vote known durable: until the current ones are, even a leader's messages wait for the fsync. */
  durableTerm: number;
  durableVote: NodeId;
  constructor(
    readonly id: number,
    readonly core: RaftCore,
    readonly storage: GroupStorage,
    readonly sm: GroupStateMachine,
  ) {
    this.durableTerm = core.term;
    this.durableVote = core.vote;
  }
}

/** Messages to send, grouped by destination node and lane. */
class Outbox {
  readonly byNode = new Map<NodeId, { control: GroupMessage[]; data: GroupMessage[]; liveness: boolean }>();

  add(group: number, msg: Message, quiesce: boolean): void {
    const o = this.lanes(msg.to);
    (isControlMessage(msg.type) ? o.control : o.data).push({ group, msg, quiesce });
  }

  /** Make sure `to` gets a control batch, even an empty one (node-level liveness). */
  touch(to: NodeId): void {
    this.lanes(to).liveness = true;
  }

  private lanes(to: NodeId): { control: GroupMessage[]; data: GroupMessage[]; liveness: boolean } {
    let o = this.byNode.get(to);
    if (!o) this.byNode.set(to, (o = { control: [], data: [], liveness: false }));
    return o;
  }
}

/** Readys written to storage and waiting for one shared fsync, with the messages that must wait for it. */
class PersistBatch {
  /** Its storages' syncs returned (it completes once every earlier batch has, too). */
  synced = false;
  /** One entry per Ready taken (a group may appear twice): advance() is called once for each. */
  readonly work: Group[] = [];
  readonly storages = new Set<GroupStorage>();
  readonly hardStates = new Map<Group, HardState>();
  readonly out = new Outbox();
}

/**
 * An append that carries no entries: a leader telling a follower its new commit index (or probing). It
 * replicates nothing, so it may leave a little later than the appends that do.
 */
function isCommitNotice(m: Message): boolean {
  return m.type === 'app' && m.entries.length === 0;
}

/** Persist batches syncing at once (their fsyncs overlap; see flush()). */
const MAX_SYNCING_BATCHES = 3;

export class NotLeaderError extends Error {
  constructor(readonly leader: NodeId) {
    super(`not leader (leader is ${leader || 'unknown'})`);
  }
}

export class MultiRaftHost {
  readonly nodeId: NodeId;
  private readonly groups = new Map<number, Group>();
  private readonly dirty = new Set<Group>();
  private flushScheduled = false;
  /** Batches whose syncs run, oldest first; they complete in this order. */
  private readonly syncing: PersistBatch[] = [];
  /** Readys taken while MAX_SYNCING_BATCHES batches sync: they start together when one completes. */
  private pending: PersistBatch | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly rng: Prng;
  private readonly tickMs: number;
  private readonly electionTicks: number;
  private readonly quiesceAfter: number;
  private readonly lastHeard = new Map<NodeId, number>();
  private ticks = 0;
  /** Counters for tests and metrics. */
  readonly counters = { ticks: 0, groupTicks: 0, batchesSent: 0, messagesSent: 0, syncs: 0 };

  constructor(private readonly opts: MultiRaftOptions) {
    this.nodeId = opts.transport.nodeId;
    this.rng = new Prng(opts.seed ?? this.nodeId);
    this.tickMs = opts.tickMs ?? 100;
    this.electionTicks = opts.electionTicks ?? 10;
    this.quiesceAfter = opts.quiesceAfterTicks ?? 3;
    opts.transport.onBatch((from, batch) => this.receive(from, batch));
  }

  addGroup(id: number, initial: InitialState, storage: GroupStorage, sm: GroupStateMachine): RaftCore {
    const core = new RaftCore(
      {
        ...this.opts.raft,
        id: this.nodeId,
        electionTicks: this.electionTicks,
        random: (n) => this.rng.int(n),
      },
      initial,
    );
    const g = new Group(id, core, storage, sm);
    g.applied = core.log.applied;
    if (initial.snapshot) sm.restore(initial.snapshot);
    this.groups.set(id, g);
    this.markDirty(g);
    return core;
  }

  core(group: number): RaftCore | undefined {
    return this.groups.get(group)?.core;
  }

  isQuiet(group: number): boolean {
    return this.groups.get(group)?.quiet ?? false;
  }

  start(): void {
    if (!this.timer) this.timer = setInterval(() => this.tick(), this.tickMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const g of this.groups.values()) this.failWaiters(g, new Error('raft host stopped'));
    await this.opts.transport.close();
  }

  /** Resolves with the entry's index once it is committed and applied here. */
  propose(group: number, data: Uint8Array): Promise<number> {
    let waiter!: ProposalWaiter;
    const p = new Promise<number>((resolve, reject) => (waiter = { term: 0, resolve, reject }));
    if (this.proposeTo(group, data, waiter) === 0)
      waiter.reject(new NotLeaderError(this.mustGroup(group).core.lead));
    return p;
  }

  /**
   * propose() without a promise: appends the entry and returns its index, then `waiter` hears the outcome
   * (its term is set here); 0 when this node does not lead the group (the waiter then hears nothing).
   */
  proposeTo(group: number, data: Uint8Array, waiter: ProposalWaiter): number {
    const g = this.mustGroup(group);
    this.wake(g);
    const index = g.core.propose(data);
    if (index === 0) return 0;
    waiter.term = g.core.term;
    g.proposals.set(index, waiter);
    this.markDirty(g);
    return index;
  }

  proposeConfChange(group: number, cc: ConfChange): Promise<number> {
    const g = this.mustGroup(group);
    this.wake(g);
    const index = g.core.proposeConfChange(cc);
    if (index === 0) return Promise.reject(new Error('conf change refused (not leader or one pending)'));
    const p = new Promise<number>((resolve, reject) =>
      g.proposals.set(index, { term: g.core.term, resolve, reject }),
    );
    this.markDirty(g);
    return p;
  }

  /** Resolves with a read index once this replica has applied it: then read the state machine. */
  read(group: number, mode: ReadMode = 'lease'): Promise<number> {
    const g = this.mustGroup(group);
    const wasQuiet = g.quiet;
    this.wake(g);
    let resolveFn!: (index: number) => void;
    const p = new Promise<number>((resolve) => (resolveFn = resolve));
    // A quiesced leader's lease clock stood still: confirm leadership with a heartbeat round instead.
    if (!g.core.readIndex(resolveFn, wasQuiet ? 'safe' : mode))
      return Promise.reject(new NotLeaderError(g.core.lead));
    this.markDirty(g);
    return p;
  }

  transferLeader(group: number, to: NodeId): void {
    const g = this.mustGroup(group);
    this.wake(g);
    g.core.transferLeadership(to);
    this.markDirty(g);
  }

  // ---- loop ----

  private tick(): void {
    this.ticks++;
    this.counters.ticks++;
    const deadline = this.ticks - this.electionTicks;
    for (const g of this.groups.values()) {
      if (g.quiet) {
        // Wake followers of a quiesced group whose leader's node went silent.
        const lead = g.core.lead;
        if (lead !== this.nodeId && (lead === 0 || (this.lastHeard.get(lead) ?? 0) < deadline)) this.wake(g);
        else continue;
      }
      if (g.core.isQuiescable()) {
        if (++g.idleTicks >= this.quiesceAfter) g.quiescing = true;
      } else g.idleTicks = 0;
      g.core.tick();
      this.counters.groupTicks++;
      this.markDirty(g);
    }
    // Node-level liveness: one (possibly empty) control batch per peer per tick; the flush merges it with
    // the groups' heartbeats.
    this.heartbeatPeers = true;
    this.scheduleFlush();
  }

  private heartbeatPeers = false;

  private receive(from: NodeId, batch: GroupMessage[]): void {
    this.lastHeard.set(from, this.ticks);
    for (const { group, msg, quiesce } of batch) {
      const g = this.groups.get(group);
      if (!g) continue;
      if (quiesce && msg.type === 'heartbeat') {
        g.core.step(msg);
        g.quiet = true;
        g.idleTicks = 0;
      } else {
        if (msg.type !== 'heartbeatResp') this.wake(g);
        g.core.step(msg);
      }
      this.markDirty(g);
    }
  }

  private wake(g: Group): void {
    g.quiet = false;
    g.quiescing = false;
    g.idleTicks = 0;
  }

  private markDirty(g: Group): void {
    this.dirty.add(g);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /**
   * Take every dirty group's Ready and write it (buffered). Leader appends and heartbeats leave at once
   * (early-send.ts); everything else waits until the batch is durable. Each flush's batch starts its
   * sync at once (the storages share fsyncs: see HostJournal.syncAsync), up to MAX_SYNCING_BATCHES;
   * beyond that, Readys accumulate into one pending batch (group commit across all groups of the host).
   * Batches complete in the order they were taken, so advance() and the responses follow the Readys.
   */
  private flush(): void {
    const batch = this.pending ?? new PersistBatch();
    const early = new Outbox();
    const notices = new Outbox();
    const applying: { g: Group; entries: readonly Entry[]; reads: boolean }[] = [];
    for (const g of this.dirty) {
      if (!g.core.hasReady()) continue;
      const termVoteDurable = g.core.term === g.durableTerm && g.core.vote === g.durableVote;
      const rd = g.core.ready();
      if (rd.snapshot) {
        g.storage.saveSnapshot(rd.snapshot, rd.snapshot.meta.index, true);
        g.sm.restore(rd.snapshot);
        g.applied = rd.snapshot.meta.index;
      }
      g.storage.append(rd.entriesToPersist);
      if (rd.hardState) {
        g.storage.setHardState(rd.hardState);
        batch.hardStates.set(g, rd.hardState);
      }
      if (rd.entriesToPersist.length || rd.hardState || rd.snapshot) batch.storages.add(g.storage);
      const { early: now, late } = splitEarlyMessages(rd.messages, termVoteDurable);
      const quiesce = g.quiescing;
      for (const msg of now) {
        if (isCommitNotice(msg)) notices.add(g.id, msg, false);
        else early.add(g.id, msg, quiesce && msg.type === 'heartbeat');
      }
      for (const msg of late) batch.out.add(g.id, msg, quiesce && msg.type === 'heartbeat');
      if (g.quiescing) {
        g.quiescing = false;
        g.quiet = true;
        g.core.resetLease();
      }
      for (const rs of rd.readStates)
        g.reads.push({ index: rs.index, resolve: rs.ctx as (i: number) => void });
      applying.push({ g, entries: rd.committedEntries, reads: g.reads.length > 0 });
      batch.work.push(g);
    }
    this.dirty.clear();
    if (this.heartbeatPeers) {
      // Node-level liveness: one (possibly empty) control batch per peer per tick.
      this.heartbeatPeers = false;
      for (const peer of this.peerNodes()) early.touch(peer);
    }
    this.sendOutbox(early);
    // Committed means durable on a quorum: apply and answer now, without waiting for the local fsync;
    // after the early sends, so followers take the new entries while this replica applies.
    for (const { g, entries, reads } of applying) {
      for (const e of entries) this.applyEntry(g, e);
      if (reads) this.serveReads(g);
      if (g.core.role !== 'leader' && g.proposals.size) this.failWaiters(g, new NotLeaderError(g.core.lead));
    }
    // Commit notices leave after this turn's replies (the callers' promise callbacks run when flush()
    // returns, and their socket writes before the next immediate): sent first, they woke both followers
    // ahead of the client on this 2-core machine and delayed the reply of every QD1 write.
    if (notices.byNode.size) setImmediate(() => this.sendOutbox(notices));
    if (batch.work.length === 0) return;
    if (this.syncing.length >= MAX_SYNCING_BATCHES) this.pending = batch;
    else this.runBatch(batch);
  }

  private runBatch(batch: PersistBatch): void {
    this.syncing.push(batch);
    this.pending = null;
    const done = (): void => {
      batch.synced = true;
      while (this.syncing.length && this.syncing[0].synced) this.completeBatch(this.syncing.shift()!);
      const next = this.pending;
      if (next && this.syncing.length < MAX_SYNCING_BATCHES) this.runBatch(next);
      if (this.dirty.size) this.scheduleFlush();
    };
    if (batch.storages.size === 0) return done();
    this.counters.syncs++;
    Promise.all([...batch.storages].map((s) => s.syncAsync())).then(done, (err: unknown) => {
      // A failed fsync leaves the page cache in an unknown state: never acknowledge anything after it.
      setImmediate(() => {
        throw err;
      });
    });
  }

  private completeBatch(batch: PersistBatch): void {
    for (const [g, hs] of batch.hardStates) {
      g.durableTerm = hs.term;
      g.durableVote = hs.vote;
    }
    for (const g of batch.work) {
      g.core.advance();
      if (g.core.hasReady()) this.dirty.add(g);
    }
    this.sendOutbox(batch.out);
  }

  private sendOutbox(o: Outbox): void {
    for (const [to, lanes] of o.byNode) {
      if (lanes.data.length) this.sendBatch(to, 'data', lanes.data);
      if (lanes.control.length || lanes.liveness) this.sendBatch(to, 'control', lanes.control);
    }
  }

  private sendBatch(to: NodeId, lane: Lane, batch: GroupMessage[]): void {
    this.counters.batchesSent++;
    this.counters.messagesSent += batch.length;
    this.opts.transport.send(to, lane, batch);
  }

  private peerNodes(): Set<NodeId> {
    const peers = new Set<NodeId>();
    for (const g of this.groups.values()) {
      for (const v of g.core.conf.voters) if (v !== this.nodeId) peers.add(v);
      for (const l of g.core.conf.learners) if (l !== this.nodeId) peers.add(l);
    }
    return peers;
  }

  private applyEntry(g: Group, e: Entry): void {
    g.sm.apply(e);
    g.applied = e.index;
    const w = g.proposals.get(e.index);
    if (w) {
      g.proposals.delete(e.index);
      if (w.term === e.term) w.resolve(e.index);
      else w.reject(new Error('proposal overwritten by a new leader'));
    }
  }

  private serveReads(g: Group): void {
    const left: Group['reads'] = [];
    for (const r of g.reads) {
      if (r.index <= g.applied) r.resolve(r.index);
      else left.push(r);
    }
    g.reads = left;
  }

  private failWaiters(g: Group, err: Error): void {
    // Proposals may still commit under the next leader; the caller learns "unknown" and retries idempotently.
    for (const w of g.proposals.values()) w.reject(err);
    g.proposals.clear();
  }

  private mustGroup(id: number): Group {
    const g = this.groups.get(id);
    if (!g) throw new Error(`raft host: no group ${id}`);
    return g;
  }
}
