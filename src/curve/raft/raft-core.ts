// The Raft consensus core as a pure, deterministic state machine (etcd raft's design): inputs are step(msg),
// tick(), propose(), readIndex() and friends; outputs come out of ready() and are acknowledged with advance().
// No I/O, no clock, no randomness of its own (the caller supplies random()).
import {
  applyConfChange,
  cloneConfState,
  ConfChange,
  decodeConfChange,
  encodeConfChange,
} from './conf-change';
import { Progress } from './progress';
import { RaftLog } from './raft-log';
import {
  ConfState,
  Entry,
  EntryType,
  HardState,
  InitialState,
  makeMessage,
  Message,
  MessageType,
  NodeId,
  NONE,
  Ready,
  ReadState,
  Role,
  Snapshot,
  SoftState,
} from './types';

export interface RaftConfig {
  id: NodeId;
  /** Followers wait a random [electionTicks, 2*electionTicks) ticks without a leader before campaigning. */
  electionTicks?: number;
  heartbeatTicks?: number;
  /** Integer in [0, n): the caller's (seeded) RNG for randomized election timeouts. */
  random: (n: number) => number;
  preVote?: boolean;
  /** Required for lease reads: voters then ignore campaigns while they hear from a leader. */
  checkQuorum?: boolean;
  maxEntriesPerMsg?: number;
  maxBytesPerMsg?: number;
  /** Appends in flight per follower in the replicate state. */
  maxInflight?: number;
  /**
   * The lease lasts electionTicks - leaseDriftTicks leader ticks after a quorum acknowledged a heartbeat,
   * so clocks may run at rates differing by electionTicks / (electionTicks - leaseDriftTicks).
   */
  leaseDriftTicks?: number;
}

export type ReadMode = 'lease' | 'safe';

export interface RaftStatus {
  id: NodeId;
  role: Role;
  term: number;
  vote: NodeId;
  leader: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  conf: ConfState;
}

interface PendingRead {
  seq: number;
  index: number;
  ctx: unknown;
}

interface Outstanding {
  lastIndex: number;
  lastTerm: number;
  snapIndex: number;
}

export class RaftCore {
  readonly id: NodeId;
  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  private readonly random: (n: number) => number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly maxEntriesPerMsg: number;
  private readonly maxBytesPerMsg: number;
  private readonly maxInflight: number;
  private readonly leaseTicks: number;

  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: Role = 'follower';
  readonly log: RaftLog;
  conf: ConfState;
  private prs = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedTimeout = 0;
  /** Local tick counter; the lease clock. */
  private now = 0;
  /** Last tick we heard from (or were) a leader; a restart counts as contact, so a lease can't be cut short. */
  private lastLeaderContact = 0;
  leadTransferee: NodeId = NONE;
  private pendingConfIndex = 0;
  /** Set once TimeoutNow was sent: the transferee may win this term early, so no more lease reads. */
  private noLeaseInTerm = false;
  private readSeq = 0;
  private pendingReads: PendingRead[] = [];
  private readsAwaitingCommit: { ctx: unknown; mode: ReadMode }[] = [];
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  /** Latest snapshot, sent to followers that are behind the compacted log. */
  snapshot: Snapshot | null;
  private snapshotToInstall: Snapshot | null = null;
  private pendingBroadcast = false;
  /**
   * The commit index advanced: tell the followers at the next Ready. Appends already queued for a follower
   * carry it (their commit is raised); only a follower with nothing queued gets an append of its own. Under
   * load an append is nearly always queued, so a commit no longer costs a message per follower.
   */
  private pendingCommitNotice = false;
  private prevHard: HardState;
  private prevSoft: SoftState;
  private outstanding: Outstanding[] = [];
  /** Conf entries at or below this index are already reflected in conf (an unsafe reset). */
  private confForcedIndex = 0;
  private confChanged: ConfState | null = null;

