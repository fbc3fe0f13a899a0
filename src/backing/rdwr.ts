// The `rdwr` store (tgt's bs_rdwr): a regular file or a block device, positional reads and writes on one
// file descriptor.
//
// - Size: fstat for a regular file. fstat reports 0 for a block device and Node has no BLKGETSIZE64 ioctl,
//   so we read /sys/dev/block/<major>:<minor>/size (512-byte sectors, whatever the logical block size);
//   without sysfs we binary-search the last readable byte with 1-byte reads (exact, ~2*log2(size) reads).
// - bsoflags `sync` opens with O_SYNC (every write durable, FUA implicit); `direct` opens with O_DIRECT.
// - O_DIRECT needs buffer addresses, offsets and lengths aligned to the device's logical block size. A
//   Node Buffer's address is not observable (`byteOffset` is relative to its ArrayBuffer, whose memory
//   comes from malloc and is only 16-byte aligned), so direct I/O goes through bounce buffers carved from
//   WebAssembly.Memory, whose backing store V8 allocates page-aligned. The alignment (the LU block size,
//   else 4096) is probed at open. Unaligned writes (only a residual can make one) are read-modify-write,
//   serialized among themselves.
// - FUA without `sync` -> fdatasync after the write; flush -> fdatasync.
// - UNMAP: regular files get holes punched through util-linux fallocate(1) (hole-punch.ts; Node has no
//   fallocate(2)); without the tool, on filesystems without holes and on block devices, unmap writes zeros.
//   Either way unmapped ranges read as zeros, so capabilities.unmap (thin provisioning, LBPRZ) holds.
// - Allocation status: Node has no SEEK_DATA/SEEK_HOLE, so ranges are read and all-zero blocks reported as
//   deallocated. On an LBPRZ disk a zero block and a deallocated one are indistinguishable to the
//   initiator, and punched holes read as zeros, so the answer is truthful from the initiator's side.
import { constants, read as fsRead, write as fsWrite, writeSync as fsWriteSync, promises as fsp } from 'fs';
import type { FileHandle } from 'fs/promises';
import {
  BackingStoreError,
  type BackingStore,
  type BackingStoreOpenOptions,
  type BackingStoreType,
} from './backing-store';
import { punchHole, zeroRuns } from './hole-punch';
import { zeroSlice } from './null';

const ZERO_CHUNK = 1024 * 1024;
/**
 * Writes up to this size to a regular file opened without O_SYNC/O_DIRECT are a plain pwrite on the event
 * loop: they only copy into the page cache, and a few microseconds of syscall cost less than a hop through
 * the libuv thread pool (a work item, two thread switches, a callback). Larger writes, synced or direct
 * ones, block devices and every read (a page-cache miss waits for the disk) stay on the pool, like tgt's
 * worker threads.
 */
const INLINE_WRITE_MAX = 128 * 1024;
/** An inline write slower than this (20 ms: dirty-page throttling, not the odd ext4 journal wait) sends the LU's writes back to the pool for INLINE_OFF_MS. */
const INLINE_SLOW_NS = 20_000_000n;
const INLINE_OFF_MS = 5_000;
/** Direct I/O moves at most this much per bounce buffer. */
export const DIRECT_CHUNK_BYTES = 1024 * 1024;
const DIRECT_SLAB_BYTES = 16 * 1024 * 1024;
const WASM_PAGE = 65536;

interface WasmMemoryCtor {
  new (d: { initial: number; maximum?: number }): { buffer: ArrayBuffer };
}
const WasmMemory = (globalThis as unknown as { WebAssembly: { Memory: WasmMemoryCtor } }).WebAssembly.Memory;

/** Page-aligned fixed-size buffers for O_DIRECT, reused; grows by one 16 MiB slab when all are in use. The
 *  number in use is bounded by the number of concurrent commands on the LU. */
export class AlignedBufferPool {
  private readonly free: Buffer[] = [];
  constructor(readonly chunkBytes: number = DIRECT_CHUNK_BYTES) {}

