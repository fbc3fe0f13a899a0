import t from 'tap';
import { crc32c as nativeCrc32c } from '@node-rs/crc32';
import {
  decodePdu,
  encodedLength,
  encodePdu,
  lunToNumber,
  numberToLun,
  PduDecodeError,
  senseSegment,
  type EncodeOptions,
} from '../../src/iscsi/pdu-codec';
import { Opcode, type Pdu, type ScsiCommand } from '../../src/iscsi/pdu-types';

const ALL_OPTS: EncodeOptions[] = [
  { headerDigest: false, dataDigest: false },
  { headerDigest: true, dataDigest: false },
  { headerDigest: false, dataDigest: true },
  { headerDigest: true, dataDigest: true },
];

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Wire bytes of a CRC32C digest, computed independently with the native binding. */
function digestBytes(...parts: Buffer[]): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(nativeCrc32c(Buffer.concat(parts)));
  return b;
}

/** Split a wire image back into BHS, AHS and data, checking lengths, padding and digests on the way. */
function splitWire(
  t: tap.Test,
  wire: Buffer,
  opts: EncodeOptions,
): { bhs: Buffer; ahs?: Buffer; data: Buffer } {
  const ahsLength = wire[4] * 4;
  const dsl = (wire[5] << 16) | (wire[6] << 8) | wire[7];
  let pos = 48 + ahsLength;
  if (opts.headerDigest) {
    t.same(wire.subarray(pos, pos + 4), digestBytes(wire.subarray(0, pos)), 'header digest');
    pos += 4;
  }
  const data = wire.subarray(pos, pos + dsl);
  const pad = -dsl & 3;
  t.same(wire.subarray(pos + dsl, pos + dsl + pad), Buffer.alloc(pad), 'padding is zero');
  pos += dsl + pad;
  if (opts.dataDigest && dsl > 0) {
    t.same(wire.subarray(pos, pos + 4), digestBytes(wire.subarray(pos - dsl - pad, pos)), 'data digest');
    pos += 4;
  }
  t.equal(pos, wire.length, 'nothing after the PDU');
  return { bhs: wire.subarray(0, 48), ahs: ahsLength ? wire.subarray(48, 48 + ahsLength) : undefined, data };
}

function encodeToBuffer(pdu: Pdu, opts: EncodeOptions): Buffer {
  return Buffer.concat(encodePdu(pdu, opts));
}

const isid = hex('80 12 34 56 78 9a');
const lun = 0x0001_0203_0405_0607n;

