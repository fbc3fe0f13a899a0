// Multi-Raft host: many groups on three hosts share one tick loop, heartbeats are coalesced per node pair,
// idle groups quiesce and wake; the binary codec and the TCP transport carry batches on two lanes.
import t from 'tap';
import { bootstrapState } from '../../../src/curve/raft/bootstrap';
import {
  decodeBatch,
  encodeBatch,
  encodeBatchParts,
  EntriesCache,
  GroupMessage,
} from '../../../src/curve/raft/message-codec';
import { GroupStorage, MultiRaftHost, NullStorage } from '../../../src/curve/raft/multi-raft-host';
import { FrameReader, frame, TcpTransport } from '../../../src/curve/raft/tcp-transport';
import { LocalNetwork } from '../../../src/curve/raft/transport';
import { Entry, EntryType, makeMessage } from '../../../src/curve/raft/types';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('codec round-trips messages with entries, snapshots and flags', async (t) => {
  const m = makeMessage('app', 1, 2, 7);
  m.index = 41;
  m.logTerm = 6;
  m.commit = 40;
  m.leaseTick = 1234;
  m.entries = [
    { term: 7, index: 42, type: EntryType.Normal, data: Buffer.alloc(4096, 7) },
    { term: 7, index: 43, type: EntryType.ConfChange, data: Buffer.from([0, 0, 0, 0, 4]) },
    // A record crc travels with its entry (0 and the top bit set included).
    { term: 7, index: 44, type: EntryType.Normal, data: Buffer.from('c'), crc: 0 },
    { term: 7, index: 45, type: EntryType.ConfChange, data: Buffer.from('d'), crc: 0xfedcba98 },
  ];
  const s = makeMessage('snap', 1, 3, 7);
  s.snapshot = {
    meta: { index: 40, term: 6, confState: { voters: [1, 2, 3], learners: [4] } },
    data: Buffer.from('S'),
  };
  const v = makeMessage('vote', 2, 1, 8);
  v.transfer = true;
  v.reject = true;
  const batch: GroupMessage[] = [
    { group: 5, msg: m, quiesce: false },
    { group: 6, msg: s, quiesce: false },
    { group: 7, msg: v, quiesce: true },
  ];
  const back = decodeBatch(encodeBatch(batch));
  const norm = (b: GroupMessage[]): unknown => JSON.parse(JSON.stringify(b));
  t.same(norm(back), norm(batch));
  t.same(
    back[0].msg.entries.map((e) => [e.type, e.crc]),
    [
      [EntryType.Normal, undefined],
      [EntryType.ConfChange, undefined],
      [EntryType.Normal, 0],
      [EntryType.ConfChange, 0xfedcba98],
    ],
  );
  t.throws(() => decodeBatch(encodeBatch(batch).subarray(0, 100)), /truncated/);
});

t.test('batch parts: the same bytes as encodeBatch, entries encoded once per cache', async (t) => {
  const entries: Entry[] = Array.from({ length: 5 }, (_, i) => ({
    term: 3,
    index: 10 + i,
    type: EntryType.Normal,
    data: Buffer.alloc(100 + i, i),
    crc: i % 2 ? i * 1000 : undefined,
  }));
  const app = (to: number, from: number, count: number): GroupMessage => {
    const m = makeMessage('app', 1, to, 3);
    m.index = 9 + from;
    m.commit = 8;
    m.entries = entries.slice(from, from + count);
    return { group: 4, msg: m, quiesce: false };
  };
  const hb = (to: number): GroupMessage => ({
    group: 9,
    msg: makeMessage('heartbeat', 1, to, 3),
    quiesce: true,
  });
  const cache = new EntriesCache();
  const batches: GroupMessage[][] = [
    [app(2, 0, 5)],
    [app(3, 0, 5)],
    [hb(2), app(2, 1, 3), hb(2), hb(2)],
    [hb(3)],
    [app(3, 1, 3), app(3, 0, 5)],
    [],
  ];
  for (const batch of batches) {
    const parts = encodeBatchParts(batch, cache);
    t.same(Buffer.concat(parts), encodeBatch(batch), `${batch.length} messages`);
    t.same(JSON.parse(JSON.stringify(decodeBatch(Buffer.concat(parts)))), JSON.parse(JSON.stringify(batch)));
  }
  const [, toTwo] = encodeBatchParts([app(2, 0, 5)], cache);
  const [, toThree] = encodeBatchParts([app(3, 0, 5)], cache);
  t.equal(toTwo, toThree, 'the same entries section for both followers');
  cache.clear();
  t.not(encodeBatchParts([app(2, 0, 5)], cache)[1], toTwo, 'a cleared cache encodes again');
  const snap = makeMessage('snap', 1, 2, 3);
  snap.snapshot = {
    meta: { index: 9, term: 3, confState: { voters: [1, 2], learners: [] } },
    data: Buffer.from('s'),
  };
  const withSnap: GroupMessage[] = [app(2, 0, 2), { group: 4, msg: snap, quiesce: false }];
  t.same(encodeBatchParts(withSnap, cache), [encodeBatch(withSnap)], 'a snapshot batch stays one buffer');
});

