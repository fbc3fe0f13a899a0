// SPC-4 sense data: fixed (0x70) and descriptor (0x72) formats built from a (key, asc, ascq) code plus
// optional INFORMATION and SENSE KEY SPECIFIC field pointer. Pure; no I/O.
import { ScsiStatus, type ScsiResult } from './scsi-types';

export type SenseFormat = 'fixed' | 'descriptor';

export const SenseKey = {
  NoSense: 0x0,
  RecoveredError: 0x1,
  NotReady: 0x2,
  MediumError: 0x3,
  HardwareError: 0x4,
  IllegalRequest: 0x5,
  UnitAttention: 0x6,
  DataProtect: 0x7,
  AbortedCommand: 0xb,
  Miscompare: 0xe,
} as const;

export interface SenseCode {
  readonly key: number;
  readonly asc: number;
  readonly ascq: number;
}

/** Sense-key-specific field pointer (SPC-4 4.5.2.4.2): which CDB or parameter-list byte/bit was wrong. */
export interface FieldPointer {
  /** true: the error is in the CDB (C/D = 1); false: in the parameter list. */
  inCdb: boolean;
  byte: number;
  /** Bit number (0-7) when known. */
  bit?: number;
}

export interface SenseDetail {
  /** INFORMATION field (e.g. the LBA or miscompare offset); sets VALID. */
  information?: number;
  field?: FieldPointer;
  /** Progress indication (SPC-4 4.5.2.4.4) of an operation in progress, 0-65535 of 65536. */
  progress?: number;
}

function code(key: number, asc: number, ascq: number): SenseCode {
  return Object.freeze({ key, asc, ascq });
}

const K = SenseKey;
export const NO_SENSE = code(K.NoSense, 0x00, 0x00);
export const INVALID_FIELD_IN_CDB = code(K.IllegalRequest, 0x24, 0x00);
export const INVALID_COMMAND_OPERATION_CODE = code(K.IllegalRequest, 0x20, 0x00);
/** Alias: the brief's "INVALID OPCODE". */
export const INVALID_OPCODE = INVALID_COMMAND_OPERATION_CODE;
export const LBA_OUT_OF_RANGE = code(K.IllegalRequest, 0x21, 0x00);
export const LOGICAL_UNIT_NOT_SUPPORTED = code(K.IllegalRequest, 0x25, 0x00);
export const PARAMETER_LIST_LENGTH_ERROR = code(K.IllegalRequest, 0x1a, 0x00);
export const INVALID_FIELD_IN_PARAMETER_LIST = code(K.IllegalRequest, 0x26, 0x00);
/** ILLEGAL REQUEST 0x0e/0x03: the data-out the initiator sent does not fit what the CDB describes. */
export const INVALID_FIELD_IN_INFORMATION_UNIT = code(K.IllegalRequest, 0x0e, 0x03);
export const SAVING_PARAMETERS_NOT_SUPPORTED = code(K.IllegalRequest, 0x39, 0x00);
export const WRITE_PROTECTED = code(K.DataProtect, 0x27, 0x00);
export const SPACE_ALLOCATION_FAILED_WRITE_PROTECT = code(K.DataProtect, 0x27, 0x07);
export const MEDIUM_NOT_PRESENT = code(K.NotReady, 0x3a, 0x00);
export const FORMAT_IN_PROGRESS = code(K.NotReady, 0x04, 0x04);
export const SELF_TEST_IN_PROGRESS = code(K.NotReady, 0x04, 0x09);
export const SANITIZE_IN_PROGRESS = code(K.NotReady, 0x04, 0x1b);
export const LOGICAL_UNIT_FAILED_SELF_TEST = code(K.HardwareError, 0x3e, 0x03);
export const UNRECOVERED_READ_ERROR = code(K.MediumError, 0x11, 0x00);
export const WRITE_ERROR = code(K.MediumError, 0x0c, 0x00);
export const MISCOMPARE_DURING_VERIFY = code(K.Miscompare, 0x1d, 0x00);
export const INTERNAL_TARGET_FAILURE = code(K.HardwareError, 0x44, 0x00);
export const POWER_ON_RESET = code(K.UnitAttention, 0x29, 0x00);
export const NOT_READY_TO_READY_CHANGE = code(K.UnitAttention, 0x28, 0x00);
export const MODE_PARAMETERS_CHANGED = code(K.UnitAttention, 0x2a, 0x01);
export const CAPACITY_DATA_HAS_CHANGED = code(K.UnitAttention, 0x2a, 0x09);
export const INQUIRY_DATA_HAS_CHANGED = code(K.UnitAttention, 0x3f, 0x03);
export const REPORTED_LUNS_DATA_HAS_CHANGED = code(K.UnitAttention, 0x3f, 0x0e);

