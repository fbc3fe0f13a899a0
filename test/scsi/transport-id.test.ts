import t from 'tap';
import {
  encodeIscsiTransportId,
  initiatorMatches,
  initiatorNameOf,
  isTransportIdError,
  parseIscsiTransportId,
  transportIdIdentity,
} from '../../src/scsi/transport-id';

const PORT = 'iqn.2026-11.test:host1,i,0x400001370000';

t.test('encode and parse both formats', async (t) => {
  const f1 = encodeIscsiTransportId(PORT);
  t.equal(f1[0], 0x45, 'format 01b, iSCSI');
  t.equal(f1.readUInt16BE(2) % 4, 0);
  t.same(parseIscsiTransportId(f1, 0), {
    name: 'iqn.2026-11.test:host1',
    isid: '400001370000',
    length: f1.length,
  });
  const f0 = encodeIscsiTransportId('iqn.a');
  t.equal(f0[0], 0x05, 'format 00b');
  t.equal(f0.readUInt16BE(2), 20, 'padded to at least 20 bytes');
  t.same(parseIscsiTransportId(f0, 0), { name: 'iqn.a', isid: undefined, length: 24 });
  // Parsing at an offset, upper-case ISID and separator are normalised.
  const upper = Buffer.concat([Buffer.alloc(3), encodeIscsiTransportId('iqn.b,I,0X40000137ABCD')]);
  upper[3] = 0x45;
  const p = parseIscsiTransportId(upper, 3);
  t.same(p, { name: 'iqn.b', isid: '40000137abcd', length: upper.length - 3 });
});

t.test('malformed TransportIDs point at the bad byte', async (t) => {
  const good = encodeIscsiTransportId(PORT);
  const cases: Array<[string, (b: Buffer) => Buffer, number]> = [
    ['Fibre Channel protocol id', (b) => ((b[0] = 0x40), b), 0],
    ['format 10b', (b) => ((b[0] = 0x85), b), 0],
    ['reserved bits', (b) => ((b[0] = 0x55), b), 0],
    ['length not a multiple of 4', (b) => (b.writeUInt16BE(b.readUInt16BE(2) - 1, 2), b), 2],
    ['length past the end', (b) => (b.writeUInt16BE(b.readUInt16BE(2) + 4, 2), b), 2],
    ['no terminating null', (b) => b.fill(0x41, 4), 4],
    ['empty name', (b) => b.fill(0, 4), 4],
    ['bad ISID', (b) => (b.write('zz', 4 + PORT.length - 2), b), 4 + PORT.indexOf(',i,0x') + 5],
    ['format 01b without ISID', () => ((x) => ((x[0] = 0x45), x))(encodeIscsiTransportId('iqn.x')), 4],
    ['format 00b with ISID', (b) => ((b[0] = 0x05), b), 4 + PORT.indexOf(',i,0x')],
    ['not an iSCSI name', () => encodeIscsiTransportId('host1'), 4],
    ['garbage in the padding', () => ((x) => ((x[23] = 1), x))(encodeIscsiTransportId('iqn.x')), 23],
    ['truncated header', (b) => b.subarray(0, 3), 0],
  ];
  for (const [name, mutate, byte] of cases) {
    const r = parseIscsiTransportId(mutate(Buffer.from(good)), 0);
    t.ok(isTransportIdError(r), name);
    t.equal((r as { byte: number }).byte, byte, `${name}: byte`);
  }
});

t.test('identities: name-only covers every ISID', async (t) => {
  t.equal(transportIdIdentity({ name: 'iqn.a', isid: '400001370000' }), 'iqn.a,i,0x400001370000');
  t.equal(transportIdIdentity({ name: 'iqn.a' }), 'iqn.a');
  t.equal(initiatorNameOf(PORT), 'iqn.2026-11.test:host1');
  t.equal(initiatorNameOf('iqn.a'), 'iqn.a');
  t.ok(initiatorMatches(PORT, PORT));
  t.ok(initiatorMatches('iqn.2026-11.test:host1', PORT));
  t.notOk(initiatorMatches('iqn.2026-11.test:host1,i,0x400001370001', PORT));
  t.notOk(initiatorMatches('iqn.2026-11.test:host', PORT));
});
