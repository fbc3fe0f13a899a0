// The write-data buffer pool: exact-size views, reuse by size class, idle cap, double-give safety.
import t from 'tap';
import { DataBufferPool } from '../../src/common/data-buffer-pool';

t.test('gives exact-size buffers and reuses returned memory of the same class', async (t) => {
  const pool = new DataBufferPool(8 << 20);
  const a = pool.take(1 << 20);
  t.equal(a.length, 1 << 20);
  const memory = a.buffer;
  pool.give(a);
  t.equal(pool.idleSize(), 1 << 20);
  const b = pool.take(700 * 1024); // same 1 MiB class
  t.equal(b.length, 700 * 1024);
  t.equal(b.buffer, memory, 'the returned buffer is reused');
  t.equal(pool.idleSize(), 0);
  const c = pool.take(1 << 20);
  t.not(c.buffer, memory, 'memory in use is never handed out twice');
});

t.test('small and huge sizes are plain allocations; foreign and repeated gives are ignored', async (t) => {
  const pool = new DataBufferPool(8 << 20);
  const small = pool.take(4096);
  t.equal(small.length, 4096);
  pool.give(small);
  t.equal(pool.idleSize(), 0, 'small buffers are not pooled');
  t.notOk(pool.owns(small), "plain allocations are not the pool's");
  pool.give(Buffer.alloc(1 << 20));
  t.equal(pool.idleSize(), 0, 'a buffer the pool did not hand out is ignored');
  const a = pool.take(128 * 1024);
  t.ok(pool.owns(a.subarray(10, 20)), 'a buffer out of the pool is owned, through any view');
  pool.give(a.subarray(10, 20)); // any view of it returns it
  t.notOk(pool.owns(a), 'and no longer once given back');
  pool.give(a);
  t.equal(pool.idleSize(), 128 * 1024, 'a second give of the same buffer is ignored');
  const x = pool.take(128 * 1024);
  const y = pool.take(128 * 1024);
  t.not(x.buffer, y.buffer, 'a double give cannot make two owners');
});

t.test('idle memory is capped', async (t) => {
  const pool = new DataBufferPool(2 << 20);
  const bufs = [pool.take(1 << 20), pool.take(1 << 20), pool.take(1 << 20)];
  for (const b of bufs) pool.give(b);
  t.equal(pool.idleSize(), 2 << 20, 'the third buffer is dropped, not kept');
});