  take(): Buffer {
    if (this.free.length === 0) {
      const slab = new WasmMemory({
        initial: DIRECT_SLAB_BYTES / WASM_PAGE,
        maximum: DIRECT_SLAB_BYTES / WASM_PAGE,
      }).buffer;
      for (let at = 0; at + this.chunkBytes <= DIRECT_SLAB_BYTES; at += this.chunkBytes) {
        this.free.push(Buffer.from(slab, at, this.chunkBytes));
      }
    }
    return this.free.pop()!;
  }

  give(b: Buffer): void {
    this.free.push(b);
  }
}

/** Major/minor of a Linux dev_t (glibc's gnu_dev_major/gnu_dev_minor encoding). */
export function deviceNumbers(rdev: number): { major: number; minor: number } {
  const hi = Math.floor(rdev / 0x100000000) >>> 0;
  const lo = rdev >>> 0;
  const major = (((lo >>> 8) & 0xfff) | (hi & 0xfffff000)) >>> 0;
  const minor = ((lo & 0xff) | (((hi << 20) | (lo >>> 12)) & 0xffffff00)) >>> 0;
  return { major, minor };
}

async function sysfsBlockDeviceSize(rdev: number): Promise<number | undefined> {
  const { major, minor } = deviceNumbers(rdev);
  try {
    const text = await fsp.readFile(`/sys/dev/block/${major}:${minor}/size`, 'utf8');
    const sectors = Number(text.trim());
    return Number.isSafeInteger(sectors) ? sectors * 512 : undefined;
  } catch {
    return undefined;
  }
}

/** Size of whatever `fh` reads from: the smallest offset at which a 1-byte read returns nothing. */
export async function probeSizeByReading(fh: FileHandle): Promise<number> {
  const one = Buffer.alloc(1);
  const readable = async (pos: number): Promise<boolean> => (await fh.read(one, 0, 1, pos)).bytesRead === 1;
  if (!(await readable(0))) return 0;
  let lo = 0; // readable
  let hi = 1;
  while (await readable(hi)) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (await readable(mid)) lo = mid;
    else hi = mid;
  }
  return lo + 1;
}

