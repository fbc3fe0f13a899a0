import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { ChunkDataStore } from '../../../src/curve/chunkserver/chunk-datastore';
import { ChunkFilePool } from '../../../src/curve/chunkserver/chunk-file-pool';
import { ChunkOpStatus, statusOfError } from '../../../src/curve/chunkserver/chunk-status';

const CHUNK = 64 << 10; // 16 pages of 4 KiB
const PAGE = 4096;

async function setup(t: { teardown(fn: () => unknown): void }, targetCount = 8) {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'q-ds-'));
  const pool = await ChunkFilePool.open({
    dir: path.join(root, 'chunkfilepool'),
    chunkSize: CHUNK,
    targetCount,
  });
  t.teardown(async () => {
    await pool.close(); // let background formatting stop before the directory goes
    await fs.rm(root, { recursive: true, force: true });
  });
  await pool.fill();
  const dir = path.join(root, 'copysets', '1-1', 'data');
  const ds = await ChunkDataStore.open({ dir, pool });
  return { root, pool, dir, ds };
}

const fill = (byte: number, pages = 1) => Buffer.alloc(pages * PAGE, byte);
const err = (status: ChunkOpStatus) => ({ name: 'ChunkStoreError', status });

t.test('write, read, absent chunks, alignment', async (t) => {
  const { ds, pool } = await setup(t);
  await t.rejects(ds.readChunk(1, 0, PAGE), err(ChunkOpStatus.CHUNK_NOTEXIST));
  t.equal(ds.getChunkInfo(1), undefined);
  await ds.writeChunk(1, 1, fill(0xaa, 2), PAGE);
  const r = await ds.readChunk(1, 0, 4 * PAGE);
  t.ok(
    r.subarray(0, PAGE).every((b) => b === 0),
    'never-written page of an existing chunk reads zeros',
  );
  t.ok(r.subarray(PAGE, 3 * PAGE).every((b) => b === 0xaa));
  t.ok(r.subarray(3 * PAGE).every((b) => b === 0));
  t.match(ds.getChunkInfo(1), {
    chunkId: 1,
    curSn: 1,
    correctedSn: 0,
    snapSn: 0,
    isClone: false,
    chunkSize: CHUNK,
    pageSize: PAGE,
  });
  await t.rejects(ds.writeChunk(1, 1, Buffer.alloc(512), 0), err(ChunkOpStatus.INVALID_REQUEST));
  await t.rejects(ds.writeChunk(1, 1, fill(1), 100), err(ChunkOpStatus.INVALID_REQUEST));
  await t.rejects(ds.writeChunk(1, 1, fill(1), CHUNK), err(ChunkOpStatus.INVALID_REQUEST));
  await t.rejects(ds.readChunk(1, 0, 0), err(ChunkOpStatus.INVALID_REQUEST));
  await t.rejects(ds.writeChunk(1, 0, fill(1), 0), err(ChunkOpStatus.BACKWARD));
  t.equal(pool.stats().available <= 8, true);
});

t.test('writes to one chunk apply in order; different chunks concurrently', async (t) => {
  const { ds } = await setup(t);
  const ops: Promise<void>[] = [];
  for (let i = 0; i < 20; i++) ops.push(ds.writeChunk(7, 1, fill(i), 0));
  for (let c = 10; c < 14; c++) ops.push(ds.writeChunk(c, 1, fill(c), 0));
  await Promise.all(ops);
  t.equal((await ds.readChunk(7, 0, PAGE))[0], 19, 'last write wins');
  for (let c = 10; c < 14; c++) t.equal((await ds.readChunk(c, 0, PAGE))[0], c);
});

