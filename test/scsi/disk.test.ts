import t from 'tap';
import { BackingStoreError, type BackingStore } from '../../src/backing/backing-store';
import { memStoreType } from '../../src/backing/mem';
import { nullStoreType } from '../../src/backing/null';
import { createDisk, MAX_TRANSFER_BYTES, type Disk } from '../../src/scsi/disk';
import type { DiskParams } from '../../src/scsi/device-params';
import { CAPACITY_DATA_HAS_CHANGED, parseSense, REPORTED_LUNS_DATA_HAS_CHANGED } from '../../src/scsi/sense';
import { TaskAttr, type ItNexus, type ScsiResult, type ScsiTask } from '../../src/scsi/scsi-types';

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');
const BS = 512;
const BLOCKS = 2048;

const nexus = (id: number): ItNexus => ({
  id,
  initiatorPortName: `iqn.init${id},i,0x01`,
  initiatorName: `iqn.init${id}`,
  targetPortName: 'iqn.2024-01.test:tgt,t,0x0001',
  relativeTargetPortId: 1,
  targetPortGroup: 1,
});

function task(cdb: Buffer, opts: { id?: number; dataOut?: Buffer } = {}): ScsiTask {
  const full = Buffer.alloc(16);
  cdb.copy(full);
  return {
    nexus: nexus(opts.id ?? 1),
    lun: 1,
    cdb: full,
    attr: TaskAttr.Simple,
    tag: 1,
    expectedDataTransferLength: opts.dataOut?.length ?? 0,
    readExpected: !opts.dataOut,
    writeExpected: !!opts.dataOut,
    dataOut: opts.dataOut,
    aborted: false,
  };
}

async function makeDisk(over: Partial<DiskParams> = {}, store?: BackingStore): Promise<Disk> {
  const s =
    store ??
    (await memStoreType.open({
      path: '',
      oflags: [],
      opts: '',
      blockSize: BS,
      size: BLOCKS * BS,
      readonly: false,
    }));
  return createDisk({
    tid: 1,
    lun: 1,
    store: s,
    blockSize: BS,
    scsiId: 'IET     00010001',
    scsiSn: 'beaf11',
    vendorId: 'IET',
    productId: 'VIRTUAL-DISK',
    productRev: '0001',
    naa: hex('5000000000000001'),
    readonly: false,
    removable: false,
    thinProvisioning: false,
    online: true,
    senseFormat: 'fixed',
    rotationRate: 1,
    ...over,
  });
}

/** A disk whose nexuses 1 and 2 have already consumed their power-on unit attention. */
async function readyDisk(over: Partial<DiskParams> = {}, store?: BackingStore): Promise<Disk> {
  const d = await makeDisk(over, store);
  await d.execute(task(hex('00'), { id: 1 }));
  await d.execute(task(hex('00'), { id: 2 }));
  return d;
}

const sense = (r: ScsiResult) => parseSense(r.sense!);
const ILLEGAL_FIELD = { key: 5, asc: 0x24, ascq: 0 };
const OOB = { key: 5, asc: 0x21, ascq: 0 };

function rw(op: number, lba: number, blocks: number, flags = 0): Buffer {
  switch (op) {
    case 0x08:
    case 0x0a:
      return Buffer.from([op, (lba >> 16) & 0x1f, (lba >> 8) & 0xff, lba & 0xff, blocks & 0xff, 0]);
    case 0x28:
    case 0x2a:
    case 0x2f: {
      const b = Buffer.alloc(10);
      b[0] = op;
      b[1] = flags;
      b.writeUInt32BE(lba, 2);
      b.writeUInt16BE(blocks, 7);
      return b;
    }
    case 0xa8:
    case 0xaa:
    case 0xaf: {
      const b = Buffer.alloc(12);
      b[0] = op;
      b[1] = flags;
      b.writeUInt32BE(lba, 2);
      b.writeUInt32BE(blocks, 6);
      return b;
    }
    default: {
      const b = Buffer.alloc(16);
      b[0] = op;
      b[1] = flags;
      b.writeBigUInt64BE(BigInt(lba), 2);
      b.writeUInt32BE(blocks, 10);
      return b;
    }
  }
}

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

