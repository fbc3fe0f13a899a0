// The data budget: FIFO waiters, oversize requests admitted when idle, cancellation.
import t from 'tap';
import { ByteBudget } from '../../src/iscsi/byte-budget';

t.test('admits up to the limit, queues the rest in order', async (t) => {
  const b = new ByteBudget(100);
  const order: string[] = [];
  t.ok(b.acquire(60, () => order.push('no')));
  t.notOk(b.acquire(50, () => order.push('a')));
  t.notOk(
    b.acquire(10, () => order.push('b')),
    'FIFO: a small request does not overtake a waiting one',
  );
  b.release(60);
  t.same(order, ['a', 'b']);
  t.equal(b.inUse(), 60);
});

t.test('a request larger than the whole budget is admitted when nothing is held', async (t) => {
  const b = new ByteBudget(100);
  t.ok(b.acquire(500, () => undefined));
  let ran = false;
  t.notOk(b.acquire(500, () => (ran = true)));
  b.release(500);
  t.ok(ran);
});

t.test('cancelled waiters never run; charge() counts without waiting', async (t) => {
  const b = new ByteBudget(10);
  b.charge(10);
  let ran = false;
  const w = (): void => {
    ran = true;
  };
  t.notOk(b.acquire(5, w));
  b.cancel(w);
  b.release(10);
  t.notOk(ran);
  t.equal(b.inUse(), 0);
});

t.test('held bytes count towards the limit but never make acquire() wait', async (t) => {
  const b = new ByteBudget(100);
  b.hold(80);
  t.equal(b.heldBytes(), 80);
  t.notOk(b.overLimit());
  t.ok(
    b.acquire(60, () => undefined),
    'held data does not block an acquisition (no hold-and-wait deadlock)',
  );
  t.ok(b.overLimit(), '80 held + 60 acquired > 100');
  const order: string[] = [];
  b.whenUnderLimit(() => order.push('under'));
  t.same(order, [], 'still over the limit');
  b.unhold(30);
  t.same(order, [], '50 + 60 still over');
  b.release(60);
  t.same(order, ['under'], 'called once use is back within the limit');
  b.release(0);
  t.same(order, ['under'], 'called once only');
  b.whenUnderLimit(() => order.push('now'));
  t.same(order, ['under', 'now'], 'runs at once when already under the limit');
  t.ok(b.hasRoom(100), 'hasRoom sees acquired bytes only');
  b.acquire(100, () => undefined);
  t.notOk(b.hasRoom(1));
});
