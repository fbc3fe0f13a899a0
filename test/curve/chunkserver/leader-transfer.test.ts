// 3 chunkserver processes, one copyset, writers keeping 8 writes in flight while leadership moves from
// replica to replica (TransferLeader). Writes in flight on a leader that steps down are answered, not
// left hanging: committed ones with SUCCESS, the rest REDIRECTED to the new leader (the client retries;
// chunk writes are idempotent). Every acknowledged page reads back as written.
import t from 'tap';
import {
  FAST_ARGS,
  STATUS,
  cliCall,
  createCopyset,
  pattern,
  startThreeChunkservers,
  waitLeader,
} from './cs-harness';

const PAGE = 4096;
const WRITERS = 8;
const TRANSFERS = 4;

t.test(
  'writes in flight while leadership moves: all answered, none lost',
  { timeout: 120_000 },
  async (t) => {
    const { eps, client } = await startThreeChunkservers(t, 'c3-transfer-', FAST_ARGS, {
      clientTimeoutMs: 1000,
      stopSignal: 'SIGTERM',
    });
    t.same(await createCopyset(eps, 1, 1), [0, 0, 0], 'copyset created on all three');
    await waitLeader(eps, 1, 1);

    // Each writer owns its pages, so the last acknowledged version of a page is what it must hold.
    const acked = new Map<string, number>();
    const failures: string[] = [];
    let stop = false;
    let writes = 0;
    const writer = async (w: number): Promise<void> => {
      for (let v = 1; !stop; v++) {
        const chunkId = 21 + (w % 2);
        const page = (w >> 1) * 8 + (v % 8);
        const r = await client.write(
          { pool: 1, copyset: 1, chunkId },
          page * PAGE,
          pattern(chunkId, page * PAGE, v, PAGE),
          1,
          20_000,
        );
        if (r.status !== STATUS.SUCCESS) failures.push(`writer ${w} v${v}: status ${r.status}`);
        else acked.set(`${chunkId}/${page}`, v);
        writes++;
      }
    };
    const running = Array.from({ length: WRITERS }, (_, w) => writer(w));

    for (let i = 0; i < TRANSFERS; i++) {
      await new Promise((r) => setTimeout(r, 300));
      const from = await waitLeader(eps, 1, 1);
      const to = eps[(eps.indexOf(from) + 1) % eps.length];
      const before = writes;
      await cliCall(from, 'TransferLeader', {
        logicPoolId: 1,
        copysetId: 1,
        transferee: { id: 0, address: `${to}:0` },
      });
      const until = Date.now() + 10_000;
      let now = await waitLeader(eps, 1, 1);
      while (now !== to && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 50));
        now = await waitLeader(eps, 1, 1);
      }
      t.equal(now, to, `transfer ${i + 1}: leadership moved to ${to}`);
      t.ok(writes > before, `transfer ${i + 1}: writes kept completing (${writes - before} during it)`);
    }
    stop = true;
    await Promise.all(running);

    t.same(failures, [], `all ${writes} writes answered SUCCESS in the end`);
    t.ok(client.redirects > 0, `old leaders answered REDIRECTED (${client.redirects} times)`);
    let bad = 0;
    for (const [key, version] of acked) {
      const [chunkId, page] = key.split('/').map(Number);
      const r = await client.read({ pool: 1, copyset: 1, chunkId }, page * PAGE, PAGE);
      if (r.status !== STATUS.SUCCESS || !r.data.equals(pattern(chunkId, page * PAGE, version, PAGE))) bad++;
    }
    t.equal(bad, 0, `every acknowledged page (${acked.size}) reads back as last written`);
  },
);