t.test('unit attention lifecycle', async (t) => {
  const d = await makeDisk();
  const inq = await d.execute(task(hex('12 00 00 00 24 00')));
  t.equal(inq.status, 0, 'INQUIRY is not blocked');
  t.same(sense(await d.execute(task(hex('00')))), { key: 6, asc: 0x29, ascq: 0 });
  t.equal((await d.execute(task(hex('00')))).status, 0);
  // nexus 2 collects it with REQUEST SENSE instead
  const rs = await d.execute(task(hex('03 00 00 00 12 00'), { id: 2 }));
  t.equal(rs.status, 0);
  t.same(parseSense(rs.dataIn!), { key: 6, asc: 0x29, ascq: 0 });
  t.same(parseSense((await d.execute(task(hex('03 00 00 00 12 00'), { id: 2 }))).dataIn!), {
    key: 0,
    asc: 0,
    ascq: 0,
  });
  d.raiseUnitAttention(REPORTED_LUNS_DATA_HAS_CHANGED, nexus(2));
  t.same(sense(await d.execute(task(rw(0x28, 0, 1)))), { key: 6, asc: 0x3f, ascq: 0x0e });
  t.equal((await d.execute(task(hex('00'), { id: 2 }))).status, 0, 'excepted nexus');
  d.reset(nexus(1));
  t.same(sense(await d.execute(task(hex('00'), { id: 1 }))), { key: 6, asc: 0x29, ascq: 0 });
  t.same(sense(await d.execute(task(hex('00'), { id: 2 }))), { key: 6, asc: 0x29, ascq: 0 });
  d.nexusGone(nexus(2));
  t.equal((await d.execute(task(hex('00'), { id: 2 }))).status, 2, 'a returning nexus id starts fresh');
  t.same(
    sense(await d.execute(task(hex('ff'), { id: 3 }))),
    { key: 6, asc: 0x29, ascq: 0 },
    'UA before invalid opcode',
  );
});

t.test('READ CAPACITY 10 and 16', async (t) => {
  const d = await readyDisk();
  const rc10 = await d.execute(task(hex('25 00 00000000 0000 00 00')));
  t.same(rc10.dataIn, hex('000007ff 00000200'));
  t.same(sense(await d.execute(task(hex('25 00 00000001 0000 00 00')))), ILLEGAL_FIELD, 'LBA without PMI');
  const rc16 = await d.execute(task(hex('9e 10 0000000000000000 00000020 00 00')));
  t.same(rc16.dataIn, hex('00000000000007ff 00000200 00 00 0000 0000000000000000 0000000000000000'));
  t.same(
    (await d.execute(task(hex('9e 10 0000000000000000 0000000c 00 00')))).dataIn,
    hex('00000000000007ff 00000200'),
  );
  t.same(
    sense(await d.execute(task(hex('9e 11 0000000000000000 00000020 00 00')))),
    ILLEGAL_FIELD,
    'unknown SA',
  );

  const thin = await readyDisk({ thinProvisioning: true });
  t.equal(
    (await thin.execute(task(hex('9e 10 0000000000000000 00000020 00 00')))).dataIn![14],
    0xc0,
    'LBPME LBPRZ',
  );

  const huge = await nullStoreType.open({
    path: '',
    oflags: [],
    opts: '',
    blockSize: 4096,
    size: 2 ** 45,
    readonly: false,
  });
  const big = createDisk(bigParams(huge));
  await big.execute(task(hex('00')));
  t.same((await big.execute(task(hex('25 00 00000000 0000 00 00')))).dataIn, hex('ffffffff 00001000'));
  t.same(
    (await big.execute(task(hex('9e 10 0000000000000000 00000020 00 00')))).dataIn!.subarray(0, 14),
    hex('00000001ffffffff 00001000 00 00'),
  );
});

function bigParams(store: BackingStore): DiskParams {
  return {
    tid: 1,
    lun: 2,
    store,
    blockSize: 4096,
    scsiId: 'x',
    scsiSn: 'y',
    vendorId: 'IET',
    productId: 'VIRTUAL-DISK',
    productRev: '0001',
    naa: hex('5000000000000002'),
    readonly: false,
    removable: false,
    thinProvisioning: false,
    online: true,
    senseFormat: 'fixed',
    rotationRate: 1,
  };
}