t.test('frame reader reassembles frames split anywhere', async (t) => {
  const frames = [Buffer.from('a'), Buffer.alloc(70000, 1), Buffer.from('xyz')];
  const stream = Buffer.concat(frames.map(frame));
  for (const cut of [1, 3, 5, 1000, 70005]) {
    const r = new FrameReader();
    const got: Buffer[] = [];
    r.push(stream.subarray(0, cut), (f) => got.push(Buffer.from(f)));
    r.push(stream.subarray(cut), (f) => got.push(Buffer.from(f)));
    t.same(got, frames, `cut at ${cut}`);
  }
  // Every cut into pieces of 1..7 bytes (length prefixes split at every position), and an empty frame.
  const withEmpty = [...frames, Buffer.alloc(0), Buffer.from('end')];
  const all = Buffer.concat(withEmpty.map(frame));
  for (const piece of [1, 2, 3, 5, 7, 4096]) {
    const r = new FrameReader();
    const got: Buffer[] = [];
    for (let o = 0; o < all.length; o += piece)
      r.push(all.subarray(o, o + piece), (f) => got.push(Buffer.from(f)));
    t.same(got, withEmpty, `pieces of ${piece}`);
  }
  const big = Buffer.alloc(4);
  big.writeUInt32BE(0xffffffff, 0);
  t.throws(() => new FrameReader().push(big, () => {}), /frame of/, 'an oversized length is refused');
});

t.test('persist batches sync concurrently but complete in the order they were taken', async (t) => {
  const net = new LocalNetwork();
  const h = new MultiRaftHost({ transport: net.connect(1), tickMs: 10 });
  let hold = false;
  const held: (() => void)[] = [];
  const storage: GroupStorage = {
    append() {},
    setHardState() {},
    saveSnapshot() {},
    syncAsync: () => (hold ? new Promise<void>((resolve) => held.push(resolve)) : Promise.resolve()),
  };
  const applied: string[] = [];
  h.addGroup(1, bootstrapState([1]), storage, {
    apply: (e) => {
      if (e.type === EntryType.Normal && e.data.length) applied.push(Buffer.from(e.data).toString());
    },
    restore: () => {},
  });
  h.start();
  t.teardown(() => h.stop());
  await waitFor(() => h.core(1)!.role === 'leader');
  await h.propose(1, Buffer.from('warm'));
  applied.length = 0;
  hold = true;
  const a = h.propose(1, Buffer.from('a'));
  await sleep(20);
  const b = h.propose(1, Buffer.from('b'));
  await sleep(20);
  t.equal(held.length, 2, "the second batch's sync started while the first one ran");
  held[1](); // the later sync returns first
  await sleep(30);
  t.same(applied, [], 'the later batch waits for the earlier one (a single voter commits what it persisted)');
  hold = false;
  held[0]();
  const [ia, ib] = await Promise.all([a, b]);
  t.equal(ib, ia + 1);
  t.same(applied, ['a', 'b'], 'both complete, in order');
});

async function threeHosts(groups: number, tickMs = 10) {
  const net = new LocalNetwork();
  const applied = new Map<string, Entry[]>();
  const hosts = [1, 2, 3].map(
    (id) => new MultiRaftHost({ transport: net.connect(id), tickMs, quiesceAfterTicks: 3 }),
  );
  for (const h of hosts) {
    for (let g = 1; g <= groups; g++) {
      const list: Entry[] = [];
      applied.set(`${h.nodeId}/${g}`, list);
      h.addGroup(g, bootstrapState([1, 2, 3]), new NullStorage(), {
        apply: (e) => list.push(e),
        restore: () => {},
      });
    }
    h.start();
  }
  return { hosts, applied };
}

