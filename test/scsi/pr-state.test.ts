import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import t from 'tap';
import {
  emptyPrState,
  fileReservationStore,
  prStateFromJson,
  prStateToJson,
  type PrState,
} from '../../src/scsi/pr-state';

const state: PrState = {
  generation: 7,
  aptpl: true,
  registrations: [
    {
      key: 0xffffffffffffffffn,
      initiatorPortName: 'iqn.a,i,0x01',
      targetPortName: 'iqn.t,t,0x0001',
      relativeTargetPortId: 1,
      allTargetPorts: false,
    },
    {
      key: 1n,
      initiatorPortName: 'iqn.b,i,0x02',
      targetPortName: 'iqn.t,t,0x0001',
      relativeTargetPortId: 2,
      allTargetPorts: true,
    },
  ],
  reservation: { type: 5, initiatorPortName: 'iqn.a,i,0x01', targetPortName: 'iqn.t,t,0x0001' },
};

t.test('JSON round trip keeps 64-bit keys exactly', async (t) => {
  t.same(prStateFromJson(prStateToJson(state)), state);
  t.same(prStateFromJson(prStateToJson(emptyPrState())), emptyPrState());
});

t.test('malformed state is rejected, not guessed', async (t) => {
  t.throws(() => prStateFromJson('{'));
  t.throws(() => prStateFromJson('{"version":2,"registrations":[]}'));
  const j = JSON.parse(prStateToJson(state));
  j.registrations[0].key = 'xyz';
  t.throws(() => prStateFromJson(JSON.stringify(j)));
  const k = JSON.parse(prStateToJson(state));
  k.reservation.type = 2;
  t.throws(() => prStateFromJson(JSON.stringify(k)));
});

t.test('file store: atomic save, load, forget when APTPL is off', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const naa = Buffer.from('6002c754000000000000000000000001', 'hex');
  const store = fileReservationStore(dir, naa);
  t.equal(store.file, join(dir, 'pr', '6002c754000000000000000000000001.json'));
  t.equal(await store.load(), undefined);
  await store.save(state);
  t.same(await store.load(), state);
  t.same(readdirSync(join(dir, 'pr')), ['6002c754000000000000000000000001.json'], 'no temp file left');
  // Saves run in order: the last one wins.
  await Promise.all([store.save({ ...state, generation: 8 }), store.save({ ...state, generation: 9 })]);
  t.equal((await store.load())!.generation, 9);
  await store.save({ ...state, aptpl: false });
  t.notOk(existsSync(store.file), 'APTPL cleared: nothing persists');
  writeFileSync(store.file, 'garbage');
  await t.rejects(store.load());
  t.equal(readFileSync(store.file, 'utf8'), 'garbage');
});
