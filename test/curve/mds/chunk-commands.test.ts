// The MDS drives the chunkservers (real processes: curve-mds + 3 curve-chunkserver): an epoch bump
// reaches every chunkserver of the file, so a write with the old epoch is refused EPOCH_TOO_OLD even on
// a chunk the new owner never wrote; freeing a segment (DeAllocateSegment) and force-deleting a file
// make the chunk files disappear from every replica's disk, also when a replica was down meanwhile.
import t from 'tap';
import * as fs from 'node:fs';
import { setLogLevel } from '../../../src/common/log';
import { CurveVolume } from '../../../src/curve/client/curve-volume';
import { ChunkClient, STATUS } from '../chunkserver/cs-harness';
import { ProcCluster, waitFor } from './proc-cluster';

setLogLevel('error');
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
type Seg = { logicalPoolID: number; chunks: { copysetID: number; chunkID: number }[] };
type R = Record<string, unknown> & { statusCode: number };

t.test('epochs and chunk deletion pushed to real chunkservers', { timeout: 120_000 }, async (t) => {
  const c = new ProcCluster({ chunkservers: 3, copysets: 4 });
  t.teardown(() => c.stop());
  await c.start();
  const ns = (m: string, req: Record<string, unknown>): Promise<R> =>
    c.client.call<R>('nameserver', m, { owner: 'root', ...req });
  t.equal((await ns('CreateFile', { fileName: '/v', fileType: 1, fileLength: 10 * GiB })).statusCode, 0);
  const open = (): Promise<CurveVolume> =>
    CurveVolume.open({ mdsAddresses: c.mdsAddrs, fileName: '/v', owner: 'root', holdLimitMs: 20_000 });

  const a = await open();
  t.teardown(() => a.close().catch(() => undefined));
  // chunks 0..3 of segment 0 and chunk 0 of segment 1
  const offsets = [0, 16 * MiB, 32 * MiB, 48 * MiB, GiB];
  for (const off of offsets) await a.write(off, Buffer.alloc(64 * 1024, off / MiB + 1));
  const seg0 = (await ns('GetOrAllocateSegment', { fileName: '/v', offset: 0 })).pageFileSegment as Seg;
  const seg1 = (await ns('GetOrAllocateSegment', { fileName: '/v', offset: GiB })).pageFileSegment as Seg;
  const written = [...seg0.chunks.slice(0, 4), seg1.chunks[0]];
  const files = (ch: { copysetID: number; chunkID: number }): string[] =>
    [0, 1, 2].map((i) => c.chunkFile(i, seg0.logicalPoolID, ch.copysetID, ch.chunkID));
  await waitFor('chunk files on all three replicas', 10_000, async () =>
    written.every((ch) => files(ch).every((f) => fs.existsSync(f))) ? true : undefined,
  );

  await t.test('a newer opener fences the old epoch on every chunkserver', async (t) => {
    const fileId = (await a.stat()).id;
    const oldEpoch = (await ns('GetFileInfo', { fileName: '/v' })).fileInfo as { epoch: number };
    const b = await open();
    t.teardown(() => b.close());
    const newEpoch = ((await ns('GetFileInfo', { fileName: '/v' })).fileInfo as { epoch: number }).epoch;
    t.equal(newEpoch, oldEpoch.epoch + 1, 'B bumped the epoch');
    const cc = new ChunkClient([0, 1, 2].map((i) => c.csEndpoint(i)));
    t.teardown(() => cc.close());
    // chunk 3 was written only by A (old epoch); B has sent nothing to it
    const target = seg0.chunks[3];
    const addr = { pool: seg0.logicalPoolID, copyset: target.copysetID, chunkId: target.chunkID };
    const data = Buffer.alloc(4096, 0xee);
    const stale = await cc.call(
      'WriteChunk',
      addr,
      { offset: 0, size: 4096, sn: 1, fileId, epoch: oldEpoch.epoch },
      data,
    );
    t.equal(stale.status, STATUS.EPOCH_TOO_OLD, 'stale-epoch write refused with EPOCH_TOO_OLD');
    const fresh = await cc.call(
      'WriteChunk',
      addr,
      { offset: 0, size: 4096, sn: 1, fileId, epoch: newEpoch },
      data,
    );
    t.equal(fresh.status, STATUS.SUCCESS, 'the new epoch writes');
    const err = await a.write(48 * MiB, Buffer.alloc(4096, 1)).then(
      () => undefined,
      (e: { kind?: string }) => e,
    );
    t.equal(err?.kind, 'fenced', 'the old client is fenced');
    t.same(await b.read(48 * MiB, 4096), data, "the stale write never landed; B's data is there");
  });

  await t.test("DeAllocateSegment deletes the segment's chunk files on every replica", async (t) => {
    t.equal((await ns('DeAllocateSegment', { fileName: '/v', offset: GiB })).statusCode, 0);
    await waitFor('segment 1 chunk files gone', 15_000, async () =>
      files(seg1.chunks[0]).every((f) => !fs.existsSync(f)) ? true : undefined,
    );
    t.ok(
      files(seg0.chunks[0]).every((f) => fs.existsSync(f)),
      'segment 0 untouched',
    );
    // The replicas delete the files when they apply the delete; the MDS drops its record when the
    // answers reach it, a moment later.
    await waitFor('the MDS garbage record dropped', 15_000, async () =>
      (await pendingGarbage(c)) === 0 ? true : undefined,
    );
    t.pass('no garbage record left in the MDS');
  });

  await t.test(
    'force delete with a replica down: all chunk files go, also on the late replica',
    async (t) => {
      t.equal(
        (await ns('DeleteFile', { fileName: '/v', forceDelete: true })).statusCode,
        126,
        'open: kFileOccupied',
      );
      await a.close().catch(() => undefined); // fenced: its close may report that
      c.cs[2]!.child.kill('SIGKILL');
      await c.cs[2]!.exited;
      t.equal((await ns('DeleteFile', { fileName: '/v', forceDelete: true })).statusCode, 0);
      const live = (ch: { copysetID: number; chunkID: number }): string[] => files(ch).slice(0, 2);
      await waitFor('chunk files gone on the two live replicas', 20_000, async () =>
        seg0.chunks.slice(0, 4).every((ch) => live(ch).every((f) => !fs.existsSync(f))) ? true : undefined,
      );
      await c.startCs(2);
      await waitFor('chunk files gone on the restarted replica (Raft catch-up)', 30_000, async () =>
        seg0.chunks.slice(0, 4).every((ch) => !fs.existsSync(files(ch)[2])) ? true : undefined,
      );
      await waitFor('garbage records cleaned', 15_000, async () =>
        (await pendingGarbage(c)) === 0 ? true : undefined,
      );
      t.pass('every chunk of the deleted file is gone from disk');
    },
  );
});

/** Freed segments whose chunks the MDS still has to delete. */
async function pendingGarbage(c: ProcCluster): Promise<number> {
  const r = await c.client.call<{ pendingChunkDeletes?: number }>('topology', 'GetScheduleStatus', {});
  return Number(r.pendingChunkDeletes ?? -1);
}
