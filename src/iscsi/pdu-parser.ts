// Incremental PDU framer for an iSCSI TCP byte stream (RFC 7143 11.1): BHS, AHS, header digest, data
// segment, padding, data digest. Pure: feed it chunks, it calls back with PDUs or errors.
//
// Zero copy: a header or data segment that lies within one pushed chunk is handed out as a slice of it;
// one that spans chunks is copied once into a buffer of exactly its size, or straight into the buffer a
// DataPlacer names (a Data-Out lands in its command's buffer without an intermediate copy). Bounded
// memory: at most one PDU (header, AHS, digest, maxDataSegmentLength of data, padding) is ever held, and
// an over-long data segment is skipped without being buffered.

import { crc32c } from './crc32c';
import { decodePdu, PduDecodeError } from './pdu-codec';
import { BHS_LENGTH, RejectReason, type Pdu } from './pdu-types';

export type ParseEvent =
  | { kind: 'pdu'; pdu: Pdu; header: Buffer /* the raw 48-byte BHS, for Reject data */ }
  | {
      kind: 'error';
      error: 'header-digest' | 'data-digest' | 'too-long' | 'decode';
      reason: number /* RejectReason */;
      header: Buffer;
      fatal: boolean;
      message: string;
    };

export interface ParserOptions {
  maxDataSegmentLength: number;
  headerDigest: boolean;
  dataDigest: boolean;
}

export type ParseEmit = (ev: ParseEvent) => void;

/**
 * Called once a PDU's header is in and before its data segment is read: returns where the segment should be
 * received (exactly `dataLength` bytes, e.g. a slice of the command buffer a Data-Out belongs to), or
 * undefined to let the parser hold it. The emitted PDU's data is then that very buffer.
 */
export type DataPlacer = (bhs: Buffer, dataLength: number) => Buffer | undefined;

const enum State {
  Bhs,
  /** AHS and header digest. */
  Ext,
  Data,
  /** Padding and data digest. */
  Tail,
  Skip,
  /** After a fatal error; all further input is ignored. */
  Dead,
}

const DIGEST = 4;
const EMPTY = Buffer.alloc(0);

export class PduParser {
  private opts: ParserOptions;
  /** Options set since the current PDU started; applied when the next one starts. */
  private pending: Partial<ParserOptions> | undefined;
  private state = State.Bhs;

  private bhs: Buffer = EMPTY;
  private bhsFill = 0;
  /** True while `bhs` is a slice of a caller's chunk rather than our own copy. */
  private bhsBorrowed = false;

  private ahsLength = 0;
  private ext: Buffer = EMPTY;
  private extLength = 0;
  private extFill = 0;
  private extBorrowed = false;

  private dataLength = 0;
  private data: Buffer = EMPTY;
  private dataFill = 0;
  /** True while `data` is the placer's buffer: every byte is copied into it, even within one chunk. */
  private dataPlaced = false;
  private placer: DataPlacer | undefined;

  /** Padding (<= 3) + data digest (4), always copied: tiny. */
  private readonly tail = Buffer.alloc(8);
  private tailLength = 0;
  private tailFill = 0;

  private skipRemaining = 0;

  /**
   * `reusedChunks`: the caller overwrites a chunk's memory once push() returns (a socket reading into one
   * shared buffer), so nothing may be handed out as a slice of it; every header and data segment is copied.
   */
  constructor(
    opts: ParserOptions,
    private readonly reusedChunks = false,
  ) {
    this.opts = { ...opts };
  }

  /** Change options; they take effect from the next PDU (also when called from inside the emit callback). */
  setOptions(opts: Partial<ParserOptions>): void {
    this.pending = { ...this.pending, ...opts };
  }

  /** Receive data segments where `placer` says (undefined: always in the parser's own buffers). */
  setDataPlacer(placer: DataPlacer | undefined): void {
    this.placer = placer;
  }

  /** The memory a data segment is being received into for the placer, if one is (mid-PDU). */
  placingInto(): ArrayBufferLike | undefined {
    return this.dataPlaced ? this.data.buffer : undefined;
  }

  /** Bytes of a partial PDU held in the parser's own buffers (skipped bytes are never held). */
  bufferedBytes(): number {
    switch (this.state) {
      case State.Bhs:
        return this.bhsFill;
      case State.Ext:
        return BHS_LENGTH + this.extFill;
      case State.Data:
        return BHS_LENGTH + this.extLength + this.dataFill;
      case State.Tail:
        return BHS_LENGTH + this.extLength + this.dataLength + this.tailFill;
      default:
        return 0;
    }
  }