function storeError(err: unknown, what: string): BackingStoreError {
  if (err instanceof BackingStoreError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  const msg = `rdwr: ${what}: ${(err as Error)?.message ?? String(err)}`;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new BackingStoreError(msg, 'nospace');
  if (code === 'EROFS' || code === 'EBADF') return new BackingStoreError(msg, 'readonly');
  return new BackingStoreError(msg, 'io');
}

export interface RdwrInfo {
  path: string;
  blockDevice: boolean;
  sync: boolean;
  direct: boolean;
  readonly: boolean;
  /** O_DIRECT alignment in bytes (0 when not direct). */
  alignment: number;
}

export class RdwrStore implements BackingStore {
  readonly type = 'rdwr';
  readonly capabilities: BackingStore['capabilities'];
  private readonly pool: AlignedBufferPool | undefined;
  private rmwTail: Promise<void> = Promise.resolve();
  /** Reads and writes in flight on the raw fd (see pread); close() waits for them. */
  private inflight = 0;
  private onIdle: (() => void) | undefined;
  private holePunching = true;
  /** Granularity of allocation status (the LU block size). */
  granule = 512;

  constructor(
    private readonly fh: FileHandle,
    private bytes: number,
    private readonly rdev: number,
    readonly info: RdwrInfo,
  ) {
    this.capabilities = { unmap: true, compareAndWrite: false, lbaStatus: true, volatileCache: !info.sync };
    this.pool = info.direct ? new AlignedBufferPool() : undefined;
    this.inlineWrites = !info.blockDevice && !info.sync && !info.direct;
  }

  /** Small writes to a regular file through the page cache run inline (INLINE_WRITE_MAX). */
  private readonly inlineWrites: boolean;
  /** After a slow inline write, writes use the pool until then (ms since the epoch). */
  private inlineOffUntil = 0;

  /** How the next small write will run (for tests and diagnostics). */
  get writeMode(): 'inline' | 'pool' {
    return this.inlineWrites && Date.now() >= this.inlineOffUntil ? 'inline' : 'pool';
  }

  size(): number {
    return this.bytes;
  }

  private check(offset: number, length: number): void {
    if (offset < 0 || length < 0 || offset + length > this.bytes) {
      throw new BackingStoreError(`rdwr: range ${offset}+${length} beyond size ${this.bytes}`, 'range');
    }
  }

  private checkWritable(offset: number, length: number): void {
    if (this.info.readonly) throw new BackingStoreError(`rdwr: ${this.info.path} is read-only`, 'readonly');
    this.check(offset, length);
  }

  /** Read into buf[at, at+length) from pos; returns bytes read (short only at end of file). */
  private async readFull(buf: Buffer, at: number, length: number, pos: number): Promise<number> {
    let done = 0;
    while (done < length) {
      const bytesRead = await this.pread(buf, at + done, length - done, pos + done);
      if (bytesRead === 0) break;
      done += bytesRead;
      if (this.info.direct && done % this.info.alignment !== 0) break; // O_DIRECT short read = EOF
    }
    return done;
  }

  private async writeFull(buf: Buffer, at: number, length: number, pos: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const bytesWritten = await this.pwrite(buf, at + done, length - done, pos + done);
      if (bytesWritten <= 0) throw new BackingStoreError('rdwr: write made no progress', 'io');
      done += bytesWritten;
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.check(offset, length);
    try {
      if (this.info.direct) return await this.readDirect(offset, length);
      const buf = Buffer.allocUnsafe(length);
      const got = await this.readFull(buf, 0, length, offset);
      if (got < length) buf.fill(0, got);
      return buf;
    } catch (err) {
      throw storeError(err, `read ${offset}+${length}`);
    }
  }

  private async readDirect(offset: number, length: number): Promise<Buffer> {
    const pool = this.pool!;
    const a = this.info.alignment;
    const start = Math.floor(offset / a) * a;
    const end = Math.ceil((offset + length) / a) * a;
    const out = Buffer.allocUnsafe(length);
    let filled = 0;
    for (let pos = start; pos < end; pos += pool.chunkBytes) {
      const n = Math.min(pool.chunkBytes, end - pos);
      const bounce = pool.take();
      try {
        const got = await this.readFull(bounce, 0, n, pos);
        const from = Math.max(offset, pos);
        const to = Math.min(offset + length, pos + got);
        if (to > from) bounce.copy(out, from - offset, from - pos, to - pos);
        filled = Math.max(filled, to - offset);
        if (got < n) break;
      } finally {
        pool.give(bounce);
      }
    }
    if (filled < length) out.fill(0, Math.max(filled, 0));
    return out;
  }

  async write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    this.checkWritable(offset, data.length);
    try {
      if (this.info.direct) await this.writeDirect(offset, data);
      else if (this.inlineWrites && data.length <= INLINE_WRITE_MAX && Date.now() >= this.inlineOffUntil)
        this.writeInline(data, offset);
      else await this.writeFull(data, 0, data.length, offset);
      if (fua && !this.info.sync) await this.fh.datasync();
    } catch (err) {
      throw storeError(err, `write ${offset}+${data.length}`);
    }
  }

  /** A plain pwrite into the page cache (see INLINE_WRITE_MAX); throws like writeFull. */
  private writeInline(data: Buffer, offset: number): void {
    const started = process.hrtime.bigint();
    let done = 0;
    while (done < data.length) {
      const n = fsWriteSync(this.fh.fd, data, done, data.length - done, offset + done);
      if (n <= 0) throw new BackingStoreError('rdwr: write made no progress', 'io');
      done += n;
    }
    // A slow one means the kernel is throttling dirty pages (the disk is behind): that must not stall
    // every session of the daemon, so this LU's writes go through the thread pool for a while.
    if (process.hrtime.bigint() - started > INLINE_SLOW_NS) this.inlineOffUntil = Date.now() + INLINE_OFF_MS;
  }

  private writeDirect(offset: number, data: Buffer): Promise<void> {
    const a = this.info.alignment;
    if (offset % a === 0 && data.length % a === 0) return this.writeDirectAligned(offset, data);
    const run = this.rmwTail.then(() => this.readModifyWrite(offset, data));
    this.rmwTail = run.catch(() => undefined);
    return run;
  }

  private async writeDirectAligned(offset: number, data: Buffer): Promise<void> {
    const pool = this.pool!;
    for (let done = 0; done < data.length; done += pool.chunkBytes) {
      const n = Math.min(pool.chunkBytes, data.length - done);
      const bounce = pool.take();
      try {
        data.copy(bounce, 0, done, done + n);
        await this.writeFull(bounce, 0, n, offset + done);
      } finally {
        pool.give(bounce);
      }
    }
  }

  private async readModifyWrite(offset: number, data: Buffer): Promise<void> {
    const a = this.info.alignment;
    const start = Math.floor(offset / a) * a;
    const end = Math.ceil((offset + data.length) / a) * a;
    const merged = await this.readDirect(start, end - start);
    data.copy(merged, offset - start);
    await this.writeDirectAligned(start, merged);
    // Rounding up may have written past the end of a regular file whose size is not aligned.
    if (!this.info.blockDevice && end > this.bytes) await this.fh.truncate(this.bytes);
  }

  async flush(): Promise<void> {
    try {
      await this.fh.datasync();
    } catch (err) {
      throw storeError(err, 'flush');
    }
  }

  /** Punch a hole (regular files), else write zeros. Holes are punched only on whole-block boundaries
   *  the filesystem can honour; fallocate zeroes partial pages itself. */
  async unmap(offset: number, length: number): Promise<void> {
    this.checkWritable(offset, length);
    if (length === 0) return;
    if (!this.info.blockDevice && this.holePunching) {
      try {
        await punchHole(this.info.path, offset, length);
        return;
      } catch {
        this.holePunching = false; // no tool or no filesystem support: stop trying
      }
    }
    await this.writeZeroes(offset, length);
  }

  /** Runs of mapped (non-zero) and deallocated (all-zero) blocks, read in 1 MiB pieces. */
  async allocationStatus(
    offset: number,
    length: number,
  ): Promise<Array<{ offset: number; length: number; mapped: boolean }>> {
    this.check(offset, length);
    const runs: Array<{ offset: number; length: number; mapped: boolean }> = [];
    for (let done = 0; done < length; done += ZERO_CHUNK) {
      const n = Math.min(ZERO_CHUNK, length - done);
      for (const r of zeroRuns(await this.read(offset + done, n), offset + done, this.granule)) {
        const last = runs[runs.length - 1];
        if (last && last.mapped === r.mapped && last.offset + last.length === r.offset)
          last.length += r.length;
        else runs.push(r);
      }
    }
    return runs;
  }

  async writeZeroes(offset: number, length: number): Promise<void> {
    this.checkWritable(offset, length);
    for (let done = 0; done < length; done += ZERO_CHUNK) {
      await this.write(offset + done, zeroSlice(Math.min(ZERO_CHUNK, length - done)), false);
    }
  }

  async refreshSize(): Promise<number> {
    this.bytes = await sizeOf(this.fh, this.info.blockDevice, this.rdev, this.info.path);
    return this.bytes;
  }

  // Positional I/O through fs's callback API on the raw fd: FileHandle's promise methods cost several
  // times the CPU per call, which dominates small I/O. The fd stays valid: close() waits for these.
  private pread(buf: Buffer, at: number, length: number, pos: number): Promise<number> {
    this.inflight++;
    return new Promise((resolve, reject) => {
      fsRead(this.fh.fd, buf, at, length, pos, (err, n) => {
        this.ioDone();
        if (err) reject(err);
        else resolve(n);
      });
    });
  }

  private pwrite(buf: Buffer, at: number, length: number, pos: number): Promise<number> {
    this.inflight++;
    return new Promise((resolve, reject) => {
      fsWrite(this.fh.fd, buf, at, length, pos, (err, n) => {
        this.ioDone();
        if (err) reject(err);
        else resolve(n);
      });
    });
  }

  private ioDone(): void {
    if (--this.inflight === 0 && this.onIdle) {
      this.onIdle();
      this.onIdle = undefined;
    }
  }

  async close(): Promise<void> {
    if (this.inflight > 0) await new Promise<void>((resolve) => (this.onIdle = resolve));
    await this.fh.close();
  }
}

