import t from 'tap';
// tap matches the rejection against these fields.
const kind = (k: string): Error => ({ name: 'BackingStoreError', kind: k }) as unknown as Error;
import { MEM_EXTENT_BYTES, MemStore, memStoreType } from '../../src/backing/mem';

const MiB = 1024 * 1024;
const opts = (size?: number, readonly = false) => ({
  path: '',
  oflags: [],
  opts: '',
  blockSize: 512,
  size,
  readonly,
});

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

t.test('size is required and reported', async (t) => {
  await t.rejects(memStoreType.open(opts()), /size is required/);
  await t.rejects(memStoreType.open(opts(-1)), /invalid size/);
  const s = await memStoreType.open(opts(8 * MiB));
  t.equal(s.size(), 8 * MiB);
  t.equal(await s.refreshSize(), 8 * MiB);
  t.same(s.capabilities, { unmap: true, compareAndWrite: true, lbaStatus: true, volatileCache: false });
});

t.test('unwritten space reads as zeros and allocates nothing', async (t) => {
  const s = (await memStoreType.open(opts(8 * MiB))) as MemStore;
  t.same(await s.read(12345, 3000), Buffer.alloc(3000));
  t.same(await s.read(MiB - 10, 20), Buffer.alloc(20));
  t.equal(s.allocatedExtents(), 0);
});

t.test('round trip at unaligned offsets, spanning extents', async (t) => {
  const s = (await memStoreType.open(opts(8 * MiB))) as MemStore;
  const data = pattern(2 * MiB + 777, 3);
  const off = MiB - 333;
  await s.write(off, data, false);
  t.equal(s.allocatedExtents(), 4); // extents 0..3 touched
  t.same(await s.read(off, data.length), data);
  t.same(await s.read(off + 100, 50), data.subarray(100, 150));
  // bytes around the write are still zero
  t.same(await s.read(off - 10, 10), Buffer.alloc(10));
  t.same(await s.read(off + data.length, 10), Buffer.alloc(10));
});

t.test('read results are copies, not views', async (t) => {
  const s = await memStoreType.open(opts(MiB));
  await s.write(0, Buffer.from('abcd'), false);
  const r = await s.read(0, 4);
  await s.write(0, Buffer.from('wxyz'), false);
  t.equal(r.toString(), 'abcd');
});

t.test('range and readonly errors', async (t) => {
  const s = await memStoreType.open(opts(MiB));
  await t.rejects(s.read(MiB - 1, 2), kind('range'));
  await t.rejects(s.write(MiB, Buffer.alloc(1), false), kind('range'));
  const ro = await memStoreType.open(opts(MiB, true));
  await t.rejects(ro.write(0, Buffer.alloc(1), false), kind('readonly'));
  await t.rejects(ro.unmap(0, 512), kind('readonly'));
  t.same(await ro.read(0, 4), Buffer.alloc(4));
});

t.test('unmap drops whole extents and zeros partial ones', async (t) => {
  const s = (await memStoreType.open(opts(4 * MiB))) as MemStore;
  await s.write(0, pattern(3 * MiB, 9), false);
  t.equal(s.allocatedExtents(), 3);
  await s.unmap(MiB - 100, MiB + 200); // tail of extent 0, all of extent 1, head of extent 2
  t.equal(s.allocatedExtents(), 2);
  const all = await s.read(0, 3 * MiB);
  const expected = pattern(3 * MiB, 9);
  expected.fill(0, MiB - 100, 2 * MiB + 100);
  t.same(all, expected);
  await s.writeZeroes(0, 10);
  t.same(await s.read(0, 12), Buffer.concat([Buffer.alloc(10), expected.subarray(10, 12)]));
});

t.test('compare and write', async (t) => {
  const s = await memStoreType.open(opts(2 * MiB));
  await s.write(MiB - 2, Buffer.from('hello'), false);
  t.equal(await s.compareAndWrite!(MiB - 2, Buffer.from('hexlo'), Buffer.from('XXXXX')), 2);
  t.equal((await s.read(MiB - 2, 5)).toString(), 'hello', 'nothing written on miscompare');
  t.equal(await s.compareAndWrite!(MiB - 2, Buffer.from('hello'), Buffer.from('world')), -1);
  t.equal((await s.read(MiB - 2, 5)).toString(), 'world');
});

t.test('allocation status runs', async (t) => {
  const s = await memStoreType.open(opts(4 * MiB));
  await s.write(MiB + 5, Buffer.alloc(10, 1), false);
  t.same(await s.allocationStatus!(0, 4 * MiB), [
    { offset: 0, length: MiB, mapped: false },
    { offset: MiB, length: MiB, mapped: true },
    { offset: 2 * MiB, length: 2 * MiB, mapped: false },
  ]);
  t.same(await s.allocationStatus!(MiB + 100, 200), [{ offset: MiB + 100, length: 200, mapped: true }]);
  t.equal(MEM_EXTENT_BYTES, MiB);
});
