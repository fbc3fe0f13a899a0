// Shared pieces of the bad-input tables (test/scsi/bad-input-*.test.ts): a disk on a `mem` store that
// records every change made to it, tasks the way the transport builds them, sense decoding including the
// SENSE KEY SPECIFIC field pointer, and the command list read back from REPORT SUPPORTED OPERATION CODES.
import { MemStore } from '../../src/backing/mem';
import { createDisk, type Disk } from '../../src/scsi/disk';
import type { DiskParams } from '../../src/scsi/device-params';
import { reportLuns } from '../../src/scsi/lun-commands';
import { parseSense } from '../../src/scsi/sense';
import { TaskAttr, type ItNexus, type ScsiResult, type ScsiTask } from '../../src/scsi/scsi-types';

export const BS = 512;
/** 1 GiB, sparse: larger than MAXIMUM TRANSFER LENGTH, WRITE SAME and UNMAP LBA COUNT limits, so a too-long
 *  transfer at LBA 0 is only too long, not also out of range. */
export const BLOCKS = 2 ** 21;
export const NAA = Buffer.from('6002c754000000000000000000000042', 'hex');
export const LUNS = [0, 1];

/** A MemStore that logs every call that changes the medium. */
export class RecordingStore extends MemStore {
  readonly changes: string[] = [];
  constructor() {
    super(BLOCKS * BS, false);
  }
  override write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    this.changes.push(`write ${offset}+${data.length}`);
    return super.write(offset, data, fua);
  }
  override unmap(offset: number, length: number): Promise<void> {
    this.changes.push(`unmap ${offset}+${length}`);
    return super.unmap(offset, length);
  }
  override writeZeroes(offset: number, length: number): Promise<void> {
    this.changes.push(`writeZeroes ${offset}+${length}`);
    return super.writeZeroes(offset, length);
  }
  override compareAndWrite(offset: number, compare: Buffer, data: Buffer): Promise<number> {
    this.changes.push(`compareAndWrite ${offset}+${data.length}`);
    return super.compareAndWrite(offset, compare, data);
  }
}

export function nexus(id: number): ItNexus {
  return {
    id,
    initiatorPortName: `iqn.2026-11.test:init${id},i,0x0000000000${id}`,
    initiatorName: `iqn.2026-11.test:init${id}`,
    targetPortName: 'iqn.2026-11.test:tgt,t,0x0001',
    relativeTargetPortId: 1,
    targetPortGroup: 1,
  };
}

export interface Io {
  dataOut?: Buffer;
  /** Expected data transfer length; defaults to the data-out length (or 0). */
  edtl?: number;
  nexus?: number;
}

export function task(cdb: Buffer | number[], io: Io = {}): ScsiTask {
  const full = Buffer.alloc(16);
  Buffer.from(cdb).copy(full);
  return {
    nexus: nexus(io.nexus ?? 1),
    lun: 1,
    cdb: full,
    attr: TaskAttr.Simple,
    tag: 1,
    expectedDataTransferLength: io.edtl ?? io.dataOut?.length ?? 0,
    readExpected: !io.dataOut,
    writeExpected: !!io.dataOut,
    dataOut: io.dataOut,
    aborted: false,
  };
}

export interface Lu {
  disk: Disk;
  store: RecordingStore;
  /** Run one command the way the target does (REPORT LUNS is answered by the target layer). */
  run(cdb: Buffer | number[], io?: Io): Promise<ScsiResult>;
  /** Everything a rejected command must leave alone: medium changes, reservations, mode pages. */
  snapshot(): string;
}