t.test('READ/WRITE round trips through every CDB size', async (t) => {
  const d = await readyDisk();
  const pairs = [
    [0x0a, 0x08],
    [0x2a, 0x28],
    [0xaa, 0xa8],
    [0x8a, 0x88],
  ];
  let seed = 1;
  for (const [w, r] of pairs) {
    const lba = 100 * seed;
    const data = pattern(3 * BS, seed++);
    const wr = await d.execute(task(rw(w, lba, 3), { dataOut: data }));
    t.equal(wr.status, 0);
    t.equal(wr.dataOutLength, 3 * BS);
    const rd = await d.execute(task(rw(r, lba, 3)));
    t.same(rd.dataIn, data, `op ${w.toString(16)}/${r.toString(16)}`);
  }
  const fua = await d.execute(task(rw(0x2a, 7, 1, 0x18), { dataOut: pattern(BS, 9) }));
  t.equal(fua.status, 0, 'DPO+FUA accepted');
  const six = await d.execute(task(rw(0x08, 0, 0)));
  t.equal(six.dataIn!.length, 256 * BS, 'READ(6) length 0 reads 256 blocks');
  t.same((await d.execute(task(rw(0x28, 5, 0)))).dataIn, undefined, '0 blocks: no data');
});

t.test('range and field checks', async (t) => {
  const d = await readyDisk();
  for (const op of [0x28, 0xa8, 0x88]) {
    t.same(sense(await d.execute(task(rw(op, BLOCKS - 1, 2)))), OOB);
    t.equal((await d.execute(task(rw(op, BLOCKS, 0)))).status, 0, 'LBA == capacity with 0 blocks');
    t.same(sense(await d.execute(task(rw(op, BLOCKS + 1, 0)))), OOB);
  }
  t.same(sense(await d.execute(task(rw(0x08, BLOCKS - 10, 0)))), OOB, 'READ(6) 256 blocks near the end');
  const r16 = rw(0x88, 0, 1);
  r16.writeBigUInt64BE(0xffffffffffffffffn, 2);
  t.same(sense(await d.execute(task(r16))), OOB, 'LBA -1');
  t.same(sense(await d.execute(task(rw(0x8a, BLOCKS, 1), { dataOut: Buffer.alloc(BS) }))), OOB);

  const big = await nullStoreType.open({
    path: '',
    oflags: [],
    opts: '',
    blockSize: BS,
    size: 2 ** 40,
    readonly: false,
  });
  const bd = await readyDisk({}, big);
  const tooLong = await bd.execute(task(rw(0x28, 0, MAX_TRANSFER_BYTES / BS + 1)));
  t.same(sense(tooLong), ILLEGAL_FIELD);
  t.same(tooLong.sense!.subarray(15, 18), hex('c0 0007'), 'field pointer at TRANSFER LENGTH');
  t.equal((await bd.execute(task(rw(0x28, 0, MAX_TRANSFER_BYTES / BS)))).status, 0);
  t.same(sense(await d.execute(task(rw(0x28, 0, 1, 0x20)))), ILLEGAL_FIELD, 'RDPROTECT');
  t.same(
    sense(await d.execute(task(rw(0x2a, 0, 1, 0x40), { dataOut: Buffer.alloc(BS) }))),
    ILLEGAL_FIELD,
    'WRPROTECT',
  );
  const naca = rw(0x28, 0, 1);
  naca[9] = 0x04;
  t.same(sense(await d.execute(task(naca))), ILLEGAL_FIELD, 'NACA');
  t.same(sense(await d.execute(task(hex('c0')))), { key: 5, asc: 0x20, ascq: 0 }, 'unknown opcode');
  t.same(
    sense(await d.execute(task(hex('a0 00 00 00 00 00 00 00 01 00 00 00')))),
    { key: 5, asc: 0x20, ascq: 0 },
    "REPORT LUNS is the target's",
  );
});

