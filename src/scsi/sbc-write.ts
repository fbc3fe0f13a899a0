// The writing commands of an SBC disk: WRITE 6/10/12/16, WRITE AND VERIFY 10/12/16, ORWRITE(16), COMPARE
// AND WRITE and PRE-FETCH 10/16. Every write holds its blocks in the LU's range lock (shared), so COMPARE
// AND WRITE and ORWRITE, which hold theirs exclusively, are atomic against every other write.
import {
  cdbLba,
  controlByteIndex,
  Op,
  rwFua,
  rwInvalidField,
  rwTransferLength,
  transferLengthByte,
} from './cdb';
import {
  fmt,
  good,
  MAX_COMPARE_AND_WRITE_BLOCKS,
  storeFailure,
  withDataOut,
  type DiskState,
} from './disk-state';
import { ScsiStatus, type ScsiResult, type ScsiTask } from './scsi-types';
import {
  checkCondition,
  INVALID_FIELD_IN_INFORMATION_UNIT,
  invalidCdbField,
  LBA_OUT_OF_RANGE,
  MISCOMPARE_DURING_VERIFY,
  WRITE_PROTECTED,
} from './sense';

const EMPTY = Buffer.alloc(0);

/** Range, limit and write-protect checks shared by the writes; undefined when the command may proceed. */
function writeChecks(s: DiskState, lba: number, blocks: number, lengthByte: number): ScsiResult | undefined {
  if (lba + blocks > s.blocks) return checkCondition(fmt(s), LBA_OUT_OF_RANGE);
  if (blocks > s.maxTransferBlocks) return invalidCdbField(fmt(s), lengthByte);
  if (s.settings.readonly) return checkCondition(fmt(s), WRITE_PROTECTED);
  return undefined;
}

/** Write the data-out (as much as both the CDB and the initiator provided) at `lba`. */
async function writeData(
  s: DiskState,
  task: ScsiTask,
  lba: number,
  want: number,
  durable: boolean,
): Promise<ScsiResult> {
  // Residuals (tgt and libiscsi's iSCSIResiduals): write only the bytes both the CDB and the initiator
  // provided; the transport reports the over/underflow against EDTL.
  const data = task.dataOut;
  const n = data === undefined ? 0 : data.length < want ? data.length : want;
  if (n > 0) {
    const start = lba * s.bs;
    const lock = s.writes.tryLock(start, start + n, false) ?? (await s.writes.lock(start, start + n, false));
    try {
      await s.store.write(start, n === data!.length ? data! : data!.subarray(0, n), durable);
    } catch (err) {
      return withDataOut(storeFailure(s, err, true), want);
    } finally {
      s.writes.unlock(lock);
    }
  }
  return { status: ScsiStatus.Good, dataOutLength: want };
}

/** WRITE 6/10/12/16 (the hot path). */
export function write(s: DiskState, task: ScsiTask): ScsiResult | Promise<ScsiResult> {
  const cdb = task.cdb;
  const bad = rwInvalidField(cdb);
  if (bad >= 0) return invalidCdbField(fmt(s), bad >> 3, bad & 7);
  const lba = cdbLba(cdb);
  const blocks = rwTransferLength(cdb);
  const want = blocks * s.bs;
  const r = writeChecks(s, lba, blocks, transferLengthByte(cdb[0]));
  if (r) return withDataOut(r, want);
  return writeData(s, task, lba, want, rwFua(cdb) || !s.mode.wce);
}

/** WRITE AND VERIFY 10/12/16: the data is written durably; verifying it against itself cannot fail. */
export function writeAndVerify(s: DiskState, task: ScsiTask): ScsiResult | Promise<ScsiResult> {
  const cdb = task.cdb;
  const f = fmt(s);
  const lba = cdbLba(cdb);
  const blocks = rwTransferLength(cdb);
  const want = blocks * s.bs;
  if (cdb[1] & 0xe0) return withDataOut(invalidCdbField(f, 1, 7), want); // WRPROTECT: no protection info
  if (cdb[1] & 0x09) return withDataOut(invalidCdbField(f, 1, cdb[1] & 0x08 ? 3 : 0), want);
  const ctl = controlByteIndex(cdb);
  if (cdb[ctl] & 0x04) return withDataOut(invalidCdbField(f, ctl, 2), want);
  const r = writeChecks(s, lba, blocks, transferLengthByte(cdb[0]));
  if (r) return withDataOut(r, want);
  return writeData(s, task, lba, want, true);
}

