// EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (SPC-4 6.4, 6.18): block-to-block segment descriptors
// between identification-descriptor targets. A target descriptor names an LU by its NAA designator: this
// LU, or any other disk LU of the daemon the copy resolver hands out (same or another target); an LU it
// cannot reach is COPY TARGET DEVICE NOT REACHABLE.
import { allocationLength32At, nacaSet, truncate } from './cdb';
import { fmt, good, storeFailure, withDataOut, type DiskState } from './disk-state';
import { ScsiStatus, type ItNexus, type ScsiResult, type ScsiTask } from './scsi-types';
import {
  checkCondition,
  invalidCdbField,
  invalidParamField,
  PARAMETER_LIST_LENGTH_ERROR,
  SenseKey,
  WRITE_PROTECTED,
  type SenseCode,
} from './sense';

export const XCOPY_MAX_TARGET_DESCRIPTORS = 2;
export const XCOPY_MAX_SEGMENT_DESCRIPTORS = 8;
const HEADER = 16;
const TARGET_DESCRIPTOR = 32;
const B2B_SEGMENT = 28;
export const XCOPY_MAX_DESCRIPTOR_LIST_LENGTH =
  XCOPY_MAX_TARGET_DESCRIPTORS * TARGET_DESCRIPTOR + XCOPY_MAX_SEGMENT_DESCRIPTORS * B2B_SEGMENT;
/** Largest segment, in bytes (OPERATING PARAMETERS MAXIMUM SEGMENT LENGTH). */
export const XCOPY_MAX_SEGMENT_BYTES = 64 * 1024 * 1024;
/** Copies move data through memory in pieces of this size. */
const COPY_CHUNK = 1024 * 1024;
/** Results kept for RECEIVE COPY RESULTS (oldest dropped). */
const MAX_RESULTS = 16;

const code = (key: number, asc: number, ascq: number): SenseCode => Object.freeze({ key, asc, ascq });
export const TOO_MANY_TARGET_DESCRIPTORS = code(SenseKey.IllegalRequest, 0x26, 0x06);
export const UNSUPPORTED_TARGET_DESCRIPTOR_TYPE = code(SenseKey.IllegalRequest, 0x26, 0x07);
export const TOO_MANY_SEGMENT_DESCRIPTORS = code(SenseKey.IllegalRequest, 0x26, 0x08);
export const UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE = code(SenseKey.IllegalRequest, 0x26, 0x09);
export const COPY_TARGET_DEVICE_NOT_REACHABLE = code(0x0a, 0x0d, 0x02); // COPY ABORTED
/** COPY ABORTED without more detail: what libiscsi accepts for a segment beyond the capacity. */
export const COPY_ABORTED = code(0x0a, 0x00, 0x00);

/** One LU as a copy source or destination. */
export interface CopyEndpoint {
  readonly naa: Buffer;
  readonly blockSize: number;
  blocks(): number;
  readonly(): boolean;
  /** Online with a medium. */
  available(): boolean;
  /** Would this nexus be refused reading (or writing) by a reservation on the LU? */
  reservationConflict(nexus: ItNexus, write: boolean): boolean;
  read(offset: number, length: number): Promise<Buffer>;
  /** Write under the LU's write-range lock, honouring its write cache setting. */
  write(offset: number, data: Buffer): Promise<void>;
}

/** Finds another LU of the daemon by NAA designator for a copy issued through `nexus` (undefined: not
 *  reachable, e.g. no such LU or the nexus's initiator may not use it). */
export type CopyTargetResolver = (naa: Buffer, nexus: ItNexus) => CopyEndpoint | undefined;

/** Per-LU copy manager state: finished copies by (nexus, list id). */
export class CopyResults {
  private readonly done = new Map<string, { ok: boolean; segments: number; blocks: number }>();

