// LOG SENSE / LOG SELECT through the disk, as the transport drives them.
import t from 'tap';
import { MemStore } from '../../src/backing/mem';
import { BLOCKS, BS, fieldPointer, hex, ILLEGAL_CDB, makeDisk, sense, task } from './disk-harness';

const logSense = (
  page: number,
  o: { sub?: number; pc?: number; ptr?: number; alloc?: number; b1?: number } = {},
) => {
  const c = Buffer.alloc(10);
  c[0] = 0x4d;
  c[1] = o.b1 ?? 0;
  c[2] = ((o.pc ?? 1) << 6) | page;
  c[3] = o.sub ?? 0;
  c.writeUInt16BE(o.ptr ?? 0, 5);
  c.writeUInt16BE(o.alloc ?? 1024, 7);
  return c;
};
const logSelect = (o: { b1?: number; page?: number; sub?: number; plen?: number } = {}) => {
  const c = Buffer.alloc(10);
  c[0] = 0x4c;
  c[1] = o.b1 ?? 0;
  c[2] = 0x40 | (o.page ?? 0);
  c[3] = o.sub ?? 0;
  c.writeUInt16BE(o.plen ?? 0, 7);
  return c;
};

t.test('supported pages, and pages and subpages', async (t) => {
  const d = await makeDisk();
  t.same((await d.execute(task(logSense(0x00)))).dataIn, hex('80 00 0004 00 0c 0d 2f'));
  t.same(
    (await d.execute(task(logSense(0x00, { sub: 0xff })))).dataIn,
    hex('c0 ff 000a 0000 00ff 0c00 0d00 2f00'),
  );
  t.same((await d.execute(task(logSense(0x0d, { sub: 0xff })))).dataIn, hex('cd ff 0002 0d00'));
  t.same((await d.execute(task(logSense(0x00, { alloc: 5 })))).dataIn, hex('80 00 0004 00'), 'truncated');
});

t.test('logical block provisioning page counts mapped blocks from the store', async (t) => {
  const store = new MemStore(BLOCKS * BS, false);
  const d = await makeDisk({}, store);
  const counts = async (): Promise<[number, number]> => {
    const p = (await d.execute(task(logSense(0x0c)))).dataIn!;
    t.same(p.subarray(0, 4), hex('8c 00 0018'));
    t.same([p.readUInt16BE(4), p[6], p[7], p[12]], [1, 0x03, 8, 0x01], 'available: binary, 8 bytes, scope');
    t.same([p.readUInt16BE(16), p[24]], [2, 0x01], 'used');
    return [p.readUInt32BE(8), p.readUInt32BE(20)];
  };
  const before = await counts();
  t.equal(before[0] + before[1], BLOCKS);
  const write = Buffer.from([0x2a, 0, 0, 0, 0, 0, 0, 0, 16, 0]);
  await d.execute(task(write, { dataOut: Buffer.alloc(16 * BS, 1) }));
  const after = await counts();
  t.ok(after[1] >= before[1] + 16, 'used grew by the written blocks');
  t.equal(after[0] + after[1], BLOCKS);
  const ptr = (await d.execute(task(logSense(0x0c, { ptr: 2 })))).dataIn!;
  t.same([ptr.readUInt16BE(2), ptr.readUInt16BE(4)], [12, 2], 'parameter pointer skips lower codes');
  t.same(sense(await d.execute(task(logSense(0x0c, { ptr: 3 })))), ILLEGAL_CDB, 'pointer past the last');
  t.same(
    (await d.execute(task(logSense(0x0c, { pc: 3 })))).dataIn,
    hex('8c 00 0000'),
    'no defaults to report',
  );
  const full = await makeDisk({ thinProvisioning: false });
  t.same((await full.execute(task(logSense(0x0c)))).dataIn, hex('8c 00 0000'), 'not thin: no counts');
});

t.test('temperature and informational exceptions pages', async (t) => {
  const d = await makeDisk();
  t.same((await d.execute(task(logSense(0x0d)))).dataIn, hex('8d 00 000c 0000 03 02 00ff 0001 03 02 00ff'));
  t.same((await d.execute(task(logSense(0x2f)))).dataIn, hex('af 00 0008 0000 03 04 00 00 ff 00'));
});

t.test('LOG SENSE field checks', async (t) => {
  const d = await makeDisk();
  const cases: Array<[string, Buffer, [number, number | undefined]]> = [
    ['unknown page', logSense(0x05), [2, 5]],
    ['unknown subpage', logSense(0x0d, { sub: 1 }), [3, 7]],
    ['PPC', logSense(0x0d, { b1: 0x02 }), [1, 1]],
    ['SP', logSense(0x0d, { b1: 0x01 }), [1, 0]],
    // The generic CDB check (usage data) answers reserved bits, pointing at the bit that is set.
    ['reserved byte 1', logSense(0x0d, { b1: 0x10 }), [1, 4]],
    ['threshold values', logSense(0x0d, { pc: 0 }), [2, 7]],
    ['pointer on a page list', logSense(0x00, { ptr: 1 }), [5, 7]],
  ];
  for (const [name, cdb, [byte, bit]] of cases) {
    const r = await d.execute(task(cdb));
    t.same(sense(r), ILLEGAL_CDB, name);
    t.same(fieldPointer(r), [byte, bit, true], `${name}: field pointer`);
  }
  const naca = logSense(0x00);
  naca[9] = 0x04;
  t.same(fieldPointer(await d.execute(task(naca))), [9, 2, true], 'NACA');
});

t.test('LOG SELECT: resets are no-ops, parameters are refused', async (t) => {
  const d = await makeDisk();
  t.equal((await d.execute(task(logSelect({ b1: 0x02 })))).status, 0, 'PCR=1 resets nothing');
  t.equal((await d.execute(task(logSelect({ page: 0x0d })))).status, 0, 'reset one page');
  t.same(fieldPointer(await d.execute(task(logSelect({ page: 0x05 })))), [2, 5, true], 'unknown page');
  t.same(fieldPointer(await d.execute(task(logSelect({ b1: 0x01 })))), [1, 0, true], 'SP');
  const list = hex('0d 00 0006 0000 03 02 00 19');
  const pcrWithList = await d.execute(task(logSelect({ b1: 0x02, plen: list.length }), { dataOut: list }));
  t.same(fieldPointer(pcrWithList), [1, 1, true], 'PCR with a list');
  t.equal(pcrWithList.dataOutLength, list.length);
  const set = await d.execute(task(logSelect({ plen: list.length }), { dataOut: list }));
  t.same(sense(set), [5, 0x26, 0], 'temperature cannot be set');
  t.same(fieldPointer(set), [4, undefined, false]);
  const unknown = hex('05 00 0000');
  t.same(fieldPointer(await d.execute(task(logSelect({ plen: 4 }), { dataOut: unknown }))), [0, 5, false]);
  const empty = hex('0d 00 0000');
  t.equal((await d.execute(task(logSelect({ plen: 4 }), { dataOut: empty }))).status, 0, 'empty page');
  t.same(sense(await d.execute(task(logSelect({ plen: 8 }), { dataOut: empty }))), [5, 0x1a, 0], 'short');
  const op = await d.execute(task(hex('a3 0c 01 4d 0000 00000100 00 00')));
  t.same(op.dataIn!.subarray(0, 4), hex('0003 000a'), 'REPORT SUPPORTED OPERATION CODES lists LOG SENSE');
  const op2 = await d.execute(task(hex('a3 0c 01 4c 0000 00000100 00 00')));
  t.same(op2.dataIn!.subarray(4, 6), hex('4c 02'), 'and LOG SELECT with its usage mask');
});
