// RESERVE(10)/RELEASE(10), SEND DIAGNOSTIC / RECEIVE DIAGNOSTIC RESULTS and FORMAT UNIT at the engine level.
import t from 'tap';
import type { BackingStore } from '../../src/backing/backing-store';
import { MemStore } from '../../src/backing/mem';
import { parseSense } from '../../src/scsi/sense';
import { BLOCKS, BS, fieldPointer, hex, ILLEGAL_CDB, makeDisk, sense, task } from './disk-harness';

const read10 = (lba: number, n: number): Buffer => {
  const c = Buffer.from([0x28, 0, 0, 0, 0, 0, 0, 0, n, 0]);
  c.writeUInt32BE(lba, 2);
  return c;
};
const write10 = (lba: number, n: number): Buffer => {
  const c = read10(lba, n);
  c[0] = 0x2a;
  return c;
};
const diag = (b1: number, plen = 0): Buffer => Buffer.from([0x1d, b1, 0, plen >> 8, plen & 0xff, 0]);

t.test('RESERVE(10)/RELEASE(10) share the RESERVE(6) reservation', async (t) => {
  const d = await makeDisk();
  t.equal((await d.execute(task(hex('56 00 00 00 00 00 00 0000 00'), { id: 1 }))).status, 0);
  t.equal((await d.execute(task(read10(0, 1), { id: 2 }))).status, 0x18, 'others conflict');
  t.equal((await d.execute(task(hex('16'), { id: 2 }))).status, 0x18, 'RESERVE(6) by another conflicts');
  t.equal((await d.execute(task(hex('57 00 00 00 00 00 00 0000 00'), { id: 2 }))).status, 0, 'non-holder');
  t.equal((await d.execute(task(read10(0, 1), { id: 2 }))).status, 0x18, '...releases nothing');
  t.equal((await d.execute(task(hex('17'), { id: 1 }))).status, 0, 'RELEASE(6) by the holder');
  t.equal((await d.execute(task(read10(0, 1), { id: 2 }))).status, 0);
  await d.execute(task(hex('16'), { id: 2 }));
  t.equal((await d.execute(task(hex('57 00 00 00 00 00 00 0000 00'), { id: 2 }))).status, 0);
  t.equal((await d.execute(task(read10(0, 1), { id: 1 }))).status, 0, 'RELEASE(10) frees a RESERVE(6)');
  const cases: Array<[string, string, [number, number | undefined]]> = [
    ['3RDPTY', '56 10 00 05 00 00 00 0000 00', [1, 4]],
    ['LONGID', '56 02 00 00 00 00 00 0008 00', [1, 1]],
    ['extent', '56 01 00 00 00 00 00 0000 00', [1, 0]],
    ['reserved bit', '56 80 00 00 00 00 00 0000 00', [1, 7]],
    // Without third-party reservations the device treats these fields as reserved (CDB usage data 0), so
    // the generic CDB check answers, pointing at the first bit that is set.
    ['third party id without 3RDPTY', '56 00 00 07 00 00 00 0000 00', [3, 2]],
    ['parameter list', '57 00 00 00 00 00 00 0008 00', [8, 3]],
    ['NACA', '57 00 00 00 00 00 00 0000 04', [9, 2]],
  ];
  for (const [name, cdb, [byte, bit]] of cases) {
    const r = await d.execute(task(hex(cdb), { id: 1 }));
    t.same(sense(r), ILLEGAL_CDB, name);
    t.same(fieldPointer(r), [byte, bit, true], `${name}: field pointer`);
  }
  // A rejected CDB claims no data-out: the transport reports the whole EDTL as residual.
  t.equal((await d.execute(task(hex('57 00 00 00 00 00 00 0008 00'), { id: 1 }))).dataOutLength, undefined);
});

/** A mem store whose reads of `badLba` fail. */
function failingAt(badLba: number): BackingStore {
  const m = new MemStore(BLOCKS * BS, false);
  const read = m.read.bind(m);
  m.read = (o: number, l: number) =>
    o <= badLba * BS && badLba * BS < o + l ? Promise.reject(new Error('EIO')) : read(o, l);
  return m;
}

