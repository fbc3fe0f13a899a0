import t from 'tap';
import {
  cdbLba,
  cdbLength,
  controlByteIndex,
  nacaSet,
  rwDpo,
  rwFua,
  rwInvalidField,
  rwTransferLength,
  transferLengthByte,
  truncate,
} from '../../src/scsi/cdb';

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');

t.test('lengths by group code', async (t) => {
  t.same([0x08, 0x28, 0x55, 0x88, 0xa8, 0x7f, 0xc0].map(cdbLength), [6, 10, 10, 16, 12, 0, 0]);
  t.equal(controlByteIndex(hex('28 00 00000000 00 0000 00 000000000000')), 9);
});

t.test('READ/WRITE 6', async (t) => {
  const c = hex('08 1f ffff 00 00');
  t.equal(cdbLba(c), 0x1fffff);
  t.equal(rwTransferLength(c), 256, 'length 0 means 256');
  t.equal(rwTransferLength(hex('0a 00 0001 05 00')), 5);
  t.equal(rwFua(hex('0a 08 0000 01 00')), false, 'no FUA in 6-byte CDBs');
  t.equal(rwInvalidField(hex('08 20 0000 01 00')), 8 + 7, 'reserved bits of byte 1');
  t.equal(transferLengthByte(0x08), 4);
});

t.test('READ/WRITE 10/12/16', async (t) => {
  const r10 = hex('28 18 12345678 00 0102 00');
  t.equal(cdbLba(r10), 0x12345678);
  t.equal(rwTransferLength(r10), 0x102);
  t.ok(rwFua(r10));
  t.ok(rwDpo(r10));
  t.equal(rwInvalidField(r10), -1);
  const w12 = hex('aa 00 00000010 00000020 00 00');
  t.equal(cdbLba(w12), 16);
  t.equal(rwTransferLength(w12), 32);
  t.equal(transferLengthByte(0xaa), 6);
  const r16 = hex('88 00 0000000100000002 00010000 00 00');
  t.equal(cdbLba(r16), 2 ** 32 + 2);
  t.equal(rwTransferLength(r16), 0x10000);
  t.equal(transferLengthByte(0x88), 10);
  t.ok(cdbLba(hex('88 00 ffffffffffffffff 00000001 00 00')) > 2 ** 63, 'huge LBAs stay huge');
  t.equal(rwInvalidField(hex('28 20 00000000 00 0001 00')), 8 + 7, 'RDPROTECT');
  t.equal(rwInvalidField(hex('28 00 00000000 00 0001 04')), 9 * 8 + 2, 'NACA');
  t.ok(nacaSet(hex('88 00 0000000000000000 00000000 00 04')));
  t.notOk(nacaSet(hex('88 00 0000000000000000 00000000 00 00')));
});

t.test('truncate does not copy', async (t) => {
  const b = Buffer.from([1, 2, 3, 4]);
  t.equal(truncate(b, 10), b);
  const s = truncate(b, 2);
  t.same(s, Buffer.from([1, 2]));
  t.equal(s.buffer, b.buffer);
});
