// The in-memory Raft log is bounded by bytes, not only by entry count: with large writes and no entry
// limit, copysets still snapshot every --snapshot-interval-bytes and keep at most --snapshot-retain-bytes
// of entries below the snapshot. Real processes; data is read back after the compactions.
import t from 'tap';
import { FAST_ARGS, STATUS, createCopyset, pattern, startThreeChunkservers, waitLeader } from './cs-harness';

const WRITE = 64 << 10;
const CHUNK = 256 << 10;
const ARGS = [
  ...FAST_ARGS,
  '--snapshot-interval-entries',
  '0',
  '--snapshot-interval-bytes',
  String(1 << 20),
  '--snapshot-retain-entries',
  '1000',
  '--snapshot-retain-bytes',
  String(256 << 10),
];

interface Taken {
  index: number;
  firstLogIndex: number;
}

function snapshotsTaken(logs: string[]): Taken[] {
  return logs
    .filter((l) => l.includes('snapshot taken'))
    .map((l) => JSON.parse(l) as Taken)
    .map(({ index, firstLogIndex }) => ({ index, firstLogIndex }));
}

t.test(
  'large writes trigger snapshots by bytes and the log keeps only the retained bytes',
  { timeout: 120_000 },
  async (t) => {
    const { cs, eps, client } = await startThreeChunkservers(t, 'c3-snapbytes-', ARGS, {
      clientTimeoutMs: 5000,
      stopSignal: 'SIGTERM',
    });
    t.same(await createCopyset(eps, 1, 1), [0, 0, 0], 'copyset created on all three');
    const leader = await waitLeader(eps, 1, 1);

    // 4 MiB in 64 KiB writes: 16 chunks of 256 KiB, each written in 4 pieces.
    const writes: { chunkId: number; offset: number }[] = [];
    for (let chunkId = 1; chunkId <= 16; chunkId++) {
      for (let offset = 0; offset < CHUNK; offset += WRITE) writes.push({ chunkId, offset });
    }
    for (let i = 0; i < writes.length; i += 8) {
      const rs = await Promise.all(
        writes
          .slice(i, i + 8)
          .map(({ chunkId, offset }) =>
            client.write({ pool: 1, copyset: 1, chunkId }, offset, pattern(chunkId, offset, 1, WRITE)),
          ),
      );
      if (rs.some((r) => r.status !== STATUS.SUCCESS)) t.fail(`write batch ${i / 8} failed`);
    }
    // Snapshots run after apply, asynchronously: give the last one a moment.
    const lead = cs.find((c) => c.endpoint === leader)!;
    const until = Date.now() + 10_000;
    while (Date.now() < until && snapshotsTaken(lead.logs).length < 3)
      await new Promise((r) => setTimeout(r, 50));
    const taken = snapshotsTaken(lead.logs);
    t.ok(taken.length >= 3, `the leader took ${taken.length} snapshots for 4 MiB with a 1 MiB interval`);
    for (const s of taken) {
      // Each entry is one 64 KiB write plus its header: 256 KiB of retained bytes is fewer than 4 entries.
      t.ok(
        s.index - s.firstLogIndex + 1 <= 4,
        `snapshot at ${s.index} keeps ${s.index - s.firstLogIndex + 1} entries below it (<= 4)`,
      );
    }
    for (const { chunkId, offset } of writes) {
      const r = await client.read({ pool: 1, copyset: 1, chunkId }, offset, WRITE);
      if (r.status !== STATUS.SUCCESS || !r.data.equals(pattern(chunkId, offset, 1, WRITE))) {
        t.fail(`chunk ${chunkId} offset ${offset} does not read back (status ${r.status})`);
      }
    }
    t.pass(`all ${writes.length} writes read back after the compactions`);
  },
);

// Many copysets, none near its own 16 MiB interval: the chunkserver-wide budget (--log-budget-bytes) asks
// the copyset holding the most unsnapshotted log for a snapshot whenever all of them together hold more.
t.test('a chunkserver-wide log budget snapshots the largest copysets', { timeout: 120_000 }, async (t) => {
  const BUDGET = 1 << 20;
  const budgetArgs = [
    ...FAST_ARGS,
    '--snapshot-interval-entries',
    '0',
    '--snapshot-interval-bytes',
    String(16 << 20),
    '--snapshot-retain-entries',
    '0',
    '--log-budget-bytes',
    String(BUDGET),
  ];
  const { cs, eps, client } = await startThreeChunkservers(t, 'c3-logbudget-', budgetArgs, {
    clientTimeoutMs: 5000,
    stopSignal: 'SIGTERM',
  });
  const COPYSETS = 8;
  for (let c = 1; c <= COPYSETS; c++)
    t.same(await createCopyset(eps, 1, c), [0, 0, 0], `copyset ${c} created`);
  for (let c = 1; c <= COPYSETS; c++) await waitLeader(eps, 1, c);
  // 6 MiB in 64 KiB writes spread over the copysets (768 KiB each, far below 16 MiB).
  const writes: { copyset: number; chunkId: number; offset: number }[] = [];
  for (let c = 1; c <= COPYSETS; c++) {
    for (let k = 0; k < 3; k++) {
      for (let offset = 0; offset < CHUNK; offset += WRITE)
        writes.push({ copyset: c, chunkId: c * 10 + k, offset });
    }
  }
  for (let i = 0; i < writes.length; i += 8) {
    const rs = await Promise.all(
      writes
        .slice(i, i + 8)
        .map(({ copyset, chunkId, offset }) =>
          client.write({ pool: 1, copyset, chunkId }, offset, pattern(chunkId, offset, 1, WRITE)),
        ),
    );
    if (rs.some((r) => r.status !== STATUS.SUCCESS)) t.fail(`write batch ${i / 8} failed`);
  }
  // Every replica applies every entry, so each chunkserver's budget is exceeded and snapshots.
  const until = Date.now() + 10_000;
  const counts = (): number[] => cs.map((c) => snapshotsTaken(c.logs).length);
  while (Date.now() < until && counts().some((n) => n < 4)) await new Promise((r) => setTimeout(r, 50));
  // 6 MiB through a 1 MiB budget: at least ~5 MiB had to be released by snapshots of >= 256 KiB.
  for (const [i, n] of counts().entries()) t.ok(n >= 4, `chunkserver ${i + 1} took ${n} snapshots (>= 4)`);
  for (const { copyset, chunkId, offset } of writes) {
    const r = await client.read({ pool: 1, copyset, chunkId }, offset, WRITE);
    if (r.status !== STATUS.SUCCESS || !r.data.equals(pattern(chunkId, offset, 1, WRITE))) {
      t.fail(`copyset ${copyset} chunk ${chunkId} offset ${offset} does not read back (status ${r.status})`);
    }
  }
  t.pass(`all ${writes.length} writes read back after the budget's snapshots`);
});