t.test('tryWriteChunkNow: the common write done now, every other case left to writeChunk', async (t) => {
  const { ds } = await setup(t);
  t.equal(ds.tryWriteChunkNow(1, 1, fill(0x11), 0), false, 'absent chunk: created by writeChunk');
  await ds.writeChunk(1, 1, fill(0x11), 0);
  t.equal(ds.tryWriteChunkNow(1, 1, fill(0x22), PAGE), true, 'same sn, small, buffered: done now');
  t.ok(
    (await ds.readChunk(1, PAGE, PAGE)).every((b) => b === 0x22),
    'and it is there',
  );
  t.throws(() => ds.tryWriteChunkNow(1, 1, fill(1), 100), err(ChunkOpStatus.INVALID_REQUEST));
  t.equal(ds.tryWriteChunkNow(1, 2, fill(0x33), 0), false, 'newer sn (copy-on-write to set up): not now');
  t.equal(ds.tryWriteChunkNow(1, 0, fill(0x33), 0), false, 'older sn (BACKWARD to answer): not now');
  const queued = ds.writeChunk(1, 1, fill(0x44), 2 * PAGE);
  t.equal(ds.tryWriteChunkNow(1, 1, fill(0x55), 2 * PAGE), false, 'an earlier write still queued: not now');
  await queued;
  await ds.createCloneChunk(2, 1, 0, CHUNK, 'src@1');
  t.equal(ds.tryWriteChunkNow(2, 1, fill(0x66), 0), false, 'clone chunk (bitmap to update): not now');
  await ds.writeChunk(1, 2, fill(0x77), 0); // sn 2 now, with a snapshot at sn 1
  t.equal(ds.tryWriteChunkNow(1, 2, fill(0x88), 3 * PAGE), false, 'page not yet copied to the snapshot');
  await ds.writeChunk(1, 2, fill(0x88), 3 * PAGE);
  t.equal(ds.tryWriteChunkNow(1, 2, fill(0x99), 3 * PAGE), false, 'snapshot pending: always writeChunk');
  t.ok(
    (await ds.readSnapshotChunk(1, 1, 0, PAGE)).every((b) => b === 0x11),
    'snapshot kept sn 1 data',
  );
});

t.test('syncAll holds no write back and survives a chunk deleted meanwhile', async (t) => {
  const { ds } = await setup(t);
  for (let id = 1; id <= 3; id++) await ds.writeChunk(id, 1, fill(id), 0);
  const sync = ds.syncAll();
  t.equal(ds.tryWriteChunkNow(1, 1, fill(9), PAGE), true, 'a write while the chunks sync is done now');
  const del = ds.deleteChunk(3, 1);
  await t.resolves(sync, 'sync finishes though chunk 3 went away');
  await del;
  t.same(ds.chunkIds().sort(), [1, 2]);
  t.ok((await ds.readChunk(1, PAGE, PAGE)).every((b) => b === 9));
});

t.test('copy-on-write snapshot by sequence number (Curve semantics)', async (t) => {
  const { ds, dir } = await setup(t);
  await ds.writeChunk(1, 1, fill(1, 4), 0); // pages 0..3 = 1 at sn 1
  // A snapshot was taken: the volume's sn is now 2. The first write at sn 2 preserves sn-1 pages.
  await ds.writeChunk(1, 2, fill(2), PAGE);
  t.match(ds.getChunkInfo(1), { curSn: 2, snapSn: 1 });
  t.ok((await fs.readdir(dir)).includes('chunk_1_snap_1'));
  await ds.writeChunk(1, 2, fill(3), PAGE); // same page again: no second copy
  await ds.writeChunk(1, 2, fill(4), 2 * PAGE);
  const cur = await ds.readChunk(1, 0, 4 * PAGE);
  t.same([cur[0], cur[PAGE], cur[2 * PAGE], cur[3 * PAGE]], [1, 3, 4, 1]);
  const old = await ds.readSnapshotChunk(1, 1, 0, 4 * PAGE);
  t.same([old[0], old[PAGE], old[2 * PAGE], old[3 * PAGE]], [1, 1, 1, 1], 'snapshot shows sn 1 data');
  const viaCur = await ds.readSnapshotChunk(1, 2, 0, PAGE * 2);
  t.same([viaCur[0], viaCur[PAGE]], [1, 3], 'reading at the current sn reads the chunk');
  await t.rejects(ds.readSnapshotChunk(1, 5, 0, PAGE), err(ChunkOpStatus.CHUNK_NOTEXIST));
  await t.rejects(ds.writeChunk(1, 1, fill(9), 0), err(ChunkOpStatus.BACKWARD));
  await t.rejects(
    ds.deleteChunk(1, 2),
    err(ChunkOpStatus.FAILURE_UNKNOWN),
    'cannot delete a chunk with a snapshot',
  );

  // A write at sn 3 while snapshot sn 1 was never deleted is a conflict.
  await t.rejects(ds.writeChunk(1, 3, fill(5), 0), err(ChunkOpStatus.FAILURE_UNKNOWN));

  // Dump finished: delete the snapshot.
  await ds.deleteSnapshotChunkOrCorrectSn(1, 2);
  t.match(ds.getChunkInfo(1), { curSn: 2, snapSn: 0, correctedSn: 0 });
  t.notOk((await fs.readdir(dir)).includes('chunk_1_snap_1'));
  await t.rejects(ds.readSnapshotChunk(1, 1, 0, PAGE), err(ChunkOpStatus.CHUNK_NOTEXIST));
});

