// A chunkserver-wide bound on the Raft log bytes its copysets hold since their last snapshots. Each
// copyset keeps the entries it applied since its last snapshot in memory (the Raft log), and a journal
// checkpoint copies the ones no snapshot covers yet into the copyset's segment files. A copyset's own
// snapshot interval (16 MiB) is fine alone, but 64 busy copysets would then hold ~1 GiB. Like RocksDB's
// write buffer manager flushing its largest memtable, this picks the copyset holding the most bytes for
// a snapshot whenever the total is over the budget. It bounds memory, not the segment copy: a budget
// small enough for snapshots to beat the checkpoint costs more in chunk-file fsyncs than the copy does
// (docs/benchmarks.md, session 12). Pure bookkeeping: the copysets report bytes, the caller snapshots.

export class LogMemoryBudget<K> {
  private readonly held = new Map<K, number>();
  private total = 0;

  /**
   * `budgetBytes` <= 0 disables it. A copyset holding less than `minBytes` is never picked (a snapshot
   * costs a few fsyncs), so with very many copysets the bound is soft: at most copysets x minBytes over.
   */
  constructor(
    readonly budgetBytes: number,
    readonly minBytes: number,
  ) {}

  get totalBytes(): number {
    return this.total;
  }

  /** `key` applied `bytes` more of log. */
  add(key: K, bytes: number): void {
    this.held.set(key, (this.held.get(key) ?? 0) + bytes);
    this.total += bytes;
  }

  /** A snapshot of `key` covered `bytes` of what it held (never more than it held). */
  release(key: K, bytes: number): void {
    const had = this.held.get(key);
    if (had === undefined) return;
    const n = Math.min(had, Math.max(0, bytes));
    this.held.set(key, had - n);
    this.total -= n;
  }

  /** `key` is gone (deleted or closed): it holds nothing any more. */
  remove(key: K): void {
    this.total -= this.held.get(key) ?? 0;
    this.held.delete(key);
  }

  /** Over budget: the key holding the most bytes (at least minBytes) that `busy` does not exclude. */
  pick(busy: (key: K) => boolean): K | undefined {
    if (this.budgetBytes <= 0 || this.total <= this.budgetBytes) return undefined;
    let best: K | undefined;
    let most = this.minBytes - 1;
    for (const [k, n] of this.held) {
      if (n > most && !busy(k)) {
        best = k;
        most = n;
      }
    }
    return best;
  }
}