/** One PDU of every opcode with every field set to something other than zero/false. */
function samples(): Pdu[] {
  return [
    {
      opcode: Opcode.NopOut,
      immediate: true,
      itt: 0x01020304,
      data: Buffer.from('ping!'),
      lun,
      ttt: 0xfedcba98,
      cmdSN: 0x11111111,
      expStatSN: 0x22222222,
    },
    {
      opcode: Opcode.ScsiCommand,
      immediate: true,
      itt: 0xa0a0a0a0,
      data: Buffer.from('immediate write data'),
      final: true,
      read: true,
      write: true,
      attr: 4,
      lun,
      expectedDataTransferLength: 0x00123456,
      cmdSN: 0x80000001,
      expStatSN: 0x7fffffff,
      cdb: hex('2a 08 00 00 12 34 00 00 01 00 00 00 00 00 00 ff'),
    },
    {
      opcode: Opcode.TaskMgmtRequest,
      immediate: true,
      itt: 7,
      data: Buffer.alloc(0),
      function: 8,
      lun,
      referencedTaskTag: 0x12345678,
      cmdSN: 9,
      expStatSN: 10,
      refCmdSN: 11,
      expDataSN: 12,
    },
    {
      opcode: Opcode.LoginRequest,
      immediate: true,
      itt: 0xdeadbeef,
      data: Buffer.from('InitiatorName=iqn.2024-01.test:x\0SessionType=Normal\0'),
      transit: true,
      continue: true,
      csg: 1,
      nsg: 3,
      versionMax: 2,
      versionMin: 1,
      isid,
      tsih: 0xabcd,
      cid: 0x1234,
      cmdSN: 0x55,
      expStatSN: 0x66,
    },
    {
      opcode: Opcode.TextRequest,
      immediate: true,
      itt: 3,
      data: Buffer.from('SendTargets=All\0'),
      final: true,
      continue: true,
      lun,
      ttt: 0x0badf00d,
      cmdSN: 4,
      expStatSN: 5,
    },
    {
      opcode: Opcode.DataOut,
      immediate: true,
      itt: 0x99,
      data: Buffer.alloc(513, 0xa5),
      final: true,
      lun,
      ttt: 0x77,
      expStatSN: 0x88,
      dataSN: 0x99,
      bufferOffset: 0x00100000,
    },
    {
      opcode: Opcode.LogoutRequest,
      immediate: true,
      itt: 0x42,
      data: Buffer.alloc(0),
      reasonCode: 2,
      cid: 0xfffe,
      cmdSN: 0x43,
      expStatSN: 0x44,
    },
    {
      opcode: Opcode.SnackRequest,
      immediate: true,
      itt: 0x50,
      data: Buffer.alloc(0),
      type: 3,
      lun,
      ttt: 0x51,
      expStatSN: 0x52,
      begRun: 0x53,
      runLength: 0x54,
    },
    {
      opcode: Opcode.NopIn,
      immediate: false,
      itt: 0xffffffff,
      data: Buffer.from('pong'),
      lun,
      ttt: 0x61,
      statSN: 0x62,
      expCmdSN: 0x63,
      maxCmdSN: 0x64,
    },
    {
      opcode: Opcode.ScsiResponse,
      immediate: false,
      itt: 0x70,
      data: senseSegment(hex('70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 00 00 00')),
      bidiOverflow: true,
      bidiUnderflow: true,
      overflow: true,
      underflow: true,
      response: 1,
      status: 0x02,
      snackTag: 0x71,
      statSN: 0x72,
      expCmdSN: 0x73,
      maxCmdSN: 0x74,
      expDataSN: 0x75,
      bidiResidualCount: 0x76,
      residualCount: 0x77,
    },
    {
      opcode: Opcode.TaskMgmtResponse,
      immediate: false,
      itt: 0x80,
      data: Buffer.alloc(0),
      response: 255,
      statSN: 0x81,
      expCmdSN: 0x82,
      maxCmdSN: 0x83,
    },
    {
      opcode: Opcode.LoginResponse,
      immediate: false,
      itt: 0x90,
      data: Buffer.from('TargetPortalGroupTag=1\0'),
      transit: true,
      continue: true,
      csg: 3,
      nsg: 1,
      versionMax: 0x12,
      versionActive: 0x11,
      isid,
      tsih: 0x91,
      statSN: 0x92,
      expCmdSN: 0x93,
      maxCmdSN: 0x94,
      statusClass: 2,
      statusDetail: 7,
    },
    {
      opcode: Opcode.TextResponse,
      immediate: false,
      itt: 0xa0,
      data: Buffer.from('TargetName=iqn.2024-01.test:t\0TargetAddress=127.0.0.1:3260,1\0'),
      final: true,
      continue: true,
      lun,
      ttt: 0xa1,
      statSN: 0xa2,
      expCmdSN: 0xa3,
      maxCmdSN: 0xa4,
    },
    {
      opcode: Opcode.DataIn,
      immediate: false,
      itt: 0xb0,
      data: Buffer.alloc(4097, 0x3c),
      final: true,
      ack: true,
      overflow: true,
      underflow: true,
      hasStatus: true,
      status: 0x18,
      lun,
      ttt: 0xb1,
      statSN: 0xb2,
      expCmdSN: 0xb3,
      maxCmdSN: 0xb4,
      dataSN: 0xb5,
      bufferOffset: 0xb6,
      residualCount: 0xb7,
    },
    {
      opcode: Opcode.LogoutResponse,
      immediate: false,
      itt: 0xc0,
      data: Buffer.alloc(0),
      response: 3,
      statSN: 0xc1,
      expCmdSN: 0xc2,
      maxCmdSN: 0xc3,
      time2Wait: 0xc4c5,
      time2Retain: 0xc6c7,
    },
    {
      opcode: Opcode.R2T,
      immediate: false,
      itt: 0xd0,
      data: Buffer.alloc(0),
      lun,
      ttt: 0xd1,
      statSN: 0xd2,
      expCmdSN: 0xd3,
      maxCmdSN: 0xd4,
      r2tSN: 0xd5,
      bufferOffset: 0xd6,
      desiredDataTransferLength: 0xd7,
    },
    {
      opcode: Opcode.AsyncMessage,
      immediate: false,
      itt: 0xffffffff,
      data: senseSegment(hex('70 00 06 00 00 00 00 0a 00 00 00 00 3f 0e 00 00 00 00')),
      lun,
      statSN: 0xe1,
      expCmdSN: 0xe2,
      maxCmdSN: 0xe3,
      asyncEvent: 4,
      asyncVCode: 0xe4,
      parameter1: 0xe5e6,
      parameter2: 0xe7e8,
      parameter3: 0xe9ea,
    },
    {
      opcode: Opcode.Reject,
      immediate: false,
      itt: 0xffffffff,
      data: Buffer.alloc(48, 0x11),
      reason: 0x09,
      statSN: 0xf1,
      expCmdSN: 0xf2,
      maxCmdSN: 0xf3,
      dataSN: 0xf4,
    },
  ];
}

