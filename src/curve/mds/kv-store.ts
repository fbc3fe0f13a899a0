// The metadata store seam of the MDS: a small ordered KV API that both the embedded store (LevelDB via
// classic-level) and etcd implement. Keys are strings laid out by prefix (see kv-keys.ts), values bytes.

export interface KvPair {
  key: string;
  value: Buffer;
}

/** A transaction guard: the key must hold exactly `value`, or be absent when `value` is null. */
export interface KvCompare {
  key: string;
  value: Buffer | null;
}

export type KvOp = { type: 'put'; key: string; value: Buffer } | { type: 'delete'; key: string };

export interface KvWatchEvent {
  type: 'put' | 'delete';
  key: string;
  value?: Buffer;
}

export interface KvStore {
  get(key: string): Promise<Buffer | undefined>;
  put(key: string, value: Buffer): Promise<void>;
  delete(key: string): Promise<void>;
  /** All pairs whose key starts with prefix, in key order; at most `limit` when given. */
  scan(prefix: string, limit?: number): Promise<KvPair[]>;
  /** Applies all ops atomically iff every compare holds; resolves whether it did. */
  txn(compares: KvCompare[], ops: KvOp[]): Promise<boolean>;
  /** Calls onEvent for every later change under prefix; resolves to a function that stops watching. */
  watch(prefix: string, onEvent: (ev: KvWatchEvent) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** A write refused because this process no longer holds MDS leadership (see election.ts). */
export class FencedError extends Error {
  constructor(message = 'write fenced: this MDS is not the leader') {
    super(message);
    this.name = 'FencedError';
  }
}

/** Smallest string greater than every string starting with prefix (exclusive upper bound of a scan). */
export function prefixEnd(prefix: string): string {
  return prefix + '\uffff';
}
