import t from 'tap';
import { Backoff } from '../../../src/curve/rpc/backoff';
import { InflightLimiter } from '../../../src/curve/rpc/inflight-limiter';
import { RpcStatus } from '../../../src/curve/rpc/rpc-status';

t.test('backoff grows geometrically to its cap, with jitter in [ceiling/2, ceiling]', async (t) => {
  const lo = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2 }, () => 0);
  t.same([lo.fail(), lo.fail(), lo.fail(), lo.fail(), lo.fail()], [50, 100, 200, 400, 500]);
  const hi = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2 }, () => 1);
  t.same([hi.fail(), hi.fail(), hi.fail()], [100, 200, 400]);
  hi.reset();
  t.equal(hi.fail(), 100);
  t.equal(hi.consecutiveFailures, 1);
});

t.test('limiter admits within bounds, queues FIFO beyond, refuses beyond maxWaiters', async (t) => {
  const l = new InflightLimiter({ maxCalls: 2, maxBytes: 100, maxWaiters: 2 });
  t.equal(l.tryAcquire(60), undefined);
  const w1 = l.tryAcquire(60); // bytes over budget
  t.ok(w1);
  const w2 = l.tryAcquire(1); // would fit, but must not overtake w1
  t.ok(w2);
  t.throws(() => l.tryAcquire(1), { name: 'RpcError', status: RpcStatus.OVERLOAD });
  const order: string[] = [];
  l.wait(w1!, () => order.push('w1'));
  l.wait(w2!, () => order.push('w2'));
  l.release(60);
  t.same(order, ['w1', 'w2']);
  t.equal(l.inFlightCalls, 2);
  t.equal(l.inFlightBytes, 61);
  l.release(60);
  l.release(1);
  t.equal(l.inFlightCalls, 0);
  t.equal(l.inFlightBytes, 0);
});

t.test('an oversized request is admitted alone; cancelled waiters are skipped', async (t) => {
  const l = new InflightLimiter({ maxCalls: 10, maxBytes: 100, maxWaiters: 10 });
  t.equal(l.tryAcquire(500), undefined, 'nothing in flight: admitted despite size');
  const w = l.tryAcquire(10)!;
  const w2 = l.tryAcquire(10)!;
  let granted = '';
  l.wait(w, () => (granted += 'a'));
  l.wait(w2, () => (granted += 'b'));
  l.cancel(w);
  t.equal(l.waiting, 1);
  l.release(500);
  t.equal(granted, 'b');
  t.equal(l.inFlightCalls, 1);
});
