// A deterministic discrete-event simulation of a Raft cluster running a replicated KV store: one seeded
// PRNG drives message delay, loss, duplication and reordering, symmetric and one-way partitions, crashes
// that lose unsynced writes (with torn tails), restarts, clock skew, snapshots, leadership transfers and
// membership changes. Safety invariants are checked as the run goes; at the end the cluster is healed, must
// converge, and the clients' history must be linearizable (reads served by lease and by ReadIndex).
import { bootstrapState, joiningState } from './bootstrap';
import { ConfChange } from './conf-change';
import { EventQueue } from './event-queue';
import { splitEarlyMessages } from './early-send';
import { encodeKvCommand, KvStateMachine } from './kv-state-machine';
import { checkKvLinearizable, KvOperation } from './linearizability';
import { Prng } from './prng';
import { RaftCore, ReadMode } from './raft-core';
import { SimDisk } from './sim-disk';
import { Entry, InitialState, Message, NodeId, Ready } from './types';

export interface SimOptions {
  seed: number;
  /** Simulated milliseconds of faults and client load. */
  durationMs?: number;
  /** Simulated milliseconds of calm afterwards, in which the cluster must converge. */
  settleMs?: number;
  trace?: (line: string) => void;
  /** Override the lease's drift margin (tests use a negative one to show that stale lease reads are caught). */
  leaseDriftTicks?: number;
}

export interface SimStats {
  events: number;
  elections: number;
  crashes: number;
  confChanges: number;
  snapshots: number;
  committed: number;
  puts: number;
  gets: number;
  leaseReads: number;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  error?: string;
  stats: SimStats;
}

class InvariantViolation extends Error {}

interface ClientRequest {
  client: number;
  seq: number;
  kind: 'put' | 'get';
  key: string;
  value: string;
  mode: ReadMode;
  call: number;
  done: boolean;
  /** A probe: answered once, never re-issued (a client of its own, so per-client order holds). */
  oneShot?: boolean;
}

interface Reply {
  ok: boolean;
  value: string | null;
  leaderHint: NodeId;
}

const TICK_MS = 10;
const ELECTION_TICKS = 10;
const KEYS = ['a', 'b', 'c'];

class SimNode {
  alive = false;
  removed = false;
  incarnation = 0;
  core: RaftCore | null = null;
  kv = new KvStateMachine();
  outbox: Message[] = [];
  readiesToAdvance = 0;
  syncScheduled = false;
  proposals = new Map<string, ClientRequest>();
  reads: { index: number; req: ClientRequest }[] = [];
  lastSnapshotIndex = 0;
  constructor(
    readonly id: NodeId,
    readonly disk: SimDisk,
    readonly tickMs: number,
  ) {}
}

export class Simulation {
  private readonly rng: Prng;
  private readonly q = new EventQueue();
  private readonly nodes = new Map<NodeId, SimNode>();
  private nextNodeId: NodeId;
  private readonly blocked = new Set<string>();
  private readonly history: KvOperation[] = [];
  /** Puts whose client gave up waiting: their outcome is settled from what the replicas applied. */
  private readonly unanswered: { op: KvOperation; id: string }[] = [];
  /** client:seq -> the first time any replica applied that command (it was committed by then). */
  private readonly firstApplied = new Map<string, number>();
  private readonly stats: SimStats = {
    events: 0,
    elections: 0,
    crashes: 0,
    confChanges: 0,
    snapshots: 0,
    committed: 0,
    puts: 0,
    gets: 0,
    leaseReads: 0,
  };
  // Invariant bookkeeping.
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly logRecord = new Map<string, string>();
  private readonly appliedTerm: number[] = [0];
  private readonly appliedData: string[] = [''];
  // Fault parameters for this seed.
  private readonly lossRate: number;
  private readonly dupRate: number;
  private readonly maxDelay: number;
  private readonly snapshotEvery: number;
  private readonly maxInflight: number;
  private readonly maxEntriesPerMsg: number;
  private faultsOn = true;
  private requestCounter = 0;
  private nextProbeClient = 1000;
  private probing = false;
  /** Edges cut by isolateLeaderAndProbe (kept apart so other faults' heals do not end it early). */
  private readonly isolation = new Set<string>();
  private readonly clientLeader = new Map<number, NodeId>();
  private readonly durationMs: number;
  private readonly settleMs: number;

