// Embedded metadata store on LevelDB (classic-level). Every write is synced before it resolves, so an
// acknowledged write survives kill -9. Transactions are serialized in-process: LevelDB allows one
// process per database, so an in-process lock is a full lock.
import { EventEmitter } from 'node:events';
import { ClassicLevel } from 'classic-level';
import { KvCompare, KvOp, KvPair, KvStore, KvWatchEvent } from './kv-store';

export class LevelKvStore implements KvStore {
  private readonly events = new EventEmitter();
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly db: ClassicLevel<string, Buffer>) {
    this.events.setMaxListeners(0);
  }

  static async open(dir: string): Promise<LevelKvStore> {
    const db = new ClassicLevel<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.open();
    return new LevelKvStore(db);
  }

  /** Runs fn after every earlier write/txn finished (a FIFO lock). */
  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async get(key: string): Promise<Buffer | undefined> {
    return (await this.db.get(key)) ?? undefined;
  }

  put(key: string, value: Buffer): Promise<void> {
    return this.txn([], [{ type: 'put', key, value }]).then(() => undefined);
  }

  delete(key: string): Promise<void> {
    return this.txn([], [{ type: 'delete', key }]).then(() => undefined);
  }

  async scan(prefix: string, limit?: number): Promise<KvPair[]> {
    const out: KvPair[] = [];
    const it = this.db.iterator({ gte: prefix, lt: prefix + '\uffff', limit: limit ?? -1 });
    try {
      for await (const [key, value] of it) out.push({ key, value });
    } finally {
      await it.close();
    }
    return out;
  }

  txn(compares: KvCompare[], ops: KvOp[]): Promise<boolean> {
    return this.serialize(async () => {
      for (const c of compares) {
        const cur = (await this.db.get(c.key)) ?? null;
        if (c.value === null ? cur !== null : cur === null || !cur.equals(c.value)) return false;
      }
      if (ops.length > 0) {
        await this.db.batch(
          ops.map((op) =>
            op.type === 'put'
              ? { type: 'put' as const, key: op.key, value: op.value }
              : { type: 'del' as const, key: op.key },
          ),
          { sync: true },
        );
      }
      for (const op of ops) {
        const ev: KvWatchEvent =
          op.type === 'put' ? { type: 'put', key: op.key, value: op.value } : { type: 'delete', key: op.key };
        this.events.emit('change', ev);
      }
      return true;
    });
  }

  async watch(prefix: string, onEvent: (ev: KvWatchEvent) => void): Promise<() => Promise<void>> {
    const listener = (ev: KvWatchEvent): void => {
      if (ev.key.startsWith(prefix)) onEvent(ev);
    };
    this.events.on('change', listener);
    return async () => {
      this.events.off('change', listener);
    };
  }

  async close(): Promise<void> {
    await this.serialize(async () => undefined);
    this.events.removeAllListeners();
    await this.db.close();
  }
}
