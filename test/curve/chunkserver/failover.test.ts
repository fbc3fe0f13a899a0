// 3 chunkserver processes, one copyset, a client writing verifiable pages: SIGKILL the leader mid-write.
// Writes must resume on a new leader within 2 election timeouts, no acknowledged write may be lost, and the
// killed replica must catch up after restart (by log, or by snapshot once its log was compacted).
import t from 'tap';
import {
  FAST_ARGS,
  STATUS,
  copysetCall,
  createCopyset,
  pattern,
  startChunkserver,
  startThreeChunkservers,
  waitLeader,
} from './cs-harness';

const ELECTION_MS = 50 * 10;
const PAGE = 4096;
const ARGS = [
  ...FAST_ARGS,
  '--snapshot-interval-entries',
  '200',
  '--snapshot-retain-entries',
  '20',
  '--raft-segment-bytes',
  String(64 << 10),
];

// Bounded so a stuck step fails with the step's name instead of running into the runner's file timeout.
t.test(
  'leader SIGKILL mid-write: resume, nothing acknowledged lost, restart catches up',
  { timeout: 180_000 },
  async (t) => {
    const { cs, eps, client } = await startThreeChunkservers(t, 'c3-failover-', ARGS, {
      clientTimeoutMs: 600,
      stopSignal: 'SIGKILL',
    });

    t.same(await createCopyset(eps, 1, 1), [0, 0, 0], 'copyset created on all three');
    t.same(await createCopyset(eps, 1, 1), [1, 1, 1], 'creating again answers EXIST');
    const leader = await waitLeader(eps, 1, 1);

    // Acknowledged state: chunk -> page -> version.
    const acked = new Map<string, number>();
    const chunks = [11, 12, 13, 14];
    let stop = false;
    let maxGapMs = 0;
    let killedAt = 0;
    let firstAckAfterKill = 0;
    const writer = async (w: number): Promise<number> => {
      let n = 0;
      for (let v = 1; !stop; v++) {
        const chunkId = chunks[w % chunks.length];
        const page = (v * 7 + w) % 16;
        const t0 = Date.now();
        const r = await client.write(
          { pool: 1, copyset: 1, chunkId },
          page * PAGE,
          pattern(chunkId, page * PAGE, v * 100 + w, PAGE),
          1,
          20_000,
        );
        if (r.status !== STATUS.SUCCESS) throw new Error(`write status ${r.status}`);
        const now = Date.now();
        maxGapMs = Math.max(maxGapMs, now - t0);
        // Only a write issued after the kill shows the new leader serving: a reply the old leader sent just
        // before dying can still arrive after it (measured: "2 ms after the kill").
        if (killedAt && !firstAckAfterKill && t0 > killedAt) firstAckAfterKill = now;
        acked.set(`${chunkId}/${page}`, v * 100 + w);
        n++;
      }
      return n;
    };
    const writers = [0, 1, 2, 3].map(writer);
    await new Promise((r) => setTimeout(r, 1500));
    const victim = cs.find((c) => c.endpoint === leader)!;
    killedAt = Date.now();
    t.comment(`SIGKILL leader ${leader}`);
    victim.proc.kill('SIGKILL');
    await victim.exited;
    await new Promise((r) => setTimeout(r, 2500));
    stop = true;
    const counts = await Promise.all(writers);
    t.ok(
      counts.every((n) => n > 0),
      `every writer made progress (${counts.join(', ')})`,
    );
    t.ok(firstAckAfterKill > 0, 'writes acknowledged after the kill');
    const resumeMs = firstAckAfterKill - killedAt;
    // An election timeout is randomized in [ELECTION_MS, 2 * ELECTION_MS).
    t.ok(
      resumeMs < 2 * 2 * ELECTION_MS,
      `first write issued after the kill acknowledged ${resumeMs} ms after it (< 2 election timeouts = ${4 * ELECTION_MS} ms)`,
    );

    const survivors = eps.filter((e) => e !== leader);
    const newLeader = await waitLeader(survivors, 1, 1);
    t.not(newLeader, leader, 'a new leader was elected');
    for (const [key, version] of acked) {
      const [chunkId, page] = key.split('/').map(Number);
      const r = await client.read({ pool: 1, copyset: 1, chunkId }, page * PAGE, PAGE);
      if (r.status !== STATUS.SUCCESS || !r.data.equals(pattern(chunkId, page * PAGE, version, PAGE))) {
        t.fail(`acknowledged write ${key} v${version} lost (status ${r.status})`);
      }
    }
    t.pass(`all ${acked.size} acknowledged pages read back byte-exact`);

    // Restart the killed node: it must catch up (its log was probably compacted: snapshots every 200 entries).
    const idx = cs.indexOf(victim);
    t.comment(`restarting ${victim.endpoint}`);
    cs[idx] = await startChunkserver(victim.dir, victim.port, ARGS);
    const target = await copysetCall<{ knownAppliedIndex: number }>(newLeader, 'GetCopysetStatus', {
      logicPoolId: 1,
      copysetId: 1,
    });
    const until = Date.now() + 15_000;
    let st = { knownAppliedIndex: 0, state: 0 };
    while (Date.now() < until) {
      st = await copysetCall(victim.endpoint, 'GetCopysetStatus', { logicPoolId: 1, copysetId: 1 });
      if (st.knownAppliedIndex >= target.knownAppliedIndex) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    t.ok(
      st.knownAppliedIndex >= target.knownAppliedIndex,
      `restarted replica applied ${st.knownAppliedIndex} >= ${target.knownAppliedIndex}`,
    );

    // Make the restarted replica the leader and read everything from it.
    t.comment('transferring leadership to the restarted replica');
    const { cliCall } = await import('./cs-harness');
    await cliCall(newLeader, 'TransferLeader', {
      logicPoolId: 1,
      copysetId: 1,
      transferee: { id: 0, address: `${victim.endpoint}:0` },
    });
    t.equal(await waitLeader(eps, 1, 1), victim.endpoint, 'leadership transferred to the restarted replica');
    let bad = 0;
    for (const [key, version] of acked) {
      const [chunkId, page] = key.split('/').map(Number);
      const r = await client.read({ pool: 1, copyset: 1, chunkId }, page * PAGE, PAGE);
      if (r.status !== STATUS.SUCCESS || !r.data.equals(pattern(chunkId, page * PAGE, version, PAGE))) bad++;
    }
    t.equal(bad, 0, 'the restarted replica, now leader, serves every acknowledged page');
    const logs = cs[idx].logs.join('\n');
    // Snapshots every 200 entries keeping 20: the log it needed was compacted away on the leader.
    t.match(logs, /snapshot installed/, 'the restarted replica caught up by installing a snapshot');
  },
);