async function waitFor(cond: () => boolean, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(10);
  }
}

t.test('200 groups on three hosts: elections, replication, coalesced heartbeats, quiescence', async (t) => {
  const G = 200;
  const { hosts, applied } = await threeHosts(G);
  t.teardown(() => Promise.all(hosts.map((h) => h.stop())));
  const leaderOf = (g: number) => hosts.find((h) => h.core(g)!.role === 'leader');
  await waitFor(() => [...Array(G).keys()].every((i) => leaderOf(i + 1)));
  await Promise.all(
    [...Array(G).keys()].map((i) => leaderOf(i + 1)!.propose(i + 1, Buffer.from(`g${i + 1}`))),
  );
  await waitFor(() =>
    hosts.every((h) =>
      [...Array(G).keys()].every((i) => applied.get(`${h.nodeId}/${i + 1}`)!.some((e) => e.data.length > 0)),
    ),
  );
  t.pass('every group committed and applied its entry on all three hosts');
  // Coalescing: batches per tick stay ~2 lanes x 2 peers whatever the number of groups.
  const h = hosts[0];
  await waitFor(() => [...Array(G).keys()].every((i) => hosts.every((x) => x.isQuiet(i + 1))), 5000);
  t.pass('all groups quiesced');
  const before = { ...h.counters };
  await sleep(200);
  const ticks = h.counters.ticks - before.ticks;
  t.equal(h.counters.groupTicks - before.groupTicks, 0, 'quiet groups are not ticked');
  t.ok((h.counters.batchesSent - before.batchesSent) / ticks <= 2.5, 'one node heartbeat per peer per tick');
  // A proposal wakes its group.
  const lead = leaderOf(7)!;
  await lead.propose(7, Buffer.from('again'));
  t.notOk(lead.isQuiet(7));
  // A lease read on a woken leader goes through a heartbeat round and returns an applied index.
  const idx = await lead.read(7, 'lease');
  t.ok(idx >= 3);
});

t.test('a quiesced group elects a new leader when its leader host dies', async (t) => {
  const { hosts } = await threeHosts(5);
  t.teardown(() => Promise.all(hosts.map((h) => h.stop())));
  await waitFor(() => hosts.some((h) => h.core(1)!.role === 'leader'));
  await waitFor(() => hosts.every((h) => h.isQuiet(1)), 5000);
  const old = hosts.find((h) => h.core(1)!.role === 'leader')!;
  await old.stop();
  const others = hosts.filter((h) => h !== old);
  await waitFor(() => others.some((h) => h.core(1)!.role === 'leader'), 5000);
  t.pass('new leader elected');
});

t.test('TCP transport delivers batches on both lanes and reconnects after a peer restarts', async (t) => {
  const a = await TcpTransport.listen(1, '127.0.0.1', 0, new Map());
  let b = await TcpTransport.listen(2, '127.0.0.1', 0, new Map());
  a.setPeer(2, b.address());
  const got: [number, string][] = [];
  b.onBatch((from, batch) => got.push([from, batch.map((m) => m.msg.type).join(',')]));
  const hb = makeMessage('heartbeat', 1, 2, 3);
  const app = makeMessage('app', 1, 2, 3);
  app.entries = [{ term: 3, index: 1, type: EntryType.Normal, data: Buffer.alloc(4096) }];
  a.send(2, 'data', [{ group: 1, msg: app, quiesce: false }]);
  a.send(2, 'control', [{ group: 1, msg: hb, quiesce: false }]);
  a.send(2, 'control', []);
  await waitFor(() => got.length === 3);
  t.same(
    got.map((g) => g[0]),
    [1, 1, 1],
  );
  t.same(got.map((g) => g[1]).sort(), ['', 'app', 'heartbeat']);
  const port = b.address().port;
  await b.close();
  a.send(2, 'control', [{ group: 1, msg: hb, quiesce: false }]); // lost while b is down
  await sleep(50);
  b = await TcpTransport.listen(2, '127.0.0.1', port, new Map());
  const again: string[] = [];
  b.onBatch((_from, batch) => again.push(batch.map((m) => m.msg.type).join(',')));
  await waitFor(() => {
    a.send(2, 'control', [{ group: 1, msg: hb, quiesce: false }]);
    return again.length > 0;
  });
  t.pass('delivered after reconnect');
  await a.close();
  await b.close();
});
