// What every logical unit answers the same way, whatever its device type: REPORT LUNS (SPC-4 6.33), the
// answers for a LUN that does not exist (SPC-4 6.6.1 / SAM-5 5.8.4), REQUEST SENSE (SPC-4 6.39), and the
// per-I_T-nexus unit attention conditions (SAM-5 5.14, SPC-4 5.11) with the commands they do not block.
import { allocationLength32At, allocationLength6, nacaSet, Op, truncate } from './cdb';
import { padAscii } from './inquiry';
import { cdbUsageViolation } from './report-opcodes';
import { ScsiStatus, type ScsiResult, type ScsiTask } from './scsi-types';
import {
  buildSense,
  checkCondition,
  invalidCdbField,
  LOGICAL_UNIT_NOT_SUPPORTED,
  NO_SENSE,
  POWER_ON_RESET,
  type SenseCode,
  type SenseFormat,
} from './sense';

/** 8-byte LUN in SAM peripheral (<256) or flat (<16384) addressing. */
export function encodeLun(lun: number): Buffer {
  const b = Buffer.alloc(8);
  if (lun < 256) b[1] = lun;
  else b.writeUInt16BE(0x4000 | (lun & 0x3fff), 0);
  return b;
}

/** REPORT LUNS: SELECT REPORT 0 and 2 list every LUN, 1 (well-known LUs) lists none. */
export function reportLuns(task: ScsiTask, luns: number[], format: SenseFormat = 'fixed'): ScsiResult {
  const cdb = task.cdb;
  const reserved = cdbUsageViolation(cdb);
  if (reserved) return invalidCdbField(format, reserved.byte, reserved.bit);
  const select = cdb[2];
  if (select !== 0x00 && select !== 0x01 && select !== 0x02) return invalidCdbField(format, 2);
  const alloc = allocationLength32At(cdb, 6);
  if (alloc < 16) return invalidCdbField(format, 6);
  const listed = select === 0x01 ? [] : [...luns].sort((a, b) => a - b);
  const data = Buffer.alloc(8 + 8 * listed.length);
  data.writeUInt32BE(8 * listed.length, 0);
  listed.forEach((lun, i) => encodeLun(lun).copy(data, 8 + 8 * i));
  return { status: ScsiStatus.Good, dataIn: truncate(data, alloc) };
}

/** REQUEST SENSE for an LU: the oldest pending unit attention (cleared), else `condition` (e.g. NOT READY),
 *  else NO SENSE. The DESC bit picks the format. */
export function requestSense(
  task: ScsiTask,
  ua: UnitAttentions | undefined,
  condition?: SenseCode,
  progress?: number,
): ScsiResult {
  const cdb = task.cdb;
  const format: SenseFormat = cdb[1] & 0x01 ? 'descriptor' : 'fixed';
  if (nacaSet(cdb)) return invalidCdbField(format, 5, 2);
  const pending = ua?.take(task.nexus.id);
  const code = pending ?? condition ?? NO_SENSE;
  // An operation in progress (FORMAT UNIT, SANITIZE) reports how far it got (SPC-4 4.5.2.4.4).
  const detail = pending === undefined && condition && progress !== undefined ? { progress } : undefined;
  return {
    status: ScsiStatus.Good,
    dataIn: truncate(buildSense(format, code, detail), allocationLength6(cdb)),
  };
}

/** Answers for a LUN that is not configured: INQUIRY says "not capable of supporting a device here"
 *  (qualifier 011b, type 1Fh), REPORT LUNS works, REQUEST SENSE returns LOGICAL UNIT NOT SUPPORTED,
 *  everything else is CHECK CONDITION ILLEGAL REQUEST / LOGICAL UNIT NOT SUPPORTED. */
export function unknownLun(task: ScsiTask, luns: number[]): ScsiResult {
  const cdb = task.cdb;
  switch (cdb[0]) {
    case Op.INQUIRY: {
      const alloc = cdb.readUInt16BE(3);
      if (cdb[1] & 0x01) {
        if (cdb[2] !== 0x00) return invalidCdbField('fixed', 2);
        return {
          status: ScsiStatus.Good,
          dataIn: truncate(Buffer.from([0x7f, 0x00, 0x00, 0x01, 0x00]), alloc),
        };
      }
      if (cdb[2] !== 0) return invalidCdbField('fixed', 2);
      const data = Buffer.alloc(36, 0);
      data[0] = 0x7f;
      data[2] = 0x06;
      data[3] = 0x12;
      data[4] = 31;
      padAscii('', 28).copy(data, 8);
      return { status: ScsiStatus.Good, dataIn: truncate(data, alloc) };
    }
    case Op.REPORT_LUNS:
      return reportLuns(task, luns);
    case Op.REQUEST_SENSE:
      return requestSense(task, undefined, LOGICAL_UNIT_NOT_SUPPORTED);
    default:
      return checkCondition('fixed', LOGICAL_UNIT_NOT_SUPPORTED);
  }
}

/** Bound on queued unit attentions per nexus; the oldest are the important ones (reset first). */
const MAX_PENDING = 8;

/** Unit attention conditions per I_T nexus id. A nexus first seen gets POWER ON, RESET OR BUS DEVICE RESET
 *  OCCURRED; reset() re-establishes it for every nexus; raise() queues another condition for all. */
export class UnitAttentions {
  private readonly pending = new Map<number, SenseCode[]>();

  private queue(nexusId: number): SenseCode[] {
    let q = this.pending.get(nexusId);
    if (!q) {
      q = [POWER_ON_RESET];
      this.pending.set(nexusId, q);
    }
    return q;
  }

  peek(nexusId: number): SenseCode | undefined {
    const q = this.queue(nexusId);
    return q.length ? q[0] : undefined;
  }

  /** Report-and-clear the oldest condition. */
  take(nexusId: number): SenseCode | undefined {
    return this.queue(nexusId).shift();
  }

  /** Queue `code` for every known nexus except `exceptNexusId`. Unknown nexuses get POWER ON anyway. */
  raise(code: SenseCode, exceptNexusId?: number): void {
    for (const [id, q] of this.pending) {
      if (id === exceptNexusId) continue;
      if (q.some((c) => c.asc === code.asc && c.ascq === code.ascq)) continue;
      if (q.length < MAX_PENDING) q.push(code);
    }
  }

  /** Queue `code` for one nexus (persistent reservation events aim at specific I_T nexuses). */
  raiseFor(nexusId: number, code: SenseCode): void {
    const q = this.queue(nexusId);
    if (q.some((c) => c.asc === code.asc && c.ascq === code.ascq)) return;
    if (q.length < MAX_PENDING) q.push(code);
  }

  /** Logical unit reset: every known nexus gets POWER ON/RESET and loses older conditions. */
  reset(): void {
    for (const id of this.pending.keys()) this.pending.set(id, [POWER_ON_RESET]);
  }

  forget(nexusId: number): void {
    this.pending.delete(nexusId);
  }
}

/** SPC-4 5.11: INQUIRY, REPORT LUNS and REQUEST SENSE neither report nor clear a unit attention; any other
 *  command is terminated with it (and clears it). Returns the CHECK CONDITION or undefined to proceed. */
export function unitAttentionGate(
  ua: UnitAttentions,
  task: ScsiTask,
  format: SenseFormat,
): ScsiResult | undefined {
  const op = task.cdb[0];
  if (op === Op.INQUIRY || op === Op.REPORT_LUNS || op === Op.REQUEST_SENSE) return undefined;
  if (ua.peek(task.nexus.id) === undefined) return undefined;
  return checkCondition(format, ua.take(task.nexus.id)!);
}
