// One chunk operation on its way through its copyset's Raft group, as a single object rather than a chain
// of promises: the Raft host tells it that the entry committed and was applied here (resolve) or that it
// failed (reject); the copyset's state machine tells it the apply's outcome (applied). With both, or on a
// failure, it tells its listener, once. The write path makes one per request instead of the promises,
// closures and async frames of awaiting each step, all young-generation garbage at 15K writes a second.
import type { ProposalWaiter } from '../raft/multi-raft-host';
import type { ChunkLogEntry } from './chunk-op-codec';
import type { ApplyResult } from './copyset-node';

export interface ProposalListener {
  /** The entry is committed and applied here; `r` is the apply's outcome. */
  proposalApplied(r: ApplyResult): void;
  /** Not leader, overwritten by a new leader, or the host stopped: the outcome is unknown. */
  proposalFailed(err: Error): void;
}

export interface ProposalOwner {
  forgetProposal(p: Proposal): void;
}

export class Proposal implements ProposalWaiter {
  /** Set by the host: the term the entry was proposed in. */
  term = 0;
  /** The entry's log index (0 until proposed). */
  index = 0;
  private result: ApplyResult | undefined;
  private committed = false;

  constructor(
    private readonly owner: ProposalOwner,
    private listener: ProposalListener | undefined,
    /** The operation proposed (its entry's decoded form: the apply here uses it as is). */
    readonly op: ChunkLogEntry,
  ) {}

  /** The host: committed, and applied here (the apply's outcome may come later, from an async apply). */
  resolve(): void {
    this.committed = true;
    if (this.result) this.finish();
  }

  reject(err: Error): void {
    const l = this.listener;
    if (!l) return;
    this.listener = undefined;
    this.owner.forgetProposal(this);
    l.proposalFailed(err);
  }

  /** The state machine's outcome for the entry at this index. */
  applied(r: ApplyResult): void {
    this.result = r;
    if (this.committed) this.finish();
  }

  private finish(): void {
    const l = this.listener;
    if (!l) return;
    this.listener = undefined;
    this.owner.forgetProposal(this);
    l.proposalApplied(this.result!);
  }
}
