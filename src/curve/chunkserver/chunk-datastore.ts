// The chunk store of one copyset's data directory (Curve's CSDataStore): chunk files by id, their
// snapshots, clone chunks, all taken from a shared ChunkFilePool. Operations on one chunk run one at a
// time in arrival order; operations on different chunks run concurrently. Every failure is a
// ChunkStoreError whose status is a CHUNK_OP_STATUS. A chunk whose metapage fails its checksum is
// reported (corruptChunks, log) and answers CRC_FAIL: its contents are never served.

import * as fs from 'node:fs/promises';
import { createLogger } from '../../common/log';
import { ChunkFile, chunkFileName, type ChunkInfo } from './chunk-file';
import type { ChunkFilePool } from './chunk-file-pool';
import { ChunkOpStatus, ChunkStoreError, toChunkStoreError } from './chunk-status';

const log = createLogger('chunk-datastore');

export interface ChunkDataStoreOptions {
  /** Directory holding chunk_<id> and chunk_<id>_snap_<sn> files. */
  dir: string;
  pool: ChunkFilePool;
  /** fdatasync after every write (default false: the Raft log carries durability). */
  syncWrites?: boolean;
}

const CHUNK_RE = /^chunk_(\d+)$/;
const SNAP_RE = /^chunk_(\d+)_snap_(\d+)$/;

export class ChunkDataStore {
  private readonly chunks = new Map<number, ChunkFile>();
  private readonly corrupt = new Map<number, string>();
  private readonly queues = new Map<number, Promise<unknown>>();
  readonly chunkSize: number;
  readonly pageSize: number;

  private constructor(private readonly opts: ChunkDataStoreOptions) {
    this.chunkSize = opts.pool.chunkSize;
    this.pageSize = opts.pool.metaPageSize;
  }

  /** Opens the directory and loads every chunk in it; corrupt chunks are recorded, not fatal. */
  static async open(opts: ChunkDataStoreOptions): Promise<ChunkDataStore> {
    const ds = new ChunkDataStore(opts);
    await fs.mkdir(opts.dir, { recursive: true });
    const names = await fs.readdir(opts.dir);
    const snaps = new Map<number, number[]>();
    for (const n of names) {
      const m = SNAP_RE.exec(n);
      if (m) snaps.set(Number(m[1]), [...(snaps.get(Number(m[1])) ?? []), Number(m[2])]);
    }
    for (const n of names) {
      const m = CHUNK_RE.exec(n);
      if (!m) continue;
      const id = Number(m[1]);
      const snapSns = snaps.get(id) ?? [];
      try {
        if (snapSns.length > 1) {
          throw new ChunkStoreError(
            ChunkOpStatus.FAILURE_UNKNOWN,
            `chunk ${id}: ${snapSns.length} snapshot files`,
          );
        }
        ds.chunks.set(id, await ChunkFile.load(opts.dir, id, snapSns[0], opts.pool, opts.syncWrites));
      } catch (err) {
        const e = toChunkStoreError(err, `load chunk ${id}`);
        ds.corrupt.set(id, e.message);
        log.error('chunk failed to load', { dir: opts.dir, chunkId: id, err: e.message });
      }
    }
    return ds;
  }

  /** Chunks that failed their checksum (or otherwise failed to load), with the reason. */
  corruptChunks(): Map<number, string> {
    return new Map(this.corrupt);
  }

  chunkIds(): number[] {
    return [...this.chunks.keys()];
  }

  getChunkInfo(id: number): ChunkInfo | undefined {
    this.checkNotCorrupt(id);
    return this.chunks.get(id)?.info();
  }

  /** Writes whole pages; creates the chunk (at `sn`) on first write. */
  writeChunk(id: number, sn: number, data: Buffer, offset: number): Promise<void> {
    return this.serial(id, async () => {
      this.checkRange(offset, data.length);
      let chunk = this.chunks.get(id);
      if (!chunk) {
        chunk = await ChunkFile.create(
          this.opts.dir,
          id,
          { sn, correctedSn: 0 },
          this.opts.pool,
          this.opts.syncWrites,
        );
        this.chunks.set(id, chunk);
      }
      await chunk.write(sn, data, offset);
    });
  }

  /**
   * `writeChunk` done now when nothing is queued for the chunk and its file can take the write inline
   * (ChunkFile.tryWriteNow): most Raft applies, without a promise chain each. False: use writeChunk.
   * Throws a ChunkStoreError as writeChunk would reject.
   */
  tryWriteChunkNow(id: number, sn: number, data: Buffer, offset: number): boolean {
    if (this.queues.has(id) || this.corrupt.has(id)) return false;
    const chunk = this.chunks.get(id);
    if (!chunk) return false;
    try {
      this.checkRange(offset, data.length);
      return chunk.tryWriteNow(sn, data, offset);
    } catch (err) {
      throw toChunkStoreError(err, `chunk ${id}`);
    }
  }

