import t from 'tap';
import { crc32c } from '../../../src/iscsi/crc32c';
import { decodeMetaPage, encodeMetaPage } from '../../../src/curve/chunkserver/meta-page';
import { PageBitmap } from '../../../src/curve/chunkserver/page-bitmap';

t.test('chunk metapage layout byte for byte', async (t) => {
  const page = encodeMetaPage(
    { kind: 'chunk', sn: 0x0102030405, correctedSn: 7, location: '', bitmap: undefined },
    4096,
  );
  t.equal(page.length, 4096);
  const head = Buffer.from('434b43480100000000000001020304050000000000000007' + '00000000', 'hex');
  t.same(page.subarray(0, 28), head);
  t.equal(page.readUInt32BE(28), crc32c(head), 'CRC32C of the 28 bytes before it');
  t.ok(
    page.subarray(32).every((b) => b === 0),
    'rest of the page is zero',
  );
});

t.test('clone metapage carries location and bitmap; round trip', async (t) => {
  const bitmap = new PageBitmap(4096);
  bitmap.setRange(3, 9);
  const page = encodeMetaPage(
    { kind: 'chunk', sn: 2, correctedSn: 1, location: 'curvefs@/vol1:0', bitmap },
    4096,
  );
  t.equal(page.readUInt16BE(6), 15);
  t.equal(page.readUInt32BE(24), 4096);
  t.equal(page.toString('utf8', 28, 43), 'curvefs@/vol1:0');
  t.equal(page[43], 0xf8, 'pages 3..7 in the first bitmap byte (LSB first)');
  t.equal(page[44], 0x03, 'pages 8..9');
  const r = decodeMetaPage(page);
  t.ok(r.ok);
  if (r.ok) {
    t.equal(r.meta.sn, 2);
    t.equal(r.meta.correctedSn, 1);
    t.equal(r.meta.location, 'curvefs@/vol1:0');
    t.equal(r.meta.bitmap?.count(), 7);
    t.ok(r.meta.bitmap?.test(9));
    t.notOk(r.meta.bitmap?.test(10));
  }
  const snap = decodeMetaPage(
    encodeMetaPage({ kind: 'snapshot', sn: 5, correctedSn: 0, location: '', bitmap }, 4096),
  );
  t.ok(snap.ok && snap.meta.kind === 'snapshot' && snap.meta.sn === 5);
});

t.test('corruption is detected, a zero page is "unformatted"', async (t) => {
  t.same(decodeMetaPage(Buffer.alloc(4096)), { ok: false, reason: 'unformatted' });
  const page = encodeMetaPage(
    { kind: 'chunk', sn: 9, correctedSn: 0, location: '', bitmap: undefined },
    4096,
  );
  for (const at of [4, 8, 15, 20, 28]) {
    const bad = Buffer.from(page);
    bad[at] ^= 0x01;
    t.same(decodeMetaPage(bad), { ok: false, reason: 'checksum' }, `flip at byte ${at}`);
  }
  const badMagic = Buffer.from(page);
  badMagic[0] = 0x41;
  t.same(decodeMetaPage(badMagic), { ok: false, reason: 'magic' });
  const hugeBitmap = Buffer.from(page);
  hugeBitmap.writeUInt32BE(0xffffffff, 24); // a bitmap length pointing past the page
  t.same(decodeMetaPage(hugeBitmap), { ok: false, reason: 'checksum' });
  t.throws(() =>
    encodeMetaPage(
      { kind: 'chunk', sn: 1, correctedSn: 0, location: 'x'.repeat(5000), bitmap: undefined },
      4096,
    ),
  );
});

t.test('bitmap divide into clear and set runs', async (t) => {
  const b = new PageBitmap(16);
  b.setRange(2, 4);
  b.setRange(8, 8);
  t.same(b.divide(0, 15), {
    clear: [
      { begin: 0, end: 1 },
      { begin: 5, end: 7 },
      { begin: 9, end: 15 },
    ],
    set: [
      { begin: 2, end: 4 },
      { begin: 8, end: 8 },
    ],
  });
  t.same(b.divide(3, 3), { clear: [], set: [{ begin: 3, end: 3 }] });
  t.notOk(b.isFull());
  b.setRange(0, 15);
  t.ok(b.isFull());
});
