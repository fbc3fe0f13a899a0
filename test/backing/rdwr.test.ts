import t from 'tap';
import { mkdtempSync, rmSync, statSync, truncateSync, writeFileSync, readFileSync, mkdirSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { open } from 'fs/promises';
import { deviceNumbers, probeSizeByReading, rdwrStoreType, type RdwrStore } from '../../src/backing/rdwr';

// tap matches the rejection against these fields.
const kind = (k: string): Error => ({ name: 'BackingStoreError', kind: k }) as unknown as Error;

const dirs: string[] = [];
function tempDir(base = tmpdir()): string {
  const d = mkdtempSync(join(base, 'rdwr-test-'));
  dirs.push(d);
  return d;
}
t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + seed) & 0xff;
  return b;
}

function fileOf(size: number, base?: string): string {
  const p = join(tempDir(base), 'disk.img');
  writeFileSync(p, Buffer.alloc(0));
  truncateSync(p, size);
  return p;
}

const opts = (path: string, oflags: string[] = [], readonly = false, blockSize = 512) => ({
  path,
  oflags,
  opts: '',
  blockSize,
  readonly,
});

t.test('buffered: size, round trip at unaligned offsets, reads zero-filled past EOF', async (t) => {
  const p = fileOf(1 << 20);
  const s = (await rdwrStoreType.open(opts(p))) as RdwrStore;
  t.teardown(() => s.close());
  t.equal(s.size(), 1 << 20);
  t.same(s.capabilities, { unmap: true, compareAndWrite: false, lbaStatus: true, volatileCache: true });
  const data = pattern(70000, 1);
  await s.write(1234, data, false);
  await s.write(500000, data, true); // FUA -> fdatasync
  t.same(await s.read(1234, data.length), data);
  t.same(await s.read(1200, 40), Buffer.concat([Buffer.alloc(34), data.subarray(0, 6)]));
  t.same(readFileSync(p).subarray(500000, 570000), data, 'data is in the file');
  truncateSync(p, 600000); // the file shrinks behind our back
  const r = await s.read(590000, 20000);
  t.same(r.subarray(0, 10000), readFileSync(p).subarray(590000, 600000));
  t.same(r.subarray(10000), Buffer.alloc(10000), 'past EOF reads zeros');
  await s.flush();
});

t.test('unmap and writeZeroes write zeros', async (t) => {
  const p = fileOf(1 << 20);
  const s = await rdwrStoreType.open(opts(p));
  t.teardown(() => s.close());
  await s.write(0, Buffer.alloc(8192, 0xff), false);
  await s.unmap(100, 200);
  await s.writeZeroes(4000, 100);
  const r = await s.read(0, 8192);
  const expected = Buffer.alloc(8192, 0xff);
  expected.fill(0, 100, 300);
  expected.fill(0, 4000, 4100);
  t.same(r, expected);
});

t.test('range and readonly', async (t) => {
  const p = fileOf(4096);
  const s = await rdwrStoreType.open(opts(p, [], true));
  t.teardown(() => s.close());
  await t.rejects(s.write(0, Buffer.alloc(512), false), kind('readonly'));
  await t.rejects(s.writeZeroes(0, 512), kind('readonly'));
  await t.rejects(s.read(4000, 200), kind('range'));
  t.same(await s.read(0, 16), Buffer.alloc(16));
});

t.test('refreshSize after the file grows', async (t) => {
  const p = fileOf(4096);
  const s = await rdwrStoreType.open(opts(p));
  t.teardown(() => s.close());
  truncateSync(p, 3 * 4096);
  t.equal(s.size(), 4096, 'cached until refreshed');
  t.equal(await s.refreshSize(), 3 * 4096);
  t.equal(s.size(), 3 * 4096);
  await s.write(8192, Buffer.alloc(10, 1), false);
});

t.test('sync: O_SYNC, no volatile cache', async (t) => {
  const p = fileOf(1 << 16);
  const s = (await rdwrStoreType.open(opts(p, ['sync']))) as RdwrStore;
  t.teardown(() => s.close());
  t.equal(s.capabilities.volatileCache, false);
  t.equal(s.info.sync, true);
  const d = pattern(5000, 7);
  await s.write(333, d, true);
  t.same(await s.read(333, 5000), d);
});

t.test('bad options', async (t) => {
  await t.rejects(rdwrStoreType.open(opts('')), /path is required/);
  await t.rejects(rdwrStoreType.open(opts(fileOf(512), ['bogus'])), /unsupported bsoflags 'bogus'/);
  await t.rejects(rdwrStoreType.open(opts(tempDir(), [], true)), /neither a regular file nor a block device/);
  await t.rejects(
    rdwrStoreType.open(opts('/dev/null', [], true)),
    /neither a regular file nor a block device/,
  );
  await t.rejects(rdwrStoreType.open(opts(tempDir())), /cannot open .*EISDIR/);
  await t.rejects(rdwrStoreType.open(opts(join(tempDir(), 'missing'))), /cannot open .*ENOENT/);
});

