// The replicated KV map's snapshot codec: binary round trip (keys and values of any bytes, an empty map),
// snapshots of older builds (JSON) still restore, and a truncated snapshot is refused.
import t from 'tap';
import { encodeKvPut, KvStateMachine } from '../../../src/curve/raft/kv-state-machine';
import { EntryType } from '../../../src/curve/raft/types';

function filled(pairs: [string, string][]): KvStateMachine {
  const kv = new KvStateMachine();
  pairs.forEach(([k, v], i) =>
    kv.apply({ index: i + 1, term: 1, type: EntryType.Normal, data: encodeKvPut(1, i, k, Buffer.from(v)) }),
  );
  return kv;
}

t.test('binary snapshot round trip', async (t) => {
  const pairs: [string, string][] = [
    ['a', 'x'.repeat(4096)],
    ['ключ', 'значение'],
    ['', 'empty key'],
    ['empty value', ''],
  ];
  const kv = filled(pairs);
  const snap = kv.snapshot();
  t.equal(snap[0], 0x01, 'binary format');
  const copy = new KvStateMachine();
  copy.restore(snap, kv.applied);
  t.same([...copy.map], [...kv.map]);
  t.equal(copy.applied, 4);
  const empty = new KvStateMachine();
  empty.restore(new KvStateMachine().snapshot(), 9);
  t.equal(empty.map.size, 0);
  t.equal(empty.applied, 9);
});

t.test('a JSON snapshot of an older build restores', async (t) => {
  const kv = new KvStateMachine();
  kv.restore(Buffer.from(JSON.stringify({ applied: 7, map: [['k', 'v']] })), 7);
  t.equal(kv.get('k'), 'v');
  t.throws(() => kv.restore(Buffer.from(JSON.stringify({ applied: 6, map: [] })), 7), /labelled 7/);
});

t.test('a truncated snapshot is refused', async (t) => {
  const snap = Buffer.from(filled([['k', 'value']]).snapshot());
  t.throws(() => new KvStateMachine().restore(snap.subarray(0, snap.length - 2), 1), /truncated/);
});