  push(chunk: Buffer, emit: ParseEmit): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      switch (this.state) {
        case State.Bhs:
          pos = this.readBhs(chunk, pos, emit);
          break;
        case State.Ext:
          pos = this.readExt(chunk, pos, emit);
          break;
        case State.Data:
          pos = this.readData(chunk, pos, emit);
          break;
        case State.Tail:
          pos = this.readTail(chunk, pos, emit);
          break;
        case State.Skip: {
          const n = Math.min(this.skipRemaining, end - pos);
          this.skipRemaining -= n;
          pos += n;
          if (this.skipRemaining === 0) this.endPdu();
          break;
        }
        case State.Dead:
          return;
      }
    }
    this.detachFrom();
  }

  // A partial header must not pin the caller's (possibly large) chunk until more bytes arrive. A borrowed
  // data slice is kept: it is the PDU's data, handed out zero-copy anyway.
  private detachFrom(): void {
    const state = this.state;
    if (state === State.Ext || state === State.Data || state === State.Tail) {
      if (this.bhsBorrowed) {
        this.bhs = Buffer.from(this.bhs);
        this.bhsBorrowed = false;
      }
      if (this.extBorrowed) {
        this.ext = Buffer.from(this.ext);
        this.extBorrowed = false;
      }
    } else if (state === State.Skip || state === State.Dead) {
      this.release();
    }
  }

  /** Drop references to the finished (or abandoned) PDU's buffers. */
  private release(): void {
    this.bhs = this.ext = this.data = EMPTY;
    this.bhsBorrowed = this.extBorrowed = this.dataPlaced = false;
  }

  private endPdu(): void {
    this.state = State.Bhs;
    this.release();
  }

  private startPdu(): void {
    if (this.pending !== undefined) {
      this.opts = { ...this.opts, ...this.pending };
      this.pending = undefined;
    }
  }

  private readBhs(chunk: Buffer, pos: number, emit: ParseEmit): number {
    if (this.bhsFill === 0) {
      this.startPdu();
      if (!this.reusedChunks && chunk.length - pos >= BHS_LENGTH) {
        this.bhs = chunk.subarray(pos, pos + BHS_LENGTH);
        this.bhsBorrowed = true;
        this.afterBhs(emit);
        return pos + BHS_LENGTH;
      }
      this.bhs = Buffer.allocUnsafe(BHS_LENGTH);
      this.bhsBorrowed = false;
    }
    const n = Math.min(BHS_LENGTH - this.bhsFill, chunk.length - pos);
    chunk.copy(this.bhs, this.bhsFill, pos, pos + n);
    this.bhsFill += n;
    if (this.bhsFill === BHS_LENGTH) {
      this.bhsFill = 0;
      this.afterBhs(emit);
    }
    return pos + n;
  }

  private afterBhs(emit: ParseEmit): void {
    const bhs = this.bhs;
    this.ahsLength = bhs[4] * 4;
    this.dataLength = (bhs[5] << 16) | (bhs[6] << 8) | bhs[7];
    this.extLength = this.ahsLength + (this.opts.headerDigest ? DIGEST : 0);
    if (this.extLength === 0) {
      this.ext = EMPTY;
      this.afterHeader(emit);
    } else {
      this.extFill = 0;
      this.state = State.Ext;
    }
  }

  private readExt(chunk: Buffer, pos: number, emit: ParseEmit): number {
    const want = this.extLength;
    if (this.extFill === 0) {
      if (!this.reusedChunks && chunk.length - pos >= want) {
        this.ext = chunk.subarray(pos, pos + want);
        this.extBorrowed = true;
        this.afterHeader(emit);
        return pos + want;
      }
      this.ext = Buffer.allocUnsafe(want);
      this.extBorrowed = false;
    }
    const n = Math.min(want - this.extFill, chunk.length - pos);
    chunk.copy(this.ext, this.extFill, pos, pos + n);
    this.extFill += n;
    if (this.extFill === want) {
      this.extFill = 0;
      this.afterHeader(emit);
    }
    return pos + n;
  }

  /** The whole header (BHS, AHS, header digest) is in: check it and decide how to take the data. */
  private afterHeader(emit: ParseEmit): void {
    const bhs = this.bhs;
    if (this.opts.headerDigest) {
      let crc = crc32c(bhs);
      if (this.ahsLength > 0) crc = crc32c(this.ext.subarray(0, this.ahsLength), crc);
      const got = this.ext.readUInt32LE(this.ahsLength);
      if (crc !== got) {
        // The lengths in this header cannot be trusted, so the stream cannot be re-synchronised.
        this.state = State.Dead;
        emit({
          kind: 'error',
          error: 'header-digest',
          reason: RejectReason.ProtocolError,
          header: bhs,
          fatal: true,
          message: `header digest mismatch: computed 0x${hex(crc)}, received 0x${hex(got)}`,
        });
        return;
      }
    }
    const dataLength = this.dataLength;
    const pad = -dataLength & 3;
    const digest = this.opts.dataDigest && dataLength > 0 ? DIGEST : 0;
    if (dataLength > this.opts.maxDataSegmentLength) {
      this.skipRemaining = dataLength + pad + digest;
      this.state = State.Skip;
      emit({
        kind: 'error',
        error: 'too-long',
        reason: RejectReason.ProtocolError,
        header: bhs,
        fatal: false,
        message: `DataSegmentLength ${dataLength} exceeds MaxRecvDataSegmentLength ${this.opts.maxDataSegmentLength}`,
      });
      return;
    }
    this.tailLength = pad + digest;
    if (dataLength === 0) {
      this.data = EMPTY;
      this.finish(emit);
      return;
    }
    this.dataFill = 0;
    this.state = State.Data;
    const placed = this.placer?.(bhs, dataLength);
    if (placed !== undefined && placed.length === dataLength) {
      this.data = placed;
      this.dataPlaced = true;
    }
  }

  private readData(chunk: Buffer, pos: number, emit: ParseEmit): number {
    const want = this.dataLength;
    let n: number;
    if (this.dataFill === 0 && !this.dataPlaced && !this.reusedChunks && chunk.length - pos >= want) {
      this.data = chunk.subarray(pos, pos + want);
      n = want;
    } else {
      if (this.dataFill === 0 && !this.dataPlaced) {
        this.data = Buffer.allocUnsafe(want);
      }
      n = Math.min(want - this.dataFill, chunk.length - pos);
      chunk.copy(this.data, this.dataFill, pos, pos + n);
      this.dataFill += n;
      if (this.dataFill < want) return pos + n;
    }
    this.dataFill = 0;
    if (this.tailLength === 0) {
      this.finish(emit);
    } else {
      this.tailFill = 0;
      this.state = State.Tail;
    }
    return pos + n;
  }

  private readTail(chunk: Buffer, pos: number, emit: ParseEmit): number {
    const want = this.tailLength;
    if (this.tailFill === 0 && chunk.length - pos >= want) {
      this.afterTail(chunk, pos, emit);
      return pos + want;
    }
    const n = Math.min(want - this.tailFill, chunk.length - pos);
    chunk.copy(this.tail, this.tailFill, pos, pos + n);
    this.tailFill += n;
    if (this.tailFill === want) {
      this.tailFill = 0;
      this.afterTail(this.tail, 0, emit);
    }
    return pos + n;
  }

  /** Padding and digest are at src[off .. off + tailLength). */
  private afterTail(src: Buffer, off: number, emit: ParseEmit): void {
    const pad = -this.dataLength & 3;
    if (this.tailLength > pad) {
      let crc = crc32c(this.data);
      if (pad > 0) crc = crc32c(src.subarray(off, off + pad), crc);
      const got = src.readUInt32LE(off + pad);
      if (crc !== got) {
        const header = this.bhs;
        this.endPdu();
        emit({
          kind: 'error',
          error: 'data-digest',
          reason: RejectReason.DataDigestError,
          header,
          fatal: false,
          message: `data digest mismatch: computed 0x${hex(crc)}, received 0x${hex(got)}`,
        });
        return;
      }
    }
    this.finish(emit);
  }

  private finish(emit: ParseEmit): void {
    const bhs = this.bhs;
    const ahs = this.ahsLength > 0 ? this.ext.subarray(0, this.ahsLength) : undefined;
    const data = this.data;
    // Reset before emitting: the callback may call setOptions() or throw.
    this.endPdu();
    let pdu: Pdu;
    try {
      pdu = decodePdu(bhs, ahs, data);
    } catch (err) {
      if (!(err instanceof PduDecodeError)) throw err;
      emit({
        kind: 'error',
        error: 'decode',
        reason: err.reason,
        header: bhs,
        fatal: false,
        message: err.message,
      });
      return;
    }
    emit({ kind: 'pdu', pdu, header: bhs });
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