  constructor(private readonly opts: SimOptions) {
    this.rng = new Prng(opts.seed);
    this.durationMs = opts.durationMs ?? 3000;
    this.settleMs = opts.settleMs ?? 2500;
    this.lossRate = this.rng.pick([0, 0.01, 0.05, 0.1]);
    this.dupRate = this.rng.pick([0, 0.02, 0.05]);
    this.maxDelay = this.rng.pick([2, 5, 15]);
    this.snapshotEvery = this.rng.pick([8, 20, 50, 1e9]);
    this.maxInflight = this.rng.pick([1, 4, 64]);
    this.maxEntriesPerMsg = this.rng.pick([1, 3, 64]);
    const initial = this.rng.chance(0.7) ? 3 : 5;
    const voters = Array.from({ length: initial }, (_, i) => i + 1);
    this.nextNodeId = initial + 1;
    for (const id of voters) this.addNode(id, bootstrapState(voters));
  }

  run(): SimResult {
    try {
      for (const n of this.nodes.values()) this.start(n);
      for (let c = 1; c <= 4; c++) this.q.after(this.rng.int(50), () => this.clientIssue(c));
      this.scheduleFault();
      while (this.q.runNext(this.durationMs)) this.stats.events++;
      this.faultsOn = false;
      this.blocked.clear();
      this.isolation.clear();
      for (const n of this.nodes.values()) if (!n.alive && !n.removed) this.start(n);
      const end = this.durationMs + this.settleMs;
      while (this.q.runNext(end)) this.stats.events++;
      this.checkConverged();
      const lin = checkKvLinearizable([...this.history, ...this.resolveUnanswered()]);
      if (!lin.ok) throw new InvariantViolation(`history not linearizable on key ${lin.badKey}`);
      return { seed: this.opts.seed, ok: true, stats: this.stats };
    } catch (err) {
      const msg =
        err instanceof Error ? (err instanceof InvariantViolation ? err.message : err.stack) : String(err);
      return { seed: this.opts.seed, ok: false, error: `t=${this.q.now}ms: ${msg}`, stats: this.stats };
    }
  }

  /**
   * A put nobody answered took effect at the latest when a replica first applied it, and never if no
   * replica ever did (the cluster has converged by now). Bounding them this way keeps the checker's search
   * small: each open-ended put is concurrent with everything after it, which is exponential for a history
   * that is not linearizable.
   */
  private resolveUnanswered(): KvOperation[] {
    const out: KvOperation[] = [];
    for (const { op, id } of this.unanswered) {
      const applied = this.firstApplied.get(id);
      if (applied !== undefined) out.push({ ...op, ret: Math.max(op.call, applied) });
    }
    return out;
  }

  private trace(line: string): void {
    this.opts.trace?.(`${this.q.now.toFixed(1)} ${line}`);
  }

  // ---- nodes ----

  private addNode(id: NodeId, initial: InitialState): SimNode {
    const skew = 1 + (this.rng.next() * 0.2 - 0.1); // clocks differ by up to +-10%
    const n = new SimNode(id, new SimDisk(initial), TICK_MS * skew);
    this.nodes.set(id, n);
    return n;
  }

  private start(n: SimNode): void {
    n.incarnation++;
    n.alive = true;
    n.outbox = [];
    n.readiesToAdvance = 0;
    n.syncScheduled = false;
    n.proposals.clear();
    n.reads = [];
    const init = n.disk.initialState();
    n.core = new RaftCore(
      {
        id: n.id,
        electionTicks: ELECTION_TICKS,
        heartbeatTicks: 1,
        random: (k) => this.rng.int(k),
        maxInflight: this.maxInflight,
        maxEntriesPerMsg: this.maxEntriesPerMsg,
        leaseDriftTicks: this.opts.leaseDriftTicks ?? 3,
      },
      init,
    );
    n.kv = new KvStateMachine();
    if (init.snapshot) {
      n.kv.restore(init.snapshot.data, init.snapshot.meta.index);
      n.lastSnapshotIndex = init.snapshot.meta.index;
    }
    this.trace(
      `n${n.id} start inc=${n.incarnation} term=${init.hardState.term} last=${n.core.log.lastIndex()}`,
    );
    const inc = n.incarnation;
    const tick = (): void => {
      if (n.incarnation !== inc || !n.alive) return;
      n.core!.tick();
      this.processReady(n);
      this.q.after(n.tickMs, tick);
    };
    this.q.after(this.rng.next() * n.tickMs, tick);
  }