  constructor(cfg: RaftConfig, init: InitialState, forced?: { confState: ConfState; index: number }) {
    this.id = cfg.id;
    this.electionTicks = cfg.electionTicks ?? 10;
    this.heartbeatTicks = cfg.heartbeatTicks ?? 1;
    this.random = cfg.random;
    this.preVote = cfg.preVote ?? true;
    this.checkQuorum = cfg.checkQuorum ?? true;
    this.maxEntriesPerMsg = cfg.maxEntriesPerMsg ?? 64;
    this.maxBytesPerMsg = cfg.maxBytesPerMsg ?? 1 << 20;
    this.maxInflight = cfg.maxInflight ?? 256;
    this.leaseTicks = this.electionTicks - (cfg.leaseDriftTicks ?? 2);
    const snap = init.snapshot;
    this.snapshot = snap;
    this.log = RaftLog.restore(
      snap?.meta.index ?? 0,
      snap?.meta.term ?? 0,
      init.entries,
      init.hardState.commit,
    );
    this.conf = cloneConfState(snap ? snap.meta.confState : init.confState);
    if (forced && forced.index >= this.log.offset) {
      this.conf = cloneConfState(forced.confState);
      this.confForcedIndex = forced.index;
    }
    this.term = init.hardState.term;
    this.vote = init.hardState.vote;
    this.prevHard = this.hardState();
    this.prevSoft = { role: 'follower', leader: NONE };
    this.becomeFollower(this.term, NONE);
  }

  // ---- inputs ----