t.test('every opcode round-trips with every digest combination', async (t) => {
  const all = samples();
  const opcodes = new Set(all.map((p) => p.opcode));
  t.equal(opcodes.size, 18, 'all 18 opcodes covered');
  for (const pdu of all) {
    for (const opts of ALL_OPTS) {
      const parts = encodePdu(pdu, opts);
      const wire = Buffer.concat(parts);
      t.equal(encodedLength(parts), wire.length);
      t.equal(wire[0] & 0x3f, pdu.opcode);
      const { bhs, ahs, data } = splitWire(t, wire, opts);
      t.equal(ahs, undefined);
      const decoded = decodePdu(bhs, ahs, data);
      t.strictSame(decoded, pdu, `opcode 0x${pdu.opcode.toString(16)} ${JSON.stringify(opts)}`);
    }
  }
});

t.test('flag bits are independent', async (t) => {
  // Each boolean alone, so a swapped bit position cannot hide behind "all set".
  for (const pdu of samples()) {
    const flags = Object.keys(pdu).filter(
      (k) => typeof (pdu as unknown as Record<string, unknown>)[k] === 'boolean' && k !== 'immediate',
    );
    for (const flag of flags) {
      const variant = { ...pdu } as unknown as Record<string, unknown>;
      for (const f of flags) variant[f] = f === flag;
      const v = variant as unknown as Pdu;
      const wire = encodeToBuffer(v, ALL_OPTS[0]);
      const decoded = decodePdu(wire.subarray(0, 48), undefined, wire.subarray(48, 48 + v.data.length));
      if (pdu.opcode === Opcode.DataIn && flag !== 'hasStatus') {
        // Without S the status fields are reserved and go out as zero.
        t.equal(wire[3], 0);
        t.equal(wire.readUInt32BE(24), 0);
        t.strictSame({ ...decoded, status: 0xb2, statSN: 0 }, { ...v, status: 0xb2, statSN: 0 });
      } else {
        t.strictSame(decoded, v, `opcode 0x${pdu.opcode.toString(16)} ${flag} only`);
      }
    }
  }
});

t.test('immediate bit: initiator opcodes carry it, Login always, target opcodes never', async (t) => {
  for (const pdu of samples()) {
    const wire = encodeToBuffer({ ...pdu, immediate: true } as Pdu, ALL_OPTS[0]);
    t.equal(wire[0] & 0x40, pdu.opcode < 0x20 ? 0x40 : 0, `opcode 0x${pdu.opcode.toString(16)} immediate`);
    const notImmediate = encodeToBuffer({ ...pdu, immediate: false } as Pdu, ALL_OPTS[0]);
    t.equal(notImmediate[0], pdu.opcode === Opcode.LoginRequest ? 0x43 : pdu.opcode);
  }
});

