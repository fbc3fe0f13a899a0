// The `null` store (tgt's bs_null): reads return zeros, writes are discarded. tgt fixes the size at 1 TiB;
// we do too unless `--size` is given. Reads hand out slices of one shared zero buffer (callers promise not
// to write into read results), so a read costs no allocation and no copy.
import {
  BackingStoreError,
  type BackingStore,
  type BackingStoreOpenOptions,
  type BackingStoreType,
} from './backing-store';

export const NULL_DEFAULT_SIZE = 2 ** 40;
/** Reads up to this size share one zero buffer; longer reads allocate. */
export const SHARED_ZERO_BYTES = 8 * 1024 * 1024;

let sharedZeros: Buffer | undefined;

/** The process-wide immutable zero buffer (also used by `mem` for unwritten ranges). */
export function zeroSlice(length: number): Buffer {
  if (length > SHARED_ZERO_BYTES) return Buffer.alloc(length);
  sharedZeros ??= Buffer.alloc(SHARED_ZERO_BYTES);
  return sharedZeros.subarray(0, length);
}

class NullStore implements BackingStore {
  readonly type = 'null';
  readonly capabilities = { unmap: true, compareAndWrite: false, lbaStatus: false, volatileCache: false };

  constructor(
    private readonly bytes: number,
    private readonly readonly: boolean,
  ) {}

  size(): number {
    return this.bytes;
  }

  private check(offset: number, length: number): void {
    if (offset < 0 || length < 0 || offset + length > this.bytes) {
      throw new BackingStoreError(`null: range ${offset}+${length} beyond size ${this.bytes}`, 'range');
    }
  }

  private checkWritable(offset: number, length: number): void {
    if (this.readonly) throw new BackingStoreError('null: opened read-only', 'readonly');
    this.check(offset, length);
  }

  read(offset: number, length: number): Promise<Buffer> {
    try {
      this.check(offset, length);
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.resolve(zeroSlice(length));
  }

  async write(offset: number, data: Buffer, _fua: boolean): Promise<void> {
    this.checkWritable(offset, data.length);
  }

  async flush(): Promise<void> {}

  async unmap(offset: number, length: number): Promise<void> {
    this.checkWritable(offset, length);
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    this.checkWritable(offset, length);
  }

  async refreshSize(): Promise<number> {
    return this.bytes;
  }

  async close(): Promise<void> {}
}

export const nullStoreType: BackingStoreType = {
  name: 'null',
  async open(o: BackingStoreOpenOptions): Promise<BackingStore> {
    const size = o.size ?? NULL_DEFAULT_SIZE;
    if (!Number.isSafeInteger(size) || size <= 0) throw new Error(`null: invalid size ${size}`);
    return new NullStore(size, o.readonly);
  },
};