export async function makeLu(over: Partial<DiskParams> = {}): Promise<Lu> {
  const store = new RecordingStore();
  const disk = createDisk({
    tid: 1,
    lun: 1,
    store,
    blockSize: BS,
    scsiId: 'IET     00010001',
    scsiSn: 'badin001',
    vendorId: 'IET',
    productId: 'VIRTUAL-DISK',
    productRev: '0001',
    naa: NAA,
    readonly: false,
    removable: false,
    thinProvisioning: true,
    online: true,
    senseFormat: 'fixed',
    rotationRate: 1,
    ...over,
  });
  const run = (cdb: Buffer | number[], io: Io = {}): Promise<ScsiResult> => {
    const t = task(cdb, io);
    if (t.cdb[0] === 0xa0) return Promise.resolve(reportLuns(t, LUNS));
    return disk.execute(t);
  };
  // Consume the power-on unit attention of the two nexuses the tables use.
  for (const id of [1, 2]) await run([0x00], { nexus: id });
  const snapshot = (): string =>
    JSON.stringify(
      {
        changes: store.changes.length,
        pr: disk.persistentReservations(),
        mode: disk.modeState(),
        settings: disk.settings(),
      },
      (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v),
    );
  return { disk, store, run, snapshot };
}

export interface Sense {
  key: number;
  asc: number;
  ascq: number;
  /** SENSE KEY SPECIFIC field pointer, when SKSV is set. */
  field?: { inCdb: boolean; byte: number; bit?: number };
}

export function senseOf(r: ScsiResult): Sense | undefined {
  if (!r.sense) return undefined;
  const b = r.sense;
  const s: Sense = parseSense(b);
  let sks: number | undefined;
  if ((b[0] & 0x7f) === 0x72 || (b[0] & 0x7f) === 0x73) {
    for (let p = 8; p + 1 < b.length; p += 2 + b[p + 1]) if (b[p] === 0x02) sks = p + 4;
  } else if (b.length >= 18) {
    sks = 15;
  }
  if (sks !== undefined && b[sks] & 0x80) {
    s.field = {
      inCdb: (b[sks] & 0x40) !== 0,
      byte: b.readUInt16BE(sks + 1),
      bit: b[sks] & 0x08 ? b[sks] & 0x07 : undefined,
    };
  }
  return { key: s.key, asc: s.asc, ascq: s.ascq, field: s.field };
}

/** "05/24/00"-style text of a result's sense (or its status when there is none). */
export function code(r: ScsiResult): string {
  const s = senseOf(r);
  if (!s) return r.status === 0 ? 'GOOD' : `status 0x${r.status.toString(16)}`;
  const h = (n: number): string => n.toString(16).padStart(2, '0').toUpperCase();
  return `${h(s.key)}/${h(s.asc)}/${h(s.ascq)}`;
}

export const GOOD = 'GOOD';
export const INVALID_FIELD_IN_CDB = '05/24/00';
export const INVALID_OPCODE = '05/20/00';
export const LBA_OUT_OF_RANGE = '05/21/00';
export const PARAMETER_LIST_LENGTH_ERROR = '05/1A/00';
export const INVALID_FIELD_IN_PARAMETER_LIST = '05/26/00';
export const INVALID_FIELD_IN_INFORMATION_UNIT = '05/0E/03';

export interface SupportedCommand {
  op: number;
  sa?: number;
  /** CDB USAGE DATA from the one-command form of REPORT SUPPORTED OPERATION CODES. */
  usage: Buffer;
}

/** Every command the LU reports, with its CDB usage data, read through REPORT SUPPORTED OPERATION CODES. */
export async function supportedCommands(lu: Lu): Promise<SupportedCommand[]> {
  const all = await lu.run([0xa3, 0x0c, 0x00, 0, 0, 0, 0x00, 0x01, 0x00, 0x00, 0, 0]);
  if (all.status !== 0 || !all.dataIn) throw new Error(`RSOC (all commands) failed: ${code(all)}`);
  const d = all.dataIn;
  const out: SupportedCommand[] = [];
  for (let p = 4; p < 4 + d.readUInt32BE(0); p += 8) {
    const op = d[p];
    const servactv = (d[p + 5] & 0x01) !== 0;
    const sa = servactv ? d.readUInt16BE(p + 2) : undefined;
    const one = await lu.run([
      0xa3,
      0x0c,
      servactv ? 0x02 : 0x01,
      op,
      (sa ?? 0) >> 8,
      (sa ?? 0) & 0xff,
      0,
      0,
      1,
      0,
      0,
      0,
    ]);
    if (one.status !== 0 || !one.dataIn || (one.dataIn[1] & 0x07) !== 0x03)
      throw new Error(`RSOC for ${op.toString(16)}/${sa} does not say supported: ${code(one)}`);
    out.push({ op, sa, usage: one.dataIn.subarray(4, 4 + one.dataIn.readUInt16BE(2)) });
  }
  return out;
}

