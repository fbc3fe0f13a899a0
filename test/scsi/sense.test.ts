import t from 'tap';
import {
  buildDescriptorSense,
  buildFixedSense,
  checkCondition,
  INVALID_FIELD_IN_CDB,
  invalidCdbField,
  invalidParamField,
  LBA_OUT_OF_RANGE,
  MISCOMPARE_DURING_VERIFY,
  parseSense,
  POWER_ON_RESET,
  SPACE_ALLOCATION_FAILED_WRITE_PROTECT,
} from '../../src/scsi/sense';

t.test('fixed format, plain', async (t) => {
  t.same(
    buildFixedSense(LBA_OUT_OF_RANGE),
    Buffer.from('700005000000000a000000002100000000 00'.replace(/ /g, ''), 'hex'),
  );
  t.same(
    buildFixedSense(POWER_ON_RESET),
    Buffer.from('70000600000000' + '0a' + '00000000' + '2900' + '00' + '000000', 'hex'),
  );
});

t.test('fixed format with information and field pointer', async (t) => {
  const b = buildFixedSense(MISCOMPARE_DURING_VERIFY, { information: 0x1234 });
  t.same(b, Buffer.from('f0000e000012340a000000001d00000000' + '00', 'hex'));
  const f = buildFixedSense(INVALID_FIELD_IN_CDB, { field: { inCdb: true, byte: 7, bit: 3 } });
  t.same(f, Buffer.from('700005000000000a00000000240000cb0007', 'hex'));
  const p = invalidParamField('fixed', 0x0102).sense!;
  t.same(p, Buffer.from('700005000000000a0000000026000080' + '0102', 'hex'));
});

t.test('descriptor format', async (t) => {
  t.same(buildDescriptorSense(SPACE_ALLOCATION_FAILED_WRITE_PROTECT), Buffer.from('7207270700000000', 'hex'));
  const b = buildDescriptorSense(MISCOMPARE_DURING_VERIFY, { information: 2 ** 40 + 5 });
  t.same(b, Buffer.from('720e1d000000000c' + '000a8000' + '0000010000000005', 'hex'));
  const f = invalidCdbField('descriptor', 1, 7).sense!;
  t.equal(f.length, 16);
  t.same(f, Buffer.from('7205240000000008' + '02060000cf000100', 'hex'));
});

t.test('parseSense reads both formats', async (t) => {
  t.same(parseSense(buildFixedSense(MISCOMPARE_DURING_VERIFY, { information: 9 })), {
    key: 0xe,
    asc: 0x1d,
    ascq: 0,
    information: 9,
  });
  t.same(parseSense(buildDescriptorSense(MISCOMPARE_DURING_VERIFY, { information: 9 })), {
    key: 0xe,
    asc: 0x1d,
    ascq: 0,
    information: 9,
  });
  const r = checkCondition('fixed', LBA_OUT_OF_RANGE);
  t.equal(r.status, 0x02);
  t.same(parseSense(r.sense!), { key: 5, asc: 0x21, ascq: 0 });
});
