import t from 'tap';
import { LogMemoryBudget } from '../../../src/curve/chunkserver/log-memory-budget';

t.test('under budget nothing is picked; over it the largest holder is', async (t) => {
  const b = new LogMemoryBudget<string>(100, 10);
  b.add('a', 40);
  b.add('b', 60);
  t.equal(b.totalBytes, 100);
  t.equal(
    b.pick(() => false),
    undefined,
    'exactly at the budget: nothing',
  );
  b.add('a', 30);
  t.equal(b.totalBytes, 130);
  t.equal(
    b.pick(() => false),
    'a',
    'a holds 70, b 60',
  );
  t.equal(
    b.pick((k) => k === 'a'),
    'b',
    'a busy (snapshotting already): the next largest',
  );
  t.equal(
    b.pick(() => true),
    undefined,
    'everyone busy',
  );
});

t.test('holders below minBytes are never picked', async (t) => {
  const b = new LogMemoryBudget<number>(10, 8);
  for (let k = 0; k < 5; k++) b.add(k, 7);
  t.equal(b.totalBytes, 35);
  t.equal(
    b.pick(() => false),
    undefined,
    '35 > 10, but nobody holds 8',
  );
  b.add(3, 1);
  t.equal(
    b.pick(() => false),
    3,
  );
});

t.test('release never goes below zero; remove forgets a holder', async (t) => {
  const b = new LogMemoryBudget<string>(50, 1);
  b.add('a', 30);
  b.add('b', 40);
  b.release('a', 100);
  t.equal(b.totalBytes, 40, 'a released only the 30 it held');
  b.release('a', -5);
  t.equal(b.totalBytes, 40, 'a negative release changes nothing');
  b.add('a', 20);
  t.equal(
    b.pick(() => false),
    'b',
  );
  b.remove('b');
  t.equal(b.totalBytes, 20);
  t.equal(
    b.pick(() => false),
    undefined,
    'under budget again',
  );
  b.release('gone', 10);
  t.equal(b.totalBytes, 20, 'releasing an unknown holder changes nothing');
});

t.test('a budget of 0 is off', async (t) => {
  const b = new LogMemoryBudget<string>(0, 1);
  b.add('a', 1 << 30);
  t.equal(
    b.pick(() => false),
    undefined,
  );
});
