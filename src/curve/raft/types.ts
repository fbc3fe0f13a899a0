// Data types shared by the Raft core, its storage and transport adapters and the simulator.
// Node ids are positive integers; 0 means "nobody".

export type NodeId = number;
export const NONE: NodeId = 0;

export enum EntryType {
  Normal = 0,
  /** data is an encoded ConfChange (see conf-change.ts). */
  ConfChange = 1,
}

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
  /**
   * CRC32C of the entry's storage record (term, index, type, data; file-storage.ts), set by the first
   * storage that writes it. The transports carry it, so the other replicas write their records without
   * reading the data again; a record whose data does not match it fails its check on replay.
   */
  crc?: number;
}

/** What must be durable before a vote or an append is acknowledged. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export interface SnapshotMeta {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  /** Application state at meta.index, opaque to Raft. */
  data: Uint8Array;
}

export type MessageType =
  | 'app'
  | 'appResp'
  | 'heartbeat'
  | 'heartbeatResp'
  | 'vote'
  | 'voteResp'
  | 'preVote'
  | 'preVoteResp'
  | 'snap'
  | 'timeoutNow';

/** Control messages go on the priority lane of a transport: they must never wait behind bulk appends. */
export function isControlMessage(type: MessageType): boolean {
  return type !== 'app' && type !== 'snap';
}

/**
 * One wire message. All fields are always present (monomorphic objects keep V8 fast); unused ones are 0,
 * false, [] or null.
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** app: term of the entry at index; appResp reject: term hint for fast backtracking; vote: last log term. */
  logTerm: number;
  /** app: index preceding entries; appResp: last matched index (or rejected index); vote: last index. */
  index: number;
  commit: number;
  entries: Entry[];
  reject: boolean;
  /** appResp reject: the follower's hint index for fast backtracking. */
  rejectHint: number;
  snapshot: Snapshot | null;
  /** Leader's tick when a heartbeat/append was sent, echoed back: the basis of the leader lease. */
  leaseTick: number;
  /** ReadIndex round carried by heartbeats and echoed back. */
  readSeq: number;
  /** vote/preVote: campaign started by TimeoutNow, which may override a voter's leader lease. */
  transfer: boolean;
}

export function makeMessage(type: MessageType, from: NodeId, to: NodeId, term: number): Message {
  return {
    type,
    from,
    to,
    term,
    logTerm: 0,
    index: 0,
    commit: 0,
    entries: [],
    reject: false,
    rejectHint: 0,
    snapshot: null,
    leaseTick: 0,
    readSeq: 0,
    transfer: false,
  };
}

/** A read that may be served once the state machine has applied `index`. */
export interface ReadState {
  index: number;
  ctx: unknown;
}

/**
 * Work the application must do, in this order: make entriesToPersist, hardState and snapshot durable
 * (entriesToPersist[0].index tells where to truncate), then send messages, apply committedEntries, serve
 * readStates once applied, and call advance(ready). Several Readys may be outstanding; advance them in order.
 */
export interface Ready {
  messages: Message[];
  entriesToPersist: Entry[];
  hardState: HardState | null;
  committedEntries: Entry[];
  /** A snapshot received from the leader: persist it and restore the state machine from it. */
  snapshot: Snapshot | null;
  readStates: ReadState[];
  /** Set when the role or leader changed since the previous Ready. */
  softState: SoftState | null;
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export interface SoftState {
  role: Role;
  leader: NodeId;
}

/** What a node restarts from: everything its storage holds. */
export interface InitialState {
  hardState: HardState;
  snapshot: Snapshot | null;
  /** Entries after the snapshot (or from index 1), contiguous. */
  entries: Entry[];
  /** Bootstrap configuration, used when there is no snapshot (a brand-new group). */
  confState: ConfState;
}

export function emptyHardState(): HardState {
  return { term: 0, vote: NONE, commit: 0 };
}
