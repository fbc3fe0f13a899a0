// Drive a disk the way the transport does, for the engine-level tests of single commands.
import type { BackingStore } from '../../src/backing/backing-store';
import { MemStore } from '../../src/backing/mem';
import { createDisk, type Disk } from '../../src/scsi/disk';
import type { DiskParams } from '../../src/scsi/device-params';
import { parseSense } from '../../src/scsi/sense';
import { TaskAttr, type ItNexus, type ScsiResult, type ScsiTask } from '../../src/scsi/scsi-types';

export const BS = 512;
export const BLOCKS = 2048;
export const hex = (s: string): Buffer => Buffer.from(s.replace(/ /g, ''), 'hex');
export const NAA = hex('6002c754000000000000000000000001');

export const nexus = (id: number): ItNexus => ({
  id,
  initiatorPortName: `iqn.init${id},i,0x01`,
  initiatorName: `iqn.init${id}`,
  targetPortName: 'iqn.tgt,t,0x0001',
  relativeTargetPortId: 1,
  targetPortGroup: 1,
});

export function task(cdb: Buffer, o: { id?: number; dataOut?: Buffer; edtl?: number } = {}): ScsiTask {
  const full = Buffer.alloc(16);
  cdb.copy(full);
  return {
    nexus: nexus(o.id ?? 1),
    lun: 1,
    cdb: full,
    attr: TaskAttr.Simple,
    tag: 1,
    expectedDataTransferLength: o.edtl ?? o.dataOut?.length ?? 0,
    readExpected: !o.dataOut,
    writeExpected: !!o.dataOut,
    dataOut: o.dataOut,
    aborted: false,
  };
}

export function params(store: BackingStore, over: Partial<DiskParams> = {}): DiskParams {
  return {
    tid: 1,
    lun: 1,
    store,
    blockSize: BS,
    scsiId: 'IET     00010001',
    scsiSn: 'beaf11',
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
  };
}

/** A disk whose pending power-on unit attentions for nexuses 1..3 are already consumed. */
export async function makeDisk(
  over: Partial<DiskParams> = {},
  store: BackingStore = new MemStore(BLOCKS * BS, false),
): Promise<Disk> {
  const d = createDisk(params(store, over));
  for (const id of [1, 2, 3]) await d.execute(task(hex('00'), { id }));
  return d;
}

export function sense(r: ScsiResult): [number, number, number] {
  const s = parseSense(r.sense!);
  return [s.key, s.asc, s.ascq];
}

/** The sense-key-specific field pointer of fixed-format sense: [byte, bit | undefined, inCdb]. */
export function fieldPointer(r: ScsiResult): [number, number | undefined, boolean] {
  const b = r.sense!;
  if (!(b[15] & 0x80)) throw new Error('no field pointer in sense data');
  return [b.readUInt16BE(16), b[15] & 0x08 ? b[15] & 0x07 : undefined, (b[15] & 0x40) !== 0];
}

export const ILLEGAL_CDB: [number, number, number] = [5, 0x24, 0];