async function sizeOf(fh: FileHandle, blockDevice: boolean, rdev: number, path: string): Promise<number> {
  if (!blockDevice) return (await fh.stat()).size;
  const fromSysfs = await sysfsBlockDeviceSize(rdev);
  if (fromSysfs !== undefined) return fromSysfs;
  const plain = await fsp.open(path, constants.O_RDONLY); // O_DIRECT would refuse 1-byte reads
  try {
    return await probeSizeByReading(plain);
  } finally {
    await plain.close();
  }
}

/** Find an O_DIRECT alignment the file accepts: the block size, else 4096. */
async function probeDirectAlignment(fh: FileHandle, size: number, blockSize: number): Promise<number> {
  const candidates = [...new Set([Math.max(512, blockSize), 4096])].sort((x, y) => x - y);
  const pool = new AlignedBufferPool(4096);
  const buf = pool.take();
  for (const a of candidates) {
    if (size < 2 * a) return 4096; // too small to probe: the safe choice
    try {
      await fh.read(buf, 0, a, a);
      return a;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
    }
  }
  throw new Error('O_DIRECT reads fail with EINVAL at every alignment');
}

function parseOflags(oflags: string[]): { sync: boolean; direct: boolean } {
  let sync = false;
  let direct = false;
  for (const f of oflags) {
    if (f === 'sync') sync = true;
    else if (f === 'direct') direct = true;
    else if (f !== '') throw new Error(`rdwr: unsupported bsoflags '${f}' (supported: sync, direct)`);
  }
  return { sync, direct };
}