  tick(): void {
    this.now++;
    if (this.role === 'leader') {
      this.lastLeaderContact = this.now;
      this.heartbeatElapsed++;
      this.electionElapsed++;
      for (const [id, pr] of this.prs) {
        if (id !== this.id && pr.state === 'snapshot' && ++pr.snapshotTicks >= this.electionTicks) {
          pr.becomeProbe(); // the snapshot was probably lost: probe again
          this.pendingBroadcast = true;
        }
      }
      if (this.electionElapsed >= this.electionTicks) {
        this.electionElapsed = 0;
        if (this.checkQuorum && !this.quorumRecentlyActive()) {
          this.becomeFollower(this.term, NONE);
          return;
        }
        this.leadTransferee = NONE; // transfer timed out
      }
      if (this.heartbeatElapsed >= this.heartbeatTicks) {
        this.heartbeatElapsed = 0;
        this.broadcastHeartbeat();
      }
      return;
    }
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedTimeout) {
      this.electionElapsed = 0;
      this.campaign(this.preVote ? 'preElection' : 'election');
    }
  }

  /** Start an election now (tests, or a host that knows the leader is gone). */
  campaign(kind: 'preElection' | 'election' | 'transfer' = 'preElection'): void {
    if (!this.promotable() || this.role === 'leader') return;
    let type: MessageType;
    let term: number;
    if (kind === 'preElection') {
      this.becomePreCandidate();
      type = 'preVote';
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      type = 'vote';
      term = this.term;
    }
    this.votes.set(this.id, true);
    if (this.tallyVotes() === 'won') {
      if (kind === 'preElection') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    for (const v of this.conf.voters) {
      if (v === this.id) continue;
      const m = makeMessage(type, this.id, v, term);
      m.index = this.log.lastIndex();
      m.logTerm = this.log.lastTerm();
      m.transfer = kind === 'transfer';
      this.msgs.push(m);
    }
  }

  /** Propose an application entry; returns its index, or 0 when this node can't accept it. */
  propose(data: Uint8Array): number {
    if (this.role !== 'leader' || this.leadTransferee !== NONE) return 0;
    return this.appendEntry(EntryType.Normal, data);
  }

  /** Propose a single-server membership change; 0 when not leader or another change is pending. */
  proposeConfChange(cc: ConfChange): number {
    if (this.role !== 'leader' || this.leadTransferee !== NONE) return 0;
    if (this.pendingConfIndex > this.log.applied) return 0;
    const next = applyConfChange(this.conf, cc);
    if (next.voters.length === 0) return 0;
    const index = this.appendEntry(EntryType.ConfChange, encodeConfChange(cc));
    this.pendingConfIndex = index;
    return index;
  }

  /**
   * Ask for a linearizable read point. The answer comes in a later Ready's readStates: serve the read once
   * the state machine has applied ReadState.index. 'lease' answers at once while the leader lease holds and
   * falls back to ReadIndex ('safe': a heartbeat round confirming leadership). False when not leader.
   */
  readIndex(ctx: unknown, mode: ReadMode = 'safe'): boolean {
    if (this.role !== 'leader') return false;
    if (this.log.term(this.log.committed) !== this.term) {
      this.readsAwaitingCommit.push({ ctx, mode });
      return true;
    }
    if (this.conf.voters.length === 1 || (mode === 'lease' && this.leaseValid())) {
      this.readStates.push({ index: this.log.committed, ctx });
      return true;
    }
    this.pendingReads.push({ seq: ++this.readSeq, index: this.log.committed, ctx });
    this.broadcastHeartbeat();
    return true;
  }

  /** Hand leadership to a voter (TimeoutNow once it is caught up). */
  transferLeadership(to: NodeId): void {
    if (this.role !== 'leader' || to === this.id || !this.conf.voters.includes(to)) return;
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    this.electionElapsed = 0;
    const pr = this.prs.get(to)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to, true);
  }

  /**
   * UNSAFE, for disaster recovery only (Curve's ResetPeer): replace this node's configuration without
   * consensus. Committed entries can be lost and two leaders can appear if used while a majority lives.
   */
  unsafeResetPeers(voters: NodeId[]): void {
    this.conf = { voters: [...voters].sort((a, b) => a - b), learners: [] };
    this.confForcedIndex = this.log.lastIndex();
    this.confChanged = cloneConfState(this.conf);
    this.becomeFollower(this.term, NONE);
    this.electionElapsed = this.randomizedTimeout; // campaign on the next tick
    this.lastLeaderContact = -this.electionTicks;
  }

  /** createSnapshot(.., index) is allowed: no configuration change was handed out after `index`. */
  canSnapshotAt(index: number): boolean {
    if (index > this.log.applied || index < this.log.firstIndex() - 1) return false;
    for (let i = index + 1; i <= this.log.applied; i++) {
      if (this.log.entry(i).type === EntryType.ConfChange) return false;
    }
    return true;
  }

  /**
   * The application saved its state at the applied index: remember it as the snapshot to send to lagging
   * followers, and drop log entries up to it (keeping `retain` entries for followers slightly behind).
   */
  createSnapshot(data: Uint8Array, retain = 0, index = this.log.applied): Snapshot {
    // An earlier index lets the application snapshot what it has finished while later entries are still
    // being applied; the configuration recorded must be the one at that index.
    if (index > this.log.applied || index < this.log.firstIndex() - 1) {
      throw new Error(
        `raft: snapshot index ${index} outside [${this.log.firstIndex() - 1}, ${this.log.applied}]`,
      );
    }
    if (!this.canSnapshotAt(index)) {
      throw new Error(`raft: snapshot at ${index} would miss a configuration change after it`);
    }
    const snap: Snapshot = {
      meta: { index, term: this.log.term(index), confState: cloneConfState(this.conf) },
      data,
    };
    this.snapshot = snap;
    this.log.compact(Math.min(index - retain, this.log.stable));
    return snap;
  }

  step(m: Message): void {
    if (m.term > this.term) {
      if ((m.type === 'vote' || m.type === 'preVote') && this.inLease() && !m.transfer) return;
      if (m.type === 'preVote' || (m.type === 'preVoteResp' && !m.reject)) {
        // A pre-vote never changes terms; a granted pre-vote answer carries the term we asked for.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if (m.type === 'heartbeat' || m.type === 'app') {
        // Tell a stale leader about the newer term (with check-quorum it would otherwise never learn).
        this.send(makeMessage('appResp', this.id, m.from, this.term));
      } else if (m.type === 'preVote') {
        const r = makeMessage('preVoteResp', this.id, m.from, this.term);
        r.reject = true;
        this.send(r);
      }
      return;
    }

    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVote(m);
      return;
    }
    switch (this.role) {
      case 'leader':
        if (m.type === 'appResp') this.handleAppendResponse(m);
        else if (m.type === 'heartbeatResp') this.handleHeartbeatResponse(m);
        return;
      case 'preCandidate':
      case 'candidate':
        if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
          this.becomeFollower(m.term, m.from);
          this.stepFollower(m);
        } else if (
          (m.type === 'voteResp' && this.role === 'candidate') ||
          (m.type === 'preVoteResp' && this.role === 'preCandidate')
        ) {
          this.votes.set(m.from, !m.reject);
          const result = this.tallyVotes();
          if (result === 'won') {
            if (this.role === 'preCandidate') this.campaign('election');
            else this.becomeLeader();
          } else if (result === 'lost') {
            this.becomeFollower(this.term, NONE);
          }
        }
        return;
      case 'follower':
        this.stepFollower(m);
    }
  }

  // ---- outputs ----

  hasReady(): boolean {
    return (
      this.msgs.length > 0 ||
      this.pendingBroadcast ||
      this.pendingCommitNotice ||
      this.log.handedOut < this.log.lastIndex() ||
      this.log.applied < this.log.committed ||
      this.snapshotToInstall !== null ||
      this.readStates.length > 0 ||
      this.confChanged !== null ||
      !sameHardState(this.hardState(), this.prevHard) ||
      this.prevSoft.role !== this.role ||
      this.prevSoft.leader !== this.lead
    );
  }

  ready(): Ready & { confState: ConfState | null } {
    const committedEntries = this.log.unapplied();
    for (const e of committedEntries) {
      this.log.applied = e.index;
      if (e.type === EntryType.ConfChange && e.index > this.confForcedIndex) this.applyConfEntry(e);
    }
    if (this.pendingBroadcast) {
      this.pendingBroadcast = false;
      this.pendingCommitNotice = false;
      if (this.role === 'leader') this.broadcastAppend();
    } else if (this.pendingCommitNotice) {
      this.pendingCommitNotice = false;
      if (this.role === 'leader') this.noticeCommit();
    }
    const entriesToPersist = this.log.unpersisted();
    this.log.handedOut = this.log.lastIndex();
    const hs = this.hardState();
    const hardState = sameHardState(hs, this.prevHard) ? null : hs;
    if (hardState) this.prevHard = hs;
    let softState: SoftState | null = null;
    if (this.prevSoft.role !== this.role || this.prevSoft.leader !== this.lead) {
      softState = { role: this.role, leader: this.lead };
      this.prevSoft = softState;
    }
    const snapshot = this.snapshotToInstall;
    this.snapshotToInstall = null;
    const last = entriesToPersist.length ? entriesToPersist[entriesToPersist.length - 1] : null;
    this.outstanding.push({
      lastIndex: last ? last.index : 0,
      lastTerm: last ? last.term : 0,
      snapIndex: snapshot ? snapshot.meta.index : 0,
    });
    const rd = {
      messages: this.msgs,
      entriesToPersist,
      hardState,
      committedEntries,
      snapshot,
      readStates: this.readStates,
      softState,
      confState: this.confChanged,
    };
    this.msgs = [];
    this.readStates = [];
    this.confChanged = null;
    return rd;
  }

  /** The oldest outstanding Ready's entries, hard state and snapshot are durable. */
  advance(): void {
    const o = this.outstanding.shift();
    if (!o) throw new Error('raft: advance without an outstanding ready');
    if (o.snapIndex > 0 && this.log.offset >= o.snapIndex)
      this.log.stable = Math.max(this.log.stable, o.snapIndex);
    if (o.lastIndex > 0 && o.lastIndex <= this.log.handedOut && this.log.term(o.lastIndex) === o.lastTerm) {
      this.log.stable = Math.max(this.log.stable, o.lastIndex);
    }
    if (this.role === 'leader') {
      const self = this.prs.get(this.id);
      if (self && self.maybeUpdate(this.log.stable) && this.maybeCommit()) this.pendingCommitNotice = true;
    }
  }

  // ---- queries ----

  status(): RaftStatus {
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.lead,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      conf: cloneConfState(this.conf),
    };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** The leader may serve reads locally: a quorum acknowledged it recently enough, and it committed in its term. */
  leaseValid(): boolean {
    if (this.role !== 'leader' || this.noLeaseInTerm) return false;
    if (this.log.term(this.log.committed) !== this.term) return false;
    if (this.conf.voters.length === 1) return true;
    const acks = this.conf.voters.map((v) =>
      v === this.id ? this.now : (this.prs.get(v)?.ackedLeaseTick ?? -1),
    );
    acks.sort((a, b) => b - a);
    const q = acks[quorum(this.conf.voters.length) - 1];
    return q >= 0 && this.now < q + this.leaseTicks;
  }

  /** Nothing to do until a proposal arrives: the host may stop ticking this group (leader side). */
  isQuiescable(): boolean {
    if (this.role !== 'leader' || this.leadTransferee !== NONE) return false;
    const last = this.log.lastIndex();
    if (this.log.committed !== last || this.log.applied !== last || this.log.stable !== last) return false;
    if (this.pendingReads.length || this.readsAwaitingCommit.length) return false;
    if (this.pendingBroadcast || this.pendingCommitNotice) return false;
    for (const [id, pr] of this.prs) if (id !== this.id && pr.match !== last) return false;
    return true;
  }

  /** Forget lease acknowledgements (a host stopped ticking this group, so its lease clock stood still). */
  resetLease(): void {
    for (const pr of this.prs.values()) pr.ackedLeaseTick = -1;
  }

  progress(id: NodeId): Progress | undefined {
    return this.prs.get(id);
  }

  // ---- roles ----

  private promotable(): boolean {
    return this.conf.voters.includes(this.id);
  }

  private inLease(): boolean {
    return this.checkQuorum && this.now - this.lastLeaderContact < this.electionTicks;
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedTimeout = this.electionTicks + this.random(this.electionTicks);
    this.leadTransferee = NONE;
    this.votes.clear();
    this.pendingReads = [];
    this.readsAwaitingCommit = [];
    this.prs.clear();
  }

  private becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  private becomePreCandidate(): void {
    // Like etcd: no term change and no vote, so a partitioned node can't disrupt the cluster on return.
    this.votes.clear();
    this.lead = NONE;
    this.role = 'preCandidate';
    this.electionElapsed = 0;
    this.randomizedTimeout = this.electionTicks + this.random(this.electionTicks);
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = 'leader';
    this.lead = this.id;
    this.noLeaseInTerm = false;
    this.lastLeaderContact = this.now;
    const last = this.log.lastIndex();
    for (const v of this.conf.voters) this.prs.set(v, new Progress(last + 1, this.maxInflight, false));
    for (const l of this.conf.learners) this.prs.set(l, new Progress(last + 1, this.maxInflight, true));
    const self = this.prs.get(this.id)!;
    self.match = this.log.stable;
    self.becomeReplicate();
    this.pendingConfIndex = last;
    this.appendEntry(EntryType.Normal, new Uint8Array(0));
  }

  private tallyVotes(): 'won' | 'lost' | 'pending' {
    let granted = 0;
    let rejected = 0;
    for (const v of this.conf.voters) {
      const g = this.votes.get(v);
      if (g === true) granted++;
      else if (g === false) rejected++;
    }
    const q = quorum(this.conf.voters.length);
    if (granted >= q) return 'won';
    if (rejected > this.conf.voters.length - q) return 'lost';
    return 'pending';
  }

  private quorumRecentlyActive(): boolean {
    let active = 0;
    for (const v of this.conf.voters) {
      const pr = this.prs.get(v);
      if (v === this.id || pr?.recentActive) active++;
    }
    for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false;
    return active >= quorum(this.conf.voters.length);
  }

  // ---- votes ----

  private handleVote(m: Message): void {
    const isPre = m.type === 'preVote';
    const canVote =
      this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (isPre && m.term > this.term);
    const r = makeMessage(isPre ? 'preVoteResp' : 'voteResp', this.id, m.from, this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      r.term = m.term;
      if (!isPre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      r.reject = true;
    }
    this.send(r);
  }

  // ---- follower ----

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.heardFromLeader(m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.heardFromLeader(m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.heardFromLeader(m.from);
        this.handleSnapshot(m);
        return;
      case 'timeoutNow':
        if (this.promotable()) this.campaign('transfer');
        return;
    }
  }

  private heardFromLeader(from: NodeId): void {
    this.electionElapsed = 0;
    this.lead = from;
    this.lastLeaderContact = this.now;
  }

  private handleAppend(m: Message): void {
    const r = makeMessage('appResp', this.id, m.from, this.term);
    r.leaseTick = m.leaseTick;
    if (m.index < this.log.committed) {
      r.index = this.log.committed;
    } else if (this.log.matchTerm(m.index, m.logTerm)) {
      const lastNew = this.log.maybeAppend(m.index, m.entries);
      this.log.commitTo(Math.min(m.commit, lastNew));
      r.index = lastNew;
    } else {
      const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
      r.reject = true;
      r.index = m.index;
      r.rejectHint = hint;
      r.logTerm = this.log.term(hint);
    }
    this.send(r);
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(m.commit);
    const r = makeMessage('heartbeatResp', this.id, m.from, this.term);
    r.leaseTick = m.leaseTick;
    r.readSeq = m.readSeq;
    this.send(r);
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot!;
    const r = makeMessage('appResp', this.id, m.from, this.term);
    r.leaseTick = m.leaseTick;
    if (s.meta.index <= this.log.committed) {
      r.index = this.log.committed;
    } else if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      this.log.commitTo(s.meta.index);
      r.index = this.log.committed;
    } else {
      this.log.restoreSnapshot(s.meta.index, s.meta.term);
      this.conf = cloneConfState(s.meta.confState);
      this.confForcedIndex = 0;
      this.snapshot = s;
      this.snapshotToInstall = s;
      r.index = s.meta.index;
    }
    this.send(r);
  }

  // ---- leader ----

  private appendEntry(type: EntryType, data: Uint8Array): number {
    const index = this.log.lastIndex() + 1;
    this.log.append({ term: this.term, index, type, data, crc: undefined });
    this.pendingBroadcast = true;
    return index;
  }

  private noticeCommit(): void {
    const committed = this.log.committed;
    const told = new Set<NodeId>();
    for (const m of this.msgs) {
      if (m.type !== 'app' || m.from !== this.id || m.term !== this.term) continue;
      // A follower commits min(commit, last index of the append): a newer commit is always safe to send.
      if (m.commit < committed) m.commit = committed;
      told.add(m.to);
    }
    for (const id of this.prs.keys()) if (id !== this.id && !told.has(id)) this.sendAppend(id, true);
  }

  private broadcastAppend(): void {
    for (const id of this.prs.keys()) {
      if (id === this.id) continue;
      this.sendAppend(id, true);
      while (this.sendAppend(id, false));
    }
  }

  private broadcastHeartbeat(): void {
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      const m = makeMessage('heartbeat', this.id, id, this.term);
      m.commit = Math.min(pr.match, this.log.committed);
      m.leaseTick = this.now;
      m.readSeq = this.readSeq;
      this.msgs.push(m);
    }
  }

  /** Returns true when an append carrying entries was sent (callers loop to fill the pipeline). */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    if (!pr || pr.paused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm < 0) {
      this.sendSnapshot(to, pr);
      return false;
    }
    const last = this.log.lastIndex();
    const entries =
      pr.next <= last ? this.log.slice(pr.next, last, this.maxEntriesPerMsg, this.maxBytesPerMsg) : [];
    if (entries.length === 0 && !sendIfEmpty) return false;
    const m = makeMessage('app', this.id, to, this.term);
    m.index = prevIndex;
    m.logTerm = prevTerm;
    m.entries = entries;
    m.commit = this.log.committed;
    m.leaseTick = this.now;
    if (pr.state === 'replicate') {
      if (entries.length) {
        const lastSent = entries[entries.length - 1].index;
        pr.next = lastSent + 1;
        pr.inflights.add(lastSent);
      }
    } else {
      pr.probeSent = true;
    }
    this.msgs.push(m);
    return entries.length > 0;
  }

  private sendSnapshot(to: NodeId, pr: Progress): void {
    const snap = this.snapshot;
    if (!snap) throw new Error(`raft: no snapshot for follower ${to} behind the log`);
    const m = makeMessage('snap', this.id, to, this.term);
    m.snapshot = snap;
    m.leaseTick = this.now;
    pr.becomeSnapshot(snap.meta.index);
    this.msgs.push(m);
  }

  private sendTimeoutNow(to: NodeId): void {
    this.noLeaseInTerm = true;
    this.msgs.push(makeMessage('timeoutNow', this.id, to, this.term));
  }

  private ackLease(pr: Progress, m: Message): void {
    pr.recentActive = true;
    if (m.leaseTick > pr.ackedLeaseTick) pr.ackedLeaseTick = m.leaseTick;
  }

  private handleAppendResponse(m: Message): void {
    const pr = this.prs.get(m.from);
    if (!pr) return;
    this.ackLease(pr, m);
    if (m.reject) {
      const nextProbe = m.logTerm > 0 ? this.log.findConflictByTerm(m.rejectHint, m.logTerm) : m.rejectHint;
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = pr.paused();
    if (!pr.maybeUpdate(m.index)) {
      if (pr.state === 'replicate') pr.inflights.freeTo(m.index);
      return;
    }
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) pr.becomeReplicate();
    else if (pr.state === 'replicate') pr.inflights.freeTo(m.index);
    if (this.maybeCommit()) this.pendingCommitNotice = true;
    if (wasPaused) this.sendAppend(m.from, true);
    while (this.sendAppend(m.from, false));
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private handleHeartbeatResponse(m: Message): void {
    const pr = this.prs.get(m.from);
    if (!pr) return;
    this.ackLease(pr, m);
    if (m.readSeq > pr.ackedReadSeq) pr.ackedReadSeq = m.readSeq;
    if (pr.state === 'probe') pr.probeSent = false;
    else if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirst();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    if (this.pendingReads.length) this.releaseConfirmedReads();
  }

  private releaseConfirmedReads(): void {
    const acks = this.conf.voters.map((v) =>
      v === this.id ? this.readSeq : (this.prs.get(v)?.ackedReadSeq ?? 0),
    );
    acks.sort((a, b) => b - a);
    const confirmed = acks[quorum(this.conf.voters.length) - 1];
    let n = 0;
    while (n < this.pendingReads.length && this.pendingReads[n].seq <= confirmed) {
      const r = this.pendingReads[n++];
      this.readStates.push({ index: r.index, ctx: r.ctx });
    }
    if (n) this.pendingReads = this.pendingReads.slice(n);
  }

  private maybeCommit(): boolean {
    const matches = this.conf.voters.map((v) => this.prs.get(v)?.match ?? 0);
    matches.sort((a, b) => b - a);
    const q = matches[quorum(this.conf.voters.length) - 1];
    // Only entries of the current term commit by counting replicas (Raft paper, section 5.4.2).
    if (q > this.log.committed && this.log.term(q) === this.term) {
      this.log.commitTo(q);
      if (this.readsAwaitingCommit.length) {
        const waiting = this.readsAwaitingCommit;
        this.readsAwaitingCommit = [];
        for (const r of waiting) this.readIndex(r.ctx, r.mode);
      }
      return true;
    }
    return false;
  }

  private applyConfEntry(e: Entry): void {
    this.conf = applyConfChange(this.conf, decodeConfChange(e.data));
    if (this.role !== 'leader') return;
    const last = this.log.lastIndex();
    const members = new Set([...this.conf.voters, ...this.conf.learners]);
    for (const id of [...this.prs.keys()]) if (!members.has(id)) this.prs.delete(id);
    for (const v of this.conf.voters) {
      const pr = this.prs.get(v);
      if (!pr) this.prs.set(v, new Progress(last + 1, this.maxInflight, false));
      else if (pr.isLearner) {
        const promoted = new Progress(pr.next, this.maxInflight, false);
        promoted.match = pr.match;
        promoted.state = pr.state;
        promoted.pendingSnapshot = pr.pendingSnapshot;
        if (pr.state === 'replicate') promoted.becomeReplicate();
        this.prs.set(v, promoted);
      }
    }
    for (const l of this.conf.learners) {
      if (!this.prs.has(l)) this.prs.set(l, new Progress(last + 1, this.maxInflight, true));
    }
    if (!this.conf.voters.includes(this.id)) {
      // Removed: tell the followers the commit index (so they apply the removal too), then step down.
      this.broadcastAppend();
      this.becomeFollower(this.term, NONE);
      return;
    }
    if (this.leadTransferee !== NONE && !this.conf.voters.includes(this.leadTransferee)) {
      this.leadTransferee = NONE;
    }
    if (this.maybeCommit()) this.pendingBroadcast = true;
    this.pendingBroadcast = true;
  }

  private send(m: Message): void {
    this.msgs.push(m);
  }
}

export function quorum(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
