// Parser half of the frame codec: a streaming, I/O-free framer. Feed it socket chunks; it calls back
// with whole frames. A message or attachment lying inside one chunk is handed out as a slice of it (no
// copy); one that spans chunks is copied once into a buffer of exactly its size. Memory is bounded by
// one frame (the limits are checked from the header before any body byte is buffered).
//
// Stream-level faults (bad magic, version, header CRC, unknown flags, over-long lengths) throw
// FrameError: the stream cannot be resynchronised, so the connection must be closed. An attachment whose
// CRC does not match is a per-frame fault: the frame is delivered with attachmentCrcOk = false and the
// receiver rejects only that request.

import { crc32c } from '../../iscsi/crc32c';
import {
  DEFAULT_FRAME_LIMITS,
  FRAME_HEADER_SIZE,
  FRAME_MAGIC,
  FrameError,
  readFrameHeader,
  type Frame,
  type FrameHeader,
  type FrameLimits,
} from './frame';

const EMPTY = Buffer.alloc(0);

export class FrameParser {
  private chunks: Buffer[] = [];
  /** Offset into chunks[0] of the first unconsumed byte. */
  private head = 0;
  private buffered = 0;
  private header: FrameHeader | undefined;
  private dead: FrameError | undefined;

  // reusedChunks mode: the frame being received, copied out of each chunk as it comes.
  private readonly headerBuf = Buffer.allocUnsafe(FRAME_HEADER_SIZE);
  private headerFill = 0;
  private message: Buffer = EMPTY;
  private attachment: Buffer = EMPTY;
  private bodyFill = 0;

  /**
   * `reusedChunks`: the caller overwrites a chunk's memory once push() returns (a socket reading into one
   * shared buffer), so nothing is kept or handed out as a slice of it: each message and attachment is
   * copied, once, into a buffer of its own as its bytes arrive; attachments into one from `allocate`
   * (a pool, say).
   */
  constructor(
    private readonly limits: FrameLimits = DEFAULT_FRAME_LIMITS,
    private readonly reusedChunks = false,
    private readonly allocate: (n: number) => Buffer = Buffer.allocUnsafe,
  ) {}

  /** Bytes received but not yet returned as part of a frame. */
  get bufferedBytes(): number {
    if (!this.reusedChunks) return this.buffered;
    return this.header ? this.bodyFill : this.headerFill;
  }

  /** Consumes `chunk`, calling `onFrame` for each complete frame. Throws FrameError (then and forever after). */
  push(chunk: Buffer, onFrame: (frame: Frame) => void): void {
    if (this.dead) throw this.dead;
    if (this.reusedChunks) {
      try {
        this.pushCopying(chunk, onFrame);
      } catch (err) {
        if (err instanceof FrameError) this.dead = err;
        throw err;
      }
      return;
    }
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    try {
      for (;;) {
        if (!this.header) {
          // Check the magic as soon as it is here, so a stray protocol is refused without waiting.
          if (this.buffered >= 4 && this.peekUInt32() !== FRAME_MAGIC) {
            throw new FrameError('magic', `bad frame magic 0x${this.peekUInt32().toString(16)}`);
          }
          if (this.buffered < FRAME_HEADER_SIZE) return;
          const raw = this.take(FRAME_HEADER_SIZE);
          this.header = readFrameHeader(raw, 0, this.limits);
        }
        const h = this.header;
        if (this.buffered < h.messageLength + h.attachmentLength) return;
        const message = this.take(h.messageLength);
        const attachment = this.take(h.attachmentLength);
        this.header = undefined;
        onFrame(frameOf(h, message, attachment));
      }
    } catch (err) {
      if (err instanceof FrameError) {
        this.dead = err;
        this.chunks = [];
        this.buffered = 0;
      }
      throw err;
    }
  }

  private pushCopying(chunk: Buffer, onFrame: (frame: Frame) => void): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (!this.header) {
        const n = Math.min(FRAME_HEADER_SIZE - this.headerFill, end - pos);
        chunk.copy(this.headerBuf, this.headerFill, pos, pos + n);
        pos += n;
        const had = this.headerFill;
        this.headerFill += n;
        // Check the magic as soon as it is here, so a stray protocol is refused without waiting.
        if (had < 4 && this.headerFill >= 4 && this.headerBuf.readUInt32BE(0) !== FRAME_MAGIC) {
          throw new FrameError('magic', `bad frame magic 0x${this.headerBuf.readUInt32BE(0).toString(16)}`);
        }
        if (this.headerFill < FRAME_HEADER_SIZE) return;
        const h = readFrameHeader(this.headerBuf, 0, this.limits);
        this.header = h;
        this.message = h.messageLength === 0 ? EMPTY : Buffer.allocUnsafe(h.messageLength);
        this.attachment = h.attachmentLength === 0 ? EMPTY : this.allocate(h.attachmentLength);
        this.bodyFill = 0;
      }
      const h = this.header;
      const m = h.messageLength;
      const total = m + h.attachmentLength;
      if (this.bodyFill < m) {
        const n = Math.min(m - this.bodyFill, end - pos);
        chunk.copy(this.message, this.bodyFill, pos, pos + n);
        pos += n;
        this.bodyFill += n;
      }
      if (this.bodyFill >= m && this.bodyFill < total) {
        const n = Math.min(total - this.bodyFill, end - pos);
        chunk.copy(this.attachment, this.bodyFill - m, pos, pos + n);
        pos += n;
        this.bodyFill += n;
      }
      if (this.bodyFill < total) return;
      const { message, attachment } = this;
      this.header = undefined;
      this.headerFill = this.bodyFill = 0;
      this.message = this.attachment = EMPTY;
      onFrame(frameOf(h, message, attachment));
    }
  }

  /** The next four buffered bytes as a big-endian integer, without consuming them. */
  private peekUInt32(): number {
    let v = 0;
    let chunk = 0;
    let at = this.head;
    for (let i = 0; i < 4; i++) {
      while (at >= this.chunks[chunk].length) {
        chunk++;
        at = 0;
      }
      v = v * 256 + this.chunks[chunk][at++];
    }
    return v;
  }

  /** Removes exactly n buffered bytes from the front: a slice when they lie in one chunk, else one copy. */
  private take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.chunks[0];
    const avail = first.length - this.head;
    if (n <= avail) {
      const out = first.subarray(this.head, this.head + n);
      this.advance(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      const m = Math.min(c.length - this.head, n - filled);
      c.copy(out, filled, this.head, this.head + m);
      filled += m;
      this.advance(m);
    }
    return out;
  }

  private advance(n: number): void {
    this.head += n;
    this.buffered -= n;
    if (this.head === this.chunks[0].length) {
      this.chunks.shift();
      this.head = 0;
    }
  }
}

/** A received frame, its attachment's CRC checked against the header's. */
function frameOf(h: FrameHeader, message: Buffer, attachment: Buffer): Frame {
  const crc = attachment.length === 0 ? 0 : crc32c(attachment);
  return {
    flags: h.flags,
    correlationId: h.correlationId,
    methodId: h.methodId,
    message,
    attachment,
    attachmentCrc: h.attachmentCrc,
    attachmentCrcOk: crc === h.attachmentCrc,
  };
}
