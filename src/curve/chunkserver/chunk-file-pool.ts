// The chunk file pool: chunk-sized files formatted (zero-filled, so their blocks are allocated) ahead
// of time in the background, handed out by rename so creating a chunk costs one metapage write and a
// rename. Deleted chunks go to a trash directory and come back to the pool, zeroed again, after a delay
// (so an operator can still rescue a chunk deleted by mistake).
//
//   <dir>/pool/<n>            formatted files ready to hand out
//   <dir>/pool/<n>.tmp        a file being formatted (removed at open: half-written)
//   <dir>/trash/<name>.<ms>   recycled files with the time they were deleted

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { createLogger } from '../../common/log';
import { zeroFillFile } from '../../common/zero-fill';
import { ChunkOpStatus, ChunkStoreError, statusOfError } from './chunk-status';

const log = createLogger('chunk-file-pool');

export interface ChunkFilePoolOptions {
  dir: string;
  /** Data bytes per chunk (16 MiB by default). */
  chunkSize?: number;
  /** Metapage bytes at the head of each file (4 KiB). */
  metaPageSize?: number;
  /** How many formatted files to keep ready. */
  targetCount: number;
  /** How long a deleted chunk stays in the trash before it is reused (default 1 h). */
  trashDelayMs?: number;
  /** When the pool is empty, create and format a file on the spot instead of answering NOSPACE. */
  allowCreateWhenEmpty?: boolean;
}

export interface ChunkFilePoolStats {
  available: number;
  target: number;
  /** Files formatted so far by this process. */
  formatted: number;
  /** available / target, 0..1. */
  progress: number;
  formatting: boolean;
  trash: number;
  /** Why formatting stopped early (e.g. ENOSPC), if it did. */
  lastError: string | undefined;
}

export class ChunkFilePool {
  readonly chunkSize: number;
  readonly metaPageSize: number;
  readonly fileSize: number;
  private readonly poolDir: string;
  private readonly trashDir: string;
  private readonly free: string[] = [];
  private trashCount = 0;
  private nextName = 0;
  private formattedCount = 0;
  private formatting: Promise<void> | undefined;
  private lastError: string | undefined;
  private closed = false;

  private constructor(private readonly opts: ChunkFilePoolOptions) {
    this.chunkSize = opts.chunkSize ?? 16 << 20;
    this.metaPageSize = opts.metaPageSize ?? 4096;
    this.fileSize = this.chunkSize + this.metaPageSize;
    this.poolDir = path.join(opts.dir, 'pool');
    this.trashDir = path.join(opts.dir, 'trash');
  }

  /** Opens (creating if needed) a pool; files of the wrong size and half-formatted ones are removed. */
  static async open(opts: ChunkFilePoolOptions): Promise<ChunkFilePool> {
    const pool = new ChunkFilePool(opts);
    await fs.mkdir(pool.poolDir, { recursive: true });
    await fs.mkdir(pool.trashDir, { recursive: true });
    for (const name of await fs.readdir(pool.poolDir)) {
      const p = path.join(pool.poolDir, name);
      const n = Number(name);
      const st = await fs.stat(p);
      if (!Number.isInteger(n) || st.size !== pool.fileSize) {
        await fs.rm(p, { force: true });
        continue;
      }
      pool.free.push(name);
      pool.nextName = Math.max(pool.nextName, n + 1);
    }
    pool.trashCount = (await fs.readdir(pool.trashDir)).length;
    return pool;
  }

  stats(): ChunkFilePoolStats {
    const target = this.opts.targetCount;
    return {
      available: this.free.length,
      target,
      formatted: this.formattedCount,
      progress: target === 0 ? 1 : Math.min(1, this.free.length / target),
      formatting: this.formatting !== undefined,
      trash: this.trashCount,
      lastError: this.lastError,
    };
  }