t.test('write residuals: only what both CDB and initiator provide is written', async (t) => {
  const d = await readyDisk();
  await d.execute(task(rw(0x2a, 0, 2), { dataOut: Buffer.alloc(2 * BS, 0x61) }));
  const short = await d.execute(task(rw(0x2a, 0, 1), { dataOut: Buffer.alloc(200, 0x62) }));
  t.equal(short.status, 0);
  t.equal(short.dataOutLength, BS);
  const after = (await d.execute(task(rw(0x28, 0, 2)))).dataIn!;
  t.same(after, Buffer.concat([Buffer.alloc(200, 0x62), Buffer.alloc(2 * BS - 200, 0x61)]));
  const long = await d.execute(task(rw(0x2a, 0, 1), { dataOut: Buffer.alloc(2 * BS, 0x63) }));
  t.equal(long.dataOutLength, BS);
  const after2 = (await d.execute(task(rw(0x28, 0, 2)))).dataIn!;
  t.same(after2, Buffer.concat([Buffer.alloc(BS, 0x63), Buffer.alloc(BS, 0x61)]), 'EDTL > TL writes TL');
  const none = await d.execute(task(rw(0x2a, 0, 1)));
  t.equal(none.status, 0);
  t.equal(none.dataOutLength, BS);
  t.same(
    (await d.execute(task(rw(0x28, 0, 1)))).dataIn,
    Buffer.alloc(BS, 0x63),
    'nothing written without data',
  );
});

t.test('readonly', async (t) => {
  const d = await readyDisk({ readonly: true });
  const w = await d.execute(task(rw(0x2a, 0, 1), { dataOut: Buffer.alloc(BS) }));
  t.same(sense(w), { key: 7, asc: 0x27, ascq: 0 });
  t.equal(w.dataOutLength, BS);
  t.equal((await d.execute(task(rw(0x28, 0, 1)))).status, 0);
  t.equal((await d.execute(task(hex('1a 08 3f 00 ff 00')))).dataIn![2] & 0x80, 0x80, 'WP');
  d.update({ readonly: false });
  t.same(sense(await d.execute(task(hex('00')))), { key: 6, asc: 0x2a, ascq: 0x01 });
  t.equal((await d.execute(task(rw(0x2a, 0, 1), { dataOut: Buffer.alloc(BS) }))).status, 0);
});

t.test('sense format: fixed, descriptor, switched by MODE SELECT and update()', async (t) => {
  const d = await readyDisk({ senseFormat: 'descriptor' });
  const oob = await d.execute(task(rw(0x28, BLOCKS, 1)));
  t.same(oob.sense, hex('72 05 21 00 00 00 00 00'));
  const control = hex('0a 0a 02 10 00 00 00 00 00 00 00 00');
  const list = Buffer.concat([hex('00 00 00 00'), control]);
  const sel = await d.execute(task(Buffer.from([0x15, 0x10, 0, 0, list.length, 0]), { dataOut: list }));
  t.equal(sel.status, 0);
  t.equal(sel.dataOutLength, list.length);
  t.equal(d.settings().senseFormat, 'fixed');
  t.same(
    (await d.execute(task(rw(0x28, BLOCKS, 1)))).sense,
    hex('70 00 05 00 00 00 00 0a 00 00 00 00 21 00 00 00 00 00'),
  );
  t.same(
    sense(await d.execute(task(hex('00'), { id: 2 }))),
    { key: 6, asc: 0x2a, ascq: 0x01 },
    'others told',
  );
  d.update({ senseFormat: 'descriptor' });
  t.equal(d.modeState().dsense, true);
  t.equal((await d.execute(task(rw(0x28, BLOCKS, 1)))).sense![0], 0x72 /* UA first, descriptor too */);
});

