// Reusable buffers for bulk data: iSCSI write commands' data-out, and data-plane RPC attachments received
// by the Curve client (a read's data, handed up to iSCSI as Data-In and given back once sent). Allocating
// and dropping a buffer per large I/O makes malloc and the garbage collector churn (V8 counts them as
// external memory: at ~800 MB/s of 1 MiB reads, ~10 mark-compacts a second in tgtd), and lets RSS float
// far above the bytes actually in use. Buffers are kept by power-of-two size class; at most
// `maxIdleBytes` sit idle. A buffer must be given back only when nothing can still touch it; a buffer the
// pool did not hand out (or already got back) is ignored, so the last holder of any buffer may offer it.

const MIN_CLASS = 64 * 1024;
const MAX_CLASS = 16 * 1024 * 1024;

export class DataBufferPool {
  private readonly idle = new Map<number, ArrayBuffer[]>();
  private idleBytes = 0;
  /** Buffers handed out and not yet returned: guards against a double give (two owners of one buffer). */
  private readonly out = new WeakSet<ArrayBuffer>();

  constructor(readonly maxIdleBytes: number = 16 * 1024 * 1024) {}

  /** Bytes kept idle for reuse. */
  idleSize(): number {
    return this.idleBytes;
  }

  /** A buffer of exactly n bytes, uninitialised. Small and huge sizes are plain allocations. */
  take(n: number): Buffer {
    if (n < MIN_CLASS || n > MAX_CLASS) return Buffer.allocUnsafe(n);
    const size = classOf(n);
    const list = this.idle.get(size);
    let ab = list?.pop();
    if (ab !== undefined) this.idleBytes -= size;
    else ab = new ArrayBuffer(size);
    this.out.add(ab);
    return Buffer.from(ab, 0, n);
  }

  /** Is `buf` (any view of it) a buffer take() gave out and that has not come back yet? */
  owns(buf: Buffer): boolean {
    return this.out.has(buf.buffer as ArrayBuffer);
  }

  /** Return a buffer take() gave out (any view of it); anything else is ignored. */
  give(buf: Buffer): void {
    const ab = buf.buffer as ArrayBuffer;
    if (!this.out.has(ab)) return;
    this.out.delete(ab);
    const size = ab.byteLength;
    if (this.idleBytes + size > this.maxIdleBytes) return;
    let list = this.idle.get(size);
    if (list === undefined) {
      list = [];
      this.idle.set(size, list);
    }
    list.push(ab);
    this.idleBytes += size;
  }
}

/** The smallest power of two >= n (n in [MIN_CLASS, MAX_CLASS]). */
function classOf(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}

/** The pool the daemon's iSCSI server and data-plane RPC clients share (one per process). */
export const sharedBufferPool = new DataBufferPool();
