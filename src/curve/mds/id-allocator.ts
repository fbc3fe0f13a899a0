// Ids handed out from batches reserved in the store: one compare-and-swap per `batch` ids, so a crash
// (or a leader change) skips at most the rest of a batch and never hands out an id twice.
import { KvStore } from './kv-store';

export class BatchIdAllocator {
  private next = 0;
  private end = 0; // exclusive
  private lock: Promise<unknown> = Promise.resolve();

  /** `first` is the first id ever handed out (ids below it are reserved). */
  constructor(
    private readonly store: KvStore,
    private readonly key: string,
    private readonly batch = 100,
    private readonly first = 1,
  ) {}

  allocate(): Promise<number> {
    const run = this.lock.then(() => this.take());
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** Forget the cached batch (after a leader change another MDS may have reserved past it). */
  reset(): void {
    this.next = this.end = 0;
  }

  private async take(): Promise<number> {
    if (this.next < this.end) return this.next++;
    for (let attempt = 0; attempt < 100; attempt++) {
      const cur = await this.store.get(this.key);
      const start = cur ? Number(cur.toString()) : this.first;
      const end = start + this.batch;
      const ok = await this.store.txn(
        [{ key: this.key, value: cur ?? null }],
        [{ type: 'put', key: this.key, value: Buffer.from(String(end)) }],
      );
      if (ok) {
        this.next = start + 1;
        this.end = end;
        return start;
      }
    }
    throw new Error(`id allocation on ${this.key} kept conflicting`);
  }
}
