// One behavioural suite for the KV store seam, run against the embedded LevelDB store and a real etcd.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Etcd3 } from 'etcd3';
import { BatchIdAllocator } from '../../../src/curve/mds/id-allocator';
import { EtcdKvStore } from '../../../src/curve/mds/kv-etcd';
import { LevelKvStore } from '../../../src/curve/mds/kv-level';
import { FencedError, KvStore, KvWatchEvent } from '../../../src/curve/mds/kv-store';
import { startEtcd } from './etcd-harness';

const b = (s: string): Buffer => Buffer.from(s);

function suite(name: string, open: () => Promise<{ store: KvStore; cleanup: () => Promise<void> }>): void {
  t.test(name, async (t) => {
    const { store, cleanup } = await open();
    t.teardown(cleanup);

    t.test('get/put/delete', async (t) => {
      t.equal(await store.get('k/missing'), undefined);
      await store.put('k/a', b('1'));
      t.same(await store.get('k/a'), b('1'));
      await store.put('k/a', b('2'));
      t.same(await store.get('k/a'), b('2'));
      await store.delete('k/a');
      t.equal(await store.get('k/a'), undefined);
      await store.delete('k/never'); // deleting an absent key is not an error
      const bin = Buffer.from([0, 255, 1, 128]);
      await store.put('k/bin', bin);
      t.same(await store.get('k/bin'), bin, 'binary values are byte-exact');
    });

    t.test('scan by prefix, in key order, with limit', async (t) => {
      for (const k of ['s/b', 's/a', 's/c', 'sx', 's0', 'r/z']) await store.put(k, b(k));
      const all = await store.scan('s/');
      t.same(
        all.map((p) => p.key),
        ['s/a', 's/b', 's/c'],
      );
      t.same(all[1].value, b('s/b'));
      t.same(
        (await store.scan('s/', 2)).map((p) => p.key),
        ['s/a', 's/b'],
      );
      t.same(await store.scan('nothing/'), []);
    });

    t.test('compare-and-swap transactions', async (t) => {
      t.equal(
        await store.txn([{ key: 'c/x', value: null }], [{ type: 'put', key: 'c/x', value: b('v1') }]),
        true,
      );
      t.equal(
        await store.txn([{ key: 'c/x', value: null }], [{ type: 'put', key: 'c/x', value: b('v2') }]),
        false,
        'create-if-absent fails when present',
      );
      t.same(await store.get('c/x'), b('v1'));
      t.equal(
        await store.txn(
          [{ key: 'c/x', value: b('wrong') }],
          [
            { type: 'put', key: 'c/y', value: b('y') },
            { type: 'delete', key: 'c/x' },
          ],
        ),
        false,
      );
      t.equal(await store.get('c/y'), undefined, 'failed txn applies nothing');
      t.equal(
        await store.txn(
          [{ key: 'c/x', value: b('v1') }],
          [
            { type: 'put', key: 'c/y', value: b('y') },
            { type: 'delete', key: 'c/x' },
          ],
        ),
        true,
      );
      t.same(await store.get('c/y'), b('y'));
      t.equal(await store.get('c/x'), undefined, 'ops apply together');
    });

    t.test('concurrent CAS: exactly one winner', async (t) => {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.txn([{ key: 'race/k', value: null }], [{ type: 'put', key: 'race/k', value: b(String(i)) }]),
        ),
      );
      t.equal(results.filter(Boolean).length, 1);
    });

    t.test('watch sees puts and deletes under the prefix only', async (t) => {
      const seen: KvWatchEvent[] = [];
      const stop = await store.watch('w/', (ev) => seen.push(ev));
      await store.put('w/a', b('1'));
      await store.put('other', b('x'));
      await store.delete('w/a');
      const deadline = Date.now() + 3000;
      while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await stop();
      t.same(
        seen.map((e) => [e.type, e.key, e.value?.toString()]),
        [
          ['put', 'w/a', '1'],
          ['delete', 'w/a', undefined],
        ],
      );
    });

    t.test('batched id allocation: unique, increasing, persisted counter', async (t) => {
      const a1 = new BatchIdAllocator(store, 'id/x', 5);
      const a2 = new BatchIdAllocator(store, 'id/x', 5); // e.g. a new leader
      const got = await Promise.all([
        ...Array.from({ length: 12 }, () => a1.allocate()),
        ...Array.from({ length: 12 }, () => a2.allocate()),
      ]);
      t.equal(new Set(got).size, 24, 'no id handed out twice');
      t.equal(Math.min(...got), 1);
      // each allocator took 3 batches of 5 for its 12 ids
      t.equal((await store.get('id/x'))!.toString(), String(1 + 6 * 5), 'six batches of five reserved');
    });
  });
}

suite('level', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mds-level-'));
  const store = await LevelKvStore.open(dir);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

suite('etcd', async () => {
  const etcd = await startEtcd();
  const store = new EtcdKvStore({ hosts: etcd.endpoint });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await etcd.stop();
    },
  };
});

t.test('etcd fencing: writes fail once the fence key changes', async (t) => {
  const etcd = await startEtcd();
  const client = new Etcd3({ hosts: etcd.endpoint });
  const store = new EtcdKvStore(client);
  t.teardown(async () => {
    await store.close();
    await etcd.stop();
  });
  await client.put('leader').value('me#1');
  store.setFence({ key: 'leader', value: b('me#1') });
  await store.put('f/a', b('1'));
  t.equal(await store.txn([{ key: 'f/a', value: b('nope') }], []), false, 'plain compare failure is false');
  await client.put('leader').value('other#2');
  await t.rejects(store.put('f/a', b('2')), FencedError);
  await t.rejects(store.txn([], [{ type: 'delete', key: 'f/a' }]), FencedError);
  t.same(await store.get('f/a'), b('1'), 'nothing written by the fenced store');
});
