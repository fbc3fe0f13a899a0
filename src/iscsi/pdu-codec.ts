// RFC 7143 section 11: PDU <-> bytes, both directions, no I/O.
// decodePdu() turns a framed PDU (BHS, AHS, data segment; see pdu-parser.ts) into a Pdu object without
// copying the data segment. encodePdu() returns the wire image as a list of buffers: one freshly built
// header, the caller's data buffer untouched, then padding and data digest, so that a 1 MiB Data-In is
// never copied on its way to the socket. Digests are CRC32C stored least-significant byte first, which is
// what RFC 7143 appendix B.4's examples show and what open-iscsi, libiscsi and tgt put on the wire.

import { crc32c } from './crc32c';
import {
  BHS_LENGTH,
  Opcode,
  RejectReason,
  type AsyncMessage,
  type DataIn,
  type DataOut,
  type LoginRequest,
  type LoginResponse,
  type LogoutRequest,
  type LogoutResponse,
  type NopIn,
  type NopOut,
  type Pdu,
  type R2T,
  type Reject,
  type ScsiCommand,
  type ScsiResponse,
  type SnackRequest,
  type TaskMgmtRequest,
  type TaskMgmtResponse,
  type TextRequest,
  type TextResponse,
} from './pdu-types';

/** A PDU that cannot be decoded; `reason` is the RejectReason to answer with. */
export class PduDecodeError extends Error {
  constructor(
    message: string,
    readonly reason: number,
  ) {
    super(message);
    this.name = 'PduDecodeError';
  }
}

export interface EncodeOptions {
  headerDigest: boolean;
  dataDigest: boolean;
}

/** Largest value of the 24-bit DataSegmentLength field. */
export const MAX_DATA_SEGMENT_LENGTH = 0xffffff;
/** Largest AHS area: TotalAHSLength is one byte counting 4-byte words. */
export const MAX_AHS_LENGTH = 255 * 4;
export const DIGEST_LENGTH = 4;

/** AHSType values (RFC 7143 11.2.1.2). */
export const AHS_TYPE_EXTENDED_CDB = 1;
export const AHS_TYPE_BIDI_READ_LENGTH = 2;

// Flag bits of byte 1.
const F = 0x80;
const C = 0x40; // Login/Text Continue
const R = 0x40; // SCSI Command Read
const W = 0x20; // SCSI Command Write
const T = 0x80; // Login Transit
const ACK = 0x40; // Data-In A
const RSP_BIDI_OVERFLOW = 0x10;
const RSP_BIDI_UNDERFLOW = 0x08;
const OVERFLOW = 0x04;
const UNDERFLOW = 0x02;
const STATUS = 0x01; // Data-In S
const IMMEDIATE = 0x40;

/** Shared source of zero padding bytes; never written to. */
const ZERO_PAD = Buffer.alloc(4);

/** Bytes of padding after a segment of `n` bytes. */
export function paddingLength(n: number): number {
  return -n & 3;
}

// ---------------------------------------------------------------------------------------------------------
// Decoding

/**
 * Decode one PDU. `bhs` is exactly 48 bytes, `ahs` the AHS area (TotalAHSLength * 4 bytes) or undefined,
 * `data` the data segment without padding and digest (kept as given, zero copy).
 * Throws PduDecodeError for unknown opcodes and malformed AHS.
 */
export function decodePdu(bhs: Buffer, ahs: Buffer | undefined, data: Buffer): Pdu {
  if (bhs.length !== BHS_LENGTH) {
    throw new PduDecodeError(
      `BHS must be ${BHS_LENGTH} bytes, got ${bhs.length}`,
      RejectReason.ProtocolError,
    );
  }
  if (ahs !== undefined && ahs.length === 0) ahs = undefined;
  const pdu = decodeBhs(bhs, ahs, data);
  if (ahs !== undefined) pdu.ahs = ahs;
  return pdu;
}

// A session talks to few LUNs: remember the last LUN field seen, so the common case builds no BigInt.
let lastLunHi = 0;
let lastLunLo = 0;
let lastLun = 0n;