  private crash(n: SimNode): void {
    this.stats.crashes++;
    n.alive = false;
    n.incarnation++;
    n.core = null;
    n.disk.crash(this.rng);
    this.trace(`n${n.id} crash`);
  }

  private processReady(n: SimNode): void {
    const core = n.core!;
    if (!core.hasReady()) return;
    // Leader appends and heartbeats may leave before this Ready is durable (early-send.ts).
    const termVoteDurable = n.disk.hardState.term === core.term && n.disk.hardState.vote === core.vote;
    const rd = core.ready();
    this.checkReady(n, rd);
    const { early, late } = splitEarlyMessages(rd.messages, termVoteDurable);
    if (rd.snapshot) {
      n.kv.restore(rd.snapshot.data, rd.snapshot.meta.index);
      n.lastSnapshotIndex = rd.snapshot.meta.index;
    }
    for (const e of rd.committedEntries) {
      this.recordApplied(n, e);
      const cmd = n.kv.apply(e);
      if (cmd) {
        const key = `${cmd.client}:${cmd.seq}`;
        if (!this.firstApplied.has(key)) this.firstApplied.set(key, this.q.now);
        const req = n.proposals.get(key);
        if (req) {
          n.proposals.delete(key);
          this.reply(req, { ok: true, value: null, leaderHint: n.id });
        }
      }
    }
    for (const rs of rd.readStates) n.reads.push({ index: rs.index, req: rs.ctx as ClientRequest });
    this.serveReads(n);
    n.disk.write({ snapshot: rd.snapshot, entries: rd.entriesToPersist, hardState: rd.hardState });
    for (const m of early) this.send(m);
    for (const m of late) n.outbox.push(m);
    n.readiesToAdvance++;
    if (!n.syncScheduled) {
      n.syncScheduled = true;
      const inc = n.incarnation;
      this.q.after(0.5 + this.rng.next() * 2, () => {
        if (n.incarnation === inc && n.alive) this.sync(n);
      });
    }
    if (n.kv.applied - n.lastSnapshotIndex >= this.snapshotEvery) {
      const retain = this.rng.int(4);
      const snap = core.createSnapshot(n.kv.snapshot(), retain);
      n.lastSnapshotIndex = snap.meta.index;
      n.disk.saveSnapshot(snap, Math.min(snap.meta.index - retain, core.log.stable));
      this.stats.snapshots++;
    }
  }

  private sync(n: SimNode): void {
    n.syncScheduled = false;
    n.disk.sync();
    const core = n.core!;
    for (; n.readiesToAdvance > 0; n.readiesToAdvance--) core.advance();
    const out = n.outbox;
    n.outbox = [];
    for (const m of out) this.send(m);
    this.processReady(n);
  }

  private serveReads(n: SimNode): void {
    if (n.reads.length === 0) return;
    const left: typeof n.reads = [];
    for (const r of n.reads) {
      if (r.index <= n.kv.applied)
        this.reply(r.req, { ok: true, value: n.kv.get(r.req.key), leaderHint: n.id });
      else left.push(r);
    }
    n.reads = left;
  }

  // ---- network ----

  private send(m: Message): void {
    if (this.faultsOn && this.rng.chance(this.lossRate)) return;
    const copies = this.faultsOn && this.rng.chance(this.dupRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.q.after(0.1 + this.rng.next() * this.maxDelay, () => this.deliver(m));
    }
  }

  private deliver(m: Message): void {
    const to = this.nodes.get(m.to);
    const edge = `${m.from}>${m.to}`;
    if (!to || !to.alive || this.blocked.has(edge) || this.isolation.has(edge)) return;
    to.core!.step(m);
    this.processReady(to);
  }

  // ---- clients ----