t.test('correctedSn: a snapshot that did not touch this chunk needs no copy', async (t) => {
  const { ds, dir } = await setup(t);
  await ds.writeChunk(3, 1, fill(1), 0);
  // Snapshot at sn 1 -> 2 finished without this chunk being written: correct its sn to 2.
  await ds.deleteSnapshotChunkOrCorrectSn(3, 2);
  t.match(ds.getChunkInfo(3), { curSn: 1, correctedSn: 2 });
  await ds.writeChunk(3, 2, fill(2), 0);
  t.notOk(
    (await fs.readdir(dir)).some((n) => n.includes('_snap_')),
    'no snapshot file created',
  );
  t.match(ds.getChunkInfo(3), { curSn: 2, snapSn: 0 });
  await t.rejects(ds.writeChunk(3, 1, fill(3), 0), err(ChunkOpStatus.BACKWARD));
  // Smaller correctedSn is ignored.
  await ds.deleteSnapshotChunkOrCorrectSn(3, 1);
  t.match(ds.getChunkInfo(3), { curSn: 2, correctedSn: 2 });
  // Absent chunk: nothing to do.
  await ds.deleteSnapshotChunkOrCorrectSn(99, 5);
});

t.test('clone chunks: bitmap of written pages, recover only fills unwritten pages', async (t) => {
  const { ds } = await setup(t);
  await t.rejects(ds.createCloneChunk(5, 1, 0, CHUNK / 2, 'src@1'), err(ChunkOpStatus.INVALID_REQUEST));
  await t.rejects(ds.createCloneChunk(5, 1, 0, CHUNK, ''), err(ChunkOpStatus.INVALID_REQUEST));
  await ds.createCloneChunk(5, 1, 0, CHUNK, 'src@1');
  await ds.createCloneChunk(5, 1, 0, CHUNK, 'src@1'); // idempotent
  await t.rejects(ds.createCloneChunk(5, 1, 0, CHUNK, 'other@2'), err(ChunkOpStatus.CHUNK_EXIST));
  await t.rejects(ds.pasteChunk(6, fill(1), 0), err(ChunkOpStatus.CHUNK_NOTEXIST));

  await ds.writeChunk(5, 1, fill(0xaa), PAGE); // user write to page 1
  let info = ds.getChunkInfo(5)!;
  t.ok(info.isClone);
  t.equal(info.location, 'src@1');
  t.equal(info.bitmap?.count(), 1);
  t.ok(info.bitmap?.test(1));
  // Recover pages 0..3 from the source: page 1 keeps the newer user data.
  await ds.pasteChunk(5, fill(0x55, 4), 0);
  const r = await ds.readChunk(5, 0, 4 * PAGE);
  t.same([r[0], r[PAGE], r[2 * PAGE], r[3 * PAGE]], [0x55, 0xaa, 0x55, 0x55]);
  info = ds.getChunkInfo(5)!;
  t.equal(info.bitmap?.count(), 4);
  // Once every page is written the chunk no longer depends on its source.
  await ds.pasteChunk(5, fill(0x66, 16), 0);
  info = ds.getChunkInfo(5)!;
  t.notOk(info.isClone);
  t.equal(info.location, '');
  t.equal(info.bitmap, undefined);
  t.equal((await ds.readChunk(5, PAGE, PAGE))[0], 0xaa, 'paste never overwrote written data');
  await ds.pasteChunk(5, fill(0x77), 0); // not a clone any more: no-op
  t.equal((await ds.readChunk(5, 0, PAGE))[0], 0x55);
});

