// CurveFSService over gRPC: files and directories, recycle bin, segments, sessions, epochs, sizes.
import t from 'tap';
import { MdsClient } from '../../../src/curve/mds/mds-client';
import { buildCluster, startMds } from './mds-harness';

const GiB = 1024 ** 3;
const TiB = 1024 ** 4;
type R = Record<string, unknown> & { statusCode: number };

async function waitUntil(fn: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('namespace', async (t) => {
  const h = await startMds({ sessionLeaseMs: 400 });
  t.teardown(() => h.stop());
  await buildCluster(h, 3);
  await h.client.call('topology', 'CreateLogicalPool', {
    logicalPoolName: 'lp1',
    physicalPoolName: 'pool1',
    copysetNum: 6,
  });
  const call = (m: string, req: Record<string, unknown>): Promise<R> =>
    h.client.call<R>('nameserver', m, req);
  const create = (fileName: string, fileLength: number, owner = 'alice', fileType = 1): Promise<R> =>
    call('CreateFile', { fileName, owner, fileType, fileLength });
  const info = async (fileName: string, owner = 'alice'): Promise<Record<string, unknown> | undefined> =>
    ((await call('GetFileInfo', { fileName, owner })).fileInfo as Record<string, unknown>) ?? undefined;

  t.test('create: sizes, types, parents, duplicates', async (t) => {
    t.equal((await create('/vol1', 10 * GiB)).statusCode, 0);
    t.equal((await create('/vol1', 10 * GiB)).statusCode, 101, 'kFileExists');
    t.equal((await create('/small', 9 * GiB)).statusCode, 132, 'below 10 GiB: kFileLengthNotSupported');
    t.equal((await create('/huge', 21 * TiB)).statusCode, 132, 'above 20 TiB');
    t.equal((await create('/odd', 10 * GiB + 4096)).statusCode, 106, 'not segment aligned: kExtentUnitError');
    t.equal((await create('/max', 20 * TiB)).statusCode, 0, '20 TiB is allowed');
    t.equal((await create('/dir', 0, 'alice', 0)).statusCode, 0, 'directory');
    t.equal((await create('/dir/sub', 0, 'alice', 0)).statusCode, 0);
    t.equal((await create('/dir/sub/v', 10 * GiB)).statusCode, 0);
    t.equal((await create('/nodir/v', 10 * GiB)).statusCode, 109, 'kDirNotExist');
    t.equal((await create('/vol1/x', 10 * GiB)).statusCode, 103, 'kNotDirectory');
    t.equal((await create('/dir/v2', 10 * GiB, 'bob')).statusCode, 111, "bob cannot write alice's dir");
    t.equal((await create('relative', 10 * GiB)).statusCode, 104, 'kParaError');
    t.equal((await create('/a/../b', 10 * GiB)).statusCode, 104);
    t.equal((await create('/x', 10 * GiB, '')).statusCode, 104, 'owner required');
    t.equal((await create('/RecycleBin/x', 10 * GiB)).statusCode, 104, 'not directly into the recycle bin');
    const f = (await info('/vol1'))!;
    t.match(f, {
      fileName: 'vol1',
      fileType: 1,
      owner: 'alice',
      length: 10 * GiB,
      segmentSize: GiB,
      chunkSize: 16 * 2 ** 20,
    });
    t.equal(
      (await call('GetFileInfo', { fileName: '/vol1', owner: 'bob' })).statusCode,
      111,
      'kOwnerAuthFail',
    );
    t.equal((await call('GetFileInfo', { fileName: '/vol1', owner: 'root' })).statusCode, 0, 'root sees all');
    t.equal((await call('GetFileInfo', { fileName: '/nope', owner: 'alice' })).statusCode, 102);
    const ls = await call('ListDir', { fileName: '/', owner: 'alice' });
    t.same(
      (ls.fileInfo as { fileName: string }[]).map((x) => x.fileName),
      ['RecycleBin', 'dir', 'max', 'vol1'],
    );
  });

  t.test('extend: grow only, segment aligned', async (t) => {
    t.equal(
      (await call('ExtendFile', { fileName: '/vol1', owner: 'alice', newSize: 5 * GiB })).statusCode,
      105,
    );
    t.equal(
      (await call('ExtendFile', { fileName: '/vol1', owner: 'alice', newSize: 11 * GiB + 1 })).statusCode,
      106,
    );
    t.equal(
      (await call('ExtendFile', { fileName: '/vol1', owner: 'bob', newSize: 12 * GiB })).statusCode,
      111,
    );
    t.equal(
      (await call('ExtendFile', { fileName: '/vol1', owner: 'alice', newSize: 12 * GiB })).statusCode,
      0,
    );
    t.equal((await info('/vol1'))!.length, 12 * GiB);
    t.equal(
      (await call('ExtendFile', { fileName: '/max', owner: 'alice', newSize: 21 * TiB })).statusCode,
      132,
    );
  });

  t.test('segments: lazy, idempotent under two concurrent clients', async (t) => {
    const seg = (c: MdsClient, offset: number, allocate = true): Promise<R> =>
      c.call<R>('nameserver', 'GetOrAllocateSegment', {
        fileName: '/vol1',
        owner: 'alice',
        offset,
        allocateIfNotExist: allocate,
      });
    t.equal((await seg(h.client, 0, false)).statusCode, 107, 'kSegmentNotAllocated before first write');
    t.equal((await seg(h.client, 123, true)).statusCode, 104, 'unaligned offset');
    t.equal((await seg(h.client, 12 * GiB, true)).statusCode, 104, 'beyond the end');
    const other = new MdsClient([h.mds.address()]);
    t.teardown(() => other.close());
    const offsets = [0, GiB, 2 * GiB, 3 * GiB];
    const [a, b] = await Promise.all([
      Promise.all(offsets.map((o) => seg(h.client, o))),
      Promise.all(offsets.map((o) => seg(other, o))),
    ]);
    for (let i = 0; i < offsets.length; i++) {
      t.equal(a[i].statusCode, 0);
      t.same(
        a[i].pageFileSegment,
        b[i].pageFileSegment,
        `both clients got the same segment at ${offsets[i]}`,
      );
    }
    const s0 = a[0].pageFileSegment as {
      chunks: { chunkID: number; copysetID: number }[];
      logicalPoolID: number;
    };
    t.equal(s0.chunks.length, 64, '1 GiB / 16 MiB chunks');
    const allChunkIds = a.flatMap((r) => (r.pageFileSegment as typeof s0).chunks.map((c) => c.chunkID));
    t.equal(new Set(allChunkIds).size, allChunkIds.length, 'chunk ids unique across segments');
    const copysets = new Set(s0.chunks.map((c) => c.copysetID));
    t.equal(copysets.size, 6, 'chunks spread over all copysets of the pool');
    t.same((await seg(h.client, 0, false)).pageFileSegment, a[0].pageFileSegment, 'later lookups return it');
    const size = await call('GetAllocatedSize', { fileName: '/vol1' });
    t.equal(size.allocatedSize, 4 * GiB);
    t.same(size.allocSizeMap, { [s0.logicalPoolID]: 4 * GiB });
    t.equal(
      (await call('DeAllocateSegment', { fileName: '/vol1', owner: 'alice', offset: GiB })).statusCode,
      0,
    );
    t.equal(
      (await call('DeAllocateSegment', { fileName: '/vol1', owner: 'alice', offset: GiB })).statusCode,
      107,
    );
    const freed = (a[1].pageFileSegment as typeof s0).chunks.map((c) => c.chunkID).sort((x, y) => x - y);
    await waitUntil(
      async () => (await h.mds.store.scan('0a/')).length === 0,
      5000,
      'the freed segment cleaned',
    );
    t.same(
      h.commander.deleted.map((d) => d.chunkId).sort((x, y) => x - y),
      freed,
      'every chunk of the freed segment deleted on the chunkservers, nothing else',
    );

    t.equal((await call('GetAllocatedSize', { fileName: '/' })).allocatedSize, 3 * GiB, 'directory total');
    t.equal((await call('GetFileSize', { fileName: '/' })).fileSize, 12 * GiB + 20 * TiB + 10 * GiB);
  });

  t.test('sessions: open, refresh, close, list clients, occupied', async (t) => {
    const open = await call('OpenFile', {
      fileName: '/vol1',
      owner: 'alice',
      clientIP: '10.0.0.5',
      clientPort: 7000,
    });
    t.equal(open.statusCode, 0);
    const session = open.protoSession as { sessionID: string; leaseTime: number };
    t.equal(session.leaseTime, 400_000, 'lease in microseconds');
    t.equal((await call('OpenFile', { fileName: '/vol1', owner: 'bob' })).statusCode, 111);
    t.equal(
      (await call('OpenFile', { fileName: '/dir', owner: 'alice' })).statusCode,
      110,
      'directories cannot be opened',
    );
    const clients = await call('ListClient', {});
    t.same(clients.clientInfos, [{ ip: '10.0.0.5', port: 7000 }]);
    t.equal(
      (await call('DeleteFile', { fileName: '/vol1', owner: 'alice' })).statusCode,
      126,
      'open: kFileOccupied',
    );
    t.equal(
      (await call('RenameFile', { oldFileName: '/vol1', newFileName: '/v', owner: 'alice' })).statusCode,
      126,
    );
    const ref = await call('RefreshSession', {
      fileName: '/vol1',
      owner: 'alice',
      sessionID: session.sessionID,
    });
    t.equal(ref.statusCode, 0);
    t.equal((ref.fileInfo as { fileName: string }).fileName, 'vol1');
    t.equal(
      (await call('CloseFile', { fileName: '/vol1', owner: 'alice', sessionID: 'nope' })).statusCode,
      125,
    );
    t.equal(
      (await call('CloseFile', { fileName: '/vol1', owner: 'alice', sessionID: session.sessionID }))
        .statusCode,
      0,
    );
    t.same((await call('ListClient', {})).clientInfos, []);
    // a session whose client stops refreshing expires
    await call('OpenFile', { fileName: '/vol1', owner: 'alice', clientIP: '10.0.0.6', clientPort: 1 });
    await new Promise((r) => setTimeout(r, 500));
    t.same((await call('ListClient', {})).clientInfos, [], 'lease expired');
  });

  t.test('epoch: increased and pushed to the chunkservers of the file', async (t) => {
    const r = await call('IncreaseFileEpoch', { fileName: '/vol1', owner: 'alice' });
    t.equal(r.statusCode, 0);
    t.equal((r.fileInfo as { epoch: number }).epoch, 1);
    t.equal((r.csLocs as unknown[]).length, 3, 'all three chunkservers host its copysets');
    const fileId = (r.fileInfo as { id: number }).id;
    t.same(
      h.commander.epochs
        .filter((e) => e.fileId === fileId)
        .map((e) => [e.endpoint, e.epoch])
        .sort(),
      (r.csLocs as { address: string }[]).map((l) => [l.address, 1]).sort(),
      'UpdateEpoch pushed to each of them before the answer',
    );
    const stale = await call('GetOrAllocateSegment', {
      fileName: '/vol1',
      owner: 'alice',
      offset: 5 * GiB,
      allocateIfNotExist: true,
      epoch: 0,
    });
    t.equal(stale.statusCode, 0, 'epoch 0 means "not fencing"');
  });

  t.test('rename, delete to the recycle bin, recover, force delete', async (t) => {
    t.equal(
      (await call('RenameFile', { oldFileName: '/vol1', newFileName: '/dir/vol1b', owner: 'alice' }))
        .statusCode,
      0,
    );
    t.equal(await info('/vol1'), undefined);
    t.equal((await info('/dir/vol1b'))!.length, 12 * GiB);
    t.equal(
      (await call('RenameFile', { oldFileName: '/dir', newFileName: '/dir/sub/x', owner: 'alice' }))
        .statusCode,
      104,
    );
    t.equal(
      (await call('RenameFile', { oldFileName: '/max', newFileName: '/dir/vol1b', owner: 'alice' }))
        .statusCode,
      101,
    );
    const segBefore = await call('GetOrAllocateSegment', {
      fileName: '/dir/vol1b',
      owner: 'alice',
      offset: 0,
      allocateIfNotExist: false,
    });
    t.equal(segBefore.statusCode, 0, 'segments follow the renamed file');

    t.equal((await call('DeleteFile', { fileName: '/dir', owner: 'alice' })).statusCode, 112, 'kDirNotEmpty');
    t.equal((await call('DeleteFile', { fileName: '/dir/vol1b', owner: 'bob' })).statusCode, 111);
    t.equal(
      (await call('DeleteFile', { fileName: '/dir/vol1b', owner: 'alice', fileId: 999 })).statusCode,
      130,
    );
    t.equal((await call('DeleteFile', { fileName: '/dir/vol1b', owner: 'alice' })).statusCode, 0);
    const bin = await call('ListDir', { fileName: '/RecycleBin', owner: 'root' });
    const entries = bin.fileInfo as { fileName: string; originalFullPathName: string }[];
    t.equal(entries.length, 1);
    t.equal(entries[0].originalFullPathName, '/dir/vol1b');
    t.equal((await call('RecoverFile', { fileName: '/dir/nothing', owner: 'alice' })).statusCode, 102);
    t.equal((await call('RecoverFile', { fileName: '/dir/vol1b', owner: 'alice' })).statusCode, 0);
    const back = await call('GetOrAllocateSegment', {
      fileName: '/dir/vol1b',
      owner: 'alice',
      offset: 0,
      allocateIfNotExist: false,
    });
    t.same(back.pageFileSegment, segBefore.pageFileSegment, 'recovered with its data mapping');

    t.equal(
      (await call('DeleteFile', { fileName: '/dir/vol1b', owner: 'alice', forceDelete: true })).statusCode,
      0,
    );
    t.same(
      (await call('ListDir', { fileName: '/RecycleBin', owner: 'root' })).fileInfo,
      [],
      'force skips the bin',
    );
    t.equal((await call('GetAllocatedSize', { fileName: '/' })).allocatedSize, 0, 'segments gone with it');
    await waitUntil(async () => (await h.mds.store.scan('0a/')).length === 0, 5000, 'garbage cleaned');
    const deletedIds = new Set(h.commander.deleted.map((d) => d.chunkId));
    const mapped = (segBefore.pageFileSegment as { chunks: { chunkID: number }[] }).chunks;
    t.ok(
      mapped.every((c) => deletedIds.has(c.chunkID)),
      "the force-deleted file's chunks were deleted on the chunkservers",
    );
    t.equal((await call('DeleteFile', { fileName: '/dir/sub/v', owner: 'alice' })).statusCode, 0);
    t.equal(
      (await call('DeleteFile', { fileName: '/RecycleBin/v-' + String(0), owner: 'root' })).statusCode,
      102,
    );
  });

  t.test('restart: namespace and allocations come back unchanged', async (t) => {
    await create('/keep', 10 * GiB);
    const s = await call('GetOrAllocateSegment', {
      fileName: '/keep',
      owner: 'alice',
      offset: 0,
      allocateIfNotExist: true,
    });
    const listing = await call('ListDir', { fileName: '/', owner: 'root' });
    await h.restart();
    const call2 = (m: string, req: Record<string, unknown>): Promise<R> =>
      h.client.call<R>('nameserver', m, req);
    t.same(await call2('ListDir', { fileName: '/', owner: 'root' }), listing);
    const s2 = await call2('GetOrAllocateSegment', {
      fileName: '/keep',
      owner: 'alice',
      offset: 0,
      allocateIfNotExist: true,
    });
    t.same(s2.pageFileSegment, s.pageFileSegment);
    t.equal(
      (await call2('CreateFile', { fileName: '/after', owner: 'alice', fileType: 1, fileLength: 10 * GiB }))
        .statusCode,
      0,
    );
    const a = await call2('GetFileInfo', { fileName: '/after', owner: 'alice' });
    const k = await call2('GetFileInfo', { fileName: '/keep', owner: 'alice' });
    t.not(
      (a.fileInfo as { id: number }).id,
      (k.fileInfo as { id: number }).id,
      'inode ids not reused after restart',
    );
  });
});
