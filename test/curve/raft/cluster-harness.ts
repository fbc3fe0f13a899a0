// A tiny synchronous harness for unit tests of the Raft core: messages are delivered in rounds, storage is
// instant, and links can be cut.
import { bootstrapState, joiningState } from '../../../src/curve/raft/bootstrap';
import { Prng } from '../../../src/curve/raft/prng';
import { RaftConfig, RaftCore } from '../../../src/curve/raft/raft-core';
import { Entry, InitialState, Message, NodeId, ReadState } from '../../../src/curve/raft/types';

export class Harness {
  readonly nodes = new Map<NodeId, RaftCore>();
  readonly applied = new Map<NodeId, Entry[]>();
  readonly reads = new Map<NodeId, ReadState[]>();
  readonly cut = new Set<string>();
  readonly sent: Message[] = [];
  private queue: Message[] = [];
  private readonly rng: Prng;

  constructor(
    voters: NodeId[],
    private readonly extra: Partial<RaftConfig> = {},
    seed = 1,
  ) {
    this.rng = new Prng(seed);
    for (const id of voters) this.add(id, bootstrapState(voters));
  }

  add(id: NodeId, init: InitialState = joiningState()): RaftCore {
    const core = new RaftCore({ id, random: (n) => this.rng.int(n), ...this.extra }, init);
    this.nodes.set(id, core);
    this.applied.set(id, []);
    this.reads.set(id, []);
    return core;
  }

  node(id: NodeId): RaftCore {
    return this.nodes.get(id)!;
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Process every node's Ready (persisting instantly) and queue its messages. */
  flush(): void {
    for (const [id, core] of this.nodes) {
      while (core.hasReady()) {
        const rd = core.ready();
        this.applied.get(id)!.push(...rd.committedEntries);
        this.reads.get(id)!.push(...rd.readStates);
        for (const m of rd.messages) {
          this.sent.push(m);
          this.queue.push(m);
        }
        core.advance();
      }
    }
  }

  /** Deliver messages until the network is quiet (or a round limit). */
  settle(maxRounds = 100): void {
    for (let r = 0; r < maxRounds; r++) {
      this.flush();
      if (this.queue.length === 0) return;
      const q = this.queue;
      this.queue = [];
      for (const m of q) {
        const to = this.nodes.get(m.to);
        if (to && !this.cut.has(`${m.from}>${m.to}`)) to.step(m);
      }
    }
  }

  tickAll(n = 1, except: NodeId[] = []): void {
    for (let i = 0; i < n; i++) {
      for (const [id, core] of this.nodes) if (!except.includes(id)) core.tick();
      this.settle();
    }
  }

  /** Elect `id` by making it campaign. */
  elect(id: NodeId): void {
    // A transfer-style campaign overrides the voters' lease (they honour one for an election timeout after
    // start or after hearing from a leader).
    this.node(id).campaign('transfer');
    this.settle();
  }

  leader(): RaftCore | undefined {
    let best: RaftCore | undefined;
    for (const c of this.nodes.values()) if (c.role === 'leader' && (!best || c.term > best.term)) best = c;
    return best;
  }
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (d: Uint8Array): string => new TextDecoder().decode(d);