t.test('byte-exact: SCSI Command READ(10)', async (t) => {
  const pdu: ScsiCommand = {
    opcode: Opcode.ScsiCommand,
    immediate: false,
    itt: 0x11223344,
    data: Buffer.alloc(0),
    final: true,
    read: true,
    write: false,
    attr: 1,
    lun: numberToLun(1),
    expectedDataTransferLength: 0x1000,
    cmdSN: 0x0a,
    expStatSN: 0x0b,
    cdb: hex('28 00 00 00 00 10 00 00 08 00'),
  };
  const parts = encodePdu(pdu, { headerDigest: false, dataDigest: true });
  t.equal(parts.length, 1, 'no data, no data digest');
  t.same(
    parts[0],
    hex(`
      01 c1 00 00  00 00 00 00
      00 01 00 00  00 00 00 00
      11 22 33 44  00 00 10 00
      00 00 00 0a  00 00 00 0b
      28 00 00 00  00 10 00 00  08 00 00 00  00 00 00 00`),
  );
  const withDigest = encodePdu(pdu, { headerDigest: true, dataDigest: false })[0];
  t.equal(withDigest.length, 52);
  t.same(withDigest.subarray(0, 48), parts[0]);
  t.same(withDigest.subarray(48), digestBytes(parts[0]));
  const decoded = decodePdu(parts[0], undefined, Buffer.alloc(0)) as ScsiCommand;
  t.same(decoded.cdb, hex('28 00 00 00 00 10 00 00 08 00 00 00 00 00 00 00'), '16-byte CDB field');
});

t.test('byte-exact: Data-In with status, padding and data digest', async (t) => {
  const data = Buffer.from('hello');
  const parts = encodePdu(
    {
      opcode: Opcode.DataIn,
      immediate: false,
      itt: 0x01020304,
      data,
      final: true,
      ack: false,
      overflow: false,
      underflow: true,
      hasStatus: true,
      status: 0,
      lun: 0n,
      ttt: 0xffffffff,
      statSN: 5,
      expCmdSN: 6,
      maxCmdSN: 7,
      dataSN: 0,
      bufferOffset: 0x2000,
      residualCount: 0x10,
    },
    { headerDigest: false, dataDigest: true },
  );
  t.equal(parts.length, 3);
  t.same(
    parts[0],
    hex(`
      25 83 00 00  00 00 00 05
      00 00 00 00  00 00 00 00
      01 02 03 04  ff ff ff ff
      00 00 00 05  00 00 00 06
      00 00 00 07  00 00 00 00
      00 00 20 00  00 00 00 10`),
  );
  t.equal(parts[1], data, 'data segment is the caller buffer itself');
  t.same(parts[2], Buffer.concat([hex('00 00 00'), digestBytes(Buffer.from('hello\0\0\0'))]));
});

t.test('byte-exact: SCSI Response with sense data', async (t) => {
  const sense = hex('70 00 05 00 00 00 00 0a 00 00 00 00 20 00 00 00 00 00');
  const parts = encodePdu(
    {
      opcode: Opcode.ScsiResponse,
      immediate: false,
      itt: 0xcafe0001,
      data: senseSegment(sense),
      bidiOverflow: true,
      bidiUnderflow: false,
      overflow: false,
      underflow: true,
      response: 0,
      status: 0x02,
      snackTag: 0,
      statSN: 0x100,
      expCmdSN: 0x101,
      maxCmdSN: 0x120,
      expDataSN: 3,
      bidiResidualCount: 0x44,
      residualCount: 0x200,
    },
    { headerDigest: false, dataDigest: false },
  );
  t.equal(parts.length, 2, '20 bytes of data need no padding');
  t.same(
    parts[0],
    hex(`
      21 92 00 02  00 00 00 14
      00 00 00 00  00 00 00 00
      ca fe 00 01  00 00 00 00
      00 00 01 00  00 00 01 01
      00 00 01 20  00 00 00 03
      00 00 00 44  00 00 02 00`),
  );
  t.same(parts[1], Buffer.concat([hex('00 12'), sense]));
});

t.test('byte-exact: Login Response', async (t) => {
  const data = Buffer.from('HeaderDigest=None\0');
  const wire = encodeToBuffer(
    {
      opcode: Opcode.LoginResponse,
      immediate: false,
      itt: 0x00000001,
      data,
      transit: true,
      continue: false,
      csg: 1,
      nsg: 3,
      versionMax: 0,
      versionActive: 0,
      isid: hex('80 12 34 56 78 9a'),
      tsih: 0x0102,
      statSN: 0x11,
      expCmdSN: 0x22,
      maxCmdSN: 0x33,
      statusClass: 0,
      statusDetail: 0,
    },
    { headerDigest: false, dataDigest: false },
  );
  t.same(
    wire,
    Buffer.concat([
      hex(`
      23 87 00 00  00 00 00 12
      80 12 34 56  78 9a 01 02
      00 00 00 01  00 00 00 00
      00 00 00 11  00 00 00 22
      00 00 00 33  00 00 00 00
      00 00 00 00  00 00 00 00`),
      data,
      hex('00 00'),
    ]),
  );
  const fail = encodeToBuffer(
    {
      ...(decodePdu(wire.subarray(0, 48), undefined, data) as Pdu),
      data: Buffer.alloc(0),
      statusClass: 2,
      statusDetail: 1,
    } as Pdu,
    { headerDigest: false, dataDigest: false },
  );
  t.same(fail.subarray(36, 38), hex('02 01'), 'status class and detail at bytes 36-37');
});

