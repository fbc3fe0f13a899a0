import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { ChunkFilePool } from '../../../src/curve/chunkserver/chunk-file-pool';
import { ChunkOpStatus } from '../../../src/curve/chunkserver/chunk-status';

const CHUNK = 64 << 10;

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'q-pool-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('formats ahead to the target, reporting progress; hands files out by rename', async (t) => {
  const dir = await tempDir(t);
  const pool = await ChunkFilePool.open({ dir, chunkSize: CHUNK, targetCount: 4 });
  t.same(pool.stats().available, 0);
  t.equal(pool.stats().progress, 0);
  const filling = pool.fill();
  t.equal(pool.stats().formatting, true);
  await filling;
  const s = pool.stats();
  t.equal(s.available, 4);
  t.equal(s.progress, 1);
  t.equal(s.formatted, 4);
  const files = (await fs.readdir(path.join(dir, 'pool'))).sort();
  t.same(files, ['0', '1', '2', '3']);
  const st = await fs.stat(path.join(dir, 'pool', '0'));
  t.equal(st.size, CHUNK + 4096);
  t.ok(st.blocks * 512 >= CHUNK, 'blocks are allocated, not sparse');

  const meta = Buffer.alloc(4096, 0x11);
  const dest = path.join(dir, 'chunk_1');
  await pool.take(dest, meta);
  const data = await fs.readFile(dest);
  t.same(data.subarray(0, 4096), meta, 'metapage written');
  t.ok(
    data.subarray(4096).every((b) => b === 0),
    'data zeroed',
  );
  t.equal(pool.stats().available < 4 || pool.stats().formatting, true);
  await t.rejects(pool.take(dest, meta), { name: 'ChunkStoreError', status: ChunkOpStatus.CHUNK_EXIST });
  await pool.close();
});

t.test('empty pool answers NOSPACE unless allowed to create', async (t) => {
  const dir = await tempDir(t);
  const pool = await ChunkFilePool.open({ dir, chunkSize: CHUNK, targetCount: 0 });
  await t.rejects(pool.take(path.join(dir, 'c'), Buffer.alloc(4096)), {
    name: 'ChunkStoreError',
    status: ChunkOpStatus.NOSPACE,
  });
  const lenient = await ChunkFilePool.open({
    dir,
    chunkSize: CHUNK,
    targetCount: 0,
    allowCreateWhenEmpty: true,
  });
  await lenient.take(path.join(dir, 'c'), Buffer.alloc(4096, 1));
  t.equal((await fs.stat(path.join(dir, 'c'))).size, CHUNK + 4096);
});

t.test('reopen keeps formatted files and drops half-formatted ones', async (t) => {
  const dir = await tempDir(t);
  const pool = await ChunkFilePool.open({ dir, chunkSize: CHUNK, targetCount: 2 });
  await pool.fill();
  await fs.writeFile(path.join(dir, 'pool', '9.tmp'), Buffer.alloc(100));
  await fs.writeFile(path.join(dir, 'pool', '7'), Buffer.alloc(100)); // wrong size
  const again = await ChunkFilePool.open({ dir, chunkSize: CHUNK, targetCount: 2 });
  t.equal(again.stats().available, 2);
  t.same((await fs.readdir(path.join(dir, 'pool'))).sort(), ['0', '1']);
});

t.test('recycled files wait in the trash for the delay, then return zeroed', async (t) => {
  const dir = await tempDir(t);
  const pool = await ChunkFilePool.open({ dir, chunkSize: CHUNK, targetCount: 1, trashDelayMs: 1000 });
  await pool.fill();
  const file = path.join(dir, 'chunk_5');
  await pool.take(file, Buffer.alloc(4096, 2));
  await pool.close(); // stop refilling so the count below is exact
  await fs.writeFile(file, Buffer.alloc(CHUNK + 4096, 0xee));
  await pool.recycle(file);
  t.equal(pool.stats().trash, 1);
  const now = Date.now();
  t.equal(await pool.sweepTrash(now), 0, 'too young');
  t.equal(await pool.sweepTrash(now + 2000), 1);
  t.equal(pool.stats().trash, 0);
  t.equal(pool.stats().available, 1);
  const [name] = await fs.readdir(path.join(dir, 'pool'));
  const back = await fs.readFile(path.join(dir, 'pool', name));
  t.ok(
    back.every((b) => b === 0),
    'old data wiped',
  );
});

t.test(
  'a full disk stops formatting with the reason and answers NOSPACE',
  { skip: process.getuid?.() !== 0 ? 'needs root to mount a tiny tmpfs' : false },
  async (t) => {
    const dir = await tempDir(t);
    const { execFileSync } = await import('node:child_process');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir]);
    t.teardown(() => execFileSync('umount', [dir]));
    const pool = await ChunkFilePool.open({ dir, chunkSize: CHUNK, targetCount: 10 });
    await pool.fill();
    const s = pool.stats();
    t.ok(s.available >= 1 && s.available < 10, `formatted ${s.available} of 10`);
    t.match(s.lastError, /ENOSPC/);
    for (let i = 0; i < s.available; i++) await pool.take(path.join(dir, `c${i}`), Buffer.alloc(4096));
    await t.rejects(pool.take(path.join(dir, 'more'), Buffer.alloc(4096)), {
      name: 'ChunkStoreError',
      status: ChunkOpStatus.NOSPACE,
    });
    await pool.close();
    const lenient = await ChunkFilePool.open({
      dir,
      chunkSize: CHUNK,
      targetCount: 0,
      allowCreateWhenEmpty: true,
    });
    await t.rejects(
      lenient.take(path.join(dir, 'more'), Buffer.alloc(4096)),
      { name: 'ChunkStoreError', status: ChunkOpStatus.NOSPACE },
      'ENOSPC while formatting on demand',
    );
  },
);
