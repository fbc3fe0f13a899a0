// Deletes the chunks of freed segments on the chunkservers. The namespace records each freed segment
// under GARBAGE_PREFIX in the same transaction that removes it, so nothing is forgotten across a crash
// or a leader change; this loop (leader only) sends DeleteChunk for every chunk of a record to the
// copyset's leader and removes the record once all of them succeeded. Deleting an absent chunk succeeds
// on the chunkserver, so resending after a partial pass or a failover is harmless. Failed records are
// retried on the next pass, which comes sooner when new garbage arrives.
import { messageCodec } from '../common/protos';
import type { Logger } from '../../common/log';
import type { ChunkCommander } from './chunk-commander';
import { GARBAGE_PREFIX } from './kv-keys';
import type { KvStore } from './kv-store';
import type { PageFileSegment } from './namespace-types';
import type { Topology } from './topology';
import { copysetKeyOf } from './topology-types';

const segmentCodec = messageCodec<PageFileSegment>('curve.mds.PageFileSegment');

export interface CleanerOptions {
  /** Pause between passes while garbage remains (a pass also starts when new garbage is kicked). */
  intervalMs: number;
  /** Records handled per pass. */
  batch: number;
  /** Chunk deletions in flight at once. */
  parallel: number;
}

export class ChunkCleaner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  readonly counters = { chunksDeleted: 0, segmentsCleaned: 0, failures: 0 };

  constructor(
    private readonly store: KvStore,
    private readonly topology: () => Topology,
    private readonly commander: ChunkCommander,
    private readonly opts: CleanerOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.kick();
  }

  /** Runs a pass now (or right after the current one). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.pass()
      .catch((err: Error) => {
        this.log.warn('chunk cleaner pass failed', { err });
        return false;
      })
      .then((more) => {
        this.running = undefined;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.kick();
        } else if (more) {
          this.timer = setTimeout(() => this.kick(), this.opts.intervalMs);
          this.timer.unref();
        }
      });
  }

  /** Records still waiting for their chunks to be deleted. */
  async pending(): Promise<number> {
    return (await this.store.scan(GARBAGE_PREFIX)).length;
  }

  /** One pass over up to `batch` records; true when garbage remains. */
  private async pass(): Promise<boolean> {
    const records = await this.store.scan(GARBAGE_PREFIX, this.opts.batch);
    let left = false;
    for (const rec of records) {
      if (this.stopped) return true;
      const seg = segmentCodec.decode(rec.value);
      if (await this.deleteChunks(seg)) {
        await this.store.txn([{ key: rec.key, value: rec.value }], [{ type: 'delete', key: rec.key }]);
        this.counters.segmentsCleaned++;
      } else {
        left = true;
      }
    }
    return left || records.length === this.opts.batch;
  }

  private endpointsOf(pool: number, copyset: number): string[] | undefined {
    const topo = this.topology();
    const c = topo.copysets.get(copysetKeyOf(pool, copyset));
    if (!c) return undefined;
    const members = [...c.chunkServerIDs].sort((a, b) => (a === c.leader ? -1 : b === c.leader ? 1 : 0));
    return members.flatMap((id) => {
      const cs = topo.chunkservers.get(id);
      return cs ? [`${cs.hostIp}:${cs.port}`] : [];
    });
  }

  private async deleteChunks(seg: PageFileSegment): Promise<boolean> {
    let ok = true;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < seg.chunks.length && !this.stopped) {
        const chunk = seg.chunks[next++];
        const endpoints = this.endpointsOf(seg.logicalPoolID, chunk.copysetID);
        if (!endpoints) continue; // the copyset no longer exists: nothing holds the chunk
        if (await this.commander.deleteChunk(endpoints, seg.logicalPoolID, chunk.copysetID, chunk.chunkID)) {
          this.counters.chunksDeleted++;
        } else {
          this.counters.failures++;
          ok = false;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.opts.parallel) }, worker));
    if (!ok)
      this.log.info('chunks of a freed segment not all deleted yet; will retry', {
        pool: seg.logicalPoolID,
        offset: seg.startOffset,
      });
    return ok && !this.stopped;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