t.test('MODE SENSE and MODE SELECT of WCE', async (t) => {
  const volatile = await memStoreType.open({
    path: '',
    oflags: [],
    opts: '',
    blockSize: BS,
    size: BLOCKS * BS,
    readonly: false,
  });
  let writes = 0;
  let fuaWrites = 0;
  const store: BackingStore = {
    ...volatile,
    type: 'mem',
    capabilities: { ...volatile.capabilities, volatileCache: true },
    size: () => volatile.size(),
    read: (o, l) => volatile.read(o, l),
    write: (o, b, fua) => {
      writes++;
      if (fua) fuaWrites++;
      return volatile.write(o, b, fua);
    },
    flush: () => Promise.resolve(),
    unmap: (o, l) => volatile.unmap(o, l),
    writeZeroes: (o, l) => volatile.writeZeroes(o, l),
    refreshSize: () => volatile.refreshSize(),
    close: () => volatile.close(),
  };
  const d = await readyDisk({}, store);
  const caching = (await d.execute(task(hex('1a 08 08 00 ff 00')))).dataIn!;
  t.same(caching, Buffer.concat([hex('17 00 10 00'), hex('08 12 04 00'), Buffer.alloc(16)]));
  await d.execute(task(rw(0x2a, 0, 1), { dataOut: Buffer.alloc(BS) }));
  t.same([writes, fuaWrites], [1, 0], 'write-back');
  const list = Buffer.concat([hex('0000 00 00 00 00 0000'), hex('08 12 00 00'), Buffer.alloc(16)]);
  const cdb = Buffer.from([0x55, 0x10, 0, 0, 0, 0, 0, 0, list.length, 0]);
  t.equal((await d.execute(task(cdb, { dataOut: list }))).status, 0);
  t.equal(d.modeState().wce, false);
  await d.execute(task(rw(0x2a, 0, 1), { dataOut: Buffer.alloc(BS) }));
  t.same([writes, fuaWrites], [2, 1], 'write-through after WCE=0');
  t.equal((await d.execute(task(hex('5a 08 08 00 00 00 00 00 ff 00')))).dataIn![8 + 2], 0x00);
});

t.test('RESERVE(6) / RELEASE(6)', async (t) => {
  const d = await readyDisk();
  t.equal((await d.execute(task(hex('16'), { id: 1 }))).status, 0);
  t.equal((await d.execute(task(rw(0x28, 0, 1), { id: 1 }))).status, 0, 'holder reads');
  t.equal((await d.execute(task(rw(0x28, 0, 1), { id: 2 }))).status, 0x18, 'other nexus conflicts');
  t.equal((await d.execute(task(hex('00'), { id: 2 }))).status, 0x18);
  t.equal((await d.execute(task(hex('16'), { id: 2 }))).status, 0x18);
  t.equal((await d.execute(task(hex('12 00 00 00 24 00'), { id: 2 }))).status, 0, 'INQUIRY allowed');
  t.equal((await d.execute(task(hex('03 00 00 00 12 00'), { id: 2 }))).status, 0, 'REQUEST SENSE allowed');
  t.equal((await d.execute(task(hex('17'), { id: 2 }))).status, 0, 'RELEASE by non-holder: GOOD, no effect');
  t.equal((await d.execute(task(rw(0x28, 0, 1), { id: 2 }))).status, 0x18);
  t.equal((await d.execute(task(hex('17'), { id: 1 }))).status, 0);
  t.equal((await d.execute(task(rw(0x28, 0, 1), { id: 2 }))).status, 0);
  await d.execute(task(hex('16'), { id: 1 }));
  d.nexusGone(nexus(1));
  t.equal((await d.execute(task(rw(0x28, 0, 1), { id: 2 }))).status, 0, 'released when the holder leaves');
  await d.execute(task(hex('16'), { id: 2 }));
  d.reset(undefined);
  await d.execute(task(hex('00'), { id: 1 })); // consume reset UA
  t.equal((await d.execute(task(hex('00'), { id: 1 }))).status, 0, 'reset clears the reservation');
});

t.test('backing store errors become sense data', async (t) => {
  const mk = (kind: BackingStoreError['kind']): BackingStore => ({
    type: 'broken',
    capabilities: { unmap: false, compareAndWrite: false, lbaStatus: false, volatileCache: true },
    size: () => BLOCKS * BS,
    read: () => Promise.reject(new BackingStoreError('boom', kind)),
    write: () => Promise.reject(new BackingStoreError('boom', kind)),
    flush: () => Promise.reject(new Error('plain error')),
    unmap: () => Promise.reject(new BackingStoreError('boom', kind)),
    writeZeroes: () => Promise.reject(new BackingStoreError('boom', kind)),
    refreshSize: () => Promise.resolve(BLOCKS * BS),
    close: () => Promise.resolve(),
  });
  const io = await readyDisk({}, mk('io'));
  t.same(sense(await io.execute(task(rw(0x28, 0, 1)))), { key: 3, asc: 0x11, ascq: 0 });
  t.same(sense(await io.execute(task(rw(0x2a, 0, 1), { dataOut: Buffer.alloc(BS) }))), {
    key: 3,
    asc: 0x0c,
    ascq: 0,
  });
  t.same(sense(await io.execute(task(hex('35 00 00000000 00 0000 00')))), { key: 3, asc: 0x0c, ascq: 0 });
  const full = await readyDisk({}, mk('nospace'));
  t.same(sense(await full.execute(task(rw(0x2a, 0, 1), { dataOut: Buffer.alloc(BS) }))), {
    key: 7,
    asc: 0x27,
    ascq: 0x07,
  });
});

