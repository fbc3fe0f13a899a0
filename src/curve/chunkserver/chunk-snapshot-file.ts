// A chunk's copy-on-write snapshot file (chunk_<id>_snap_<sn>): the pages of the chunk as they were at
// sequence number `sn`, copied in before each first overwrite; a bitmap in the metapage records which
// pages have been copied (the others are still unchanged in the chunk itself).

import type { FileHandle } from 'node:fs/promises';
import * as fs from 'node:fs/promises';
import type { ChunkFilePool } from './chunk-file-pool';
import { ChunkOpStatus, ChunkStoreError } from './chunk-status';
import { decodeMetaPage, encodeMetaPage } from './meta-page';
import { PageBitmap } from './page-bitmap';

export class ChunkSnapshotFile {
  private constructor(
    readonly path: string,
    readonly sn: number,
    private fh: FileHandle,
    readonly bitmap: PageBitmap,
    private readonly pageSize: number,
    private readonly pool: ChunkFilePool,
  ) {}

  static async create(file: string, sn: number, pool: ChunkFilePool): Promise<ChunkSnapshotFile> {
    const bitmap = new PageBitmap(pool.chunkSize / pool.metaPageSize);
    await pool.take(
      file,
      encodeMetaPage({ kind: 'snapshot', sn, correctedSn: 0, location: '', bitmap }, pool.metaPageSize),
    );
    return new ChunkSnapshotFile(file, sn, await fs.open(file, 'r+'), bitmap, pool.metaPageSize, pool);
  }

  static async load(file: string, pool: ChunkFilePool): Promise<ChunkSnapshotFile> {
    const fh = await fs.open(file, 'r+');
    try {
      const page = Buffer.alloc(pool.metaPageSize);
      await fh.read(page, 0, page.length, 0);
      const r = decodeMetaPage(page);
      if (!r.ok || r.meta.kind !== 'snapshot' || !r.meta.bitmap) {
        throw new ChunkStoreError(
          ChunkOpStatus.CRC_FAIL,
          `${file}: bad snapshot metapage (${r.ok ? 'kind' : r.reason})`,
        );
      }
      return new ChunkSnapshotFile(file, r.meta.sn, fh, r.meta.bitmap, pool.metaPageSize, pool);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Copies `data` (whole pages) in at `offset` and marks those pages; the metapage is written by flush(). */
  async write(data: Buffer, offset: number): Promise<void> {
    await this.fh.write(data, 0, data.length, this.pageSize + offset);
    this.bitmap.setRange(offset / this.pageSize, (offset + data.length) / this.pageSize - 1);
  }

  async read(into: Buffer, intoOffset: number, length: number, offset: number): Promise<void> {
    await this.fh.read(into, intoOffset, length, this.pageSize + offset);
  }

  async flush(): Promise<void> {
    const page = encodeMetaPage(
      { kind: 'snapshot', sn: this.sn, correctedSn: 0, location: '', bitmap: this.bitmap },
      this.pageSize,
    );
    await this.fh.write(page, 0, page.length, 0);
  }

  async delete(): Promise<void> {
    await this.fh.close();
    await this.pool.recycle(this.path);
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
