// Pure parts of the client: I/O splitting, alignment, the range lock, the meta cache, peer addresses.
import t from 'tap';
import { alignOut, chunkSpans, isAligned, segmentSpans, splitIo } from '../../../src/curve/client/io-split';
import { MetaCache } from '../../../src/curve/client/meta-cache';
import { endpointOfPeer } from '../../../src/curve/client/peer-address';
import { RangeLock } from '../../../src/curve/client/range-lock';

const geo = { segmentSize: 64, chunkSize: 16 };

t.test('splitIo: chunk boundaries and bounded pieces', async (t) => {
  t.same(splitIo(10, 30, geo, 8), [
    { segmentIndex: 0, chunkIndex: 0, chunkOffset: 10, length: 6, bufferOffset: 0 },
    { segmentIndex: 0, chunkIndex: 1, chunkOffset: 0, length: 8, bufferOffset: 6 },
    { segmentIndex: 0, chunkIndex: 1, chunkOffset: 8, length: 8, bufferOffset: 14 },
    { segmentIndex: 0, chunkIndex: 2, chunkOffset: 0, length: 8, bufferOffset: 22 },
  ]);
  t.same(
    splitIo(60, 10, geo, 100).map((p) => [p.segmentIndex, p.chunkIndex, p.chunkOffset, p.length]),
    [
      [0, 3, 12, 4],
      [1, 0, 0, 6],
    ],
    'across a segment',
  );
  t.same(splitIo(5, 0, geo, 8), []);
  // pieces tile the range exactly
  for (let off = 0; off < 70; off += 7)
    for (let len = 1; len < 80; len += 11) {
      const ps = splitIo(off, len, geo, 5);
      t.equal(
        ps.reduce((s, p) => s + p.length, 0),
        len,
      );
      for (const p of ps) {
        t.ok(p.length <= 5 && p.chunkOffset + p.length <= 16);
        t.equal(p.segmentIndex * 64 + p.chunkIndex * 16 + p.chunkOffset, off + p.bufferOffset);
      }
    }
  t.throws(() => splitIo(0, 1, geo, 0));
});

t.test('segment and chunk spans', async (t) => {
  t.same(segmentSpans(32, 100, 64), [
    { segmentIndex: 0, offset: 32, length: 32, whole: false },
    { segmentIndex: 1, offset: 64, length: 64, whole: true },
    { segmentIndex: 2, offset: 128, length: 4, whole: false },
  ]);
  t.same(chunkSpans(70, 40, geo), [
    { chunkIndex: 0, offset: 70, length: 10, whole: false },
    { chunkIndex: 1, offset: 80, length: 16, whole: true },
    { chunkIndex: 2, offset: 96, length: 14, whole: false },
  ]);
});

t.test('alignment', async (t) => {
  t.ok(isAligned(4096, 8192, 4096));
  t.notOk(isAligned(512, 4096, 4096));
  t.same(alignOut(1000, 5000, 4096), { offset: 0, length: 8192 });
  t.same(alignOut(4096, 4096, 4096), { offset: 4096, length: 4096 });
});

t.test('peer addresses', async (t) => {
  t.equal(endpointOfPeer('10.0.0.1:8200:0'), '10.0.0.1:8200');
  t.equal(endpointOfPeer('10.0.0.1:8200'), '10.0.0.1:8200');
  t.equal(endpointOfPeer(''), undefined);
  t.equal(endpointOfPeer(null), undefined);
  t.equal(endpointOfPeer('host:notaport:0'), undefined);
});

t.test('meta cache', async (t) => {
  const c = new MetaCache(100);
  t.equal(c.segment(0, 0), undefined);
  c.setUnallocated(0, 1000);
  t.same(c.segment(0, 1050), { allocated: false });
  t.equal(c.segment(0, 1100), undefined, 'negative answers expire');
  const seg = {
    logicalPoolID: 1,
    startOffset: 0,
    segmentSize: 64,
    chunkSize: 16,
    chunks: [{ copysetID: 3, chunkID: 77 }],
  };
  c.setSegment(0, seg);
  t.same(c.chunk(seg, 0), { logicalPoolId: 1, copysetId: 3, chunkId: 77 });
  t.throws(() => c.chunk(seg, 1));
  c.setPeers(1, 3, [
    { id: 1, endpoint: 'a:1' },
    { id: 2, endpoint: 'b:1' },
  ]);
  c.setLeader(1, 3, 'b:1');
  c.setPeers(1, 3, [
    { id: 2, endpoint: 'b:1' },
    { id: 4, endpoint: 'd:1' },
  ]);
  t.equal(c.route(1, 3)?.leader, 'b:1', 'leader kept while still a member');
  c.setPeers(1, 3, [{ id: 4, endpoint: 'd:1' }]);
  t.equal(c.route(1, 3)?.leader, undefined, 'leader dropped when it left');
  c.setLeader(1, 3, 'e:1');
  t.same(
    c.route(1, 3)?.peers.map((p) => p.endpoint),
    ['d:1', 'e:1'],
    'a redirect to an unknown peer adds it',
  );
  c.clearLeader(1, 3, 'd:1');
  t.equal(c.route(1, 3)?.leader, 'e:1', 'clear only if it is still that leader');
  c.clearLeader(1, 3, 'e:1');
  t.equal(c.route(1, 3)?.leader, undefined);
  c.forgetSegment(0);
  t.equal(c.segment(0, 0), undefined);
});

t.test('range lock', async (t) => {
  const l = new RangeLock();
  const order: string[] = [];
  const r1 = await l.acquire(0, 10);
  const p2 = l.acquire(5, 10).then((rel) => {
    order.push('overlap');
    return rel;
  });
  const r3 = await l.acquire(20, 5); // disjoint from the holder and the waiter: no wait
  order.push('disjoint');
  t.equal(l.waiting, 1);
  r1();
  r3();
  (await p2)();
  t.same(order, ['disjoint', 'overlap']);
  t.equal(l.holders, 0);
  // a later overlapping request does not overtake an earlier waiter
  const a = await l.acquire(0, 4);
  const seen: number[] = [];
  const b = l.acquire(0, 8).then((rel) => (seen.push(1), rel));
  const c = l.acquire(4, 4).then((rel) => (seen.push(2), rel));
  a();
  (await b)();
  (await c)();
  t.same(seen, [1, 2], 'FIFO among overlapping ranges');
});