t.test('SYNCHRONIZE CACHE, VERIFY, START STOP, PREVENT ALLOW', async (t) => {
  const d = await readyDisk();
  t.equal((await d.execute(task(hex('35 02 00000000 00 0000 00')))).status, 0);
  t.equal((await d.execute(task(hex('91 00 0000000000000000 00000010 00 00')))).status, 0);
  t.same(sense(await d.execute(task(hex('35 00 00000800 00 0001 00')))), OOB);
  await d.execute(task(rw(0x2a, 10, 2), { dataOut: pattern(2 * BS, 4) }));
  t.equal((await d.execute(task(rw(0x2f, 10, 2)))).status, 0, 'BYTCHK=0');
  t.same(sense(await d.execute(task(rw(0x8f, BLOCKS, 1)))), OOB);
  const ok = await d.execute(task(rw(0x2f, 10, 2, 0x02), { dataOut: pattern(2 * BS, 4) }));
  t.equal(ok.status, 0);
  t.equal(ok.dataOutLength, 2 * BS);
  const wrong = pattern(2 * BS, 4);
  wrong[700] ^= 1;
  const mis = await d.execute(task(rw(0xaf, 10, 2, 0x02), { dataOut: wrong }));
  t.same(sense(mis), { key: 0xe, asc: 0x1d, ascq: 0, information: 700 });
  t.same(sense(await d.execute(task(rw(0x2f, 10, 1, 0x04)))), ILLEGAL_FIELD, 'BYTCHK=2');
  t.equal((await d.execute(task(hex('1b 00 00 00 01 00')))).status, 0);
  t.equal((await d.execute(task(hex('1e 00 00 00 01 00')))).status, 0);
});

function unmapList(ranges: Array<[number, number]>): Buffer {
  const b = Buffer.alloc(8 + 16 * ranges.length);
  b.writeUInt16BE(6 + 16 * ranges.length, 0);
  b.writeUInt16BE(16 * ranges.length, 2);
  ranges.forEach(([lba, n], i) => {
    b.writeBigUInt64BE(BigInt(lba), 8 + 16 * i);
    b.writeUInt32BE(n, 16 + 16 * i);
  });
  return b;
}
const unmapCdb = (len: number) => Buffer.from([0x42, 0, 0, 0, 0, 0, 0, len >> 8, len & 0xff, 0]);