export const hex = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;
export const nameOf = (c: { op: number; sa?: number }): string =>
  c.sa === undefined ? hex(c.op) : `${hex(c.op)}/${hex(c.sa)}`;

/** 10-, 12- and 16-byte CDBs with a big-endian LBA at byte 2 and a length field. */
export function cdb10(op: number, lba: number, len: number, b1 = 0): Buffer {
  const c = Buffer.alloc(10);
  c[0] = op;
  c[1] = b1;
  c.writeUInt32BE(lba, 2);
  c.writeUInt16BE(len, 7);
  return c;
}

export function cdb12(op: number, lba: number, len: number, b1 = 0): Buffer {
  const c = Buffer.alloc(12);
  c[0] = op;
  c[1] = b1;
  c.writeUInt32BE(lba, 2);
  c.writeUInt32BE(len, 6);
  return c;
}

export function cdb16(op: number, lba: bigint | number, len: number, b1 = 0): Buffer {
  const c = Buffer.alloc(16);
  c[0] = op;
  c[1] = b1;
  c.writeBigUInt64BE(BigInt(lba), 2);
  c.writeUInt32BE(len, 10);
  return c;
}

/** One 32-byte identification target descriptor (0xE4) naming this LU by its NAA. */
function xcopyTarget(): Buffer {
  const d = Buffer.alloc(32);
  d[0] = 0xe4;
  d[4] = 0x01; // binary
  d[5] = 0x03; // LU association, NAA
  d[7] = NAA.length;
  NAA.copy(d, 8);
  return d;
}

/** EXTENDED COPY (LID1) parameter list: one target (this LU), one block-to-block segment. */
export function xcopyList(listId: number, src: number, dst: number, blocks: number): Buffer {
  const seg = Buffer.alloc(28);
  seg[0] = 0x02;
  seg.writeUInt16BE(24, 2);
  seg.writeUInt16BE(blocks, 10);
  seg.writeBigUInt64BE(BigInt(src), 12);
  seg.writeBigUInt64BE(BigInt(dst), 20);
  const h = Buffer.alloc(16);
  h[0] = listId;
  h.writeUInt16BE(32, 2);
  h.writeUInt32BE(28, 8);
  return Buffer.concat([h, xcopyTarget(), seg]);
}

export function xcopyCdb(plen: number): Buffer {
  const c = Buffer.alloc(16);
  c[0] = 0x83;
  c.writeUInt32BE(plen, 10);
  return c;
}

/** PERSISTENT RESERVE OUT with a basic 24-byte parameter list. */
export function prout(sa: number, type: number, key: bigint, sark: bigint): { cdb: Buffer; dataOut: Buffer } {
  const cdb = Buffer.from([0x5f, sa, type, 0, 0, 0, 0, 0, 24, 0]);
  const dataOut = Buffer.alloc(24);
  dataOut.writeBigUInt64BE(key, 0);
  dataOut.writeBigUInt64BE(sark, 8);
  return { cdb, dataOut };
}

export const KEY1 = 0x1111n;
export const KEY2 = 0x2222n;

/** Register KEY1 for nexus 1 and KEY2 for nexus 2 (REGISTER AND IGNORE EXISTING KEY). */
export async function registerBoth(lu: Lu): Promise<void> {
  for (const [id, key] of [
    [1, KEY1],
    [2, KEY2],
  ] as const) {
    const p = prout(6, 0, 0n, key);
    const r = await lu.run(p.cdb, { dataOut: p.dataOut, nexus: id });
    if (r.status !== 0) throw new Error(`REGISTER for nexus ${id} failed: ${code(r)}`);
  }
}