  private clientIssue(client: number, target?: NodeId): void {
    if (this.q.now >= this.durationMs) return;
    const isPut = this.rng.chance(0.6);
    const req: ClientRequest = {
      client,
      seq: ++this.requestCounter,
      kind: isPut ? 'put' : 'get',
      key: this.rng.pick(KEYS),
      value: isPut ? `v${client}.${this.q.now.toFixed(2)}.${this.rng.int(1e6)}` : '',
      mode: this.rng.chance(0.5) ? 'lease' : 'safe',
      call: this.q.now,
      done: false,
    };
    const members = [...this.nodes.values()].filter((n) => !n.removed);
    // Clients stick to the node that last served them, as a real client caches the leader.
    const sticky = this.clientLeader.get(client);
    const nodeId =
      target ??
      (sticky !== undefined && !this.nodes.get(sticky)!.removed ? sticky : this.rng.pick(members).id);
    this.clientLeader.set(client, nodeId);
    this.q.after(0.1 + this.rng.next() * this.maxDelay, () => this.handleRequest(nodeId, req));
    this.q.after(300, () => {
      if (req.done) return;
      req.done = true;
      this.clientLeader.delete(client);
      if (req.kind === 'put') {
        this.unanswered.push({
          op: { client, kind: 'put', key: req.key, value: req.value, call: req.call, ret: Infinity },
          id: `${client}:${req.seq}`,
        });
      }
      if (!req.oneShot) this.clientIssue(client);
    });
  }

  /** One request from a fresh client, answered or timed out once (stale-read probes). */
  private issueProbe(nodeId: NodeId, kind: 'put' | 'get', mode: ReadMode, key: string): ClientRequest {
    const client = this.nextProbeClient++;
    const req: ClientRequest = {
      client,
      seq: ++this.requestCounter,
      kind,
      key,
      value: kind === 'put' ? `p${client}.${this.q.now.toFixed(2)}` : '',
      mode,
      call: this.q.now,
      done: false,
      oneShot: true,
    };
    this.q.after(0.1 + this.rng.next() * this.maxDelay, () => this.handleRequest(nodeId, req));
    this.q.after(300, () => {
      if (req.done) return;
      req.done = true;
      if (kind === 'put') {
        this.unanswered.push({
          op: { client, kind, key: req.key, value: req.value, call: req.call, ret: Infinity },
          id: `${client}:${req.seq}`,
        });
      }
    });
    return req;
  }

  private handleRequest(nodeId: NodeId, req: ClientRequest): void {
    const n = this.nodes.get(nodeId)!;
    if (!n.alive) return;
    const core = n.core!;
    if (req.kind === 'put') {
      const index = core.propose(
        encodeKvCommand({ client: req.client, seq: req.seq, key: req.key, value: req.value }),
      );
      if (index === 0) this.reply(req, { ok: false, value: null, leaderHint: core.lead });
      else n.proposals.set(`${req.client}:${req.seq}`, req);
    } else {
      if (req.mode === 'lease' && core.leaseValid()) this.stats.leaseReads++;
      if (!core.readIndex(req, req.mode)) this.reply(req, { ok: false, value: null, leaderHint: core.lead });
    }
    this.processReady(n);
  }

  private reply(req: ClientRequest, r: Reply): void {
    this.q.after(0.1 + this.rng.next() * this.maxDelay, () => {
      if (req.done) return;
      req.done = true;
      if (r.ok) {
        if (req.kind === 'put') this.stats.puts++;
        else this.stats.gets++;
        this.history.push({
          client: req.client,
          kind: req.kind,
          key: req.key,
          value: req.kind === 'put' ? req.value : r.value,
          call: req.call,
          ret: this.q.now,
        });
        if (!req.oneShot) this.q.after(this.rng.next() * 5, () => this.clientIssue(req.client));
      } else if (!req.oneShot) {
        const hint = r.leaderHint && !this.nodes.get(r.leaderHint)?.removed ? r.leaderHint : undefined;
        if (hint === undefined) this.clientLeader.delete(req.client);
        this.q.after(1 + this.rng.next() * 5, () => this.clientIssue(req.client, hint));
      }
    });
  }

  // ---- faults ----

  private scheduleFault(): void {
    this.q.after(20 + this.rng.int(80), () => {
      if (!this.faultsOn || this.q.now >= this.durationMs) return;
      this.injectFault();
      this.scheduleFault();
    });
  }