/** ORWRITE(16): new = old OR data, atomically over the blocks. */
export async function orWrite(s: DiskState, task: ScsiTask): Promise<ScsiResult> {
  const cdb = task.cdb;
  const f = fmt(s);
  const lba = cdbLba(cdb);
  const blocks = cdb.readUInt32BE(10);
  const want = blocks * s.bs;
  if (cdb[1] & 0xe0) return withDataOut(invalidCdbField(f, 1, 7), want); // ORPROTECT
  if (cdb[1] & 0x07) return withDataOut(invalidCdbField(f, 1, 2), want);
  if (cdb[15] & 0x04) return withDataOut(invalidCdbField(f, 15, 2), want);
  const r = writeChecks(s, lba, blocks, 10);
  if (r) return withDataOut(r, want);
  if (blocks === 0) return withDataOut(good(), want);
  const data = task.dataOut;
  if (!data || data.length < want)
    return withDataOut(checkCondition(f, INVALID_FIELD_IN_INFORMATION_UNIT), want);
  const start = lba * s.bs;
  const lock = await s.writes.lock(start, start + want, true);
  try {
    const old = await s.store.read(start, want);
    const merged = Buffer.allocUnsafe(want);
    for (let i = 0; i < want; i++) merged[i] = old[i] | data[i];
    await s.store.write(start, merged, (cdb[1] & 0x08) !== 0 || !s.mode.wce);
  } catch (err) {
    return withDataOut(storeFailure(s, err, true), want);
  } finally {
    s.writes.unlock(lock);
  }
  return withDataOut(good(), want);
}

/** COMPARE AND WRITE (SBC-3 5.2): data-out is N blocks to compare then N blocks to write. On a mismatch,
 *  MISCOMPARE with the offset of the first differing byte in INFORMATION, and nothing is written. */
export async function compareAndWrite(s: DiskState, task: ScsiTask): Promise<ScsiResult> {
  const cdb = task.cdb;
  const f = fmt(s);
  const lba = cdbLba(cdb);
  const blocks = cdb[13];
  const want = 2 * blocks * s.bs;
  if (cdb[1] & 0xe0) return withDataOut(invalidCdbField(f, 1, 7), want); // WRPROTECT
  if (cdb[1] & 0x07) return withDataOut(invalidCdbField(f, 1, 2), want);
  if (cdb[15] & 0x04) return withDataOut(invalidCdbField(f, 15, 2), want);
  if (lba + blocks > s.blocks) return withDataOut(checkCondition(f, LBA_OUT_OF_RANGE), want);
  if (blocks > MAX_COMPARE_AND_WRITE_BLOCKS) return withDataOut(invalidCdbField(f, 13), want);
  if (s.settings.readonly) return withDataOut(checkCondition(f, WRITE_PROTECTED), want);
  // NUMBER OF LOGICAL BLOCKS is one byte: 0 with data-out is a length that did not fit (e.g. 256).
  if (blocks === 0 && task.expectedDataTransferLength > 0) return withDataOut(invalidCdbField(f, 13), want);
  const data = task.dataOut ?? EMPTY;
  // The data-out must be exactly the compare and write blocks: a residual here is an error.
  if (data.length < want || task.expectedDataTransferLength > want)
    return withDataOut(checkCondition(f, INVALID_FIELD_IN_INFORMATION_UNIT), want);
  if (blocks === 0) return withDataOut(good(), want);
  const len = blocks * s.bs;
  const start = lba * s.bs;
  const lock = await s.writes.lock(start, start + len, true);
  try {
    const current = await s.store.read(start, len);
    for (let i = 0; i < len; i++) {
      if (current[i] !== data[i])
        return withDataOut(checkCondition(f, MISCOMPARE_DURING_VERIFY, { information: i }), want);
    }
    await s.store.write(start, data.subarray(len, want), (cdb[1] & 0x08) !== 0 || !s.mode.wce);
  } catch (err) {
    return withDataOut(storeFailure(s, err, true), want);
  } finally {
    s.writes.unlock(lock);
  }
  return withDataOut(good(), want);
}

/** PRE-FETCH 10/16: nothing to stage (the store has no cache we control), so range checks and GOOD. */
export function preFetch(s: DiskState, task: ScsiTask): ScsiResult {
  const cdb = task.cdb;
  const f = fmt(s);
  const ten = cdb[0] === Op.PRE_FETCH_10;
  if (cdb[1] & 0xfd) return invalidCdbField(f, 1, 31 - Math.clz32(cdb[1] & 0xfd));
  const ctl = ten ? 9 : 15;
  if (cdb[ctl] & 0x04) return invalidCdbField(f, ctl, 2);
  const lba = cdbLba(cdb);
  const blocks = ten ? cdb.readUInt16BE(7) : cdb.readUInt32BE(10);
  if (lba + blocks > s.blocks) return checkCondition(f, LBA_OUT_OF_RANGE);
  return good();
}