t.test('SEND DIAGNOSTIC self-tests read the store', async (t) => {
  const d = await makeDisk();
  t.equal((await d.execute(task(diag(0x04)))).status, 0, 'SELFTEST=1 default self-test');
  t.equal((await d.execute(task(diag(0x04 | 0x10)))).status, 0, 'PF with SELFTEST=1');
  t.equal((await d.execute(task(diag(0xa0)))).status, 0, 'foreground short');
  t.equal((await d.execute(task(diag(0xc0)))).status, 0, 'foreground extended');
  const bad = await makeDisk({}, failingAt(BLOCKS - 1));
  t.same(sense(await bad.execute(task(diag(0x04)))), [4, 0x3e, 0x03], 'LOGICAL UNIT FAILED SELF-TEST');
  const mid = await makeDisk({}, failingAt(Math.floor((BLOCKS * 31) / 63)));
  t.equal((await mid.execute(task(diag(0xa0)))).status, 0, 'short test reads first and last only');
  t.same(sense(await mid.execute(task(diag(0xc0)))), [4, 0x3e, 0x03], 'extended test reads more');

  // Background tests: reads held at a gate so the test is still running when the next commands arrive.
  const held = new MemStore(BLOCKS * BS, false);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const heldRead = held.read.bind(held);
  held.read = async (o: number, l: number) => {
    await gate;
    return heldRead(o, l);
  };
  const bg = await makeDisk({}, held);
  t.equal((await bg.execute(task(diag(0x40)))).status, 0, 'background extended starts, GOOD at once');
  t.same(fieldPointer(await bg.execute(task(diag(0x20)))), [1, 7, true], 'one background test at a time');
  const abort = bg.execute(task(diag(0x80)));
  release();
  t.equal((await abort).status, 0, 'abort waits for the test to stop');
  t.same(fieldPointer(await bg.execute(task(diag(0x80)))), [1, 7, true], 'nothing left to abort');
  t.equal((await bg.execute(task(diag(0x20)))).status, 0, 'background short');

  const cases: Array<[string, Buffer, [number, number | undefined]]> = [
    ['SELFTEST with a code', diag(0x24), [1, 7]],
    ['code with PF', diag(0x30), [1, 4]],
    ['self-test with a parameter list', diag(0x04, 4), [3, 7]],
    ['reserved code 011b', diag(0x60), [1, 7]],
    ['reserved bit 3', diag(0x08), [1, 3]],
    ['PF=0 with a parameter list', diag(0x00, 4), [1, 4]],
  ];
  for (const [name, cdb, [byte, bit]] of cases)
    t.same(fieldPointer(await d.execute(task(cdb))), [byte, bit, true], name);
  t.equal((await d.execute(task(diag(0x00)))).status, 0, 'nothing asked, nothing done');
  const page0 = hex('00 00 0000');
  t.equal((await d.execute(task(diag(0x10, 4), { dataOut: page0 }))).status, 0, 'supported pages page');
  const other = hex('80 00 0000');
  t.same(fieldPointer(await d.execute(task(diag(0x10, 4), { dataOut: other }))), [0, undefined, false]);
  t.same(sense(await d.execute(task(diag(0x10, 8), { dataOut: page0 }))), [5, 0x1a, 0], 'short list');
  t.equal((await d.execute(task(diag(0x10, 4), { dataOut: page0 }))).dataOutLength, 4);
});

t.test('RECEIVE DIAGNOSTIC RESULTS lists the supported diagnostic pages', async (t) => {
  const d = await makeDisk();
  t.same((await d.execute(task(hex('1c 01 00 00 ff 00')))).dataIn, hex('00 00 0001 00'));
  t.same((await d.execute(task(hex('1c 00 00 00 ff 00')))).dataIn, hex('00 00 0001 00'), 'PCV=0');
  t.same((await d.execute(task(hex('1c 01 00 00 03 00')))).dataIn, hex('00 00 00'), 'truncated');
  t.same(fieldPointer(await d.execute(task(hex('1c 01 80 00 ff 00')))), [2, 7, true], 'unknown page');
  t.same(fieldPointer(await d.execute(task(hex('1c 02 00 00 ff 00')))), [1, 1, true], 'reserved');
});