  /** Starts (or joins) background formatting up to targetCount; resolves when it stops. */
  fill(): Promise<void> {
    this.formatting ??= this.formatLoop().finally(() => {
      this.formatting = undefined;
    });
    return this.formatting;
  }

  private async formatLoop(): Promise<void> {
    this.lastError = undefined;
    while (!this.closed && this.free.length < this.opts.targetCount) {
      try {
        this.free.push(await this.formatNew());
      } catch (err) {
        this.lastError = (err as Error).message;
        log.warn('formatting stopped', { err: err as Error, available: this.free.length });
        return;
      }
    }
  }

  private async formatNew(): Promise<string> {
    const name = String(this.nextName++);
    const tmp = path.join(this.poolDir, `${name}.tmp`);
    try {
      await zeroFillFile(tmp, this.fileSize, 'w');
      await fs.rename(tmp, path.join(this.poolDir, name));
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    this.formattedCount++;
    return name;
  }

  /**
   * Moves a formatted file to `dest` with `metaPage` written at its head. Throws NOSPACE when the pool
   * is empty (unless allowCreateWhenEmpty) or the disk is full; CHUNK_EXIST when dest exists.
   */
  async take(dest: string, metaPage: Buffer): Promise<void> {
    if (metaPage.length !== this.metaPageSize) throw new RangeError('metapage size mismatch');
    let name = this.free.pop();
    try {
      if (name === undefined) {
        if (!this.opts.allowCreateWhenEmpty) {
          throw new ChunkStoreError(ChunkOpStatus.NOSPACE, 'chunk file pool is empty');
        }
        name = await this.formatNew();
      }
      const src = path.join(this.poolDir, name);
      const fh = await fs.open(src, 'r+');
      try {
        await fh.write(metaPage, 0, metaPage.length, 0);
        await fh.datasync();
      } finally {
        await fh.close();
      }
      // link + unlink is a rename that refuses to replace an existing chunk.
      try {
        await fs.link(src, dest);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          this.free.push(name);
          name = undefined;
          throw new ChunkStoreError(ChunkOpStatus.CHUNK_EXIST, `${path.basename(dest)} already exists`);
        }
        throw err;
      }
      await fs.unlink(src);
      name = undefined;
    } catch (err) {
      if (name !== undefined) this.free.push(name);
      if (err instanceof ChunkStoreError) throw err;
      throw new ChunkStoreError(statusOfError(err), `take chunk file: ${(err as Error).message}`);
    } finally {
      if (this.free.length < this.opts.targetCount && !this.closed) void this.fill();
    }
  }

  /** Moves a deleted chunk or snapshot file to the trash. */
  async recycle(file: string): Promise<void> {
    await fs.rename(file, path.join(this.trashDir, `${path.basename(file)}.${Date.now()}`));
    this.trashCount++;
  }

  /** Returns trash files older than the delay to the pool (zeroed); others stay. Returns how many. */
  async sweepTrash(now = Date.now()): Promise<number> {
    const delay = this.opts.trashDelayMs ?? 3_600_000;
    let moved = 0;
    const names = await fs.readdir(this.trashDir);
    this.trashCount = names.length;
    for (const name of names) {
      const at = Number(name.slice(name.lastIndexOf('.') + 1));
      if (!Number.isFinite(at) || now - at < delay) continue;
      const p = path.join(this.trashDir, name);
      const st = await fs.stat(p);
      if (st.size !== this.fileSize || this.free.length >= this.opts.targetCount) {
        await fs.rm(p, { force: true });
      } else {
        // Old data must never show through in a new chunk.
        await zeroFillFile(p, this.fileSize, 'r+');
        const poolName = String(this.nextName++);
        await fs.rename(p, path.join(this.poolDir, poolName));
        this.free.push(poolName);
      }
      this.trashCount--;
      moved++;
    }
    return moved;
  }

  close(): Promise<void> {
    this.closed = true;
    return this.formatting ?? Promise.resolve();
  }
}