  private injectFault(): void {
    // A leader isolation with stale-read probes runs undisturbed: it is the fault for that window.
    if (this.probing) return;
    const members = [...this.nodes.values()].filter((n) => !n.removed);
    const alive = members.filter((n) => n.alive);
    const r = this.rng.next();
    if (r < 0.15 && alive.length > 0) {
      const victim = this.rng.pick(alive);
      this.crash(victim);
      this.q.after(20 + this.rng.int(400), () => {
        if (this.faultsOn && !victim.alive && !victim.removed) this.start(victim);
      });
    } else if (r < 0.27) {
      const side = new Set(members.filter(() => this.rng.chance(0.5)).map((n) => n.id));
      for (const a of members) {
        for (const b of members) if (side.has(a.id) !== side.has(b.id)) this.blocked.add(`${a.id}>${b.id}`);
      }
      this.trace(`partition ${[...side].join(',')}`);
      this.q.after(100 + this.rng.int(500), () => this.blocked.clear());
    } else if (r < 0.33 && members.length > 1) {
      const a = this.rng.pick(members);
      const b = this.rng.pick(members.filter((n) => n !== a));
      this.blocked.add(`${a.id}>${b.id}`);
      this.trace(`one-way ${a.id}>${b.id}`);
      this.q.after(100 + this.rng.int(500), () => this.blocked.delete(`${a.id}>${b.id}`));
    } else if (r < 0.4) {
      this.blocked.clear();
    } else if (r < 0.5) {
      this.changeMembership();
    } else if (r < 0.55) {
      const leader = this.leader();
      if (leader) {
        const to = this.rng.pick(leader.core!.conf.voters);
        leader.core!.transferLeadership(to);
        this.processReady(leader);
      }
    } else if (r < 0.65) {
      this.isolateLeaderAndProbe(members);
    }
  }

