// Persistent reservations in a store record: loaded from it, saved with compare-and-set, and a change
// made through another gateway is never overwritten unseen.
import t from 'tap';
import type { StoreRecord } from '../../src/backing/backing-store';
import { emptyPrState, type PrState } from '../../src/scsi/pr-state';
import { RecordReservationStore } from '../../src/target/record-reservation-store';

/** One shared record, as the MDS keeps it for a volume. */
function memoryRecord(): StoreRecord & { text?: string; version: number } {
  const r = {
    text: undefined as string | undefined,
    version: 0,
    read: () => Promise.resolve({ text: r.text, version: r.version }),
    write: (text: string, expectVersion: number) => {
      if (expectVersion !== r.version) return Promise.resolve({ ok: false, version: r.version });
      r.text = text;
      r.version++;
      return Promise.resolve({ ok: true, version: r.version });
    },
  };
  return r;
}

const registered = (key: bigint, initiator: string, aptpl = false): PrState => ({
  ...emptyPrState(),
  generation: 1,
  aptpl,
  registrations: [
    {
      key,
      initiatorPortName: initiator,
      targetPortName: 'tgt,t,0x1',
      relativeTargetPortId: 1,
      allTargetPorts: false,
    },
  ],
});

t.test('two gateways on one record', async (t) => {
  const record = memoryRecord();
  const a = new RecordReservationStore(record);
  const b = new RecordReservationStore(record);
  t.equal(await a.load(), undefined, 'nothing saved yet');
  t.equal(await b.load(), undefined);

  await a.save(registered(0xabcn, 'iqn.a,i,0x1'));
  t.equal(record.version, 1, 'saved');
  const seen = await new RecordReservationStore(record).load();
  t.equal(seen?.registrations[0].key, 0xabcn, 'a gateway opening the volume later sees the registration');
  t.equal(seen?.aptpl, false, 'kept without APTPL too: the volume is the logical unit');

  await t.rejects(
    b.save(registered(0xdefn, 'iqn.b,i,0x1')),
    /changed through another gateway/,
    'a gateway that has not seen the change may not overwrite it',
  );
  t.equal(record.version, 1, 'the record is unchanged');
  await t.rejects(b.save(registered(0xdefn, 'iqn.b,i,0x1')), /another gateway/, 'and stays refused');

  await b.load();
  await b.save(registered(0xdefn, 'iqn.b,i,0x1', true));
  t.equal(record.version, 2, 'after re-reading it may save');
  await a.save(registered(0x1n, 'iqn.a,i,0x1')).catch(() => undefined);
  t.equal(record.version, 2, 'and now the first gateway is the stale one');
});

t.test('saves are serialized in call order', async (t) => {
  const record = memoryRecord();
  const a = new RecordReservationStore(record);
  await a.load();
  await Promise.all([1n, 2n, 3n].map((k) => a.save(registered(k, 'iqn.a,i,0x1'))));
  t.equal(record.version, 3, 'every save applied');
  t.match(record.text, /"key": "3"/, 'the last one wins');
});
