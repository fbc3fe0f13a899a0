// The `mem` store: a sparse in-memory disk of 1 MiB extents allocated on first write. Unwritten and
// unmapped ranges read as zeros. Everything runs synchronously inside one call, so compare-and-write is
// atomic on Node's single thread.
import {
  BackingStoreError,
  type BackingStore,
  type BackingStoreOpenOptions,
  type BackingStoreType,
} from './backing-store';
import { zeroSlice } from './null';

export const MEM_EXTENT_BYTES = 1024 * 1024;

export class MemStore implements BackingStore {
  readonly type = 'mem';
  readonly capabilities = { unmap: true, compareAndWrite: true, lbaStatus: true, volatileCache: false };
  private readonly extents = new Map<number, Buffer>();

  constructor(
    private readonly bytes: number,
    private readonly readonly: boolean,
  ) {}

  size(): number {
    return this.bytes;
  }

  /** Number of allocated extents (for tests and metrics). */
  allocatedExtents(): number {
    return this.extents.size;
  }

  private check(offset: number, length: number): void {
    if (offset < 0 || length < 0 || offset + length > this.bytes) {
      throw new BackingStoreError(`mem: range ${offset}+${length} beyond size ${this.bytes}`, 'range');
    }
  }

  private checkWritable(offset: number, length: number): void {
    if (this.readonly) throw new BackingStoreError('mem: opened read-only', 'readonly');
    this.check(offset, length);
  }

  /** Synchronous read into a fresh buffer (or a shared zero slice when nothing there is allocated). */
  private readSync(offset: number, length: number): Buffer {
    const first = Math.floor(offset / MEM_EXTENT_BYTES);
    const within = offset - first * MEM_EXTENT_BYTES;
    if (within + length <= MEM_EXTENT_BYTES) {
      const ext = this.extents.get(first);
      if (!ext) return zeroSlice(length);
      return Buffer.from(ext.subarray(within, within + length)); // a copy: later writes must not show through
    }
    const out = Buffer.alloc(length);
    for (let done = 0; done < length;) {
      const pos = offset + done;
      const idx = Math.floor(pos / MEM_EXTENT_BYTES);
      const at = pos - idx * MEM_EXTENT_BYTES;
      const n = Math.min(MEM_EXTENT_BYTES - at, length - done);
      this.extents.get(idx)?.copy(out, done, at, at + n);
      done += n;
    }
    return out;
  }

  private writeSync(offset: number, data: Buffer): void {
    for (let done = 0; done < data.length;) {
      const pos = offset + done;
      const idx = Math.floor(pos / MEM_EXTENT_BYTES);
      const at = pos - idx * MEM_EXTENT_BYTES;
      const n = Math.min(MEM_EXTENT_BYTES - at, data.length - done);
      let ext = this.extents.get(idx);
      if (!ext) {
        ext = Buffer.alloc(MEM_EXTENT_BYTES);
        this.extents.set(idx, ext);
      }
      data.copy(ext, at, done, done + n);
      done += n;
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.check(offset, length);
    return this.readSync(offset, length);
  }

  async write(offset: number, data: Buffer, _fua: boolean): Promise<void> {
    this.checkWritable(offset, data.length);
    this.writeSync(offset, data);
  }

  async flush(): Promise<void> {}

  /** Whole extents are dropped; partially covered ones are zeroed in place. */
  async unmap(offset: number, length: number): Promise<void> {
    this.checkWritable(offset, length);
    for (let done = 0; done < length;) {
      const pos = offset + done;
      const idx = Math.floor(pos / MEM_EXTENT_BYTES);
      const at = pos - idx * MEM_EXTENT_BYTES;
      const n = Math.min(MEM_EXTENT_BYTES - at, length - done);
      if (n === MEM_EXTENT_BYTES) this.extents.delete(idx);
      else this.extents.get(idx)?.fill(0, at, at + n);
      done += n;
    }
  }

  /** Zeros read back as zeros whether stored or not, so this is the same as unmap. */
  writeZeroes(offset: number, length: number): Promise<void> {
    return this.unmap(offset, length);
  }

  async compareAndWrite(offset: number, compare: Buffer, data: Buffer): Promise<number> {
    this.checkWritable(offset, Math.max(compare.length, data.length));
    const current = this.readSync(offset, compare.length);
    for (let i = 0; i < compare.length; i++) if (current[i] !== compare[i]) return i;
    this.writeSync(offset, data);
    return -1;
  }

  async allocationStatus(
    offset: number,
    length: number,
  ): Promise<Array<{ offset: number; length: number; mapped: boolean }>> {
    this.check(offset, length);
    const runs: Array<{ offset: number; length: number; mapped: boolean }> = [];
    for (let done = 0; done < length;) {
      const pos = offset + done;
      const idx = Math.floor(pos / MEM_EXTENT_BYTES);
      const n = Math.min((idx + 1) * MEM_EXTENT_BYTES - pos, length - done);
      const mapped = this.extents.has(idx);
      const last = runs[runs.length - 1];
      if (last && last.mapped === mapped) last.length += n;
      else runs.push({ offset: pos, length: n, mapped });
      done += n;
    }
    return runs;
  }

  async refreshSize(): Promise<number> {
    return this.bytes;
  }

  async close(): Promise<void> {
    this.extents.clear();
  }
}

export const memStoreType: BackingStoreType = {
  name: 'mem',
  async open(o: BackingStoreOpenOptions): Promise<BackingStore> {
    if (o.size === undefined) throw new Error('mem: a size is required (--size)');
    if (!Number.isSafeInteger(o.size) || o.size <= 0) throw new Error(`mem: invalid size ${o.size}`);
    return new MemStore(o.size, o.readonly);
  },
};
