// REPORT SUPPORTED OPERATION CODES and REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS (SPC-4 6.35, 6.36).
// The usage data below is the one description of which CDB bits each command accepts; a command is listed
// only if the device says it implements the opcode.
import { allocationLength32At, nacaSet, truncate } from './cdb';
import { ScsiStatus, type ScsiResult } from './scsi-types';
import { invalidCdbField, type SenseFormat } from './sense';

export interface OpcodeUsage {
  op: number;
  /** Service action, for opcodes that have them. */
  sa?: number;
  /** CDB USAGE DATA: byte 0 the opcode, then a mask of the bits the command honours. */
  usage: readonly number[];
}

const L4 = [0xff, 0xff, 0xff, 0xff];
const L8 = [...L4, ...L4];
const rw10 = (op: number, b1: number): OpcodeUsage => ({
  op,
  usage: [op, b1, ...L4, 0x1f, 0xff, 0xff, 0x00],
});
const rw12 = (op: number, b1: number): OpcodeUsage => ({ op, usage: [op, b1, ...L4, ...L4, 0x1f, 0x00] });
const rw16 = (op: number, b1: number): OpcodeUsage => ({ op, usage: [op, b1, ...L8, ...L4, 0x1f, 0x00] });

// Accepted with no effect beyond what we always do: FUA_NV of READ/WRITE (byte 1 bit 1) and SYNC_NV of
// SYNCHRONIZE CACHE (byte 1 bit 2) ask for non-volatile cache handling, and we never answer before the data
// is where FUA/flush puts it. libiscsi sets both (Read10/Write10 flags, NoMedia) and expects them accepted.
// MODE SELECT's SP is evaluated: it saves the pages when the LU has a mode page store (the mode code refuses
// it, INVALID FIELD IN CDB at SP, when there is none). LOG SELECT/SENSE's SP is 0: log pages are never saved.
export const OPCODE_USAGE: readonly OpcodeUsage[] = [
  { op: 0x00, usage: [0x00, 0, 0, 0, 0, 0] },
  { op: 0x04, usage: [0x04, 0x3f, 0, 0, 0, 0] },
  { op: 0x03, usage: [0x03, 0x01, 0, 0, 0xff, 0] },
  { op: 0x08, usage: [0x08, 0x1f, 0xff, 0xff, 0xff, 0] },
  { op: 0x0a, usage: [0x0a, 0x1f, 0xff, 0xff, 0xff, 0] },
  { op: 0x12, usage: [0x12, 0x01, 0xff, 0xff, 0xff, 0] },
  { op: 0x15, usage: [0x15, 0x11, 0, 0, 0xff, 0] },
  { op: 0x16, usage: [0x16, 0, 0, 0, 0, 0] },
  { op: 0x17, usage: [0x17, 0, 0, 0, 0, 0] },
  { op: 0x1a, usage: [0x1a, 0x08, 0xff, 0xff, 0xff, 0] },
  { op: 0x1c, usage: [0x1c, 0x01, 0xff, 0xff, 0xff, 0] },
  { op: 0x1d, usage: [0x1d, 0xf7, 0, 0xff, 0xff, 0] },
  { op: 0x1b, usage: [0x1b, 0x01, 0, 0x0f, 0xf7, 0] },
  { op: 0x1e, usage: [0x1e, 0, 0, 0, 0x03, 0] },
  { op: 0x25, usage: [0x25, 0, ...L4, 0, 0, 0x01, 0] },
  rw10(0x28, 0x1a),
  rw10(0x2a, 0x1a),
  rw10(0x2e, 0x12),
  rw10(0x2f, 0x16),
  rw10(0x34, 0x02),
  rw10(0x35, 0x06),
  { op: 0x37, usage: [0x37, 0, 0x1f, 0, 0, 0, 0, 0xff, 0xff, 0] },
  rw10(0x41, 0x08),
  { op: 0x42, usage: [0x42, 0, 0, 0, 0, 0, 0x1f, 0xff, 0xff, 0] },
  { op: 0x4c, usage: [0x4c, 0x02, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0] },
  { op: 0x4d, usage: [0x4d, 0, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0xff, 0] },
  { op: 0x55, usage: [0x55, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0] },
  { op: 0x56, usage: [0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
  { op: 0x57, usage: [0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
  { op: 0x5a, usage: [0x5a, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0] },
  ...[0, 1, 2, 3].map((sa) => ({ op: 0x5e, sa, usage: [0x5e, sa, 0, 0, 0, 0, 0, 0xff, 0xff, 0] })),
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((sa) => ({ op: 0x5f, sa, usage: [0x5f, sa, 0xff, 0, 0, ...L4, 0] })),
  { op: 0x83, sa: 0x00, usage: [0x83, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, ...L4, 0, 0] },
  { op: 0x84, sa: 0x00, usage: [0x84, 0x00, 0xff, 0, 0, 0, 0, 0, 0, 0, ...L4, 0, 0] },
  { op: 0x84, sa: 0x03, usage: [0x84, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, ...L4, 0, 0] },
  { op: 0x89, usage: [0x89, 0x18, ...L8, 0, 0, 0, 0xff, 0x1f, 0] },
  rw16(0x88, 0x1a),
  rw16(0x8a, 0x1a),
  rw16(0x8b, 0x18),
  rw16(0x8e, 0x12),
  rw16(0x8f, 0x16),
  rw16(0x90, 0x02),
  rw16(0x91, 0x06),
  rw16(0x93, 0x09),
  // READ CAPACITY(16): PMI and the LBA are checked the SBC-2 way (obsolete in SBC-3, like READ CAPACITY(10)).
  { op: 0x9e, sa: 0x10, usage: [0x9e, 0x10, ...L8, ...L4, 0x01, 0] },
  { op: 0x9e, sa: 0x12, usage: [0x9e, 0x12, ...L8, ...L4, 0, 0] },
  { op: 0xa0, usage: [0xa0, 0, 0xff, 0, 0, 0, ...L4, 0, 0] },
  { op: 0xa3, sa: 0x0a, usage: [0xa3, 0xea, 0, 0, 0, 0, ...L4, 0, 0] },
  { op: 0xa3, sa: 0x0c, usage: [0xa3, 0x0c, 0x87, 0xff, 0xff, 0xff, ...L4, 0, 0] },
  { op: 0xa3, sa: 0x0d, usage: [0xa3, 0x0d, 0x80, 0, 0, 0, ...L4, 0, 0] },
  { op: 0xa4, sa: 0x0a, usage: [0xa4, 0x0a, 0, 0, 0, 0, ...L4, 0, 0] },
  rw12(0xa8, 0x1a),
  rw12(0xaa, 0x1a),
  rw12(0xae, 0x12),
  rw12(0xaf, 0x16),
  { op: 0xb7, usage: [0xb7, 0x1f, 0, 0, 0, 0, ...L4, 0, 0] },
];

/** Usage by opcode, or by opcode << 8 | service action for opcodes with service actions. */
const USAGE_BY_KEY = new Map<number, OpcodeUsage>(
  OPCODE_USAGE.map((u) => [u.sa === undefined ? u.op : (u.op << 8) | u.sa, u]),
);
const WITH_SERVICE_ACTION = new Set(OPCODE_USAGE.filter((u) => u.sa !== undefined).map((u) => u.op));

/**
 * Where a CDB breaks its usage data, for INVALID FIELD IN CDB: a service action we do not list (the
 * SERVICE ACTION field, byte 1 bits 4-0, judged before anything else in the CDB), else the first set bit
 * the usage data says we do not evaluate (reserved, obsolete, unsupported, the CONTROL byte's NACA, LINK
 * and vendor bits: we treat all of them as reserved). Undefined when the CDB is clean or the opcode has
 * no usage data. `listed` is the device's REPORT SUPPORTED OPERATION CODES filter, so a service action it
 * leaves out (e.g. REPORT TARGET PORT GROUPS while ALUA is off) is refused here too.
 */
export function cdbUsageViolation(
  cdb: Buffer,
  listed: (op: number, sa?: number) => boolean = () => true,
): { byte: number; bit: number } | undefined {
  const op = cdb[0];
  const withSa = WITH_SERVICE_ACTION.has(op);
  const sa = cdb[1] & 0x1f;
  const u = USAGE_BY_KEY.get(withSa ? (op << 8) | sa : op);
  if (withSa && (!u || !listed(op, sa))) return { byte: 1, bit: 4 };
  if (!u) return undefined;
  for (let i = 1; i < u.usage.length; i++) {
    const ignored = ~u.usage[i] & (withSa && i === 1 ? 0xe0 : 0xff);
    const bad = cdb[i] & ignored;
    if (bad) return { byte: i, bit: 31 - Math.clz32(bad) };
  }
  return undefined;
}

/** Command timeouts descriptor (SPC-4 6.35.4): we have no better number than "0: not specified". */
function timeouts(): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(0x0a, 0);
  return b;
}

/** Execute REPORT SUPPORTED OPERATION CODES for a device implementing `supported` (an opcode filter). */
export function reportSupportedOpcodes(
  cdb: Buffer,
  /** Does the device implement this opcode (and service action, for opcodes that have them)? */
  supported: (op: number, sa?: number) => boolean,
  f: SenseFormat,
): ScsiResult {
  if (nacaSet(cdb)) return invalidCdbField(f, 11, 2);
  const rctd = (cdb[2] & 0x80) !== 0;
  const options = cdb[2] & 0x07;
  if (cdb[2] & 0x78) return invalidCdbField(f, 2, 6);
  const alloc = allocationLength32At(cdb, 6);
  const list = OPCODE_USAGE.filter((u) => supported(u.op, u.sa));
  let data: Buffer;
  if (options === 0) {
    const parts = list.map((u) => {
      const d = Buffer.alloc(rctd ? 20 : 8);
      d[0] = u.op;
      d.writeUInt16BE(u.sa ?? 0, 2);
      d[5] = (rctd ? 0x02 : 0) | (u.sa !== undefined ? 0x01 : 0);
      d.writeUInt16BE(u.usage.length, 6);
      if (rctd) timeouts().copy(d, 8);
      return d;
    });
    const body = Buffer.concat(parts);
    data = Buffer.alloc(4 + body.length);
    data.writeUInt32BE(body.length, 0);
    body.copy(data, 4);
  } else if (options <= 3) {
    const op = cdb[3];
    const sa = cdb.readUInt16BE(4);
    // An opcode with service actions of which the device lists none (MAINTENANCE OUT without explicit ALUA)
    // is an unsupported opcode, reported as such, not a request in the wrong form.
    const withSa = list.some((u) => u.op === op && u.sa !== undefined);
    if (options === 1 && withSa) return invalidCdbField(f, 3);
    if (options === 2 && !withSa && supported(op)) return invalidCdbField(f, 3);
    if (options === 1 && sa !== 0) return invalidCdbField(f, 4);
    const u = list.find((x) => x.op === op && (withSa ? x.sa === sa : true));
    const usage = u ? Buffer.from(u.usage) : Buffer.alloc(0);
    data = Buffer.alloc(4 + usage.length + (rctd ? 12 : 0));
    data[1] = (rctd ? 0x80 : 0) | (u ? 0x03 : 0x01); // SUPPORT: 011b supported, 001b not supported
    data.writeUInt16BE(usage.length, 2);
    usage.copy(data, 4);
    if (rctd) timeouts().copy(data, 4 + usage.length);
  } else {
    return invalidCdbField(f, 2, 2);
  }
  return { status: ScsiStatus.Good, dataIn: truncate(data, alloc) };
}

/** REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS: what the iSCSI transport implements. */
export function reportSupportedTmfs(cdb: Buffer, f: SenseFormat): ScsiResult {
  if (nacaSet(cdb)) return invalidCdbField(f, 11, 2);
  const repd = (cdb[2] & 0x80) !== 0;
  const alloc = allocationLength32At(cdb, 6);
  const data = Buffer.alloc(repd ? 16 : 4);
  data[0] = 0x80 | 0x40 | 0x10 | 0x08 | 0x02; // ABORT TASK (SET), CLEAR TASK SET, LU RESET, TARGET RESET
  if (repd) data[3] = 0x0c; // additional data length
  return { status: ScsiStatus.Good, dataIn: truncate(data, alloc) };
}
