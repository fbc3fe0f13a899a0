import t from 'tap';
import { TaskAttr } from '../../src/scsi/scsi-types';
import { TaskSet } from '../../src/scsi/task-set';

function deferred(): { p: Promise<void>; done: () => void } {
  let done!: () => void;
  const p = new Promise<void>((r) => (done = r));
  return { p, done };
}
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

t.test(
  'ORDERED waits for earlier tasks and holds back later ones; HEAD OF QUEUE does not wait',
  async (t) => {
    const ts = new TaskSet();
    const log: string[] = [];
    const s1 = deferred();
    const a = ts.run(TaskAttr.Simple, async () => {
      log.push('s1 start');
      await s1.p;
      log.push('s1 end');
    });
    const o = ts.run(TaskAttr.Ordered, async () => {
      log.push('ordered');
    });
    const s2 = ts.run(TaskAttr.Simple, async () => {
      log.push('s2');
    });
    const h = ts.run(TaskAttr.HeadOfQueue, async () => {
      log.push('hoq');
    });
    await tick();
    t.same(log, ['s1 start', 'hoq']);
    s1.done();
    await Promise.all([a, o, s2, h]);
    t.same(log, ['s1 start', 'hoq', 's1 end', 'ordered', 's2']);
    t.equal(ts.active(), 0);
  },
);

t.test('simple tasks run concurrently; failures release the gate', async (t) => {
  const ts = new TaskSet();
  const d = deferred();
  const a = ts.run(TaskAttr.Simple, () => d.p);
  const b = ts.run(TaskAttr.Untagged, async () => 'b');
  t.equal(await b, 'b', 'not blocked by a running SIMPLE task');
  t.equal(ts.active(), 1);
  const bad = ts.run(TaskAttr.Ordered, async () => {
    throw new Error('boom');
  });
  d.done();
  await a;
  await t.rejects(bad, /boom/);
  t.equal(await ts.run(TaskAttr.Simple, async () => 1), 1);
  t.equal(ts.active(), 0);
});