t.test('byte-exact: R2T', async (t) => {
  const wire = encodeToBuffer(
    {
      opcode: Opcode.R2T,
      immediate: false,
      itt: 0x10,
      data: Buffer.alloc(0),
      lun: numberToLun(2),
      ttt: 0x20,
      statSN: 0x30,
      expCmdSN: 0x40,
      maxCmdSN: 0x50,
      r2tSN: 1,
      bufferOffset: 0x10000,
      desiredDataTransferLength: 0x40000,
    },
    { headerDigest: false, dataDigest: true },
  );
  t.same(
    wire,
    hex(`
      31 80 00 00  00 00 00 00
      00 02 00 00  00 00 00 00
      00 00 00 10  00 00 00 20
      00 00 00 30  00 00 00 40
      00 00 00 50  00 00 00 01
      00 01 00 00  00 04 00 00`),
  );
});

t.test('byte-exact: Login Request, Logout Request, TMF, SNACK, Reject', async (t) => {
  const login = encodeToBuffer(
    {
      opcode: Opcode.LoginRequest,
      immediate: false,
      itt: 0,
      data: Buffer.alloc(0),
      transit: true,
      continue: false,
      csg: 0,
      nsg: 1,
      versionMax: 0,
      versionMin: 0,
      isid: hex('00 02 3d 00 00 01'),
      tsih: 0,
      cid: 1,
      cmdSN: 1,
      expStatSN: 0,
    },
    ALL_OPTS[0],
  );
  t.same(
    login,
    hex(`
      43 81 00 00  00 00 00 00
      00 02 3d 00  00 01 00 00
      00 00 00 00  00 01 00 00
      00 00 00 01  00 00 00 00
      00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00`),
  );
  const logout = encodeToBuffer(
    {
      opcode: Opcode.LogoutRequest,
      immediate: true,
      itt: 5,
      data: Buffer.alloc(0),
      reasonCode: 1,
      cid: 2,
      cmdSN: 3,
      expStatSN: 4,
    },
    ALL_OPTS[0],
  );
  t.same(
    logout.subarray(0, 32),
    hex('46 81 00 00 00000000 0000000000000000 00000005 00020000 00000003 00000004'),
  );
  const tmf = encodeToBuffer(
    {
      opcode: Opcode.TaskMgmtRequest,
      immediate: true,
      itt: 6,
      data: Buffer.alloc(0),
      function: 1,
      lun: numberToLun(0),
      referencedTaskTag: 7,
      cmdSN: 8,
      expStatSN: 9,
      refCmdSN: 10,
      expDataSN: 11,
    },
    ALL_OPTS[0],
  );
  t.same(tmf.subarray(0, 2), hex('42 81'));
  t.same(tmf.subarray(16, 40), hex('00000006 00000007 00000008 00000009 0000000a 0000000b'));
  const snack = encodeToBuffer(
    {
      opcode: Opcode.SnackRequest,
      immediate: false,
      itt: 1,
      data: Buffer.alloc(0),
      type: 1,
      lun: 0n,
      ttt: 0xffffffff,
      expStatSN: 2,
      begRun: 3,
      runLength: 4,
    },
    ALL_OPTS[0],
  );
  t.same(snack.subarray(0, 2), hex('10 81'));
  t.same(snack.subarray(40, 48), hex('00000003 00000004'));
  const rejected = Buffer.alloc(48, 0xee);
  const reject = encodePdu(
    {
      opcode: Opcode.Reject,
      immediate: false,
      itt: 0xffffffff,
      data: rejected,
      reason: 0x04,
      statSN: 1,
      expCmdSN: 2,
      maxCmdSN: 3,
      dataSN: 0,
    },
    ALL_OPTS[0],
  );
  t.same(
    reject[0],
    hex(
      '3f 80 04 00 00 00 00 30  0000000000000000  ffffffff 00000000 00000001 00000002 00000003 00000000 0000000000000000',
    ),
  );
  t.equal(reject[1], rejected);
});

