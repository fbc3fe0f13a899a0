// The Curve client against the real MDS and fake chunkservers: data placement, zeros without RPCs, leader
// changes, outages (held, not failed), lease loss, the hold limit, fencing, bounded in-flight, discard.
import t from 'tap';
import { CurveClientError } from '../../../src/curve/client/client-errors';
import { CurveVolume } from '../../../src/curve/client/curve-volume';
import type { CurveVolumeOptions } from '../../../src/curve/client/client-options';
import { registry } from '../../../src/common/metrics';
import { metricValue } from '../../helpers/metrics';
import { GiB, MiB, OWNER, pattern, startClientHarness } from './harness';

/** The value of one sample line of the shared registry ("name{labels}"), 0 when absent. */
async function sample(key: string): Promise<number> {
  return metricValue(await registry.metrics(), key) || 0;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('curve client', async (t) => {
  const ch = await startClientHarness(1000);
  const volumes: CurveVolume[] = [];
  t.teardown(async () => {
    for (const v of volumes) await v.close().catch(() => undefined);
    await ch.stop();
  });
  const open = async (fileName: string, extra: Partial<CurveVolumeOptions> = {}): Promise<CurveVolume> => {
    const v = await CurveVolume.open({
      mdsAddresses: [ch.mdsAddress],
      fileName,
      owner: OWNER,
      rpcTimeoutMs: 300,
      maxRpcTimeoutMs: 1200,
      getLeaderTimeoutMs: 300,
      holdLimitMs: 20_000,
      ...extra,
    });
    volumes.push(v);
    return v;
  };
  const { cluster } = ch;

  await ch.createVolume('/vol1');
  const v = await open('/vol1');
  t.equal(v.size(), 10 * GiB, 'size from the volume');

  t.test('reads of never-written space are zeros with no chunk RPC', async (t) => {
    const before = cluster.totalCalls();
    const mdsBefore = v.stats().mdsCalls;
    const data = await v.read(5 * GiB + 123, 3 * MiB);
    t.ok(data.equals(Buffer.alloc(3 * MiB)), 'zeros');
    t.equal(cluster.totalCalls(), before, 'no chunkserver RPC');
    t.equal(v.stats().mdsCalls - mdsBefore, 1, 'one segment lookup');
    await v.read(5 * GiB + 4 * MiB, MiB);
    t.equal(v.stats().mdsCalls - mdsBefore, 1, 'the unallocated answer is cached');
    t.equal(cluster.totalCalls(), before);
  });

  t.test('read-your-writes across chunk and segment boundaries', async (t) => {
    // straddles the 16 MiB chunk boundary at 16 MiB and the segment boundary at 1 GiB
    const a = pattern(3 * MiB, 1);
    await v.write(16 * MiB - MiB - 4096, a);
    const b = pattern(5 * MiB, 2);
    await v.write(GiB - 2 * MiB, b);
    t.ok((await v.read(16 * MiB - MiB - 4096, 3 * MiB)).equals(a), 'chunk boundary');
    t.ok((await v.read(GiB - 2 * MiB, 5 * MiB)).equals(b), 'segment boundary');
    const wide = await v.read(GiB - 3 * MiB, 7 * MiB);
    t.ok(wide.subarray(0, MiB).equals(Buffer.alloc(MiB)), 'zeros before');
    t.ok(wide.subarray(MiB, 6 * MiB).equals(b), 'data');
    t.ok(wide.subarray(6 * MiB).equals(Buffer.alloc(MiB)), 'zeros after');
    // an allocated segment whose chunk was never written: CHUNK_NOTEXIST -> zeros
    t.ok(
      (await v.read(512 * MiB, 8192)).equals(Buffer.alloc(8192)),
      'unwritten chunk in an allocated segment',
    );
  });

  t.test('unaligned writes are read-modify-write', async (t) => {
    const base = pattern(3 * 4096, 3);
    await v.write(2 * GiB, base);
    const patch = pattern(5000, 4);
    await v.write(2 * GiB + 1000, patch);
    const tiny = Buffer.from([1, 2, 3]);
    await v.write(2 * GiB + 3 * 4096 - 2, tiny); // crosses into the page after base
    const want = Buffer.concat([base, Buffer.alloc(4096)]);
    patch.copy(want, 1000);
    tiny.copy(want, 3 * 4096 - 2);
    t.ok((await v.read(2 * GiB, 4 * 4096)).equals(want), 'byte exact');
    t.ok((await v.read(2 * GiB + 999, 7)).equals(want.subarray(999, 1006)), 'unaligned read');
  });

  t.test('leader changes: redirect with and without hint, copyset-not-exist, timeout', async (t) => {
    const data = pattern(2 * MiB, 5);
    await v.write(3 * GiB, data);
    const sentBefore = v.stats().chunkRequests;
    cluster.rotateLeaders();
    t.ok((await v.read(3 * GiB, 2 * MiB)).equals(data), 'read follows the redirect hint');
    t.ok(v.stats().chunkRequests > sentBefore + 2, 'redirected requests were re-sent');

    // old leaders forget who leads and answer REDIRECTED without a hint: GetLeader finds it
    const oldLeaders = new Set(cluster.leaders.values());
    cluster.rotateLeaders();
    for (const i of oldLeaders) cluster.servers[i].mode = 'redirect-nohint';
    const glBefore = cluster.getLeaderCalls;
    const d2 = pattern(2 * MiB, 6);
    await v.write(3 * GiB, d2);
    t.ok(cluster.getLeaderCalls > glBefore, 'asked the peers for the leader');
    t.ok((await v.read(3 * GiB, 2 * MiB)).equals(d2));
    for (const s of cluster.servers) s.mode = 'normal';

    // the cached leader times out (and stays the leader for a while): held, then served
    const idx = cluster.leaders.values().next().value as number;
    cluster.servers[idx].mode = 'timeout';
    setTimeout(() => {
      cluster.rotateLeaders();
      cluster.servers[idx].mode = 'normal';
    }, 700);
    const t0 = Date.now();
    const d3 = pattern(4 * MiB, 7);
    await v.write(3 * GiB + 8 * MiB, d3);
    t.ok((await v.read(3 * GiB + 8 * MiB, 4 * MiB)).equals(d3), 'written through a timeout');
    t.ok(Date.now() - t0 < 10_000);

    // a replica that lost the copyset: COPYSET_NOTEXIST -> membership refreshed from the MDS
    const l = cluster.leaders.values().next().value as number;
    cluster.servers[l].mode = 'copyset-notexist';
    setTimeout(() => {
      cluster.rotateLeaders();
      cluster.servers[l].mode = 'normal';
    }, 300);
    const d4 = pattern(MiB, 8);
    await v.write(3 * GiB + 32 * MiB, d4);
    t.ok((await v.read(3 * GiB + 32 * MiB, MiB)).equals(d4));
  });

  t.test('overload answers are retried', async (t) => {
    for (const s of cluster.servers) s.mode = 'overload';
    setTimeout(() => {
      for (const s of cluster.servers) s.mode = 'normal';
    }, 400);
    const d = pattern(MiB, 9);
    await v.write(4 * GiB, d);
    t.ok((await v.read(4 * GiB, MiB)).equals(d));
  });

  t.test('all chunkservers refuse for 2 s: I/O is held, then completes', async (t) => {
    const d = pattern(2 * MiB, 10);
    await v.write(6 * GiB, d);
    for (const s of cluster.servers) await s.down();
    const t0 = Date.now();
    const d2 = pattern(3 * MiB, 11);
    let done = false;
    const w = v.write(6 * GiB + 16 * MiB - MiB, d2).then(() => (done = true));
    const r = v.read(6 * GiB, 2 * MiB);
    await sleep(2000);
    t.notOk(done, 'still held during the outage');
    for (const s of cluster.servers) await s.up();
    await w;
    t.ok((await r).equals(d), 'held read completed with the data');
    t.ok(Date.now() - t0 >= 1900, 'completed only after the outage');
    t.ok((await v.read(6 * GiB + 16 * MiB - MiB, 3 * MiB)).equals(d2), 'held write landed');
  });

  t.test('MDS down past the session lease: I/O held until the lease is back', async (t) => {
    const d = pattern(MiB, 12);
    await v.write(7 * GiB, d);
    await ch.stopMds();
    await sleep(1300); // lease 1 s: lost
    let done = false;
    const r = v.read(7 * GiB, MiB).then((b) => {
      done = true;
      return b;
    });
    await sleep(500);
    t.notOk(done, 'held while the lease is lost');
    await ch.startMds();
    t.ok((await r).equals(d), 'completed once the session was refreshed');
    t.ok(v.stats().sessionRefreshes > 0);
  });

  t.test('hold limit: a clear error after it', async (t) => {
    await ch.createVolume('/short');
    const s = await open('/short', { holdLimitMs: 800 });
    await s.write(0, pattern(8192, 13));
    for (const x of cluster.servers) await x.down();
    const t0 = Date.now();
    const err = await s.write(0, pattern(8192, 14)).catch((e: unknown) => e);
    for (const x of cluster.servers) await x.up();
    t.ok(err instanceof CurveClientError, 'a client error');
    t.equal((err as CurveClientError).kind, 'held-too-long');
    t.match((err as Error).message, /held 800 ms/);
    t.ok(Date.now() - t0 >= 750 && Date.now() - t0 < 5000, 'after about the limit');
  });

  t.test('fencing: a newer opener stops the older writer', async (t) => {
    await ch.createVolume('/shared');
    const a = await open('/shared');
    const d = pattern(64 * 1024, 15);
    await a.write(0, d);
    const b = await open('/shared');
    t.ok(b.epoch > a.epoch, 'epoch increased by the new opener');
    await b.write(0, pattern(4096, 16)); // chunkservers learn the newer epoch
    const err = await a.write(0, pattern(4096, 17)).catch((e: unknown) => e);
    t.equal((err as CurveClientError).kind, 'fenced', 'EPOCH_TOO_OLD fences');
    t.ok(a.fenced);
    const again = await a.write(1 << 20, pattern(4096, 18)).catch((e: unknown) => e);
    t.equal((again as CurveClientError).kind, 'fenced', 'later writes refused at once');
    t.ok((await a.read(0, 4096)).equals(pattern(4096, 16)), 'reads still work and see the new writer');

    // Session refreshes that report the epoch our own IncreaseFileEpoch is raising do not fence us: the MDS
    // answers only after pushing it to the chunkservers, here slower than two refreshes (lease/4 = 250 ms).
    cluster.updateEpochDelayMs = 700;
    const slow = await open('/shared').finally(() => {
      cluster.updateEpochDelayMs = 0;
    });
    t.notOk(slow.fenced, 'not fenced by refreshes during its own epoch raise');
    await slow.write(0, pattern(4096, 19));
    t.ok((await slow.read(0, 4096)).equals(pattern(4096, 19)), 'and it writes');

    // fenced without writing: the session refresh reports the newer epoch
    const c = await open('/shared');
    t.notOk(c.fenced);
    await open('/shared');
    await sleep(700);
    t.ok(c.fenced, 'learned from RefreshSession');
  });

  t.test('bounded in-flight requests per volume', async (t) => {
    await ch.createVolume('/bounded');
    const s = await open('/bounded', { maxInflightRequests: 4 });
    for (const x of cluster.servers) x.delayMs = 20;
    cluster.maxInflight = 0;
    const okBefore = await sample('curve_client_io_total{op="write",result="ok"}');
    const bytesBefore = await sample('curve_client_io_bytes_total{op="write"}');
    const latBefore = await sample('curve_client_io_seconds_count{op="write"}');
    const writes = Array.from({ length: 32 }, (_, i) => s.write(i * 16 * MiB, pattern(64 * 1024, 100 + i)));
    await sleep(50);
    t.ok(s.stats().inflightRequests <= 4, 'at most 4 in flight');
    t.equal(
      await sample('curve_client_inflight_requests{volume="/bounded"}'),
      s.stats().inflightRequests,
      'the in-flight gauge shows the level',
    );
    t.ok(s.stats().waitingRequests > 0, 'the rest wait (bounded)');
    await Promise.all(writes);
    for (const x of cluster.servers) x.delayMs = 0;
    t.ok(cluster.maxInflight <= 4, `chunkservers saw at most 4 at once (saw ${cluster.maxInflight})`);
    t.equal(s.stats().inflightRequests, 0);
    t.equal(await sample('curve_client_inflight_requests{volume="/bounded"}'), 0, 'gauge back to 0');
    t.equal(
      await sample('curve_client_io_total{op="write",result="ok"}'),
      okBefore + 32,
      '32 writes counted',
    );
    t.equal(await sample('curve_client_io_bytes_total{op="write"}'), bytesBefore + 32 * 64 * 1024, 'bytes');
    t.equal(await sample('curve_client_io_seconds_count{op="write"}'), latBefore + 32, 'latencies');
    for (let i = 0; i < 32; i += 7)
      t.ok((await s.read(i * 16 * MiB, 64 * 1024)).equals(pattern(64 * 1024, 100 + i)), `write ${i}`);
  });

  t.test('discard: whole segments deallocated, whole chunks deleted, partial ranges zeroed', async (t) => {
    await ch.createVolume('/thin');
    const s = await open('/thin');
    await s.write(GiB, pattern(2 * MiB, 20)); // segment 1
    await s.write(2 * GiB + 16 * MiB - 8192, pattern(16 * MiB + 16384, 21)); // segment 2: chunks 0..2
    t.same(await s.allocation(0, 4 * GiB), [
      { offset: 0, length: GiB, mapped: false },
      { offset: GiB, length: 2 * GiB, mapped: true },
      { offset: 3 * GiB, length: GiB, mapped: false },
    ]);
    const chunksBefore = cluster.chunks.size;
    await s.discard(GiB, GiB);
    t.equal(cluster.chunks.size, chunksBefore - 1, 'the written chunk was deleted');
    t.same(
      await s.allocation(GiB, GiB),
      [{ offset: GiB, length: GiB, mapped: false }],
      'segment deallocated',
    );
    t.ok((await s.read(GiB, 2 * MiB)).equals(Buffer.alloc(2 * MiB)), 'reads zeros');
    // inside segment 2: the whole chunk 1 is deleted, the edges of chunks 0 and 2 are zeroed
    await s.discard(2 * GiB + 16 * MiB - 4096, 16 * MiB + 8192);
    const back = await s.read(2 * GiB + 16 * MiB - 8192, 16 * MiB + 16384);
    const want = Buffer.alloc(16 * MiB + 16384);
    pattern(16 * MiB + 16384, 21).copy(want, 0, 0, 4096);
    pattern(16 * MiB + 16384, 21).copy(want, 16 * MiB + 12288, 16 * MiB + 12288);
    t.ok(back.equals(want), 'only the discarded range reads as zeros');
    const again = pattern(MiB, 22);
    await s.write(GiB, again);
    t.ok((await s.read(GiB, MiB)).equals(again), 'a deallocated segment is allocated again on write');
  });

  t.test('bad requests get clear errors', async (t) => {
    const e1 = await v.read(10 * GiB - 4096, 8192).catch((e: unknown) => e);
    t.equal((e1 as CurveClientError).kind, 'range');
    const e2 = await CurveVolume.open({
      mdsAddresses: [ch.mdsAddress],
      fileName: '/nope',
      owner: OWNER,
    }).catch((e: unknown) => e);
    t.equal((e2 as CurveClientError).kind, 'notfound');
    const ro = await open('/vol1', { readonly: true });
    t.equal(
      ((await ro.write(0, Buffer.alloc(4096)).catch((e: unknown) => e)) as CurveClientError).kind,
      'readonly',
    );
  });

  t.test('stat and growth; close ends the session', async (t) => {
    await ch.createVolume('/grow');
    const s = await open('/grow');
    const r = await ch.h.client.call<{ statusCode: number }>('nameserver', 'ExtendFile', {
      fileName: '/grow',
      owner: OWNER,
      newSize: 12 * GiB,
    });
    t.equal(r.statusCode, 0);
    t.equal((await s.stat()).length, 12 * GiB);
    t.equal(s.size(), 12 * GiB);
    await s.write(11 * GiB, pattern(4096, 30));
    t.ok((await s.read(11 * GiB, 4096)).equals(pattern(4096, 30)));
    t.match(await registry.metrics(), /curve_client_inflight_requests\{volume="\/grow"\} 0/);
    await s.close();
    const e = await s.read(0, 4096).catch((x: unknown) => x);
    t.equal((e as CurveClientError).kind, 'closed');
    t.notMatch(
      await registry.metrics(),
      /curve_client_inflight_requests\{volume="\/grow"\}/,
      'a closed volume leaves the gauge',
    );
    t.match(
      await registry.metrics(),
      /curve_client_io_total\{op="read",result="closed"\} [1-9]/,
      'failures counted by kind',
    );
  });
});
