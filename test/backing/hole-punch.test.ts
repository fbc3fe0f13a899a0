import { mkdtempSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import t from 'tap';
import { fallocateTool, zeroRuns } from '../../src/backing/hole-punch';
import { rdwrStoreType } from '../../src/backing/rdwr';

t.test('zeroRuns splits into zero / non-zero granules', async (t) => {
  const b = Buffer.alloc(4096);
  b[1500] = 1;
  t.same(zeroRuns(b, 8192, 512), [
    { offset: 8192, length: 1024, mapped: false },
    { offset: 9216, length: 512, mapped: true },
    { offset: 9728, length: 2560, mapped: false },
  ]);
  t.same(zeroRuns(Buffer.alloc(0), 0, 512), []);
  t.same(zeroRuns(Buffer.alloc(700, 1), 0, 512), [{ offset: 0, length: 700, mapped: true }]);
});

t.test('rdwr: UNMAP punches holes and allocation status reports them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hole-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const p = join(dir, 'disk');
  writeFileSync(p, Buffer.alloc(4 << 20, 0x77));
  const s = await rdwrStoreType.open({ path: p, oflags: [], opts: '', blockSize: 512, readonly: false });
  t.teardown(() => s.close());
  const before = statSync(p).blocks;
  await s.unmap(1 << 20, 2 << 20);
  t.same(await s.read((1 << 20) - 2, 4), Buffer.from([0x77, 0x77, 0, 0]));
  if (fallocateTool()) t.ok(statSync(p).blocks < before, 'space was freed');
  t.same(await s.allocationStatus!(0, 4 << 20), [
    { offset: 0, length: 1 << 20, mapped: true },
    { offset: 1 << 20, length: 2 << 20, mapped: false },
    { offset: 3 << 20, length: 1 << 20, mapped: true },
  ]);
  t.equal(statSync(p).size, 4 << 20, 'size kept');
});