function readLun(b: Buffer): bigint {
  const hi = b.readUInt32BE(8);
  const lo = b.readUInt32BE(12);
  if (hi !== lastLunHi || lo !== lastLunLo) {
    lastLun = b.readBigUInt64BE(8);
    lastLunHi = hi;
    lastLunLo = lo;
  }
  return lastLun;
}

function decodeBhs(b: Buffer, ahs: Buffer | undefined, data: Buffer): Pdu {
  const opcode = b[0] & 0x3f;
  const immediate = (b[0] & IMMEDIATE) !== 0;
  const flags = b[1];
  const itt = b.readUInt32BE(16);
  switch (opcode) {
    case Opcode.NopOut:
      return {
        opcode: Opcode.NopOut,
        immediate,
        itt,
        data,
        lun: readLun(b),
        ttt: b.readUInt32BE(20),
        cmdSN: b.readUInt32BE(24),
        expStatSN: b.readUInt32BE(28),
      };
    case Opcode.ScsiCommand:
      return decodeScsiCommand(b, ahs, data, immediate, itt);
    case Opcode.TaskMgmtRequest:
      return {
        opcode: Opcode.TaskMgmtRequest,
        immediate,
        itt,
        data,
        function: flags & 0x7f,
        lun: readLun(b),
        referencedTaskTag: b.readUInt32BE(20),
        cmdSN: b.readUInt32BE(24),
        expStatSN: b.readUInt32BE(28),
        refCmdSN: b.readUInt32BE(32),
        expDataSN: b.readUInt32BE(36),
      };
    case Opcode.LoginRequest:
      return {
        opcode: Opcode.LoginRequest,
        immediate,
        itt,
        data,
        transit: (flags & T) !== 0,
        continue: (flags & C) !== 0,
        csg: (flags >> 2) & 3,
        nsg: flags & 3,
        versionMax: b[2],
        versionMin: b[3],
        isid: b.subarray(8, 14),
        tsih: b.readUInt16BE(14),
        cid: b.readUInt16BE(20),
        cmdSN: b.readUInt32BE(24),
        expStatSN: b.readUInt32BE(28),
      };
    case Opcode.TextRequest:
      return {
        opcode: Opcode.TextRequest,
        immediate,
        itt,
        data,
        final: (flags & F) !== 0,
        continue: (flags & C) !== 0,
        lun: readLun(b),
        ttt: b.readUInt32BE(20),
        cmdSN: b.readUInt32BE(24),
        expStatSN: b.readUInt32BE(28),
      };
    case Opcode.DataOut:
      return {
        opcode: Opcode.DataOut,
        immediate,
        itt,
        data,
        final: (flags & F) !== 0,
        lun: readLun(b),
        ttt: b.readUInt32BE(20),
        expStatSN: b.readUInt32BE(28),
        dataSN: b.readUInt32BE(36),
        bufferOffset: b.readUInt32BE(40),
      };
    case Opcode.LogoutRequest:
      return {
        opcode: Opcode.LogoutRequest,
        immediate,
        itt,
        data,
        reasonCode: flags & 0x7f,
        cid: b.readUInt16BE(20),
        cmdSN: b.readUInt32BE(24),
        expStatSN: b.readUInt32BE(28),
      };
    case Opcode.SnackRequest:
      return {
        opcode: Opcode.SnackRequest,
        immediate,
        itt,
        data,
        type: flags & 0x0f,
        lun: readLun(b),
        ttt: b.readUInt32BE(20),
        expStatSN: b.readUInt32BE(28),
        begRun: b.readUInt32BE(40),
        runLength: b.readUInt32BE(44),
      };
    case Opcode.NopIn:
      return {
        opcode: Opcode.NopIn,
        immediate,
        itt,
        data,
        lun: readLun(b),
        ttt: b.readUInt32BE(20),
        statSN: b.readUInt32BE(24),
        expCmdSN: b.readUInt32BE(28),
        maxCmdSN: b.readUInt32BE(32),
      };
    case Opcode.ScsiResponse:
      return {
        opcode: Opcode.ScsiResponse,
        immediate,
        itt,
        data,
        bidiOverflow: (flags & RSP_BIDI_OVERFLOW) !== 0,
        bidiUnderflow: (flags & RSP_BIDI_UNDERFLOW) !== 0,
        overflow: (flags & OVERFLOW) !== 0,
        underflow: (flags & UNDERFLOW) !== 0,
        response: b[2],
        status: b[3],
        snackTag: b.readUInt32BE(20),
        statSN: b.readUInt32BE(24),
        expCmdSN: b.readUInt32BE(28),
        maxCmdSN: b.readUInt32BE(32),
        expDataSN: b.readUInt32BE(36),
        bidiResidualCount: b.readUInt32BE(40),
        residualCount: b.readUInt32BE(44),
      };
    case Opcode.TaskMgmtResponse:
      return {
        opcode: Opcode.TaskMgmtResponse,
        immediate,
        itt,
        data,
        response: b[2],
        statSN: b.readUInt32BE(24),
        expCmdSN: b.readUInt32BE(28),
        maxCmdSN: b.readUInt32BE(32),
      };
    case Opcode.LoginResponse:
      return {
        opcode: Opcode.LoginResponse,
        immediate,
        itt,
        data,
        transit: (flags & T) !== 0,
        continue: (flags & C) !== 0,
        csg: (flags >> 2) & 3,
        nsg: flags & 3,
        versionMax: b[2],
        versionActive: b[3],
        isid: b.subarray(8, 14),
        tsih: b.readUInt16BE(14),
        statSN: b.readUInt32BE(24),
        expCmdSN: b.readUInt32BE(28),
        maxCmdSN: b.readUInt32BE(32),
        statusClass: b[36],
        statusDetail: b[37],
      };
    case Opcode.TextResponse:
      return {
        opcode: Opcode.TextResponse,
        immediate,
        itt,
        data,
        final: (flags & F) !== 0,
        continue: (flags & C) !== 0,
        lun: readLun(b),
        ttt: b.readUInt32BE(20),
        statSN: b.readUInt32BE(24),
        expCmdSN: b.readUInt32BE(28),
        maxCmdSN: b.readUInt32BE(32),
      };
    case Opcode.DataIn:
      return {
        opcode: Opcode.DataIn,
        immediate,
        itt,
        data,
        final: (flags & F) !== 0,
        ack: (flags & ACK) !== 0,
        overflow: (flags & OVERFLOW) !== 0,
        underflow: (flags & UNDERFLOW) !== 0,
        hasStatus: (flags & STATUS) !== 0,
        status: b[3],
        lun: readLun(b),
        ttt: b.readUInt32BE(20),
        statSN: b.readUInt32BE(24),
        expCmdSN: b.readUInt32BE(28),
        maxCmdSN: b.readUInt32BE(32),
        dataSN: b.readUInt32BE(36),
        bufferOffset: b.readUInt32BE(40),
        residualCount: b.readUInt32BE(44),
      };
    case Opcode.LogoutResponse:
      return {
        opcode: Opcode.LogoutResponse,
        immediate,
        itt,
        data,
        response: b[2],
        statSN: b.readUInt32BE(24),
        expCmdSN: b.readUInt32BE(28),
        maxCmdSN: b.readUInt32BE(32),
        time2Wait: b.readUInt16BE(40),
        time2Retain: b.readUInt16BE(42),
      };
    case Opcode.R2T:
      return {
        opcode: Opcode.R2T,
        immediate,
        itt,
        data,
        lun: readLun(b),
        ttt: b.readUInt32BE(20),
        statSN: b.readUInt32BE(24),
        expCmdSN: b.readUInt32BE(28),
        maxCmdSN: b.readUInt32BE(32),
        r2tSN: b.readUInt32BE(36),
        bufferOffset: b.readUInt32BE(40),
        desiredDataTransferLength: b.readUInt32BE(44),
      };
    case Opcode.AsyncMessage:
      return {
        opcode: Opcode.AsyncMessage,
        immediate,
        itt,
        data,
        lun: readLun(b),
        statSN: b.readUInt32BE(24),
        expCmdSN: b.readUInt32BE(28),
        maxCmdSN: b.readUInt32BE(32),
        asyncEvent: b[36],
        asyncVCode: b[37],
        parameter1: b.readUInt16BE(38),
        parameter2: b.readUInt16BE(40),
        parameter3: b.readUInt16BE(42),
      };
    case Opcode.Reject:
      return {
        opcode: Opcode.Reject,
        immediate,
        itt,
        data,
        reason: b[2],
        statSN: b.readUInt32BE(24),
        expCmdSN: b.readUInt32BE(28),
        maxCmdSN: b.readUInt32BE(32),
        dataSN: b.readUInt32BE(36),
      };
    default:
      throw new PduDecodeError(
        `unknown opcode 0x${opcode.toString(16).padStart(2, '0')}`,
        RejectReason.CommandNotSupported,
      );
  }
}

