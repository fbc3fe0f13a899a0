// EXTENDED COPY between LUs through the copy target resolver: engine level, with mem stores.
import t from 'tap';
import { MemStore } from '../../src/backing/mem';
import { createDisk, type Disk } from '../../src/scsi/disk';
import { TaskAttr, type ItNexus, type ScsiResult, type ScsiTask } from '../../src/scsi/scsi-types';
import { parseSense } from '../../src/scsi/sense';
import type { CopyTargetResolver } from '../../src/scsi/xcopy';
import { blockSegment, copyList, copyStatusCdb, extendedCopyCdb, naaTarget } from '../helpers/xcopy-list';

const BS = 512;
const naa = (n: number): Buffer =>
  Buffer.from(`6002c7540000000000000000000000${n.toString(16).padStart(2, '0')}`, 'hex');
const nexus = (id: number): ItNexus => ({
  id,
  initiatorPortName: `iqn.init${id},i,0x01`,
  initiatorName: `iqn.init${id}`,
  targetPortName: 'iqn.t,t,0x0001',
  relativeTargetPortId: 1,
  targetPortGroup: 1,
});
function task(cdb: Buffer, o: { id?: number; dataOut?: Buffer; read?: number } = {}): ScsiTask {
  const full = Buffer.alloc(16);
  cdb.copy(full);
  return {
    nexus: nexus(o.id ?? 1),
    lun: 1,
    cdb: full,
    attr: TaskAttr.Simple,
    tag: 1,
    expectedDataTransferLength: o.dataOut?.length ?? o.read ?? 0,
    readExpected: !o.dataOut,
    writeExpected: !!o.dataOut,
    dataOut: o.dataOut,
    aborted: false,
  };
}
function disk(n: number, copyTargets: CopyTargetResolver, o: { bs?: number; readonly?: boolean } = {}): Disk {
  const bs = o.bs ?? BS;
  return createDisk({
    tid: 1,
    lun: n,
    store: new MemStore(256 * bs, false),
    blockSize: bs,
    scsiId: `IET     0001000${n}`,
    scsiSn: `beaf1${n}`,
    vendorId: 'IET',
    productId: 'VIRTUAL-DISK',
    productRev: '0001',
    naa: naa(n),
    readonly: o.readonly ?? false,
    removable: false,
    thinProvisioning: false,
    online: true,
    senseFormat: 'fixed',
    rotationRate: 1,
    copyTargets,
  });
}
const sense = (r: ScsiResult): ReturnType<typeof parseSense> => parseSense(r.sense!);
const cdb16 = (op: number, lba: number, n: number): Buffer => {
  const c = Buffer.alloc(16);
  c[0] = op;
  c.writeBigUInt64BE(BigInt(lba), 2);
  c.writeUInt32BE(n, 10);
  return c;
};