  record(nexusId: number, listId: number, r: { ok: boolean; segments: number; blocks: number }): void {
    const k = `${nexusId}:${listId}`;
    this.done.delete(k);
    this.done.set(k, r);
    if (this.done.size > MAX_RESULTS) this.done.delete(this.done.keys().next().value!);
  }

  get(nexusId: number, listId: number): { ok: boolean; segments: number; blocks: number } | undefined {
    return this.done.get(`${nexusId}:${listId}`);
  }
}

/** The NAA designator in an identification target descriptor `d` (bytes 4..31), if it carries one. */
function naaOf(d: Buffer): Buffer | undefined {
  const type = d[5] & 0x0f;
  const assoc = (d[5] >> 4) & 0x03;
  const len = d[7];
  if (assoc !== 0 || len > 20 || type !== 0x03) return undefined;
  return d.subarray(8, 8 + len);
}

/** The LU a target descriptor names: this one, another one the resolver reaches, or none. */
function resolveTarget(
  s: DiskState,
  own: CopyEndpoint,
  d: Buffer,
  nexus: ItNexus,
  resolve: CopyTargetResolver | undefined,
): CopyEndpoint | undefined {
  const naa = naaOf(d);
  if (!naa) return undefined;
  if (naa.equals(s.params.naa)) return own;
  return resolve?.(naa, nexus);
}

