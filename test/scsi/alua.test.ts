import t from 'tap';
import { MemStore } from '../../src/backing/mem';
import {
  aluaRefuses,
  AluaPortGroup,
  AluaState,
  reportTargetPortGroups,
  setTargetPortGroups,
} from '../../src/scsi/alua';
import { createDisk, type Disk } from '../../src/scsi/disk';
import { TaskAttr, type ItNexus, type ScsiResult, type ScsiTask } from '../../src/scsi/scsi-types';
import { parseSense } from '../../src/scsi/sense';

const hex = (s: string): Buffer => Buffer.from(s.replace(/ /g, ''), 'hex');
const rtpgCdb = (format = 0, alloc = 1024): Buffer => {
  const c = Buffer.alloc(12);
  c[0] = 0xa3;
  c[1] = (format << 5) | 0x0a;
  c.writeUInt32BE(alloc, 6);
  return c;
};
const stpgCdb = (plen: number): Buffer => {
  const c = Buffer.alloc(12);
  c[0] = 0xa4;
  c[1] = 0x0a;
  c.writeUInt32BE(plen, 6);
  return c;
};
const stpgParam = (...descs: Array<[number, number]>): Buffer => {
  const b = Buffer.alloc(4 + 4 * descs.length);
  descs.forEach(([state, group], i) => {
    b[4 + 4 * i] = state;
    b.writeUInt16BE(group, 4 + 4 * i + 2);
  });
  return b;
};
const sense = (r: ScsiResult): ReturnType<typeof parseSense> => parseSense(r.sense!);

t.test('REPORT TARGET PORT GROUPS, both formats', async (t) => {
  const g = new AluaPortGroup();
  t.same(sense(reportTargetPortGroups(rtpgCdb(), g, [1], 'fixed')), { key: 5, asc: 0x24, ascq: 0 }, 'off');
  g.setMode('both');
  g.setGroup(7);
  const short = reportTargetPortGroups(rtpgCdb(0), g, [1, 2, 1], 'fixed').dataIn!;
  t.same(short, hex('00000010' + '800f0007 00000002' + '00000001 00000002'), 'length-only header');
  g.setState(AluaState.Standby);
  const ext = reportTargetPortGroups(rtpgCdb(1), g, [1], 'fixed').dataIn!;
  t.same(
    ext,
    hex('0000000c 10000000' + '820f0007 00020001' + '00000001'),
    'extended header, implicit change',
  );
  t.same(reportTargetPortGroups(rtpgCdb(1, 6), g, [1], 'fixed').dataIn, ext.subarray(0, 6), 'truncated');
  t.same(sense(reportTargetPortGroups(rtpgCdb(2), g, [1], 'fixed')), { key: 5, asc: 0x24, ascq: 0 });
});

t.test('SET TARGET PORT GROUPS', async (t) => {
  const g = new AluaPortGroup();
  g.setMode('explicit');
  const v = g.version;
  const p = stpgParam([AluaState.ActiveNonOptimized, 1]);
  t.equal(setTargetPortGroups(stpgCdb(p.length), p, g, 5, 'fixed').status, 0);
  t.equal(g.state, AluaState.ActiveNonOptimized);
  t.equal(g.version, v + 1);
  t.equal(g.changedBy, 5, 'the issuer is spared the unit attention');
  t.equal(g.statusCode, 1, 'altered by SET TARGET PORT GROUPS');
  const cases: Array<[string, Buffer, Buffer, [number, number, number]]> = [
    ['unknown group', stpgCdb(8), stpgParam([0, 9]), [5, 0x26, 0]],
    ['transitioning state', stpgCdb(8), stpgParam([0x0f, 1]), [5, 0x26, 0]],
    ['offline state', stpgCdb(8), stpgParam([0x0e, 1]), [5, 0x26, 0]],
    ['length not a multiple of 4', stpgCdb(6), stpgParam([0, 1]), [5, 0x1a, 0]],
    ['data shorter than the length', stpgCdb(12), stpgParam([0, 1]), [5, 0x1a, 0]],
  ];
  for (const [name, cdb, data, [key, asc, ascq]] of cases) {
    const r = setTargetPortGroups(cdb, data, g, 5, 'fixed');
    t.same(sense(r), { key, asc, ascq }, name);
    t.equal(g.state, AluaState.ActiveNonOptimized, `${name}: state unchanged`);
  }
  t.equal(setTargetPortGroups(stpgCdb(0), undefined, g, 5, 'fixed').status, 0, 'empty list: no-op');
});

