// The linearizability checker accepts linearizable register histories and rejects the others.
import t from 'tap';
import { checkKvLinearizable, KvOperation } from '../../../src/curve/raft/linearizability';

const put = (client: number, value: string, call: number, ret: number, key = 'k'): KvOperation => ({
  client,
  kind: 'put',
  key,
  value,
  call,
  ret,
});
const get = (client: number, value: string | null, call: number, ret: number, key = 'k'): KvOperation => ({
  client,
  kind: 'get',
  key,
  value,
  call,
  ret,
});

t.test('sequential histories', async (t) => {
  t.ok(checkKvLinearizable([get(1, null, 0, 1), put(1, 'a', 2, 3), get(2, 'a', 4, 5)]).ok);
  t.notOk(
    checkKvLinearizable([put(1, 'a', 0, 1), get(2, null, 2, 3)]).ok,
    'stale read after a completed write',
  );
  t.notOk(checkKvLinearizable([put(1, 'a', 0, 1), put(1, 'b', 2, 3), get(2, 'a', 4, 5)]).ok);
});

t.test('concurrent operations may take effect in either order', async (t) => {
  t.ok(checkKvLinearizable([put(1, 'a', 0, 10), get(2, 'a', 1, 2), get(3, null, 0, 3)]).ok);
  // Once one reader saw the new value, a later reader can't see the old one.
  t.notOk(checkKvLinearizable([put(1, 'a', 0, 10), get(2, 'a', 1, 2), get(3, null, 3, 4)]).ok);
});

t.test('a write with unknown outcome may or may not have happened', async (t) => {
  t.ok(checkKvLinearizable([put(1, 'a', 0, Infinity), get(2, null, 5, 6), get(2, 'a', 7, 8)]).ok);
  t.ok(checkKvLinearizable([put(1, 'a', 0, Infinity), get(2, null, 5, 6)]).ok);
  t.notOk(checkKvLinearizable([put(1, 'a', 0, Infinity), get(2, 'a', 5, 6), get(2, null, 7, 8)]).ok);
});

t.test('keys are checked independently and the bad key is named', async (t) => {
  const r = checkKvLinearizable([
    put(1, 'a', 0, 1, 'x'),
    get(2, 'a', 2, 3, 'x'),
    put(1, 'b', 0, 1, 'y'),
    get(2, null, 2, 3, 'y'),
  ]);
  t.same(r, { ok: false, badKey: 'y' });
});

t.test('a larger concurrent history is decided quickly', async (t) => {
  const ops: KvOperation[] = [];
  for (let i = 0; i < 200; i++) {
    ops.push(put(i % 4, `v${i}`, i * 10, i * 10 + 25));
    ops.push(get(4, `v${i}`, i * 10 + 26, i * 10 + 27));
  }
  const start = Date.now();
  t.ok(checkKvLinearizable(ops).ok);
  t.ok(Date.now() - start < 2000);
});
