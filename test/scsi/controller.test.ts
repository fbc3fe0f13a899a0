import t from 'tap';
import { createController } from '../../src/scsi/controller';
import { parseSense } from '../../src/scsi/sense';
import { TaskAttr, type ScsiTask } from '../../src/scsi/scsi-types';

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');
const task = (cdb: Buffer, id = 1): ScsiTask => ({
  nexus: {
    id,
    initiatorPortName: 'i,i,0x1',
    initiatorName: 'i',
    targetPortName: 'iqn.t,t,0x0001',
    relativeTargetPortId: 1,
    targetPortGroup: 1,
  },
  lun: 0,
  cdb: Buffer.concat([cdb, Buffer.alloc(16 - cdb.length)]),
  attr: TaskAttr.Simple,
  tag: 1,
  expectedDataTransferLength: 255,
  readExpected: true,
  writeExpected: false,
  aborted: false,
});

const ctl = () =>
  createController({
    tid: 1,
    vendorId: 'IET',
    productId: 'Controller',
    productRev: '0001',
    naa: hex('5000000000000100'),
    scsiSn: 'beaf10',
    scsiId: 'IET     00010000',
  });

t.test('INQUIRY: storage array controller, SCC-2', async (t) => {
  const c = ctl();
  const r = await c.execute(task(hex('12 00 00 00 ff 00')));
  t.same(
    r.dataIn,
    Buffer.concat([
      hex('0c 00 06 12 45 00 00 02'),
      Buffer.from('IET     Controller      0001'),
      Buffer.alloc(22),
      hex('00a0 0960 0460 01fb'),
      Buffer.alloc(8),
    ]),
  );
  t.same((await c.execute(task(hex('12 01 00 00 ff 00')))).dataIn, hex('0c 00 0003 00 80 83'));
  t.same(
    (await c.execute(task(hex('12 01 80 00 ff 00')))).dataIn,
    Buffer.concat([hex('0c 80 0006'), Buffer.from('beaf10')]),
  );
  t.equal((await c.execute(task(hex('12 01 83 00 ff 00')))).dataIn![1], 0x83);
  t.same(parseSense((await c.execute(task(hex('12 01 b0 00 ff 00')))).sense!), {
    key: 5,
    asc: 0x24,
    ascq: 0,
  });
});

t.test('unit attention, TUR, REQUEST SENSE, media commands', async (t) => {
  const c = ctl();
  const tur = hex('00 00 00 00 00 00');
  t.same(parseSense((await c.execute(task(tur))).sense!), { key: 6, asc: 0x29, ascq: 0 });
  t.equal((await c.execute(task(tur))).status, 0);
  t.equal(
    (await c.execute(task(hex('2f 00 00000000 00 0001 00')))).status,
    0,
    'VERIFY acts like TUR (as in tgt)',
  );
  for (const cdb of [
    '25 00 00000000 0000 00 00',
    '28 00 00000000 00 0001 00',
    '9e 10 0000000000000000 00000020 00 00',
  ]) {
    const r = await c.execute(task(hex(cdb)));
    t.same(parseSense(r.sense!), { key: 5, asc: 0x20, ascq: 0 }, cdb);
  }
  c.reset(undefined);
  const rs = await c.execute(task(hex('03 00 00 00 12 00')));
  t.same(parseSense(rs.dataIn!), { key: 6, asc: 0x29, ascq: 0 });
  t.same(parseSense((await c.execute(task(hex('03 00 00 00 12 00')))).dataIn!), { key: 0, asc: 0, ascq: 0 });
  c.nexusGone(task(tur).nexus);
  t.equal((await c.execute(task(tur))).status, 2, 'new life, new UA');
});