t.test('commands each state allows', async (t) => {
  const g = new AluaPortGroup();
  const read10 = hex('28 00 00000000 00 0001 00');
  t.equal(aluaRefuses(g, read10), undefined, 'ALUA off: nothing refused');
  g.setMode('implicit');
  g.setState(AluaState.ActiveNonOptimized);
  t.equal(aluaRefuses(g, read10), undefined);
  g.setState(AluaState.Standby);
  const standby = { key: 2, asc: 0x04, ascq: 0x0b };
  const unavailable = { key: 2, asc: 0x04, ascq: 0x0c };
  // [cdb, allowed in standby, allowed in unavailable]
  const table: Array<[string, Buffer, boolean, boolean]> = [
    ['READ(10)', read10, false, false],
    ['WRITE(10)', hex('2a 00 00000000 00 0001 00'), false, false],
    ['TEST UNIT READY', hex('000000000000'), false, false],
    ['READ CAPACITY(10)', hex('25 00 00000000 0000 00 00'), false, false],
    ['INQUIRY', hex('12 00 00 0024 00'), true, true],
    ['REQUEST SENSE', hex('03 00 00 00 12 00'), true, true],
    ['REPORT LUNS', hex('a0 00 000000 00001000 00 00'), true, true],
    ['REPORT TARGET PORT GROUPS', rtpgCdb(), true, true],
    ['SET TARGET PORT GROUPS', stpgCdb(0), true, true],
    ['MODE SENSE(6)', hex('1a 00 3f 00 ff 00'), true, false],
    ['PERSISTENT RESERVE IN', hex('5e 00 00 00000000 1000 00'), true, false],
    ['PERSISTENT RESERVE OUT', hex('5f 00 00 00000000 0018 00'), true, false],
    ['LOG SENSE', hex('4d 00 00 00 00 00 00 1000 00'), true, false],
    ['READ BUFFER echo', hex('3c 0a 00 000000 000004 00'), true, true],
    ['READ BUFFER data', hex('3c 02 00 000000 000004 00'), false, false],
  ];
  for (const [name, cdb, inStandby, inUnavailable] of table) {
    g.setState(AluaState.Standby);
    t.same(aluaRefuses(g, cdb), inStandby ? undefined : standby, `${name} in standby`);
    g.setState(AluaState.Unavailable);
    t.same(aluaRefuses(g, cdb), inUnavailable ? undefined : unavailable, `${name} when unavailable`);
  }
});

const nexus = (id: number): ItNexus => ({
  id,
  initiatorPortName: `iqn.init${id},i,0x01`,
  initiatorName: `iqn.init${id}`,
  targetPortName: 'iqn.t,t,0x0001',
  relativeTargetPortId: 1,
  targetPortGroup: 1,
});
function task(id: number, cdb: Buffer, dataOut?: Buffer): ScsiTask {
  const full = Buffer.alloc(16);
  cdb.copy(full);
  return {
    nexus: nexus(id),
    lun: 1,
    cdb: full,
    attr: TaskAttr.Simple,
    tag: 1,
    expectedDataTransferLength: dataOut?.length ?? 4096,
    readExpected: !dataOut,
    writeExpected: !!dataOut,
    dataOut,
    aborted: false,
  };
}
function disk(g: AluaPortGroup, lun: number): Disk {
  return createDisk({
    tid: 1,
    lun,
    store: new MemStore(1024 * 512, false),
    blockSize: 512,
    scsiId: 'IET     00010001',
    scsiSn: 'beaf11',
    vendorId: 'IET',
    productId: 'VIRTUAL-DISK',
    productRev: '0001',
    naa: hex('6002c75400000000000000000000000' + lun),
    readonly: false,
    removable: false,
    thinProvisioning: false,
    online: true,
    senseFormat: 'fixed',
    rotationRate: 1,
    alua: g,
  });
}