function decodeScsiCommand(
  b: Buffer,
  ahs: Buffer | undefined,
  data: Buffer,
  immediate: boolean,
  itt: number,
): ScsiCommand {
  const flags = b[1];
  const pdu: ScsiCommand = {
    opcode: Opcode.ScsiCommand,
    immediate,
    itt,
    data,
    final: (flags & F) !== 0,
    read: (flags & R) !== 0,
    write: (flags & W) !== 0,
    attr: flags & 0x07,
    lun: readLun(b),
    expectedDataTransferLength: b.readUInt32BE(20),
    cmdSN: b.readUInt32BE(24),
    expStatSN: b.readUInt32BE(28),
    cdb: b.subarray(32, 48),
  };
  if (ahs !== undefined) applyScsiCommandAhs(pdu, ahs);
  return pdu;
}

/** Walk the AHS list of a SCSI Command: Extended CDB (type 1) and Expected Bidi Read Length (type 2). */
function applyScsiCommandAhs(pdu: ScsiCommand, ahs: Buffer): void {
  if ((ahs.length & 3) !== 0) throw badAhs(`AHS area of ${ahs.length} bytes is not a multiple of 4`);
  let pos = 0;
  let extendedCdb: Buffer | undefined;
  while (pos < ahs.length) {
    // AHSLength counts the AHS-specific bytes after the type byte (reserved byte included), not padding.
    const len = ahs.readUInt16BE(pos);
    const type = ahs[pos + 2] & 0x3f;
    const size = (3 + len + 3) & ~3;
    if (pos + size > ahs.length) {
      throw badAhs(`AHS at offset ${pos} (length ${len}) runs past the ${ahs.length}-byte AHS area`);
    }
    if (type === AHS_TYPE_EXTENDED_CDB) {
      if (len < 2) throw badAhs(`Extended CDB AHS with AHSLength ${len}`);
      if (extendedCdb !== undefined) throw badAhs('duplicate Extended CDB AHS');
      extendedCdb = ahs.subarray(pos + 4, pos + 3 + len);
    } else if (type === AHS_TYPE_BIDI_READ_LENGTH) {
      if (len !== 5) throw badAhs(`Bidirectional Read AHS with AHSLength ${len}, expected 5`);
      if (pdu.bidiReadLength !== undefined) throw badAhs('duplicate Bidirectional Read AHS');
      pdu.bidiReadLength = ahs.readUInt32BE(pos + 4);
    } else {
      throw badAhs(`unsupported AHSType ${type}`);
    }
    pos += size;
  }
  if (extendedCdb !== undefined) {
    const cdb = Buffer.allocUnsafe(16 + extendedCdb.length);
    pdu.cdb.copy(cdb, 0);
    extendedCdb.copy(cdb, 16);
    pdu.cdb = cdb;
  }
}