t.test('EXTENDED COPY between LUs', async (t) => {
  const disks = new Map<string, Disk>();
  const resolver: CopyTargetResolver = (id) => disks.get(id.toString('hex'))?.copyEndpoint();
  const a = disk(1, resolver);
  const b = disk(2, resolver);
  const wide = disk(3, resolver, { bs: 4096 });
  const ro = disk(4, resolver, { readonly: true });
  for (const d of [a, b, wide, ro]) disks.set(d.copyEndpoint().naa.toString('hex'), d);
  for (const d of [a, b, wide, ro]) for (const id of [1, 2]) await d.execute(task(Buffer.alloc(6), { id }));
  const pattern = Buffer.alloc(8 * BS);
  for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 7) & 0xff;
  t.equal((await a.execute(task(cdb16(0x8a, 10, 8), { dataOut: pattern }))).status, 0);
  const xcopy = (via: Disk, p: Buffer, id = 1): Promise<ScsiResult> =>
    via.execute(task(extendedCopyCdb(p.length), { dataOut: p, id }));
  const readB = async (d: Disk, lba: number, n: number, bs = BS): Promise<Buffer> =>
    (await d.execute(task(cdb16(0x88, lba, n), { read: n * bs }))).dataIn!;

  // Issued through A: A -> B.
  const r1 = await xcopy(
    a,
    copyList(1, [naaTarget(naa(1)), naaTarget(naa(2))], [blockSegment(8, 10, 100, 0, 1)]),
  );
  t.equal(r1.status, 0, 'A -> B through A');
  t.same(await readB(b, 100, 8), pattern, 'B has the data');
  // Issued through A, neither end A: B -> B elsewhere, then B -> A.
  const r2 = await xcopy(a, copyList(2, [naaTarget(naa(2))], [blockSegment(8, 100, 200, 0, 0)]));
  t.equal(r2.status, 0, 'B -> B through A');
  t.same(await readB(b, 200, 8), pattern);
  const r3 = await xcopy(
    b,
    copyList(3, [naaTarget(naa(2)), naaTarget(naa(1))], [blockSegment(4, 200, 50, 0, 1)]),
  );
  t.equal(r3.status, 0, 'B -> A through B');
  t.same(await readB(a, 50, 4), pattern.subarray(0, 4 * BS));
  const status = (await b.execute(task(copyStatusCdb(3), { read: 1024 }))).dataIn!;
  t.equal(status[4], 0x01, 'RECEIVE COPY RESULTS: completed without errors');
  t.equal(status.readUInt32BE(8), 4, 'four blocks');

  const cases: Array<[string, Buffer, [number, number, number] | number]> = [
    [
      'unknown LU',
      copyList(4, [naaTarget(naa(1)), naaTarget(naa(9))], [blockSegment(1, 0, 0, 0, 1)]),
      [0x0a, 0x0d, 0x02],
    ],
    [
      'block sizes differ',
      copyList(5, [naaTarget(naa(1)), naaTarget(naa(3), 4096)], [blockSegment(1, 0, 0, 0, 1)]),
      [0x0a, 0, 0],
    ],
    [
      'past the end of the destination',
      copyList(6, [naaTarget(naa(1)), naaTarget(naa(2))], [blockSegment(8, 0, 250, 0, 1)]),
      [0x0a, 0, 0],
    ],
    [
      'read-only destination',
      copyList(7, [naaTarget(naa(1)), naaTarget(naa(4))], [blockSegment(1, 0, 0, 0, 1)]),
      [7, 0x27, 0],
    ],
  ];
  for (const [name, p, want] of cases) {
    const r = await xcopy(a, p);
    if (typeof want === 'number') t.equal(r.status, want, name);
    else t.same(sense(r), { key: want[0], asc: want[1], ascq: want[2] }, name);
  }
  t.same(await readB(b, 0, 1), Buffer.alloc(BS), 'failed copies wrote nothing');

  // B reserved Exclusive Access by nexus 2: nexus 1 may not copy into or out of it through A.
  const reg = Buffer.alloc(24);
  reg.writeBigUInt64BE(0x22n, 8);
  const prout = (sa: number, type: number): Buffer => Buffer.from([0x5f, sa, type, 0, 0, 0, 0, 0, 24, 0]);
  t.equal((await b.execute(task(prout(0, 0), { id: 2, dataOut: reg }))).status, 0);
  const res = Buffer.alloc(24);
  res.writeBigUInt64BE(0x22n, 0);
  t.equal((await b.execute(task(prout(1, 3), { id: 2, dataOut: res }))).status, 0, 'nexus 2 reserves B');
  const blocked = await xcopy(
    a,
    copyList(8, [naaTarget(naa(1)), naaTarget(naa(2))], [blockSegment(1, 0, 0, 0, 1)]),
  );
  t.equal(blocked.status, 0x18, 'copy into a reserved LU: RESERVATION CONFLICT');
  const out = await xcopy(
    a,
    copyList(9, [naaTarget(naa(2)), naaTarget(naa(1))], [blockSegment(1, 0, 0, 0, 1)]),
  );
  t.equal(out.status, 0x18, 'copy out of an exclusive-access LU: RESERVATION CONFLICT');
  const holder = await xcopy(
    a,
    copyList(10, [naaTarget(naa(1)), naaTarget(naa(2))], [blockSegment(1, 10, 0, 0, 1)]),
    2,
  );
  t.equal(holder.status, 0, 'the holder may copy into it');
  t.same((await b.execute(task(cdb16(0x88, 0, 1), { id: 2, read: BS }))).dataIn, pattern.subarray(0, BS));
  const denied = await b.execute(task(cdb16(0x88, 0, 1), { id: 1, read: BS }));
  t.equal(denied.status, 0x18, 'nexus 1 cannot read B directly either');
});