t.test('through the disk: INQUIRY bits, gating, unit attentions across LUs', async (t) => {
  const g = new AluaPortGroup();
  const d1 = disk(g, 1);
  const d2 = disk(g, 2);
  const tur = hex('000000000000');
  for (const d of [d1, d2]) for (const id of [1, 2]) await d.execute(task(id, tur)); // power-on UAs
  const std = async (): Promise<Buffer> => (await d1.execute(task(1, hex('12 00 00 0024 00')))).dataIn!;
  t.equal((await std())[5] & 0x30, 0, 'TPGS 0 while ALUA is off');
  const off = await d1.execute(task(1, rtpgCdb()));
  t.same(sense(off), { key: 5, asc: 0x24, ascq: 0 }, 'RTPG refused while ALUA is off');
  const stpgOff = await d1.execute(task(1, stpgCdb(0)));
  t.same(sense(stpgOff), { key: 5, asc: 0x20, ascq: 0 }, 'STPG: invalid opcode while ALUA is off');

  g.setMode('both');
  g.setGroup(3);
  // The change itself is announced once to every nexus of every LU.
  for (const d of [d1, d2])
    for (const id of [1, 2]) t.same(sense(await d.execute(task(id, tur))), { key: 6, asc: 0x2a, ascq: 0x06 });
  t.equal((await std())[5] & 0x30, 0x30, 'TPGS 11b: implicit and explicit');
  const vpd83 = (await d1.execute(task(1, hex('12 01 83 0400 00')))).dataIn!;
  t.ok(vpd83.includes(hex('51950004 00000003')), 'VPD 0x83 names target port group 3');
  const rtpg = (await d1.execute(task(1, rtpgCdb()))).dataIn!;
  t.equal(rtpg.readUInt16BE(6), 3, 'RTPG through the disk');
  const rsoc = (await d1.execute(task(1, hex('a3 0c 02 a4 000a 00001000 00 00')))).dataIn!;
  t.equal(rsoc[1] & 0x07, 3, 'REPORT SUPPORTED OPCODES lists SET TARGET PORT GROUPS');

  // Node 1 puts the group in standby explicitly: node 2 hears of it on both LUs, node 1 does not.
  const p = stpgParam([AluaState.Standby, 3]);
  t.equal((await d1.execute(task(1, stpgCdb(p.length), p))).status, 0, 'STPG to standby');
  t.same(sense(await d1.execute(task(1, tur))), { key: 2, asc: 0x04, ascq: 0x0b }, 'issuer: standby');
  t.same(sense(await d2.execute(task(2, tur))), { key: 6, asc: 0x2a, ascq: 0x06 }, 'other nexus: UA');
  t.same(sense(await d2.execute(task(2, tur))), { key: 2, asc: 0x04, ascq: 0x0b }, 'then standby');
  t.equal((await d2.execute(task(2, hex('5e 00 00 00000000 1000 00')))).status, 0, 'PR IN allowed');
  g.setState(AluaState.Unavailable);
  await d1.execute(task(1, tur)); // its unit attention
  const pr = await d1.execute(task(1, hex('5e 00 00 00000000 1000 00')));
  t.same(sense(pr), { key: 2, asc: 0x04, ascq: 0x0c }, 'unavailable: PR IN refused');
  g.setState(AluaState.ActiveOptimized);
  await d1.execute(task(1, tur));
  t.equal((await d1.execute(task(1, tur))).status, 0, 'active again');
});

t.test(
  'order of checks: the CDB is judged before the access state; listing follows the ALUA mode',
  async (t) => {
    const g = new AluaPortGroup();
    const d = disk(g, 1);
    const tur = hex('000000000000');
    for (const id of [1, 2]) await d.execute(task(id, tur)); // power-on UAs
    const listed = async (op: number, sa: number): Promise<number> =>
      (await d.execute(task(1, Buffer.from([0xa3, 0x0c, 0x02, op, 0, sa, 0, 0, 0x10, 0, 0, 0])))).dataIn![1] &
      0x07;
    t.equal(await listed(0xa3, 0x0a), 1, 'ALUA off: RTPG not listed');
    t.equal(await listed(0xa4, 0x0a), 1, 'ALUA off: STPG not listed');
    g.setMode('implicit');
    await d.execute(task(1, tur)); // ASYMMETRIC ACCESS STATE CHANGED
    t.equal(await listed(0xa3, 0x0a), 3, 'implicit: RTPG listed');
    t.equal(await listed(0xa4, 0x0a), 1, 'implicit: STPG not listed');
    t.same(sense(await d.execute(task(1, stpgCdb(0)))), { key: 5, asc: 0x20, ascq: 0 }, 'and not accepted');
    g.setState(AluaState.Standby);
    await d.execute(task(1, tur));
    const read10 = (b1: number): Buffer => Buffer.from([0x28, b1, 0, 0, 0, 0, 0, 0, 1, 0]);
    t.same(sense(await d.execute(task(1, read10(0)))), { key: 2, asc: 0x04, ascq: 0x0b }, 'READ: standby');
    const bad = await d.execute(task(1, read10(0x01))); // byte 1 bit 0 is reserved (obsolete RELADR)
    t.same(
      sense(bad),
      { key: 5, asc: 0x24, ascq: 0 },
      'a malformed READ is INVALID FIELD IN CDB even in standby',
    );
  },
);
