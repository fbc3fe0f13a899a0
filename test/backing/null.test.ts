import t from 'tap';
import { NULL_DEFAULT_SIZE, nullStoreType, SHARED_ZERO_BYTES } from '../../src/backing/null';

// tap matches the rejection against these fields.
const kind = (k: string): Error => ({ name: 'BackingStoreError', kind: k }) as unknown as Error;

const opts = (size?: number, readonly = false) => ({
  path: '',
  oflags: [],
  opts: '',
  blockSize: 512,
  size,
  readonly,
});

t.test('size: 1 TiB like tgt unless --size is given', async (t) => {
  t.equal(NULL_DEFAULT_SIZE, 2 ** 40);
  t.equal((await nullStoreType.open(opts())).size(), 2 ** 40);
  t.equal((await nullStoreType.open(opts(1 << 20))).size(), 1 << 20);
  await t.rejects(nullStoreType.open(opts(0)), /invalid size/);
});

t.test('reads are zeros from one shared buffer; writes are discarded', async (t) => {
  const s = await nullStoreType.open(opts());
  await s.write(4096, Buffer.alloc(4096, 0xaa), true);
  const a = await s.read(4096, 4096);
  const b = await s.read(0, 512);
  t.same(a, Buffer.alloc(4096));
  t.equal(a.buffer, b.buffer, 'same backing memory');
  t.equal(a.byteOffset, b.byteOffset);
  const big = await s.read(0, SHARED_ZERO_BYTES + 512);
  t.equal(big.length, SHARED_ZERO_BYTES + 512);
  t.not(big.buffer, a.buffer, 'larger reads allocate');
  t.ok(big.every((x) => x === 0));
  await s.flush();
  await s.unmap(0, 1 << 20);
  await s.writeZeroes(0, 1 << 20);
  t.equal(await s.refreshSize(), 2 ** 40);
});

t.test('range and readonly', async (t) => {
  const s = await nullStoreType.open(opts(4096, true));
  await t.rejects(s.read(4000, 100), kind('range'));
  await t.rejects(s.write(0, Buffer.alloc(1), false), kind('readonly'));
  t.same(await s.read(0, 10), Buffer.alloc(10));
});