/** 18-byte fixed-format sense data. */
export function buildFixedSense(c: SenseCode, detail?: SenseDetail): Buffer {
  const b = Buffer.alloc(18);
  b[0] = 0x70;
  b[2] = c.key & 0x0f;
  if (detail?.information !== undefined) {
    b[0] |= 0x80; // VALID
    b.writeUInt32BE(detail.information >>> 0, 3);
  }
  b[7] = 10; // additional sense length
  b[12] = c.asc;
  b[13] = c.ascq;
  if (detail?.field) writeFieldPointer(b, 15, detail.field);
  else if (detail?.progress !== undefined) writeProgress(b, 15, detail.progress);
  return b;
}

/** Descriptor-format sense data with an information descriptor and/or a field-pointer descriptor. */
export function buildDescriptorSense(c: SenseCode, detail?: SenseDetail): Buffer {
  const hasInfo = detail?.information !== undefined;
  const hasField = detail?.field !== undefined || detail?.progress !== undefined;
  const b = Buffer.alloc(8 + (hasInfo ? 12 : 0) + (hasField ? 8 : 0));
  b[0] = 0x72;
  b[1] = c.key & 0x0f;
  b[2] = c.asc;
  b[3] = c.ascq;
  b[7] = b.length - 8;
  let p = 8;
  if (hasInfo) {
    b[p] = 0x00; // information descriptor
    b[p + 1] = 0x0a;
    b[p + 2] = 0x80; // VALID
    const info = detail!.information!;
    b.writeUInt32BE(Math.floor(info / 0x100000000) >>> 0, p + 4);
    b.writeUInt32BE(info >>> 0, p + 8);
    p += 12;
  }
  if (hasField) {
    b[p] = 0x02; // sense key specific descriptor
    b[p + 1] = 0x06;
    if (detail!.field) writeFieldPointer(b, p + 4, detail!.field);
    else writeProgress(b, p + 4, detail!.progress!);
  }
  return b;
}

export function buildSense(format: SenseFormat, c: SenseCode, detail?: SenseDetail): Buffer {
  return format === 'descriptor' ? buildDescriptorSense(c, detail) : buildFixedSense(c, detail);
}

function writeFieldPointer(b: Buffer, at: number, f: FieldPointer): void {
  let v = 0x80; // SKSV
  if (f.inCdb) v |= 0x40;
  if (f.bit !== undefined) v |= 0x08 | (f.bit & 0x07);
  b[at] = v;
  b.writeUInt16BE(f.byte & 0xffff, at + 1);
}

function writeProgress(b: Buffer, at: number, progress: number): void {
  b[at] = 0x80; // SKSV
  b.writeUInt16BE(Math.max(0, Math.min(0xffff, Math.floor(progress))), at + 1);
}

/** A CHECK CONDITION result carrying sense data in the given format. */
export function checkCondition(format: SenseFormat, c: SenseCode, detail?: SenseDetail): ScsiResult {
  return { status: ScsiStatus.CheckCondition, sense: buildSense(format, c, detail) };
}

/** INVALID FIELD IN CDB pointing at cdb[byte] (bit optional). */
export function invalidCdbField(format: SenseFormat, byte: number, bit?: number): ScsiResult {
  return checkCondition(format, INVALID_FIELD_IN_CDB, { field: { inCdb: true, byte, bit } });
}

/** INVALID FIELD IN PARAMETER LIST pointing at param[byte]. */
export function invalidParamField(format: SenseFormat, byte: number, bit?: number): ScsiResult {
  return checkCondition(format, INVALID_FIELD_IN_PARAMETER_LIST, { field: { inCdb: false, byte, bit } });
}

/** Decoded view of sense data of either format (for tests and logging). */
export function parseSense(b: Buffer): { key: number; asc: number; ascq: number; information?: number } {
  const rc = b[0] & 0x7f;
  if (rc === 0x72 || rc === 0x73) {
    const out: { key: number; asc: number; ascq: number; information?: number } = {
      key: b[1] & 0x0f,
      asc: b[2],
      ascq: b[3],
    };
    for (let p = 8; p + 1 < b.length; p += 2 + b[p + 1]) {
      if (b[p] === 0x00 && b[p + 2] & 0x80)
        out.information = b.readUInt32BE(p + 4) * 0x100000000 + b.readUInt32BE(p + 8);
    }
    return out;
  }
  const out: { key: number; asc: number; ascq: number; information?: number } = {
    key: b[2] & 0x0f,
    asc: b[12],
    ascq: b[13],
  };
  if (b[0] & 0x80) out.information = b.readUInt32BE(3);
  return out;
}
