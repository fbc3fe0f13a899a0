import t from 'tap';
import {
  executeInquiry,
  PeripheralType,
  standardInquiry,
  t10DesignatorText,
  VersionDescriptor,
  vpdPage,
  type InquiryData,
} from '../../src/scsi/inquiry';
import { parseSense } from '../../src/scsi/sense';
import type { ItNexus } from '../../src/scsi/scsi-types';

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');
const nexus: ItNexus = {
  id: 1,
  initiatorPortName: 'iqn.1994-05.com.redhat:init,i,0x023d00000001',
  initiatorName: 'iqn.1994-05.com.redhat:init',
  targetPortName: 'iqn.2024-01.test:tgt,t,0x0001',
  relativeTargetPortId: 1,
  targetPortGroup: 1,
};
const disk: InquiryData = {
  peripheralType: PeripheralType.Disk,
  removable: false,
  vendorId: 'IET',
  productId: 'VIRTUAL-DISK',
  productRev: '0001',
  versionDescriptors: [
    VersionDescriptor.SAM5,
    VersionDescriptor.ISCSI,
    VersionDescriptor.SPC4,
    VersionDescriptor.SBC3,
  ],
  scsiSn: 'beaf11',
  scsiId: 'IET     00010001',
  naa: hex('5000000000000001'),
  blockLimits: {
    maxTransferLength: 32768,
    optimalTransferLengthGranularity: 8,
    optimalTransferLength: 2048,
    maxUnmapLbaCount: 0x200000,
    maxUnmapBlockDescriptorCount: 64,
    maxWriteSameLength: 0x200000,
    writeSameNonZero: true,
  },
  rotationRate: 1,
  provisioning: { thin: true, lbprz: true },
};
const inq = (evpd: boolean, page: number, alloc: number) =>
  Buffer.from([0x12, evpd ? 1 : 0, page, alloc >> 8, alloc & 0xff, 0]);

t.test('standard INQUIRY, byte exact', async (t) => {
  const expected = Buffer.concat([
    hex('00 00 06 12 45 00 00 02'),
    Buffer.from('IET     VIRTUAL-DISK    0001', 'latin1'),
    Buffer.alloc(22),
    hex('00a0 0960 0460 04c0'),
    Buffer.alloc(8),
  ]);
  t.same(standardInquiry(disk), expected);
  const r = executeInquiry(inq(false, 0, 255), nexus, disk, 'fixed');
  t.equal(r.status, 0);
  t.same(r.dataIn, expected);
  t.same(
    executeInquiry(inq(false, 0, 36), nexus, disk, 'fixed').dataIn,
    expected.subarray(0, 36),
    'truncated',
  );
  const removable = standardInquiry({ ...disk, removable: true, peripheralType: PeripheralType.Controller });
  t.equal(removable[0], 0x0c);
  t.equal(removable[1], 0x80);
  t.equal(standardInquiry({ ...disk, vendorId: 'TOOLONGVENDOR' }).toString('latin1', 8, 16), 'TOOLONGV');
});

t.test('VPD 0x00, 0x80', async (t) => {
  t.same(vpdPage(0x00, disk, nexus), hex('00 00 0006 00 80 83 b0 b1 b2'));
  t.same(vpdPage(0x80, disk, nexus), Buffer.concat([hex('00 80 0006'), Buffer.from('beaf11')]));
  const ctl = {
    ...disk,
    peripheralType: 0x0c,
    blockLimits: undefined,
    rotationRate: undefined,
    provisioning: undefined,
  };
  t.same(vpdPage(0x00, ctl, nexus), hex('0c 00 0003 00 80 83'));
  t.equal(vpdPage(0xb0, ctl, nexus), undefined);
});

t.test('VPD 0x83 device identification', async (t) => {
  const name = Buffer.alloc(32);
  name.write('iqn.2024-01.test:tgt,t,0x0001');
  const expected = Buffer.concat([
    hex('00 83 0054'),
    hex('01 03 00 08 5000000000000001'),
    Buffer.concat([hex('02 01 00 10'), Buffer.from('IET     00010001')]),
    hex('51 94 00 04 0000 0001'),
    hex('51 95 00 04 0000 0001'),
    hex('53 98 00 20'),
    name,
  ]);
  t.same(vpdPage(0x83, disk, nexus), expected);
  t.equal(t10DesignatorText('IET', 'abc').toString(), 'IET     abc', 'vendor prefixed when missing');
  t.equal(t10DesignatorText('IET', 'IET     x').toString(), 'IET     x');
  const other = vpdPage(0x83, disk, { ...nexus, relativeTargetPortId: 2, targetPortGroup: 7 })!;
  t.same(other.subarray(36, 52), hex('51 94 00 04 0000 0002 51 95 00 04 0000 0007'));
});

t.test('VPD 0xB0, 0xB1, 0xB2', async (t) => {
  const b0 = Buffer.alloc(64);
  hex(
    '00 b0 003c 01 00 0008 00008000 00000800 00000000 00200000 00000040 00000000 00000000 0000000000200000',
  ).copy(b0);
  t.same(vpdPage(0xb0, disk, nexus), b0);
  const b1 = Buffer.alloc(64);
  hex('00 b1 003c 0001').copy(b1);
  t.same(vpdPage(0xb1, disk, nexus), b1);
  t.same(vpdPage(0xb2, disk, nexus), hex('00 b2 0004 00 e4 02 00'));
  t.same(
    vpdPage(0xb2, { ...disk, provisioning: { thin: false, lbprz: false } }, nexus),
    hex('00 b2 0004 00 00 00 00'),
  );
});

t.test('INQUIRY errors and truncation', async (t) => {
  const bad = (cdb: Buffer) => parseSense(executeInquiry(cdb, nexus, disk, 'fixed').sense!);
  t.same(bad(inq(false, 0x80, 255)), { key: 5, asc: 0x24, ascq: 0 }, 'EVPD=0 with a page code');
  t.same(bad(inq(true, 0x99, 255)), { key: 5, asc: 0x24, ascq: 0 }, 'unsupported page');
  t.same(bad(Buffer.from([0x12, 0x02, 0, 0, 255, 0])), { key: 5, asc: 0x24, ascq: 0 }, 'CMDDT');
  t.same(bad(Buffer.from([0x12, 0, 0, 0, 255, 0x04])), { key: 5, asc: 0x24, ascq: 0 }, 'NACA');
  const d = executeInquiry(inq(true, 0x83, 10), nexus, disk, 'descriptor');
  t.same(d.dataIn, vpdPage(0x83, disk, nexus)!.subarray(0, 10));
  t.equal(executeInquiry(inq(true, 0x00, 0), nexus, disk, 'fixed').dataIn!.length, 0);
  t.equal(executeInquiry(inq(true, 0x99, 255), nexus, disk, 'descriptor').sense![0], 0x72);
});