  /** Current data; CHUNK_NOTEXIST when the chunk was never written (the client returns zeros). */
  readChunk(id: number, offset: number, length: number): Promise<Buffer> {
    return this.serial(id, async () => {
      this.checkRange(offset, length);
      return this.existing(id).read(offset, length);
    });
  }

  /** The chunk as of `sn` (its current data or its snapshot); CHUNK_NOTEXIST when neither matches. */
  readSnapshotChunk(id: number, sn: number, offset: number, length: number): Promise<Buffer> {
    return this.serial(id, async () => {
      this.checkRange(offset, length);
      return this.existing(id).readSpecified(sn, offset, length);
    });
  }

  /** Deleting an absent chunk succeeds (idempotent, as replayed log entries need). */
  deleteChunk(id: number, sn: number): Promise<void> {
    return this.serial(id, async () => {
      const chunk = this.chunks.get(id);
      if (!chunk) return;
      await chunk.delete(sn);
      this.chunks.delete(id);
    });
  }

  deleteSnapshotChunkOrCorrectSn(id: number, correctedSn: number): Promise<void> {
    return this.serial(id, async () => {
      await this.chunks.get(id)?.deleteSnapshotOrCorrectSn(correctedSn);
    });
  }

  /** Creates a clone chunk whose unwritten pages live at `location`; idempotent for the same location. */
  createCloneChunk(
    id: number,
    sn: number,
    correctedSn: number,
    size: number,
    location: string,
  ): Promise<void> {
    return this.serial(id, async () => {
      if (size !== this.chunkSize) {
        throw new ChunkStoreError(
          ChunkOpStatus.INVALID_REQUEST,
          `clone size ${size} is not the chunk size ${this.chunkSize}`,
        );
      }
      if (!location) throw new ChunkStoreError(ChunkOpStatus.INVALID_REQUEST, 'clone chunk needs a location');
      const existing = this.chunks.get(id);
      if (existing) {
        const info = existing.info();
        if (
          info.isClone &&
          info.location === location &&
          info.curSn === sn &&
          info.correctedSn === correctedSn
        )
          return;
        throw new ChunkStoreError(
          ChunkOpStatus.CHUNK_EXIST,
          `chunk ${id} exists with different clone information`,
        );
      }
      const chunk = await ChunkFile.create(
        this.opts.dir,
        id,
        { sn, correctedSn, location },
        this.opts.pool,
        this.opts.syncWrites,
      );
      this.chunks.set(id, chunk);
    });
  }

  /** RecoverChunk: fills pages of a clone chunk not written yet; written pages are left alone. */
  pasteChunk(id: number, data: Buffer, offset: number): Promise<void> {
    return this.serial(id, async () => {
      this.checkRange(offset, data.length);
      await this.existing(id).paste(data, offset);
    });
  }

  /**
   * fdatasync every chunk (before a Raft snapshot claims the data is applied): covers every operation
   * finished before the call. Not queued behind or ahead of the chunks' operations: writes applied
   * meanwhile (beyond the snapshot) go on instead of waiting a whole fsync each.
   */
  async syncAll(): Promise<void> {
    for (const [id, chunk] of [...this.chunks]) {
      try {
        await chunk.sync();
      } catch (err) {
        throw toChunkStoreError(err, `chunk ${id}`);
      }
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()]);
    for (const c of this.chunks.values()) await c.close();
    this.chunks.clear();
  }

  private existing(id: number): ChunkFile {
    this.checkNotCorrupt(id);
    const chunk = this.chunks.get(id);
    if (!chunk)
      throw new ChunkStoreError(ChunkOpStatus.CHUNK_NOTEXIST, `${chunkFileName(id)} does not exist`);
    return chunk;
  }

  private checkNotCorrupt(id: number): void {
    const why = this.corrupt.get(id);
    if (why !== undefined) throw new ChunkStoreError(ChunkOpStatus.CRC_FAIL, why);
  }

  private checkRange(offset: number, length: number): void {
    const p = this.pageSize;
    if (
      !Number.isInteger(offset) ||
      !Number.isInteger(length) ||
      offset < 0 ||
      length <= 0 ||
      offset % p !== 0 ||
      length % p !== 0 ||
      offset + length > this.chunkSize
    ) {
      throw new ChunkStoreError(
        ChunkOpStatus.INVALID_REQUEST,
        `range ${offset}+${length} not aligned to ${p} or outside the ${this.chunkSize}-byte chunk`,
      );
    }
  }

  /** Runs `op` after every earlier operation on chunk `id`; errors become ChunkStoreErrors. */
  private serial<T>(id: number, op: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(id) ?? Promise.resolve();
    const run = prev.then(
      () => this.guard(id, op),
      () => this.guard(id, op),
    );
    this.queues.set(id, run);
    const cleanup = (): void => {
      if (this.queues.get(id) === run) this.queues.delete(id);
    };
    run.then(cleanup, cleanup);
    return run;
  }

  private async guard<T>(id: number, op: () => Promise<T>): Promise<T> {
    this.checkNotCorrupt(id);
    try {
      return await op();
    } catch (err) {
      throw toChunkStoreError(err, `chunk ${id}`);
    }
  }
}