function badAhs(message: string): PduDecodeError {
  return new PduDecodeError(message, RejectReason.InvalidPduField);
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

/**
 * Encode a PDU as wire buffers: [header (BHS + AHS + header digest)], then, when there is a data segment,
 * pdu.data itself (not copied) and a small buffer with padding and data digest (left out when empty).
 * DataSegmentLength and TotalAHSLength are derived from pdu.data and the AHS.
 */
export function encodePdu(pdu: Pdu, opts: EncodeOptions): Buffer[] {
  const data = pdu.data;
  const dataLength = data.length;
  if (dataLength > MAX_DATA_SEGMENT_LENGTH) {
    throw new RangeError(`data segment of ${dataLength} bytes exceeds the 24-bit DataSegmentLength`);
  }
  const ahsLength = encodedAhsLength(pdu);
  if (ahsLength > MAX_AHS_LENGTH) throw new RangeError(`AHS of ${ahsLength} bytes exceeds ${MAX_AHS_LENGTH}`);
  const headerLength = BHS_LENGTH + ahsLength + (opts.headerDigest ? DIGEST_LENGTH : 0);
  const pad = paddingLength(dataLength);
  const tailLength = dataLength === 0 ? 0 : pad + (opts.dataDigest ? DIGEST_LENGTH : 0);

  // Header and tail share one allocation; the tail is only a view when it carries a digest.
  const needsOwnTail = tailLength > pad;
  const out = Buffer.allocUnsafe(headerLength + (needsOwnTail ? tailLength : 0));
  out.fill(0, 0, BHS_LENGTH + ahsLength);
  const header = needsOwnTail ? out.subarray(0, headerLength) : out;

  writeBhs(pdu, header);
  header[4] = ahsLength >>> 2;
  header[5] = dataLength >>> 16;
  header[6] = dataLength >>> 8;
  header[7] = dataLength;
  if (ahsLength > 0) writeAhs(pdu, header);
  if (opts.headerDigest) {
    header.writeUInt32LE(crc32c(header.subarray(0, BHS_LENGTH + ahsLength)), BHS_LENGTH + ahsLength);
  }

  if (dataLength === 0) return [header];
  if (tailLength === 0) return [header, data];
  if (!needsOwnTail) return [header, data, ZERO_PAD.subarray(0, pad)];
  const tail = out.subarray(headerLength);
  tail.fill(0, 0, pad);
  let crc = crc32c(data);
  if (pad > 0) crc = crc32c(tail.subarray(0, pad), crc);
  tail.writeUInt32LE(crc, pad);
  return [header, data, tail];
}

/** Total bytes of an encodePdu() result. */
export function encodedLength(parts: Buffer[]): number {
  let n = 0;
  for (let i = 0; i < parts.length; i++) n += parts[i].length;
  return n;
}

/** Bytes the AHS area takes: pdu.ahs padded to words, or the AHS generated for a long/bidi SCSI Command. */
function encodedAhsLength(pdu: Pdu): number {
  if (pdu.ahs !== undefined) return (pdu.ahs.length + 3) & ~3;
  if (pdu.opcode !== Opcode.ScsiCommand) return 0;
  let n = 0;
  if (pdu.cdb.length > 16) n += (4 + pdu.cdb.length - 16 + 3) & ~3;
  if (pdu.bidiReadLength !== undefined) n += 8;
  return n;
}

/** Write the AHS area at offset 48 (already zeroed). */
function writeAhs(pdu: Pdu, h: Buffer): void {
  if (pdu.ahs !== undefined) {
    pdu.ahs.copy(h, BHS_LENGTH);
    return;
  }
  if (pdu.opcode !== Opcode.ScsiCommand) return;
  let pos = BHS_LENGTH;
  if (pdu.cdb.length > 16) {
    const extra = pdu.cdb.length - 16;
    h.writeUInt16BE(extra + 1, pos);
    h[pos + 2] = AHS_TYPE_EXTENDED_CDB;
    pdu.cdb.copy(h, pos + 4, 16);
    pos += (4 + extra + 3) & ~3;
  }
  if (pdu.bidiReadLength !== undefined) {
    h.writeUInt16BE(5, pos);
    h[pos + 2] = AHS_TYPE_BIDI_READ_LENGTH;
    h.writeUInt32BE(pdu.bidiReadLength, pos + 4);
  }
}

let lastWrittenLun = 0n;
let lastWrittenHi = 0;
let lastWrittenLo = 0;

function writeLun(h: Buffer, lun: bigint): void {
  if (lun !== lastWrittenLun) {
    const u = BigInt.asUintN(64, lun);
    lastWrittenHi = Number(u >> 32n);
    lastWrittenLo = Number(u & 0xffffffffn);
    lastWrittenLun = lun;
  }
  h.writeUInt32BE(lastWrittenHi, 8);
  h.writeUInt32BE(lastWrittenLo, 12);
}

/** Write the opcode-specific BHS fields into a zeroed header (bytes 4..7 are written by the caller). */
function writeBhs(pdu: Pdu, h: Buffer): void {
  h[0] = pdu.opcode | (pdu.immediate && pdu.opcode < Opcode.NopIn ? IMMEDIATE : 0);
  h.writeUInt32BE(pdu.itt, 16);
  switch (pdu.opcode) {
    case Opcode.NopOut:
      return writeNopOut(pdu, h);
    case Opcode.ScsiCommand:
      return writeScsiCommand(pdu, h);
    case Opcode.TaskMgmtRequest:
      return writeTaskMgmtRequest(pdu, h);
    case Opcode.LoginRequest:
      return writeLoginRequest(pdu, h);
    case Opcode.TextRequest:
      return writeTextRequest(pdu, h);
    case Opcode.DataOut:
      return writeDataOut(pdu, h);
    case Opcode.LogoutRequest:
      return writeLogoutRequest(pdu, h);
    case Opcode.SnackRequest:
      return writeSnackRequest(pdu, h);
    case Opcode.NopIn:
      return writeNopIn(pdu, h);
    case Opcode.ScsiResponse:
      return writeScsiResponse(pdu, h);
    case Opcode.TaskMgmtResponse:
      return writeTaskMgmtResponse(pdu, h);
    case Opcode.LoginResponse:
      return writeLoginResponse(pdu, h);
    case Opcode.TextResponse:
      return writeTextResponse(pdu, h);
    case Opcode.DataIn:
      return writeDataIn(pdu, h);
    case Opcode.LogoutResponse:
      return writeLogoutResponse(pdu, h);
    case Opcode.R2T:
      return writeR2T(pdu, h);
    case Opcode.AsyncMessage:
      return writeAsyncMessage(pdu, h);
    case Opcode.Reject:
      return writeReject(pdu, h);
    default:
      throw new RangeError(`cannot encode unknown opcode ${(pdu as { opcode: number }).opcode}`);
  }
}

function writeNopOut(p: NopOut, h: Buffer): void {
  h[1] = F;
  writeLun(h, p.lun);
  h.writeUInt32BE(p.ttt, 20);
  h.writeUInt32BE(p.cmdSN, 24);
  h.writeUInt32BE(p.expStatSN, 28);
}

function writeScsiCommand(p: ScsiCommand, h: Buffer): void {
  h[1] = (p.final ? F : 0) | (p.read ? R : 0) | (p.write ? W : 0) | (p.attr & 0x07);
  writeLun(h, p.lun);
  h.writeUInt32BE(p.expectedDataTransferLength, 20);
  h.writeUInt32BE(p.cmdSN, 24);
  h.writeUInt32BE(p.expStatSN, 28);
  p.cdb.copy(h, 32, 0, Math.min(16, p.cdb.length));
}

function writeTaskMgmtRequest(p: TaskMgmtRequest, h: Buffer): void {
  h[1] = F | (p.function & 0x7f);
  writeLun(h, p.lun);
  h.writeUInt32BE(p.referencedTaskTag, 20);
  h.writeUInt32BE(p.cmdSN, 24);
  h.writeUInt32BE(p.expStatSN, 28);
  h.writeUInt32BE(p.refCmdSN, 32);
  h.writeUInt32BE(p.expDataSN, 36);
}

function writeLoginRequest(p: LoginRequest, h: Buffer): void {
  h[0] = Opcode.LoginRequest | IMMEDIATE; // Login Requests are always immediate (RFC 7143 11.12)
  h[1] = (p.transit ? T : 0) | (p.continue ? C : 0) | ((p.csg & 3) << 2) | (p.nsg & 3);
  h[2] = p.versionMax;
  h[3] = p.versionMin;
  p.isid.copy(h, 8, 0, 6);
  h.writeUInt16BE(p.tsih, 14);
  h.writeUInt16BE(p.cid, 20);
  h.writeUInt32BE(p.cmdSN, 24);
  h.writeUInt32BE(p.expStatSN, 28);
}

function writeTextRequest(p: TextRequest, h: Buffer): void {
  h[1] = (p.final ? F : 0) | (p.continue ? C : 0);
  writeLun(h, p.lun);
  h.writeUInt32BE(p.ttt, 20);
  h.writeUInt32BE(p.cmdSN, 24);
  h.writeUInt32BE(p.expStatSN, 28);
}

function writeDataOut(p: DataOut, h: Buffer): void {
  h[1] = p.final ? F : 0;
  writeLun(h, p.lun);
  h.writeUInt32BE(p.ttt, 20);
  h.writeUInt32BE(p.expStatSN, 28);
  h.writeUInt32BE(p.dataSN, 36);
  h.writeUInt32BE(p.bufferOffset, 40);
}

function writeLogoutRequest(p: LogoutRequest, h: Buffer): void {
  h[1] = F | (p.reasonCode & 0x7f);
  h.writeUInt16BE(p.cid, 20);
  h.writeUInt32BE(p.cmdSN, 24);
  h.writeUInt32BE(p.expStatSN, 28);
}

function writeSnackRequest(p: SnackRequest, h: Buffer): void {
  h[1] = F | (p.type & 0x0f);
  writeLun(h, p.lun);
  h.writeUInt32BE(p.ttt, 20);
  h.writeUInt32BE(p.expStatSN, 28);
  h.writeUInt32BE(p.begRun, 40);
  h.writeUInt32BE(p.runLength, 44);
}

function writeNopIn(p: NopIn, h: Buffer): void {
  h[1] = F;
  writeLun(h, p.lun);
  h.writeUInt32BE(p.ttt, 20);
  h.writeUInt32BE(p.statSN, 24);
  h.writeUInt32BE(p.expCmdSN, 28);
  h.writeUInt32BE(p.maxCmdSN, 32);
}

function writeScsiResponse(p: ScsiResponse, h: Buffer): void {
  h[1] =
    F |
    (p.bidiOverflow ? RSP_BIDI_OVERFLOW : 0) |
    (p.bidiUnderflow ? RSP_BIDI_UNDERFLOW : 0) |
    (p.overflow ? OVERFLOW : 0) |
    (p.underflow ? UNDERFLOW : 0);
  h[2] = p.response;
  h[3] = p.status;
  h.writeUInt32BE(p.snackTag, 20);
  h.writeUInt32BE(p.statSN, 24);
  h.writeUInt32BE(p.expCmdSN, 28);
  h.writeUInt32BE(p.maxCmdSN, 32);
  h.writeUInt32BE(p.expDataSN, 36);
  h.writeUInt32BE(p.bidiResidualCount, 40);
  h.writeUInt32BE(p.residualCount, 44);
}

function writeTaskMgmtResponse(p: TaskMgmtResponse, h: Buffer): void {
  h[1] = F;
  h[2] = p.response;
  h.writeUInt32BE(p.statSN, 24);
  h.writeUInt32BE(p.expCmdSN, 28);
  h.writeUInt32BE(p.maxCmdSN, 32);
}

function writeLoginResponse(p: LoginResponse, h: Buffer): void {
  h[1] = (p.transit ? T : 0) | (p.continue ? C : 0) | ((p.csg & 3) << 2) | (p.nsg & 3);
  h[2] = p.versionMax;
  h[3] = p.versionActive;
  p.isid.copy(h, 8, 0, 6);
  h.writeUInt16BE(p.tsih, 14);
  h.writeUInt32BE(p.statSN, 24);
  h.writeUInt32BE(p.expCmdSN, 28);
  h.writeUInt32BE(p.maxCmdSN, 32);
  h[36] = p.statusClass;
  h[37] = p.statusDetail;
}

function writeTextResponse(p: TextResponse, h: Buffer): void {
  h[1] = (p.final ? F : 0) | (p.continue ? C : 0);
  writeLun(h, p.lun);
  h.writeUInt32BE(p.ttt, 20);
  h.writeUInt32BE(p.statSN, 24);
  h.writeUInt32BE(p.expCmdSN, 28);
  h.writeUInt32BE(p.maxCmdSN, 32);
}

function writeDataIn(p: DataIn, h: Buffer): void {
  h[1] =
    (p.final ? F : 0) |
    (p.ack ? ACK : 0) |
    (p.overflow ? OVERFLOW : 0) |
    (p.underflow ? UNDERFLOW : 0) |
    (p.hasStatus ? STATUS : 0);
  h[3] = p.hasStatus ? p.status : 0;
  writeLun(h, p.lun);
  h.writeUInt32BE(p.ttt, 20);
  h.writeUInt32BE(p.hasStatus ? p.statSN : 0, 24);
  h.writeUInt32BE(p.expCmdSN, 28);
  h.writeUInt32BE(p.maxCmdSN, 32);
  h.writeUInt32BE(p.dataSN, 36);
  h.writeUInt32BE(p.bufferOffset, 40);
  h.writeUInt32BE(p.residualCount, 44);
}

function writeLogoutResponse(p: LogoutResponse, h: Buffer): void {
  h[1] = F;
  h[2] = p.response;
  h.writeUInt32BE(p.statSN, 24);
  h.writeUInt32BE(p.expCmdSN, 28);
  h.writeUInt32BE(p.maxCmdSN, 32);
  h.writeUInt16BE(p.time2Wait, 40);
  h.writeUInt16BE(p.time2Retain, 42);
}

function writeR2T(p: R2T, h: Buffer): void {
  h[1] = F;
  writeLun(h, p.lun);
  h.writeUInt32BE(p.ttt, 20);
  h.writeUInt32BE(p.statSN, 24);
  h.writeUInt32BE(p.expCmdSN, 28);
  h.writeUInt32BE(p.maxCmdSN, 32);
  h.writeUInt32BE(p.r2tSN, 36);
  h.writeUInt32BE(p.bufferOffset, 40);
  h.writeUInt32BE(p.desiredDataTransferLength, 44);
}

function writeAsyncMessage(p: AsyncMessage, h: Buffer): void {
  h[1] = F;
  writeLun(h, p.lun);
  h.writeUInt32BE(p.statSN, 24);
  h.writeUInt32BE(p.expCmdSN, 28);
  h.writeUInt32BE(p.maxCmdSN, 32);
  h[36] = p.asyncEvent;
  h[37] = p.asyncVCode;
  h.writeUInt16BE(p.parameter1, 38);
  h.writeUInt16BE(p.parameter2, 40);
  h.writeUInt16BE(p.parameter3, 42);
}

function writeReject(p: Reject, h: Buffer): void {
  h[1] = F;
  h[2] = p.reason;
  h.writeUInt32BE(p.statSN, 24);
  h.writeUInt32BE(p.expCmdSN, 28);
  h.writeUInt32BE(p.maxCmdSN, 32);
  h.writeUInt32BE(p.dataSN, 36);
}

// ---------------------------------------------------------------------------------------------------------
// Helpers for data segments and LUNs

/** SCSI Response data segment carrying sense data: 2-byte big-endian SenseLength, then the sense bytes. */
export function senseSegment(sense: Buffer): Buffer {
  const out = Buffer.allocUnsafe(2 + sense.length);
  out.writeUInt16BE(sense.length, 0);
  sense.copy(out, 2);
  return out;
}

const LOW_48_BITS = 0xffffffffffffn;

/**
 * The LU number in an 8-byte SAM LUN field: single-level peripheral device addressing (00b, bus 0) or flat
 * space addressing (01b). Anything else (other methods, a nonzero bus, second-level addressing) gives -1.
 */
export function lunToNumber(lun: bigint): number {
  if (lun === lastLunField) return lastLunNumber; // per-command path: skip the BigInt arithmetic
  const n = lunFieldToNumber(lun);
  lastLunField = lun;
  lastLunNumber = n;
  return n;
}

let lastLunField = 0n;
let lastLunNumber = 0;

function lunFieldToNumber(lun: bigint): number {
  if ((lun & LOW_48_BITS) !== 0n || lun < 0n || lun > 0xffffffffffffffffn) return -1;
  const first = Number(lun >> 48n);
  switch (first >>> 14) {
    case 0: // peripheral device: byte 0 is the bus identifier, which must be 0 for a plain LU number
      return first > 0xff ? -1 : first;
    case 1: // flat space: 14-bit LU number
      return first & 0x3fff;
    default:
      return -1;
  }
}

/** The 8-byte SAM LUN for LU number `n`: peripheral device addressing below 256, flat space up to 16383. */
export function numberToLun(n: number): bigint {
  if (!Number.isInteger(n) || n < 0 || n > 0x3fff)
    throw new RangeError(`LU number ${n} out of range 0..16383`);
  return BigInt(n < 256 ? n : 0x4000 | n) << 48n;
}
