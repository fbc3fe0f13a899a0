import t from 'tap';
import {
  encodeLun,
  reportLuns,
  requestSense,
  UnitAttentions,
  unitAttentionGate,
  unknownLun,
} from '../../src/scsi/lun-commands';
import { CAPACITY_DATA_HAS_CHANGED, parseSense, POWER_ON_RESET } from '../../src/scsi/sense';
import { TaskAttr, type ItNexus, type ScsiTask } from '../../src/scsi/scsi-types';

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');
const nexus = (id: number): ItNexus => ({
  id,
  initiatorPortName: `iqn.init${id},i,0x01`,
  initiatorName: `iqn.init${id}`,
  targetPortName: 'iqn.2024-01.test:tgt,t,0x0001',
  relativeTargetPortId: 1,
  targetPortGroup: 1,
});
const task = (cdb: Buffer, id = 1): ScsiTask => ({
  nexus: nexus(id),
  lun: 0,
  cdb,
  attr: TaskAttr.Simple,
  tag: 1,
  expectedDataTransferLength: 4096,
  readExpected: true,
  writeExpected: false,
  aborted: false,
});
const reportLunsCdb = (select: number, alloc: number) => {
  const b = Buffer.alloc(12);
  b[0] = 0xa0;
  b[2] = select;
  b.writeUInt32BE(alloc, 6);
  return b;
};

t.test('LUN encoding: peripheral below 256, flat above', async (t) => {
  t.same(encodeLun(0), hex('0000000000000000'));
  t.same(encodeLun(5), hex('0005000000000000'));
  t.same(encodeLun(255), hex('00ff000000000000'));
  t.same(encodeLun(256), hex('4100000000000000'));
  t.same(encodeLun(0x3fff), hex('7fff000000000000'));
});

t.test('REPORT LUNS', async (t) => {
  const r = reportLuns(task(reportLunsCdb(0, 4096)), [300, 0, 1]);
  t.equal(r.status, 0);
  t.same(r.dataIn, hex('00000018 00000000 0000000000000000 0001000000000000 412c000000000000'));
  t.same(reportLuns(task(reportLunsCdb(2, 4096)), [0]).dataIn, hex('00000008 00000000 0000000000000000'));
  t.same(
    reportLuns(task(reportLunsCdb(1, 4096)), [0, 1]).dataIn,
    hex('00000000 00000000'),
    'no well-known LUs',
  );
  t.same(
    reportLuns(task(reportLunsCdb(0, 16)), [0, 1, 2]).dataIn,
    hex('00000018 00000000 0000000000000000'),
    'truncated',
  );
  const short = reportLuns(task(reportLunsCdb(0, 15)), [0]);
  t.equal(short.status, 2);
  t.same(parseSense(short.sense!), { key: 5, asc: 0x24, ascq: 0 });
  t.same(parseSense(reportLuns(task(reportLunsCdb(0x10, 64)), [0]).sense!), { key: 5, asc: 0x24, ascq: 0 });
  t.equal(reportLuns(task(reportLunsCdb(0x10, 64)), [0], 'descriptor').sense![0], 0x72);
});

t.test('unknown LUN', async (t) => {
  const inq = unknownLun(task(hex('12 00 00 00 ff 00')), [0]);
  t.equal(inq.status, 0);
  t.same(inq.dataIn, Buffer.concat([hex('7f 00 06 12 1f 00 00 00'), Buffer.alloc(28, 0x20)]));
  t.same(unknownLun(task(hex('12 01 00 00 ff 00')), [0]).dataIn, hex('7f 00 00 01 00'));
  t.same(parseSense(unknownLun(task(hex('12 01 83 00 ff 00')), [0]).sense!), { key: 5, asc: 0x24, ascq: 0 });
  t.same(
    unknownLun(task(reportLunsCdb(0, 100)), [0, 3]).dataIn,
    hex('00000010 00000000 0000000000000000 0003000000000000'),
  );
  const rs = unknownLun(task(hex('03 00 00 00 12 00')), [0]);
  t.equal(rs.status, 0);
  t.same(parseSense(rs.dataIn!), { key: 5, asc: 0x25, ascq: 0 });
  t.equal(unknownLun(task(hex('03 01 00 00 12 00')), [0]).dataIn![0], 0x72, 'DESC=1');
  for (const op of [0x00, 0x28, 0x25, 0x2a]) {
    const r = unknownLun(task(Buffer.from([op, 0, 0, 0, 0, 0, 0, 0, 0, 0])), [0]);
    t.equal(r.status, 2);
    t.same(parseSense(r.sense!), { key: 5, asc: 0x25, ascq: 0 });
  }
});

t.test('unit attention bookkeeping', async (t) => {
  const ua = new UnitAttentions();
  const tur = hex('00 00 00 00 00 00');
  t.equal(unitAttentionGate(ua, task(hex('12 00 00 00 ff 00')), 'fixed'), undefined, 'INQUIRY passes');
  const first = unitAttentionGate(ua, task(tur), 'fixed')!;
  t.same(parseSense(first.sense!), { key: 6, asc: 0x29, ascq: 0 });
  t.equal(unitAttentionGate(ua, task(tur), 'fixed'), undefined, 'cleared');
  ua.peek(2);
  ua.raise(CAPACITY_DATA_HAS_CHANGED, 2);
  ua.raise(CAPACITY_DATA_HAS_CHANGED, 2); // no duplicates
  t.same(ua.take(1), CAPACITY_DATA_HAS_CHANGED);
  t.equal(ua.take(1), undefined);
  t.same(ua.take(2), POWER_ON_RESET);
  t.equal(ua.take(2), undefined);
  ua.raise(CAPACITY_DATA_HAS_CHANGED);
  ua.reset();
  t.same(ua.take(1), POWER_ON_RESET);
  t.equal(ua.take(1), undefined, 'reset supersedes older conditions');
  ua.forget(1);
  t.same(ua.peek(1), POWER_ON_RESET, 'a forgotten nexus starts over');
  const rs = requestSense(task(hex('03 01 00 00 08 00'), 1), ua);
  t.same(rs.dataIn, hex('72 06 29 00 00 00 00 00'), 'REQUEST SENSE returns and clears, descriptor');
  t.same(
    requestSense(task(hex('03 00 00 00 12 00'), 1), ua).dataIn,
    hex('70 00 00 00 00 00 00 0a 00 00 00 00 00 00 00 00 00 00'),
  );
});