export async function extendedCopy(
  s: DiskState,
  task: ScsiTask,
  copies: CopyResults,
  own: CopyEndpoint,
  resolve?: CopyTargetResolver,
): Promise<ScsiResult> {
  const cdb = task.cdb;
  const f = fmt(s);
  const plen = cdb.readUInt32BE(10);
  const out = (r: ScsiResult): ScsiResult => withDataOut(r, plen);
  if (nacaSet(cdb)) return out(invalidCdbField(f, 15, 2));
  if ((cdb[1] & 0x1f) !== 0x00) return out(invalidCdbField(f, 1, 4)); // only LID1
  if (plen === 0) return out(good());
  const p = task.dataOut ?? Buffer.alloc(0);
  if (plen < HEADER || p.length < plen) return out(checkCondition(f, PARAMETER_LIST_LENGTH_ERROR));
  const listId = p[0];
  const listIdUsage = (p[1] >> 3) & 0x03;
  if (listIdUsage === 0x01) return out(invalidParamField(f, 1, 4));
  const tdLen = p.readUInt16BE(2);
  const sdLen = p.readUInt32BE(8);
  const inlineLen = p.readUInt32BE(12);
  if (inlineLen !== 0) return out(invalidParamField(f, 12));
  if (tdLen + sdLen > XCOPY_MAX_DESCRIPTOR_LIST_LENGTH || HEADER + tdLen + sdLen > plen)
    return out(checkCondition(f, PARAMETER_LIST_LENGTH_ERROR));
  if (tdLen % TARGET_DESCRIPTOR !== 0) return out(invalidParamField(f, 2));
  const tdCount = tdLen / TARGET_DESCRIPTOR;
  if (tdCount > XCOPY_MAX_TARGET_DESCRIPTORS) return out(checkCondition(f, TOO_MANY_TARGET_DESCRIPTORS));

  // Target descriptors: identification descriptors (0xE4) naming this LU.
  const targets: Array<CopyEndpoint | undefined> = [];
  for (let i = 0, at = HEADER; i < tdCount; i++, at += TARGET_DESCRIPTOR) {
    const d = p.subarray(at, at + TARGET_DESCRIPTOR);
    if (d[0] !== 0xe4)
      return out(
        checkCondition(f, UNSUPPORTED_TARGET_DESCRIPTOR_TYPE, { field: { inCdb: false, byte: at } }),
      );
    // LU ID TYPE (bits 7-6) only qualifies how RELATIVE INITIATOR PORT is used; we ignore it like tgt.
    if ((d[1] & 0x1f) !== 0x00) return out(invalidParamField(f, at + 1, 4)); // peripheral type: disk
    const nul = (d[1] & 0x20) !== 0;
    targets.push(nul ? undefined : resolveTarget(s, own, d, task.nexus, resolve));
  }

  // Segment descriptors: block to block (0x02) only.
  const segs: Array<{ src: number; dst: number; blocks: number; srcLba: number; dstLba: number }> = [];
  const segEnd = HEADER + tdLen + sdLen;
  for (let at = HEADER + tdLen; at < segEnd;) {
    if (at + 4 > segEnd) return out(checkCondition(f, PARAMETER_LIST_LENGTH_ERROR));
    const type = p[at];
    const dlen = p.readUInt16BE(at + 2) + 4;
    if (type !== 0x02)
      return out(
        checkCondition(f, UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE, { field: { inCdb: false, byte: at } }),
      );
    if (dlen !== B2B_SEGMENT) return out(invalidParamField(f, at + 2));
    if (at + dlen > segEnd) return out(checkCondition(f, PARAMETER_LIST_LENGTH_ERROR));
    if (segs.length === XCOPY_MAX_SEGMENT_DESCRIPTORS)
      return out(checkCondition(f, TOO_MANY_SEGMENT_DESCRIPTORS));
    if (p[at + 1] & 0x02) return out(invalidParamField(f, at + 1, 1)); // DC=1: byte counts, not supported
    const src = p.readUInt16BE(at + 4);
    const dst = p.readUInt16BE(at + 6);
    segs.push({
      src,
      dst,
      blocks: p.readUInt16BE(at + 10),
      srcLba: p.readUInt32BE(at + 12) * 0x100000000 + p.readUInt32BE(at + 16),
      dstLba: p.readUInt32BE(at + 20) * 0x100000000 + p.readUInt32BE(at + 24),
    });
    at += dlen;
  }

  let blocksDone = 0;
  let segmentsDone = 0;
  const finish = (r: ScsiResult, ok: boolean): ScsiResult => {
    if (listIdUsage !== 0x03)
      copies.record(task.nexus.id, listId, { ok, segments: segmentsDone, blocks: blocksDone });
    return out(r);
  };
  const plan: Array<{ src: CopyEndpoint; dst: CopyEndpoint; bytes: number; from: number; to: number }> = [];
  for (const seg of segs) {
    // Problems found while processing segments abort the copy (sense key COPY ABORTED).
    const src = targets[seg.src];
    const dst = targets[seg.dst];
    if (!src || !dst || !src.available() || !dst.available())
      return finish(checkCondition(f, COPY_TARGET_DEVICE_NOT_REACHABLE), false);
    // Blocks are counted in the source's size; the two LUs must agree on it.
    if (src.blockSize !== dst.blockSize) return finish(checkCondition(f, COPY_ABORTED), false);
    if (seg.srcLba + seg.blocks > src.blocks() || seg.dstLba + seg.blocks > dst.blocks())
      return finish(checkCondition(f, COPY_ABORTED), false);
    if (seg.blocks * src.blockSize > XCOPY_MAX_SEGMENT_BYTES)
      return finish(invalidParamField(f, HEADER + tdLen + 10), false);
    if (dst.readonly()) return finish(checkCondition(f, WRITE_PROTECTED), false);
    // The copy acts for the initiator: another LU's reservations apply to it as to its own commands.
    if (
      (src !== own && src.reservationConflict(task.nexus, false)) ||
      (dst !== own && dst.reservationConflict(task.nexus, true))
    )
      return finish({ status: ScsiStatus.ReservationConflict }, false);
    const bs = src.blockSize;
    plan.push({ src, dst, bytes: seg.blocks * bs, from: seg.srcLba * bs, to: seg.dstLba * bs });
  }
  for (let i = 0; i < plan.length; i++) {
    const { src, dst, bytes, from, to } = plan[i];
    for (let done = 0; done < bytes; done += COPY_CHUNK) {
      if (task.aborted) return finish({ status: ScsiStatus.TaskAborted }, false);
      const n = Math.min(COPY_CHUNK, bytes - done);
      try {
        await dst.write(to + done, await src.read(from + done, n));
      } catch (err) {
        return finish(storeFailure(s, err, true), false);
      }
    }
    const seg = segs[i];
    blocksDone += seg.blocks;
    segmentsDone++;
  }
  return finish(good(), true);
}