t.test('UNMAP and WRITE SAME', async (t) => {
  const thick = await readyDisk();
  const list = unmapList([[0, 8]]);
  t.same(sense(await thick.execute(task(unmapCdb(list.length), { dataOut: list }))), {
    key: 5,
    asc: 0x20,
    ascq: 0,
  });

  const d = await readyDisk({ thinProvisioning: true });
  await d.execute(task(rw(0x2a, 0, 16), { dataOut: Buffer.alloc(16 * BS, 0xee) }));
  const two = unmapList([
    [0, 4],
    [8, 2],
  ]);
  const u = await d.execute(task(unmapCdb(two.length), { dataOut: two }));
  t.equal(u.status, 0);
  t.equal(u.dataOutLength, two.length);
  const data = (await d.execute(task(rw(0x28, 0, 16)))).dataIn!;
  const expected = Buffer.alloc(16 * BS, 0xee);
  expected.fill(0, 0, 4 * BS);
  expected.fill(0, 8 * BS, 10 * BS);
  t.same(data, expected);
  const oob = unmapList([[BLOCKS - 1, 2]]);
  t.same(sense(await d.execute(task(unmapCdb(oob.length), { dataOut: oob }))), OOB);
  t.same(sense(await d.execute(task(unmapCdb(4), { dataOut: Buffer.alloc(4) }))), {
    key: 5,
    asc: 0x1a,
    ascq: 0,
  });
  t.equal((await d.execute(task(unmapCdb(0)))).status, 0);
  const vpd = (await d.execute(task(hex('12 01 b2 00 ff 00')))).dataIn!;
  t.equal(vpd[5], 0xe4);

  // WRITE SAME(10) with a pattern, WRITE SAME(16) UNMAP with zeros
  const ws10 = Buffer.from([0x41, 0, 0, 0, 0, 20, 0, 0, 3, 0]);
  const block = pattern(BS, 5);
  const ws = await d.execute(task(ws10, { dataOut: block }));
  t.equal(ws.status, 0);
  t.equal(ws.dataOutLength, BS);
  t.same((await d.execute(task(rw(0x28, 20, 3)))).dataIn, Buffer.concat([block, block, block]));
  const ws16 = Buffer.alloc(16);
  ws16[0] = 0x93;
  ws16[1] = 0x08;
  ws16.writeUInt32BE(21, 6);
  ws16.writeUInt32BE(1, 10);
  t.equal((await d.execute(task(ws16, { dataOut: Buffer.alloc(BS) }))).status, 0);
  t.same((await d.execute(task(rw(0x28, 20, 3)))).dataIn, Buffer.concat([block, Buffer.alloc(BS), block]));
  t.same(
    sense(await d.execute(task(Buffer.from([0x41, 0, 0, 0, 0, 20, 0, 0, 0, 0]), { dataOut: block }))),
    ILLEGAL_FIELD,
    'WSNZ',
  );
  t.same(
    sense(await thick.execute(task(ws16, { dataOut: Buffer.alloc(BS) }))),
    ILLEGAL_FIELD,
    'UNMAP bit without thin',
  );
  t.same(
    sense(await d.execute(task(Buffer.from([0x41, 0, 0, 0, 0x07, 0xff, 0, 0, 2, 0]), { dataOut: block }))),
    OOB,
  );
});

t.test('offline LU, runtime updates, capacity change', async (t) => {
  const store = await memStoreType.open({
    path: '',
    oflags: [],
    opts: '',
    blockSize: BS,
    size: BLOCKS * BS,
    readonly: false,
  });
  const d = await readyDisk({ online: false }, store);
  const notReady = { key: 2, asc: 0x3a, ascq: 0 };
  t.same(sense(await d.execute(task(hex('00')))), notReady);
  t.same(sense(await d.execute(task(rw(0x28, 0, 1)))), notReady);
  t.equal((await d.execute(task(hex('12 00 00 00 24 00')))).status, 0);
  t.same(
    parseSense((await d.execute(task(hex('03 00 00 00 12 00')))).dataIn!),
    notReady,
    'REQUEST SENSE tells why',
  );
  d.update({ online: true });
  t.same(sense(await d.execute(task(hex('00')))), { key: 6, asc: 0x28, ascq: 0 });
  t.equal((await d.execute(task(hex('00')))).status, 0);
  d.update({ thinProvisioning: true });
  t.same(sense(await d.execute(task(hex('00')))), { key: 6, asc: 0x3f, ascq: 0x03 });
  t.equal((await d.execute(task(hex('12 01 b2 00 ff 00')))).dataIn![6], 0x02, 'inquiry data follows');
  t.equal(await d.refreshCapacity(), BLOCKS);
  t.equal((await d.execute(task(hex('00')))).status, 0, 'same size, no UA');
  d.raiseUnitAttention(CAPACITY_DATA_HAS_CHANGED);
  t.same(sense(await d.execute(task(hex('00')))), { key: 6, asc: 0x2a, ascq: 0x09 });
  t.equal(d.capacityBlocks(), BLOCKS);
});

t.test('short CDB buffers are zero-extended, not read out of bounds', async (t) => {
  const d = await readyDisk();
  const tk = task(hex('00'));
  tk.cdb = Buffer.from([0x88, 0, 0, 0, 0]);
  t.equal((await d.execute(tk)).status, 0, 'READ(16) of 0 blocks at LBA 0');
});
