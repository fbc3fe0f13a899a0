// TallyHistogram must expose exactly what prom-client's own Histogram would for the same observations:
// dashboards and alerts written against one work on the other.
import t from 'tap';
import { Histogram, Registry } from 'prom-client';
import { TallyHistogram } from '../../src/common/tally-metrics';

const BUCKETS = [0.001, 0.01, 0.1, 1];

t.test('same exposition as a prom-client Histogram, per label set, edges included', async (t) => {
  const ours = new Registry();
  const theirs = new Registry();
  const tally = new TallyHistogram('x_seconds', 'latency', BUCKETS, [ours]);
  const hist = new Histogram({
    name: 'x_seconds',
    help: 'latency',
    labelNames: ['method', 'status'],
    buckets: BUCKETS,
    registers: [theirs],
  });
  const values = [0, 0.0005, 0.001, 0.0011, 0.01, 0.05, 0.1, 0.5, 1, 2, 1e9];
  const write = tally.series({ method: 'write', status: 0 });
  const read = tally.series({ status: 0, method: 'read' });
  for (const v of values) {
    write.observe(v);
    hist.observe({ method: 'write', status: 0 }, v);
  }
  for (const v of values.slice(0, 4)) {
    read.observe(v);
    hist.observe({ method: 'read', status: 0 }, v);
  }
  t.equal(await ours.metrics(), await theirs.metrics());
  t.equal(tally.series({ status: 0, method: 'write' }), write, 'label order does not make a new series');
  t.equal(write.count, values.length);

  tally.reset();
  hist.reset();
  write.observe(0.02);
  hist.observe({ method: 'write', status: 0 }, 0.02);
  const after = await ours.metrics();
  t.match(after, /x_seconds_bucket\{le="0.1",method="write",status="0"\} 1\n/);
  t.match(after, /x_seconds_count\{method="write",status="0"\} 1\n/);
  t.match(after, /x_seconds_count\{method="read",status="0"\} 0\n/, 'a reset series stays, at zero');
});

t.test('buckets must increase; the name is registered once', async (t) => {
  const r = new Registry();
  t.throws(() => new TallyHistogram('a', 'h', [1, 1], [r]), /buckets must increase/);
  new TallyHistogram('b', 'h', [1, 2], [r]);
  t.throws(() => new TallyHistogram('b', 'h', [1, 2], [r]), /already been registered/);
});