t.test('padding and digests for every data length 0..9', async (t) => {
  for (let n = 0; n <= 9; n++) {
    const data = Buffer.alloc(n, 0x61 + n);
    for (const opts of ALL_OPTS) {
      const pdu: Pdu = {
        opcode: Opcode.NopIn,
        immediate: false,
        itt: 1,
        data,
        lun: 0n,
        ttt: 2,
        statSN: 3,
        expCmdSN: 4,
        maxCmdSN: 5,
      };
      const parts = encodePdu(pdu, opts);
      const pad = -n & 3;
      const tail = n === 0 ? 0 : pad + (opts.dataDigest ? 4 : 0);
      t.equal(parts[0].length, 48 + (opts.headerDigest ? 4 : 0));
      t.equal(parts.length, n === 0 ? 1 : tail === 0 ? 2 : 3, `parts for n=${n} ${JSON.stringify(opts)}`);
      if (n > 0) t.equal(parts[1], data, 'zero copy');
      if (tail > 0) t.equal(parts[2].length, tail);
      t.equal(encodedLength(parts), 48 + (opts.headerDigest ? 4 : 0) + n + tail);
      t.equal(parts[0].readUIntBE(5, 3), n, 'DataSegmentLength');
      splitWire(t, Buffer.concat(parts), opts);
    }
  }
});

t.test('encoding does not mutate shared padding', async (t) => {
  const a = encodePdu(
    {
      opcode: Opcode.NopIn,
      immediate: false,
      itt: 1,
      data: Buffer.from('x'),
      lun: 0n,
      ttt: 2,
      statSN: 3,
      expCmdSN: 4,
      maxCmdSN: 5,
    },
    ALL_OPTS[0],
  );
  t.same(a[2], Buffer.alloc(3));
});

function scsiCommand(cdb: Buffer, extra: Partial<ScsiCommand> = {}): ScsiCommand {
  return {
    opcode: Opcode.ScsiCommand,
    immediate: false,
    itt: 0x1234,
    data: Buffer.alloc(0),
    final: true,
    read: true,
    write: false,
    attr: 1,
    lun: 0n,
    expectedDataTransferLength: 512,
    cmdSN: 1,
    expStatSN: 1,
    cdb,
    ...extra,
  };
}

t.test('Extended CDB AHS', async (t) => {
  const cdb32 = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) cdb32[i] = 0x7f + i;
  for (const opts of ALL_OPTS) {
    const wire = encodeToBuffer(scsiCommand(cdb32), opts);
    t.equal(wire[4], 5, 'TotalAHSLength: 4-byte AHS header + 16 CDB bytes = 5 words');
    t.same(wire.subarray(32, 48), cdb32.subarray(0, 16), 'first 16 CDB bytes in the BHS');
    t.same(wire.subarray(48, 52), hex('00 11 01 00'), 'AHSLength = CDBLength - 15 = 17, type 1');
    t.same(wire.subarray(52, 68), cdb32.subarray(16));
    const { bhs, ahs, data } = splitWire(t, wire, opts);
    const decoded = decodePdu(bhs, ahs, data) as ScsiCommand;
    t.same(decoded.cdb, cdb32);
    t.same(decoded.ahs, wire.subarray(48, 68));
    t.equal(decoded.bidiReadLength, undefined);
    // Re-encoding the decoded PDU (which now carries the raw AHS) gives the same bytes.
    t.same(encodeToBuffer(decoded, opts), wire);
  }
  // A 20-byte CDB: 4 extension bytes, AHSLength 5, AHS padded to 8 bytes.
  const cdb20 = Buffer.from([...Array(20).keys()].map((i) => i + 1));
  const wire20 = encodeToBuffer(scsiCommand(cdb20, { bidiReadLength: 0x00abcdef }), ALL_OPTS[0]);
  t.equal(wire20[4], 4, 'two 8-byte AHS = 4 words');
  t.same(wire20.subarray(48, 64), hex('00 05 01 00  11 12 13 14  00 05 02 00  00 ab cd ef'));
  const d20 = decodePdu(wire20.subarray(0, 48), wire20.subarray(48, 64), Buffer.alloc(0)) as ScsiCommand;
  t.same(d20.cdb, cdb20);
  t.equal(d20.bidiReadLength, 0x00abcdef);
  // A 17-byte CDB: AHSLength 2, padded to one word.
  const cdb17 = Buffer.alloc(17, 0x33);
  const wire17 = encodeToBuffer(scsiCommand(cdb17), ALL_OPTS[0]);
  t.equal(wire17[4], 2);
  t.same(wire17.subarray(48, 56), hex('00 02 01 00 33 00 00 00'));
  t.same(
    (decodePdu(wire17.subarray(0, 48), wire17.subarray(48, 56), Buffer.alloc(0)) as ScsiCommand).cdb,
    cdb17,
  );
  // A short CDB is zero-padded to 16 bytes, no AHS.
  const wire6 = encodeToBuffer(scsiCommand(hex('12 00 00 00 24 00')), ALL_OPTS[0]);
  t.equal(wire6.length, 48);
  t.same(wire6.subarray(32, 48), hex('12 00 00 00 24 00 00 00 00 00 00 00 00 00 00 00'));
  // Bidi read length alone.
  const bidi = encodeToBuffer(scsiCommand(Buffer.alloc(16), { bidiReadLength: 4096 }), ALL_OPTS[3]);
  const split = splitWire(t, bidi, ALL_OPTS[3]);
  const db = decodePdu(split.bhs, split.ahs, split.data) as ScsiCommand;
  t.equal(db.bidiReadLength, 4096);
  t.equal(db.cdb.length, 16);
});

