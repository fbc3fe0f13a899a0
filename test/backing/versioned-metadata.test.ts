// Records kept with the volume on versioned attributes (the curve store's BackingStore.metadata): two
// gateways on one volume, reservations and saved mode pages through the SCSI layer's volume stores, and a
// change made through another gateway never overwritten unseen.
import t from 'tap';
import { VersionedMetadata, type VersionedAttributes } from '../../src/backing/versioned-metadata';
import { MODE_METADATA_KEY, VolumeModePageStore } from '../../src/scsi/mode-store';
import { emptyPrState, PR_METADATA_KEY, VolumeReservationStore, type PrState } from '../../src/scsi/pr-state';

/** The attributes of one volume, as the MDS keeps them (compare-and-set by version). */
function memoryAttributes(): VersionedAttributes & {
  values: Map<string, { value: Buffer; version: number }>;
} {
  const values = new Map<string, { value: Buffer; version: number }>();
  return {
    values,
    get: (name) => Promise.resolve(values.get(name) ?? { value: Buffer.alloc(0), version: 0 }),
    set: (name, value, expectVersion) => {
      const version = values.get(name)?.version ?? 0;
      if (version !== expectVersion) return Promise.resolve({ ok: false, version });
      values.set(name, { value, version: version + 1 });
      return Promise.resolve({ ok: true, version: version + 1 });
    },
  };
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

t.test('two gateways keep reservations on one volume', async (t) => {
  const attrs = memoryAttributes();
  const a = new VolumeReservationStore(new VersionedMetadata(attrs));
  const b = new VolumeReservationStore(new VersionedMetadata(attrs));
  t.equal(await a.load(), undefined, 'nothing saved yet');
  t.equal(await b.load(), undefined);

  await a.save(registered(0xabcn, 'iqn.a,i,0x1'));
  t.equal(attrs.values.get(PR_METADATA_KEY)?.version, 1, 'saved under the scsi.pr attribute');
  const seen = await new VolumeReservationStore(new VersionedMetadata(attrs)).load();
  t.equal(seen?.registrations[0].key, 0xabcn, 'a gateway opening the volume later sees the registration');
  t.equal(seen?.aptpl, false, 'kept without APTPL too: the volume is the logical unit');

  await t.rejects(
    b.save(registered(0xdefn, 'iqn.b,i,0x1')),
    /changed through another gateway/,
    'a gateway that has not seen the change may not overwrite it',
  );
  t.equal(attrs.values.get(PR_METADATA_KEY)?.version, 1, 'the record is unchanged');
  await t.rejects(b.save(registered(0xdefn, 'iqn.b,i,0x1')), /another gateway/, 'and stays refused');

  await b.load();
  await b.save(registered(0xdefn, 'iqn.b,i,0x1', true));
  t.equal(attrs.values.get(PR_METADATA_KEY)?.version, 2, 'after re-reading it may save');
  await t.rejects(a.save(registered(0x1n, 'iqn.a,i,0x1')), /another gateway/, 'now the first one is stale');
  t.equal(attrs.values.get(PR_METADATA_KEY)?.version, 2);
});

t.test('saves are serialized in call order', async (t) => {
  const attrs = memoryAttributes();
  const a = new VolumeReservationStore(new VersionedMetadata(attrs));
  await a.load();
  await Promise.all([1n, 2n, 3n].map((k) => a.save(registered(k, 'iqn.a,i,0x1'))));
  t.equal(attrs.values.get(PR_METADATA_KEY)?.version, 3, 'every save applied');
  t.match(attrs.values.get(PR_METADATA_KEY)?.value.toString(), /"key": "3"/, 'the last one wins');
});

t.test('records are independent; a removed record reads as none', async (t) => {
  const attrs = memoryAttributes();
  const m = new VersionedMetadata(attrs);
  const pages = new VolumeModePageStore(m);
  t.equal(pages.persistent, true, 'pages kept with the volume are savable');
  t.equal(await pages.load(), undefined);
  await pages.save([{ code: 0x08, subpage: 0, data: Buffer.from([0x08, 0x12, 0x04]) }]);
  t.equal(attrs.values.get(MODE_METADATA_KEY)?.version, 1, 'under scsi.mode-pages');
  const other = new VolumeModePageStore(new VersionedMetadata(attrs));
  t.same(await other.load(), [{ code: 0x08, subpage: 0, data: Buffer.from([0x08, 0x12, 0x04]) }]);
  // The reservation record has its own version: saving it does not make the pages stale.
  await m.load(PR_METADATA_KEY);
  await m.save(PR_METADATA_KEY, 'x');
  await pages.save([]);
  t.equal(attrs.values.get(MODE_METADATA_KEY)?.version, 2, 'pages saved again');
  await m.save(PR_METADATA_KEY, undefined);
  t.equal(await m.load(PR_METADATA_KEY), undefined, 'removed: an emptied attribute');
  await t.rejects(
    new VersionedMetadata(attrs).save(PR_METADATA_KEY, 'y'),
    /another gateway/,
    'an opener that never loaded the record may not write over an existing one',
  );
});