/** O_DIRECT on the first of os.tmpdir(), /var/tmp, the repo that accepts it. */
async function openDirect(size: number, blockSize: number): Promise<{ store?: RdwrStore; errors: string[] }> {
  const errors: string[] = [];
  const repoTmp = join(__dirname, '..', '..', '..', '.rdwr-test-tmp');
  mkdirSync(repoTmp, { recursive: true });
  dirs.push(repoTmp);
  for (const base of [tmpdir(), '/var/tmp', repoTmp]) {
    try {
      const p = fileOf(size, base);
      return {
        store: (await rdwrStoreType.open(opts(p, ['direct'], false, blockSize))) as RdwrStore,
        errors,
      };
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  return { errors };
}

t.test('direct: aligned and unaligned I/O through aligned bounce buffers', async (t) => {
  const { store: s, errors } = await openDirect(3 << 20, 512);
  if (!s) {
    // Every candidate filesystem refused O_DIRECT: the error must say so clearly.
    t.ok(errors.length === 3 && errors.every((m) => /O_DIRECT/.test(m)), errors.join('; '));
    return;
  }
  t.teardown(() => s.close());
  t.equal(s.info.direct, true);
  t.equal(s.info.alignment, 512);
  const big = pattern(2 * 1024 * 1024 + 4096, 5); // more than one bounce chunk
  await s.write(4096, big, true);
  t.same(await s.read(4096, big.length), big);
  const odd = pattern(200, 9); // a residual-sized write: read-modify-write
  await s.write(4096 + 1000, odd, false);
  const expected = Buffer.from(big.subarray(0, 4096));
  odd.copy(expected, 1000);
  t.same(await s.read(4096, 4096), expected);
  t.same(await s.read(4096 + 999, 3), Buffer.from([big[999], odd[0], odd[1]]), 'unaligned read');
  // concurrent unaligned writes in one block are serialized, none lost
  await Promise.all([s.write(100, Buffer.from('aa'), false), s.write(300, Buffer.from('bb'), false)]);
  t.equal((await s.read(100, 2)).toString(), 'aa');
  t.equal((await s.read(300, 2)).toString(), 'bb');
});

t.test('direct: RMW at the unaligned end of a file does not grow it', async (t) => {
  const { store: s } = await openDirect(10000, 4096);
  if (!s) {
    t.pass('O_DIRECT refused everywhere (asserted in the previous test)');
    return;
  }
  t.teardown(() => s.close());
  t.equal(s.info.alignment, 4096);
  await s.write(9000, Buffer.alloc(100, 3), false);
  t.equal(statSync(s.info.path).size, 10000);
  t.same(await s.read(8990, 120), Buffer.concat([Buffer.alloc(10), Buffer.alloc(100, 3), Buffer.alloc(10)]));
});

t.test('deviceNumbers decodes dev_t like glibc', async (t) => {
  t.same(deviceNumbers(0x801), { major: 8, minor: 1 });
  t.same(deviceNumbers(259 << 8), { major: 259, minor: 0 });
  t.same(deviceNumbers(0x10082c), { major: 8, minor: 300 });
  t.same(deviceNumbers(0x1000 * 2 ** 32 + (0x123 << 8) + 0x45), { major: 0x1123, minor: 0x45 });
});

t.test('probeSizeByReading finds the exact size', async (t) => {
  for (const size of [0, 1, 511, 12345, 1 << 20]) {
    const p = fileOf(size);
    const fh = await open(p, 'r');
    t.equal(await probeSizeByReading(fh), size, `size ${size}`);
    await fh.close();
  }
});

t.test(
  'small buffered writes run inline; a slow one sends the LU to the thread pool for a while',
  async (t) => {
    const p = fileOf(1 << 20);
    const s = (await rdwrStoreType.open(opts(p))) as RdwrStore;
    t.teardown(() => s.close());
    t.equal(s.writeMode, 'inline', 'a regular file without sync/direct writes inline');
    await s.write(0, pattern(4096, 3), false);
    t.same(readFileSync(p).subarray(0, 4096), pattern(4096, 3), 'the inline write is in the file at once');
    // Make the next inline write look like it was throttled for 30 ms.
    const real = process.hrtime.bigint;
    let calls = 0;
    process.hrtime.bigint = () => real() + BigInt(calls++ * 30_000_000);
    try {
      await s.write(4096, pattern(4096, 4), false);
    } finally {
      process.hrtime.bigint = real;
    }
    t.equal(s.writeMode, 'pool', 'after a slow inline write, writes go through the pool');
    await s.write(8192, pattern(200000, 5), false);
    t.same(await s.read(4096, 4096), pattern(4096, 4));
    t.same(await s.read(8192, 200000), pattern(200000, 5), 'pool writes land too');

    const synced = (await rdwrStoreType.open(opts(fileOf(1 << 20), ['sync']))) as RdwrStore;
    t.teardown(() => synced.close());
    t.equal(synced.writeMode, 'pool', 'O_SYNC writes never run on the event loop');
  },
);