t.test('caller-supplied AHS is sent verbatim, padded to words', async (t) => {
  const pdu: Pdu = {
    opcode: Opcode.NopOut,
    immediate: false,
    itt: 1,
    data: Buffer.alloc(0),
    ahs: hex('00 02 3f 00 aa'),
    lun: 0n,
    ttt: 0xffffffff,
    cmdSN: 1,
    expStatSN: 1,
  };
  const wire = encodeToBuffer(pdu, { headerDigest: true, dataDigest: false });
  t.equal(wire[4], 2);
  t.same(wire.subarray(48, 56), hex('00 02 3f 00 aa 00 00 00'));
  t.same(wire.subarray(56), digestBytes(wire.subarray(0, 56)), 'header digest covers BHS + AHS');
  t.same(decodePdu(wire.subarray(0, 48), wire.subarray(48, 56), Buffer.alloc(0)).ahs, wire.subarray(48, 56));
  t.throws(() => encodePdu({ ...pdu, ahs: Buffer.alloc(1021) }, ALL_OPTS[0]), RangeError);
});

t.test('malformed AHS is rejected with Invalid PDU Field', async (t) => {
  const bhs = encodeToBuffer(scsiCommand(Buffer.alloc(16)), ALL_OPTS[0]);
  const bad: [string, Buffer][] = [
    ['AHS runs past the area', hex('00 09 01 00 00 00 00 00')],
    ['second AHS runs past the area', hex('00 05 02 00 00 00 10 00  00 20 01 00 01 02 03 04')],
    ['Extended CDB too short', hex('00 01 01 00')],
    ['bidi AHS of wrong length', hex('00 04 02 00 00 00 10 00')],
    ['unknown AHS type', hex('00 01 05 00')],
    ['AHS area not in words', hex('00 01 01 00 00')],
    ['duplicate bidi AHS', hex('00 05 02 00 00 00 10 00  00 05 02 00 00 00 10 00')],
    ['duplicate Extended CDB', hex('00 02 01 00 01 00 00 00  00 02 01 00 02 00 00 00')],
  ];
  for (const [name, ahs] of bad) {
    t.throws(() => decodePdu(bhs, ahs, Buffer.alloc(0)), { name: 'PduDecodeError', reason: 0x09 }, name);
  }
  t.ok(decodePdu(bhs, Buffer.alloc(0), Buffer.alloc(0)), 'an empty AHS area is no AHS');
});