t.test('FORMAT UNIT', async (t) => {
  const store = new MemStore(BLOCKS * BS, false);
  const d = await makeDisk({}, store);
  await d.execute(task(write10(5, 2), { dataOut: Buffer.alloc(2 * BS, 0x5a) }));
  t.ok(store.allocatedExtents() > 0);
  t.equal((await d.execute(task(hex('04 00 00 00 00 00')))).status, 0, 'FMTDATA=0');
  t.same(
    (await d.execute(task(read10(5, 2)))).dataIn,
    Buffer.alloc(2 * BS),
    'thin LU: unmapped, reads zeros',
  );
  t.equal(store.allocatedExtents(), 0, 'space freed');
  t.equal((await d.execute(task(hex('00'), { id: 2 }))).status, 0, 'capacity unchanged: no unit attention');

  const full = await makeDisk({ thinProvisioning: false });
  await full.execute(task(write10(5, 1), { dataOut: Buffer.alloc(BS, 0x5a) }));
  const header = hex('00 02 0000'); // IMMED
  const r = await full.execute(task(hex('04 10 00 00 00 00'), { dataOut: header }));
  t.equal(r.status, 0, 'FMTDATA=1 short header');
  t.equal(r.dataOutLength, 4);
  t.same((await full.execute(task(read10(5, 1)))).dataIn, Buffer.alloc(BS, 0x5a), 'full LU: data kept');
  const long = hex('00 00 00 00 00000000');
  t.equal((await full.execute(task(hex('04 30 00 00 00 00'), { dataOut: long }))).status, 0, 'long list');

  const params: Array<[string, Buffer, Buffer, [number, number | undefined]]> = [
    ['protection field usage', hex('04 10 00 00 00 00'), hex('01 00 0000'), [0, 2]],
    ['IP', hex('04 10 00 00 00 00'), hex('00 88 0000'), [1, 3]],
    ['DPRY without FOV', hex('04 10 00 00 00 00'), hex('00 40 0000'), [1, 6]],
    ['defect list', hex('04 10 00 00 00 00'), hex('00 00 0008 0000000000000000'), [2, undefined]],
    ['P_I_INFORMATION', hex('04 30 00 00 00 00'), hex('00 00 00 10 00000000'), [3, 7]],
  ];
  for (const [name, cdb, list, [byte, bit]] of params) {
    const e = await full.execute(task(cdb, { dataOut: list }));
    t.same(sense(e), [5, 0x26, 0], name);
    t.same(fieldPointer(e), [byte, bit, false], `${name}: field pointer`);
  }
  // FMTPINFO and the obsolete bytes are 0 in the CDB usage data: the generic check points at the set bit.
  t.same(fieldPointer(await full.execute(task(hex('04 40 00 00 00 00')))), [1, 6, true], 'FMTPINFO');
  t.same(fieldPointer(await full.execute(task(hex('04 08 00 00 00 00')))), [1, 3, true], 'CMPLST w/o data');
  t.same(fieldPointer(await full.execute(task(hex('04 00 00 00 01 00')))), [4, 0, true], 'obsolete bytes');
  t.same(sense(await full.execute(task(hex('04 10 00 00 00 00'), { dataOut: hex('00') }))), [5, 0x1a, 0]);
  const ro = await makeDisk({ readonly: true });
  t.same(sense(await ro.execute(task(hex('04 00 00 00 00 00')))), [7, 0x27, 0], 'read-only: DATA PROTECT');
});

t.test(
  'while FORMAT UNIT runs: NOT READY, FORMAT IN PROGRESS with progress; INQUIRY still answered',
  async (t) => {
    const store = new MemStore(BLOCKS * BS, false);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const unmap = store.unmap.bind(store);
    store.unmap = async (o: number, l: number) => {
      await gate;
      return unmap(o, l);
    };
    const d = await makeDisk({}, store);
    const fmt = d.execute(task(hex('04 00 00 00 00 00')));
    await new Promise((r) => setImmediate(r));
    const tur = await d.execute(task(hex('00'), { id: 2 }));
    t.same(sense(tur), [2, 0x04, 0x04]);
    t.equal(tur.sense![15], 0x80, 'progress indication (SKSV, no field pointer)');
    const rs = await d.execute(task(hex('03 00 00 00 12 00'), { id: 2 }));
    t.same(parseSense(rs.dataIn!), { key: 2, asc: 0x04, ascq: 0x04 }, 'REQUEST SENSE reports it');
    t.equal((await d.execute(task(hex('12 00 00 00 24 00'), { id: 2 }))).status, 0, 'INQUIRY');
    release();
    t.equal((await fmt).status, 0);
    t.equal((await d.execute(task(hex('00'), { id: 2 }))).status, 0, 'ready again');
  },
);