export const rdwrStoreType: BackingStoreType = {
  name: 'rdwr',
  async open(o: BackingStoreOpenOptions): Promise<BackingStore> {
    if (!o.path) throw new Error('rdwr: a backing store path is required');
    const { sync, direct } = parseOflags(o.oflags);
    const extra = (sync ? constants.O_SYNC : 0) | (direct ? constants.O_DIRECT : 0);
    let readonly = o.readonly;
    let fh: FileHandle;
    try {
      fh = await fsp.open(o.path, (readonly ? constants.O_RDONLY : constants.O_RDWR) | extra);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (!readonly && (code === 'EACCES' || code === 'EROFS' || code === 'EPERM')) {
        fh = await fsp.open(o.path, constants.O_RDONLY | extra).catch((e2: unknown) => {
          throw openError(o.path, e2, direct);
        });
        readonly = true; // like tgt: a file we may only read becomes a read-only LU
      } else {
        throw openError(o.path, err, direct);
      }
    }
    try {
      const st = await fh.stat();
      if (!st.isFile() && !st.isBlockDevice()) {
        throw new Error(`rdwr: ${o.path} is neither a regular file nor a block device`);
      }
      const size = await sizeOf(fh, st.isBlockDevice(), st.rdev, o.path);
      let alignment = 0;
      if (direct) {
        try {
          alignment = await probeDirectAlignment(fh, size, o.blockSize);
        } catch (err) {
          throw new Error(
            `rdwr: ${o.path}: O_DIRECT (bsoflags=direct) does not work here: ${(err as Error).message}`,
          );
        }
      }
      const info: RdwrInfo = {
        path: o.path,
        blockDevice: st.isBlockDevice(),
        sync,
        direct,
        readonly,
        alignment,
      };
      const store = new RdwrStore(fh, size, st.rdev, info);
      store.granule = o.blockSize > 0 ? o.blockSize : 512;
      return store;
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
  },
};

function openError(path: string, err: unknown, direct: boolean): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (direct && code === 'EINVAL') {
    return new Error(
      `rdwr: ${path}: the filesystem does not support O_DIRECT (bsoflags=direct); drop 'direct'`,
    );
  }
  return new Error(`rdwr: cannot open ${path}: ${(err as Error).message}`);
}
