// SBC commands that report on the medium rather than move data: GET LBA STATUS (thin provisioning) and
// READ DEFECT DATA 10/12 (we have no defects: an empty list in the format asked for).
import { allocationLength16At, allocationLength32At, cdbLba, truncate } from './cdb';
import { fmt, storeFailure, type DiskState } from './disk-state';
import { ScsiStatus, type ScsiResult, type ScsiTask } from './scsi-types';
import { checkCondition, invalidCdbField, LBA_OUT_OF_RANGE } from './sense';

/** GET LBA STATUS looks at most this many bytes from the starting LBA per command. */
export const LBA_STATUS_SCAN_BYTES = 64 * 1024 * 1024;
const DESCRIPTOR = 16;

/** GET LBA STATUS (SBC-3 5.5): mapped / deallocated runs from the starting LBA, as many as fit. */
export async function getLbaStatus(s: DiskState, task: ScsiTask): Promise<ScsiResult> {
  const cdb = task.cdb;
  const f = fmt(s);
  if (cdb[15] & 0x04) return invalidCdbField(f, 15, 2);
  const lba = cdbLba(cdb);
  const alloc = allocationLength32At(cdb, 10);
  if (lba >= s.blocks) return checkCondition(f, LBA_OUT_OF_RANGE);
  // SPC-4 (allocation length): a short allocation length truncates the data but never changes it (the header keeps
  // the full PARAMETER DATA LENGTH), so the descriptors are built whatever the allocation length.
  if (alloc === 0) return { status: ScsiStatus.Good, dataIn: Buffer.alloc(0) };
  const blocks = Math.min(s.blocks - lba, Math.max(1, Math.floor(LBA_STATUS_SCAN_BYTES / s.bs)));
  let runs: Array<{ offset: number; length: number; mapped: boolean }>;
  try {
    runs = s.store.allocationStatus
      ? await s.store.allocationStatus(lba * s.bs, blocks * s.bs)
      : [{ offset: lba * s.bs, length: blocks * s.bs, mapped: true }];
  } catch (err) {
    return storeFailure(s, err, false);
  }
  // Runs are in bytes; report whole blocks (a block partly mapped counts as mapped).
  const out: Array<{ lba: number; count: number; mapped: boolean }> = [];
  for (const r of runs) {
    const first = Math.floor(r.offset / s.bs);
    const end = Math.ceil((r.offset + r.length) / s.bs);
    const last = out[out.length - 1];
    if (last && last.lba + last.count > first) {
      // Overlapping partial block: mapped wins.
      if (r.mapped && !last.mapped) {
        last.count = first - last.lba;
        if (last.count === 0) out.pop();
      } else if (end <= last.lba + last.count) continue;
    }
    const start = Math.max(first, out.length ? out[out.length - 1].lba + out[out.length - 1].count : first);
    if (end <= start) continue;
    const prev = out[out.length - 1];
    if (prev && prev.mapped === r.mapped && prev.lba + prev.count === start) prev.count += end - start;
    else out.push({ lba: start, count: end - start, mapped: r.mapped });
  }
  const n = out.length;
  const data = Buffer.alloc(8 + n * DESCRIPTOR);
  data.writeUInt32BE(4 + n * DESCRIPTOR, 0);
  for (let i = 0; i < n; i++) {
    const d = out[i];
    const at = 8 + i * DESCRIPTOR;
    data.writeUInt32BE(Math.floor(d.lba / 0x100000000), at);
    data.writeUInt32BE(d.lba >>> 0, at + 4);
    data.writeUInt32BE(Math.min(d.count, 0xffffffff), at + 8);
    data[at + 12] = d.mapped ? 0x00 : 0x01; // PROVISIONING STATUS: mapped / deallocated
  }
  return { status: ScsiStatus.Good, dataIn: truncate(data, alloc) };
}

/** READ DEFECT DATA 10/12: no primary or grown defects. */
export function readDefectData(s: DiskState, task: ScsiTask): ScsiResult {
  const cdb = task.cdb;
  const f = fmt(s);
  if (cdb[0] === 0x37) {
    if (cdb[1] !== 0) return invalidCdbField(f, 1, 7);
    if (cdb[2] & 0xe0) return invalidCdbField(f, 2, 7);
    if (cdb[9] & 0x04) return invalidCdbField(f, 9, 2);
    const data = Buffer.alloc(4);
    data[1] = cdb[2] & 0x1f; // REQ_PLIST, REQ_GLIST, DEFECT LIST FORMAT echoed; list length 0
    return { status: ScsiStatus.Good, dataIn: truncate(data, allocationLength16At(cdb, 7)) };
  }
  if (cdb[1] & 0xe0) return invalidCdbField(f, 1, 7);
  if (cdb[11] & 0x04) return invalidCdbField(f, 11, 2);
  const data = Buffer.alloc(8);
  data[1] = cdb[1] & 0x1f;
  return { status: ScsiStatus.Good, dataIn: truncate(data, allocationLength32At(cdb, 6)) };
}