  /**
   * The fault that catches a lease outliving its safety: cut the leader off from everyone while fresh
   * clients keep asking it for lease reads and keep writing through the other side, which elects a new
   * leader. A lease read the old leader serves after a write on the new side completed is stale, and the
   * linearizability check fails the seed.
   */
  private isolateLeaderAndProbe(members: SimNode[]): void {
    const old = this.leader();
    if (!old || this.probing) return;
    this.probing = true;
    const rest = members.filter((n) => n !== old);
    if (rest.length === 0) return;
    const cut: string[] = [];
    for (const b of rest) cut.push(`${old.id}>${b.id}`, `${b.id}>${old.id}`);
    for (const e of cut) this.isolation.add(e);
    this.trace(`isolate leader n${old.id}`);
    // Longer than two election timeouts, so the other side elects and commits while probes run.
    const until = this.q.now + 2 * ELECTION_TICKS * TICK_MS + this.rng.int(200);
    const key = this.rng.pick(KEYS); // one key, so a write on one side and a read on the other meet
    let reading: ClientRequest | undefined;
    let writing: ClientRequest | undefined;
    const probe = (): void => {
      if (!this.faultsOn || this.q.now >= until) return;
      // One probe of each kind at a time: piles of concurrent operations on one key make the
      // linearizability search exponential.
      if (old.alive && (!reading || reading.done)) reading = this.issueProbe(old.id, 'get', 'lease', key);
      // Writes only through a leader of the other side.
      const newLeader = rest.find((n) => n.alive && n.core!.role === 'leader');
      if (newLeader && (!writing || writing.done))
        writing = this.issueProbe(newLeader.id, 'put', 'safe', key);
      this.q.after(2 + this.rng.int(6), probe);
    };
    this.q.after(this.rng.int(10), probe);
    this.q.after(until - this.q.now, () => {
      this.isolation.clear();
      this.probing = false;
    });
  }

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.alive && n.core!.role === 'leader' && (!best || n.core!.term > best.core!.term)) best = n;
    }
    return best;
  }

  private changeMembership(): void {
    const leader = this.leader();
    if (!leader) return;
    const conf = leader.core!.conf;
    let cc: ConfChange;
    if (conf.learners.length > 0) {
      cc = { type: 'addVoter', node: conf.learners[0] };
    } else if (conf.voters.length < 5 && this.nextNodeId <= 12 && this.rng.chance(0.5)) {
      const id = this.nextNodeId++;
      this.start(this.addNode(id, joiningState()));
      cc = { type: 'addLearner', node: id };
    } else if (conf.voters.length > 3) {
      cc = { type: 'removeNode', node: this.rng.pick(conf.voters) };
    } else {
      return;
    }
    if (leader.core!.proposeConfChange(cc) > 0) {
      this.stats.confChanges++;
      this.trace(`n${leader.id} proposes ${cc.type} ${cc.node}`);
    }
    this.processReady(leader);
  }

  // ---- invariants ----

  private checkReady(n: SimNode, rd: Ready): void {
    const core = n.core!;
    if (rd.softState?.role === 'leader') {
      this.stats.elections++;
      const prev = this.leaderOfTerm.get(core.term);
      if (prev !== undefined && prev !== n.id) {
        throw new InvariantViolation(`election safety: n${prev} and n${n.id} both lead term ${core.term}`);
      }
      this.leaderOfTerm.set(core.term, n.id);
      this.trace(
        `n${n.id} leader term=${core.term} last=${core.log.lastIndex()} commit=${core.log.committed} voters=${core.conf.voters.join(',')}`,
      );
      this.checkLeaderCompleteness(n);
    }
    for (const e of rd.entriesToPersist) {
      // Log matching, inductively: an (index, term) pair names one entry with one predecessor term.
      const key = `${e.index}/${e.term}`;
      const prevTerm = core.log.term(e.index - 1);
      const sig = `${e.type}:${dataKey(e.data)}`;
      const seen = this.logRecord.get(key);
      if (seen === undefined) this.logRecord.set(key, `${prevTerm}|${sig}`);
      else {
        const [seenPrev, seenSig] = splitOnce(seen);
        if (seenSig !== sig || (prevTerm >= 0 && Number(seenPrev) >= 0 && Number(seenPrev) !== prevTerm)) {
          throw new InvariantViolation(`log matching: n${n.id} has a different entry ${key}`);
        }
        if (Number(seenPrev) < 0 && prevTerm >= 0) this.logRecord.set(key, `${prevTerm}|${sig}`);
      }
    }
    if (rd.snapshot) {
      const { index, term } = rd.snapshot.meta;
      if (index < this.appliedTerm.length && this.appliedTerm[index] !== term) {
        throw new InvariantViolation(`state machine safety: n${n.id} installs snapshot ${index}/${term}`);
      }
    }
  }

  private recordApplied(n: SimNode, e: Entry): void {
    const sig = `${e.type}:${dataKey(e.data)}`;
    if (e.index < this.appliedTerm.length) {
      if (this.appliedTerm[e.index] !== e.term || this.appliedData[e.index] !== sig) {
        throw new InvariantViolation(
          `state machine safety: n${n.id} applies a different entry at ${e.index}`,
        );
      }
    } else if (e.index === this.appliedTerm.length) {
      this.appliedTerm.push(e.term);
      this.appliedData.push(sig);
      this.stats.committed = e.index;
    } else {
      throw new InvariantViolation(`n${n.id} applies ${e.index} beyond the known committed prefix`);
    }
  }

  /** Leader completeness: a new leader's log holds every entry committed so far. */
  private checkLeaderCompleteness(n: SimNode): void {
    const log = n.core!.log;
    for (let i = log.offset; i < this.appliedTerm.length; i++) {
      if (i === 0) continue;
      const t = log.term(i);
      if (t !== this.appliedTerm[i]) {
        throw new InvariantViolation(`leader completeness: leader n${n.id} lacks committed entry ${i}`);
      }
    }
  }

  private checkConverged(): void {
    const leader = this.leader();
    if (!leader) throw new InvariantViolation('liveness: no leader after the cluster healed');
    const core = leader.core!;
    if (core.log.committed < this.appliedTerm.length - 1) {
      throw new InvariantViolation(`committed entry lost: leader commit ${core.log.committed}`);
    }
    const members = [...core.conf.voters, ...core.conf.learners];
    const want = JSON.stringify([...leader.kv.map].sort());
    for (const id of members) {
      const n = this.nodes.get(id)!;
      if (!n.alive) throw new InvariantViolation(`n${id} not running at the end`);
      if (n.kv.applied !== core.log.committed) {
        throw new InvariantViolation(`liveness: n${id} applied ${n.kv.applied} of ${core.log.committed}`);
      }
      if (JSON.stringify([...n.kv.map].sort()) !== want) {
        throw new InvariantViolation(`replicas disagree: n${id} vs leader n${leader.id}`);
      }
    }
  }
}

function dataKey(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
}

function splitOnce(s: string): [string, string] {
  const i = s.indexOf('|');
  return [s.slice(0, i), s.slice(i + 1)];
}

export function runSimulation(opts: SimOptions): SimResult {
  return new Simulation(opts).run();
}
