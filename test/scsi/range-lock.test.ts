import t from 'tap';
import { RangeLock } from '../../src/scsi/range-lock';

t.test('shared ranges coexist, exclusive ones wait for overlaps only', async (t) => {
  const l = new RangeLock();
  const a = l.tryLock(0, 10, false)!;
  const b = l.tryLock(5, 15, false)!;
  t.ok(a && b, 'writes share');
  t.equal(l.tryLock(8, 9, true), undefined, 'exclusive overlapping a shared range must wait');
  t.ok(l.tryLock(15, 20, true), 'non-overlapping exclusive is fine ([start, end) is half-open)');
  const order: string[] = [];
  const x = l.lock(0, 12, true).then((e) => {
    order.push('x');
    return e;
  });
  await new Promise((r) => setImmediate(r));
  t.same(order, []);
  l.unlock(a);
  await new Promise((r) => setImmediate(r));
  t.same(order, [], 'still blocked by b');
  l.unlock(b);
  const ex = await x;
  t.same(order, ['x']);
  t.equal(l.tryLock(11, 12, false), undefined, 'a write waits for the exclusive range');
  l.unlock(ex);
  t.ok(l.tryLock(11, 12, false));
  t.equal(l.size(), 2);
});