t.test('unknown opcodes and short headers', async (t) => {
  const known = new Set([
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26,
  ]);
  for (const op of [0x31, 0x32, 0x3f]) known.add(op);
  let rejected = 0;
  for (let op = 0; op < 64; op++) {
    const bhs = Buffer.alloc(48);
    bhs[0] = op | 0x40;
    if (known.has(op)) {
      t.equal(decodePdu(bhs, undefined, Buffer.alloc(0)).opcode, op);
    } else {
      try {
        decodePdu(bhs, undefined, Buffer.alloc(0));
        t.fail(`opcode 0x${op.toString(16)} decoded`);
      } catch (err) {
        t.ok(err instanceof PduDecodeError);
        t.equal((err as PduDecodeError).reason, 0x05);
        rejected++;
      }
    }
  }
  t.equal(rejected, 64 - 18);
  t.throws(() => decodePdu(Buffer.alloc(47), undefined, Buffer.alloc(0)), PduDecodeError);
});

t.test('decoding is zero-copy for data, ISID and 16-byte CDB', async (t) => {
  const bhs = encodeToBuffer(scsiCommand(hex('28 00 00 00 00 00 00 00 01 00')), ALL_OPTS[0]);
  const data = Buffer.from('payload');
  const d = decodePdu(bhs, undefined, data) as ScsiCommand;
  t.equal(d.data, data);
  t.equal(d.cdb.buffer, bhs.buffer);
  t.equal(d.cdb.byteOffset, bhs.byteOffset + 32);
});

t.test('encode rejects oversize data segments', async (t) => {
  const pdu: Pdu = {
    opcode: Opcode.DataIn,
    immediate: false,
    itt: 1,
    data: Buffer.allocUnsafe(0x1000000),
    final: true,
    ack: false,
    overflow: false,
    underflow: false,
    hasStatus: false,
    status: 0,
    lun: 0n,
    ttt: 0,
    statSN: 0,
    expCmdSN: 0,
    maxCmdSN: 0,
    dataSN: 0,
    bufferOffset: 0,
    residualCount: 0,
  };
  t.throws(() => encodePdu(pdu, ALL_OPTS[0]), RangeError);
  const max = encodePdu({ ...pdu, data: pdu.data.subarray(1) }, ALL_OPTS[0]);
  t.same(max[0].subarray(5, 8), hex('ff ff ff'));
});

t.test('senseSegment', async (t) => {
  t.same(senseSegment(hex('70 00 05')), hex('00 03 70 00 05'));
  t.same(senseSegment(Buffer.alloc(0)), hex('00 00'));
  const big = Buffer.alloc(260, 1);
  t.same(senseSegment(big).subarray(0, 2), hex('01 04'));
});

t.test('LUN encoding (SAM-5)', async (t) => {
  t.equal(numberToLun(0), 0n);
  t.equal(numberToLun(1), 0x0001_0000_0000_0000n);
  t.equal(numberToLun(255), 0x00ff_0000_0000_0000n);
  t.equal(numberToLun(256), 0x4100_0000_0000_0000n, 'flat space addressing');
  t.equal(numberToLun(16383), 0x7fff_0000_0000_0000n);
  for (const bad of [-1, 16384, 1.5, NaN]) t.throws(() => numberToLun(bad), RangeError, `${bad}`);
  for (let n = 0; n < 16384; n++) {
    if (lunToNumber(numberToLun(n)) !== n) {
      t.fail(`LU ${n} does not round-trip`);
      return;
    }
  }
  t.equal(lunToNumber(0x4005_0000_0000_0000n), 5, 'flat space below 256');
  t.equal(lunToNumber(0x0100_0000_0000_0000n), -1, 'peripheral device with nonzero bus');
  t.equal(lunToNumber(0x0001_0001_0000_0000n), -1, 'second-level LUN');
  t.equal(lunToNumber(0x8001_0000_0000_0000n), -1, 'logical unit addressing');
  t.equal(lunToNumber(0xc000_0000_0000_0000n), -1, 'extended addressing');
  t.equal(lunToNumber(0x0000_0000_0000_0001n), -1);
  t.equal(lunToNumber(-1n), -1);
  t.equal(lunToNumber(1n << 64n), -1);
  // The encoder writes any bigint LUN as 8 raw bytes.
  const wire = encodeToBuffer(
    {
      opcode: Opcode.NopOut,
      immediate: false,
      itt: 0,
      data: Buffer.alloc(0),
      lun: numberToLun(300),
      ttt: 0,
      cmdSN: 0,
      expStatSN: 0,
    },
    ALL_OPTS[0],
  );
  t.same(wire.subarray(8, 16), hex('41 2c 00 00 00 00 00 00'));
});
