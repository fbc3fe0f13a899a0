// The `curve` backing store through the BackingStore interface, on the real MDS and fake chunkservers.
import t from 'tap';
import { BackingStoreError, type BackingStore } from '../../src/backing/backing-store';
import { curveStoreType, parseCurveBsOpts } from '../../src/backing/curve';
import { GiB, MiB, OWNER, pattern, startClientHarness } from '../curve/client/harness';

t.test('bsopts parsing', async (t) => {
  t.same(parseCurveBsOpts('mds=127.0.0.1:6700,10.0.0.2:6700', {}), {
    mds: ['127.0.0.1:6700', '10.0.0.2:6700'],
  });
  t.same(parseCurveBsOpts('mds=h:1;user=alice;hold=2.5;exclusive=0', {}), {
    mds: ['h:1'],
    owner: 'alice',
    holdLimitMs: 2500,
    exclusive: false,
  });
  t.same(parseCurveBsOpts('', { CURVE_MDS: 'a:1,b:2' }), { mds: ['a:1', 'b:2'] }, 'falls back to CURVE_MDS');
  t.throws(() => parseCurveBsOpts('', {}), /no MDS address/);
  t.throws(() => parseCurveBsOpts('mds=nohost', {}), /bad MDS address/);
  t.throws(() => parseCurveBsOpts('mds=h:1;colour=blue', {}), /unknown --bsopts key 'colour'/);
  t.throws(() => parseCurveBsOpts('mds=h:1;hold=-1', {}), /bad hold/);
  t.throws(() => parseCurveBsOpts('justtext', {}), /want key=value/);
});

t.test('curve store', async (t) => {
  const ch = await startClientHarness(1000);
  const stores: BackingStore[] = [];
  t.teardown(async () => {
    for (const s of stores) await s.close().catch(() => undefined);
    await ch.stop();
  });
  await ch.createVolume('/pool1');
  const opts = `mds=${ch.mdsAddress};user=${OWNER};hold=20`;
  const open = async (extra: { readonly?: boolean; path?: string } = {}): Promise<BackingStore> => {
    const s = await curveStoreType.open({
      path: extra.path ?? '/pool1',
      oflags: [],
      opts,
      blockSize: 512,
      readonly: extra.readonly ?? false,
    });
    stores.push(s);
    return s;
  };
  const store = await open();

  t.test('identity and capabilities', async (t) => {
    t.equal(store.type, 'curve');
    t.equal(store.size(), 10 * GiB);
    t.same(store.capabilities, { unmap: true, compareAndWrite: true, lbaStatus: true, volatileCache: false });
  });

  t.test('read/write with 512-byte blocks, flush', async (t) => {
    const d = pattern(512 * 9, 1);
    await store.write(512 * 3, d, true);
    await store.flush();
    t.ok((await store.read(512 * 3, 512 * 9)).equals(d));
    t.ok((await store.read(0, 512 * 3)).equals(Buffer.alloc(512 * 3)));
    const big = pattern(4 * MiB, 2);
    await store.write(16 * MiB - 2 * MiB, big, false);
    t.ok((await store.read(16 * MiB - 2 * MiB, 4 * MiB)).equals(big));
    const err = await store.read(10 * GiB, 512).catch((e: unknown) => e);
    t.ok(err instanceof BackingStoreError);
    t.equal((err as BackingStoreError).kind, 'range');
  });

  t.test('compare and write is atomic against concurrent writes', async (t) => {
    const at = 5 * GiB;
    await store.write(at, Buffer.alloc(512, 1), false);
    t.equal(
      await store.compareAndWrite!(at, Buffer.alloc(512, 1), Buffer.alloc(512, 2)),
      -1,
      'match: written',
    );
    t.ok((await store.read(at, 512)).equals(Buffer.alloc(512, 2)));
    const wrong = Buffer.alloc(512, 2);
    wrong[100] = 9;
    t.equal(
      await store.compareAndWrite!(at, wrong, Buffer.alloc(512, 3)),
      100,
      'offset of the first difference',
    );
    t.ok((await store.read(at, 512)).equals(Buffer.alloc(512, 2)), 'nothing written on miscompare');
    // 20 racing CAWs each expecting value v and writing v+1: exactly one wins per value
    let wins = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        for (;;) {
          const cur = (await store.read(at, 512))[0];
          if (cur >= 12) return;
          const r = await store.compareAndWrite!(at, Buffer.alloc(512, cur), Buffer.alloc(512, cur + 1));
          if (r === -1) wins++;
        }
      }),
    );
    t.equal(wins, 10, 'every increment happened exactly once');
    t.equal((await store.read(at, 512))[0], 12);
  });

  t.test('unmap, write zeroes, allocation status', async (t) => {
    await store.write(3 * GiB, pattern(MiB, 3), false);
    t.same(await store.allocationStatus!(2 * GiB, 2 * GiB), [
      { offset: 2 * GiB, length: GiB, mapped: false },
      { offset: 3 * GiB, length: GiB, mapped: true },
    ]);
    await store.unmap(3 * GiB, GiB);
    t.same(await store.allocationStatus!(3 * GiB, GiB), [{ offset: 3 * GiB, length: GiB, mapped: false }]);
    t.ok((await store.read(3 * GiB, MiB)).equals(Buffer.alloc(MiB)));
    await store.write(4 * GiB, pattern(8192, 4), false);
    await store.writeZeroes(4 * GiB + 512, 1024);
    const want = pattern(8192, 4);
    want.fill(0, 512, 1536);
    t.ok((await store.read(4 * GiB, 8192)).equals(want), 'partial range zeroed, the rest kept');
  });

  t.test('refreshSize picks up an extended volume', async (t) => {
    const r = await ch.h.client.call<{ statusCode: number }>('nameserver', 'ExtendFile', {
      fileName: '/pool1',
      owner: OWNER,
      newSize: 11 * GiB,
    });
    t.equal(r.statusCode, 0);
    t.equal(await store.refreshSize(), 11 * GiB);
    t.equal(store.size(), 11 * GiB);
  });

  t.test('read-only, fenced and bad paths', async (t) => {
    const ro = await open({ readonly: true });
    t.equal(
      ((await ro.write(0, Buffer.alloc(512), false).catch((e: unknown) => e)) as BackingStoreError).kind,
      'readonly',
    );
    t.ok((await ro.read(512 * 3, 512)).equals(pattern(512 * 9, 1).subarray(0, 512)), 'reads work');
    // a second gateway opens the volume: the first is fenced on its next write
    const other = await open();
    await other.write(512 * 3, Buffer.alloc(512, 7), false);
    const e = await store.write(512 * 3, Buffer.alloc(512, 8), false).catch((x: unknown) => x);
    t.ok(e instanceof BackingStoreError);
    t.equal((e as BackingStoreError).kind, 'readonly', 'fenced writes are write-protected');
    t.match((e as Error).message, /fenced/);
    await t.rejects(open({ path: 'relative' }), /volume path like \/pool\/vol1/);
    await t.rejects(open({ path: '/missing' }), /kFileNotExists/);
  });
});
