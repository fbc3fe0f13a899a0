// The backing-store seam, like tgt's backingstore_template but asynchronous. A store is opened per
// logical unit; the SCSI layer asks it for bytes at byte offsets and advertises what it supports.

export interface BackingStoreCapabilities {
  /** Deallocation (UNMAP, WRITE SAME with UNMAP) frees space; reads of unmapped ranges return zeros. */
  unmap: boolean;
  /** Atomic compare-and-write over a byte range (COMPARE AND WRITE). */
  compareAndWrite: boolean;
  /** The store can report which ranges are allocated (GET LBA STATUS). */
  lbaStatus: boolean;
  /** Data written is durable only after flush() (so the SCSI layer reports a write-back cache). */
  volatileCache: boolean;
}

export interface BackingStoreOpenOptions {
  /** `--backing-store` argument: a file, a device, a volume name; may be empty for `null`. */
  path: string;
  /** `--bsoflags`: e.g. ['sync', 'direct']. */
  oflags: string[];
  /** `--bsopts`: store-specific options, raw string (e.g. `mds=127.0.0.1:6666`). */
  opts: string;
  /** Logical block size the LU will use (512 or 4096); stores may use it for alignment. */
  blockSize: number;
  /** `--size` in bytes, for stores that have no intrinsic size (mem). */
  size?: number;
  /** Open read-only (LU `readonly=1`, or a read-only file). */
  readonly: boolean;
}

/** Small named records kept with the volume itself, so every gateway exporting the volume sees the same
 *  ones (SCSI persistent reservations, saved mode pages). A store that has none leaves
 *  `BackingStore.metadata` unset. */
export interface VolumeMetadata {
  /** The record's text, or undefined when there is none. */
  load(key: string): Promise<string | undefined>;
  /**
   * Replace the record durably (undefined removes it); resolves once it is durable. Rejects, changing
   * nothing, when the record was changed through another opener of the volume since this one last loaded
   * or saved it: a change this gateway has not seen is never overwritten.
   */
  save(key: string, value: string | undefined): Promise<void>;
}

export interface BackingStore {
  readonly type: string;
  readonly capabilities: BackingStoreCapabilities;
  /** Size in bytes. */
  size(): number;
  /** Read `length` bytes at `offset`. The returned buffer is owned by the caller (or is an immutable
   *  shared zero buffer: callers must not write into read results). */
  read(offset: number, length: number): Promise<Buffer>;
  /** Write `data` at `offset`. With `fua`, resolve only once the data is durable. */
  write(offset: number, data: Buffer, fua: boolean): Promise<void>;
  /** Make every completed write durable. */
  flush(): Promise<void>;
  /** Deallocate (or at least zero) a byte range. Stores without `unmap` may throw NotSupported. */
  unmap(offset: number, length: number): Promise<void>;
  /** Write zeros to a byte range (falls back to write() of a zero buffer in the default helper). */
  writeZeroes(offset: number, length: number): Promise<void>;
  /** Atomically: if bytes at offset equal `compare`, write `data` and return -1; else return the offset
   *  (relative to `offset`) of the first differing byte and write nothing. Optional. */
  compareAndWrite?(offset: number, compare: Buffer, data: Buffer): Promise<number>;
  /** Is the byte range [offset, offset+length) allocated? Returns runs in order. Optional. */
  allocationStatus?(
    offset: number,
    length: number,
  ): Promise<Array<{ offset: number; length: number; mapped: boolean }>>;
  /** Re-read the size (after the underlying file or volume grew); returns the new size. */
  refreshSize(): Promise<number>;
  close(): Promise<void>;
  /** Records kept with the volume. When present, the SCSI layer keeps persistent reservations and saved
   *  mode pages there instead of the daemon's --state-dir. Optional. */
  readonly metadata?: VolumeMetadata;
}

export interface BackingStoreType {
  /** Name used by `tgtadm --bstype` / `-E`. */
  name: string;
  open(options: BackingStoreOpenOptions): Promise<BackingStore>;
}

export class BackingStoreError extends Error {
  constructor(
    message: string,
    /** 'nospace' | 'io' | 'notsupported' | 'readonly' | 'range' — mapped to sense data by the SCSI layer. */
    readonly kind: 'nospace' | 'io' | 'notsupported' | 'readonly' | 'range',
  ) {
    super(message);
    this.name = 'BackingStoreError';
  }
}