t.test('state survives a restart; delete recycles to the pool trash', async (t) => {
  const { ds, dir, pool, root } = await setup(t);
  await ds.writeChunk(1, 1, fill(1), 0);
  await ds.writeChunk(1, 2, fill(2), 0);
  await ds.createCloneChunk(2, 1, 0, CHUNK, 'loc');
  await ds.writeChunk(2, 1, fill(3), 3 * PAGE);
  await ds.close();
  const again = await ChunkDataStore.open({ dir, pool });
  t.same(again.chunkIds().sort(), [1, 2]);
  t.match(again.getChunkInfo(1), { curSn: 2, snapSn: 1 });
  t.equal((await again.readSnapshotChunk(1, 1, 0, PAGE))[0], 1);
  t.equal((await again.readChunk(1, 0, PAGE))[0], 2);
  t.match(again.getChunkInfo(2), { isClone: true, location: 'loc' });
  t.ok(again.getChunkInfo(2)?.bitmap?.test(3));
  await again.deleteSnapshotChunkOrCorrectSn(1, 2);
  await t.rejects(again.deleteChunk(1, 1), err(ChunkOpStatus.BACKWARD));
  await again.deleteChunk(1, 2);
  await again.deleteChunk(1, 2); // idempotent
  await t.rejects(again.readChunk(1, 0, PAGE), err(ChunkOpStatus.CHUNK_NOTEXIST));
  t.equal(pool.stats().trash, 2, 'chunk and its snapshot wait in the trash');
  t.ok((await fs.readdir(path.join(root, 'chunkfilepool', 'trash'))).some((n) => n.startsWith('chunk_1.')));
  await again.close();
});

t.test('a corrupt metapage is detected by checksum and never served', async (t) => {
  const { ds, dir, pool } = await setup(t);
  await ds.writeChunk(1, 1, fill(0x42), 0);
  await ds.writeChunk(2, 1, fill(0x43), 0);
  await ds.close();
  const fh = await fs.open(path.join(dir, 'chunk_1'), 'r+');
  await fh.write(Buffer.from([0xff]), 0, 1, 9); // flip bits in the sn field
  await fh.close();
  const logs: string[] = [];
  const { setLogSink } = await import('../../../src/common/log');
  setLogSink((l) => logs.push(l));
  const again = await ChunkDataStore.open({ dir, pool });
  setLogSink((l) => process.stderr.write(l + '\n'));
  t.match([...again.corruptChunks().keys()], [1]);
  t.match(again.corruptChunks().get(1), /checksum/);
  t.ok(
    logs.some((l) => l.includes('"chunkId":1') && l.includes('checksum')),
    'reported in the log',
  );
  await t.rejects(again.readChunk(1, 0, PAGE), err(ChunkOpStatus.CRC_FAIL));
  await t.rejects(again.writeChunk(1, 5, fill(1), 0), err(ChunkOpStatus.CRC_FAIL));
  t.throws(() => again.getChunkInfo(1), err(ChunkOpStatus.CRC_FAIL));
  t.equal((await again.readChunk(2, 0, PAGE))[0], 0x43, 'other chunks unaffected');
  await again.close();
});

t.test('no space: empty pool answers NOSPACE; errno mapping', async (t) => {
  const { ds, root } = await setup(t, 1);
  await ds.writeChunk(1, 1, fill(1), 0);
  // The background refill must not rescue the next create for this test: close the pool's refills.
  await ds.writeChunk(1, 1, fill(1), PAGE); // existing chunk: no new file needed
  const s = (ds as unknown as { opts: { pool: ChunkFilePool } }).opts.pool;
  await s.close();
  while (s.stats().available > 0)
    await s
      .take(path.join(root, `drained-${s.stats().available}`), Buffer.alloc(4096))
      .then((_) => undefined);
  await t.rejects(ds.writeChunk(2, 1, fill(1), 0), err(ChunkOpStatus.NOSPACE));
  await t.rejects(ds.createCloneChunk(3, 1, 0, CHUNK, 'x'), err(ChunkOpStatus.NOSPACE));
  t.equal(statusOfError(Object.assign(new Error('x'), { code: 'ENOSPC' })), ChunkOpStatus.NOSPACE);
  t.equal(statusOfError(Object.assign(new Error('x'), { code: 'EIO' })), ChunkOpStatus.DISK_FAIL);
  t.equal(statusOfError(new Error('x')), ChunkOpStatus.FAILURE_UNKNOWN);
});