export function receiveCopyResults(s: DiskState, task: ScsiTask, copies: CopyResults): ScsiResult {
  const cdb = task.cdb;
  const f = fmt(s);
  if (nacaSet(cdb)) return invalidCdbField(f, 15, 2);
  const alloc = allocationLength32At(cdb, 10);
  let data: Buffer;
  switch (cdb[1] & 0x1f) {
    case 0x00: {
      // COPY STATUS
      const r = copies.get(task.nexus.id, cdb[2]);
      if (!r) return invalidCdbField(f, 2);
      data = Buffer.alloc(12);
      data.writeUInt32BE(8, 0);
      data[4] = r.ok ? 0x01 : 0x02; // completed without / with errors
      data.writeUInt16BE(Math.min(r.segments, 0xffff), 5);
      data[7] = 0xf1; // TRANSFER COUNT UNITS: logical blocks
      data.writeUInt32BE(r.blocks >>> 0, 8);
      break;
    }
    case 0x03: {
      // OPERATING PARAMETERS
      const types = [0x02, 0xe4];
      data = Buffer.alloc(44 + types.length);
      data.writeUInt32BE(data.length - 4, 0);
      data[4] = 0x01; // SNLID
      data.writeUInt16BE(XCOPY_MAX_TARGET_DESCRIPTORS, 8);
      data.writeUInt16BE(XCOPY_MAX_SEGMENT_DESCRIPTORS, 10);
      data.writeUInt32BE(XCOPY_MAX_DESCRIPTOR_LIST_LENGTH, 12);
      data.writeUInt32BE(XCOPY_MAX_SEGMENT_BYTES, 16);
      data.writeUInt32BE(0, 20); // no inline data
      data.writeUInt32BE(0, 24); // no held data
      data.writeUInt16BE(1, 34); // TOTAL CONCURRENT COPIES
      data[36] = 1; // MAXIMUM CONCURRENT COPIES
      data[37] = Math.log2(s.bs); // DATA SEGMENT GRANULARITY
      data[43] = types.length;
      Buffer.from(types).copy(data, 44);
      break;
    }
    default:
      return invalidCdbField(f, 1, 4);
  }
  return { status: ScsiStatus.Good, dataIn: truncate(data, alloc) };
}

/** Third-party copy VPD page (0x8F) descriptors: supported commands, parameter data, supported
 *  descriptors. Returned without the 4-byte page header. */
export function thirdPartyCopyVpdBody(): Buffer {
  const commands = Buffer.from([0x83, 1, 0x00, 0x84, 2, 0x00, 0x03]);
  const cmdDesc = descriptor(0x0001, Buffer.concat([Buffer.from([commands.length]), commands]));
  const params = Buffer.alloc(28);
  params.writeUInt16BE(XCOPY_MAX_TARGET_DESCRIPTORS, 4);
  params.writeUInt16BE(XCOPY_MAX_SEGMENT_DESCRIPTORS, 6);
  params.writeUInt32BE(XCOPY_MAX_DESCRIPTOR_LIST_LENGTH, 8);
  params.writeUInt32BE(0, 12);
  const paramDesc = descriptor(0x0008, params);
  const supported = descriptor(0x0009, Buffer.from([2, 0x02, 0xe4]));
  return Buffer.concat([cmdDesc, paramDesc, supported]);
}

/** A third-party copy descriptor padded to a multiple of 4 bytes. */
function descriptor(type: number, body: Buffer): Buffer {
  const len = (body.length + 3) & ~3;
  const b = Buffer.alloc(4 + len);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(len, 2);
  body.copy(b, 4);
  return b;
}
