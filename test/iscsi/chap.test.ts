import { createHash } from 'node:crypto';
import t from 'tap';
import {
  CHAP_ALGORITHMS,
  ChapServer,
  challengeLength,
  chapDigest,
  decodeChapBinary,
  encodeChapHex,
  parseChapIdentifier,
  selectChapAlgorithm,
} from '../../src/iscsi/chap';

const HASH_NAMES: Record<number, string> = { 5: 'md5', 6: 'sha1', 7: 'sha256', 8: 'sha3-256' };

/** RFC 1994 response computed independently of the module under test. */
function reference(alg: number, id: number, secret: string, challenge: Buffer): Buffer {
  return createHash(HASH_NAMES[alg])
    .update(Buffer.concat([Buffer.from([id]), Buffer.from(secret, 'utf8'), challenge]))
    .digest();
}

/** Deterministic "random" bytes: 0x40, 0x41, ... continuing across calls. */
function counterRandom(start = 0x40): (n: number) => Buffer {
  let next = start;
  return (n) => Buffer.from(Array.from({ length: n }, () => next++ & 0xff));
}

const INITIATOR = { user: 'iqn.1994-05.com.redhat:host', password: 'initiator-secret' };
const TARGET = { user: 'target-user', password: 'target-secret-x' };

t.test('algorithm numbers as used by open-iscsi / LIO', async (t) => {
  t.same(CHAP_ALGORITHMS[5], { hash: 'md5', digestSize: 16 });
  t.same(CHAP_ALGORITHMS[6], { hash: 'sha1', digestSize: 20 });
  t.same(CHAP_ALGORITHMS[7], { hash: 'sha256', digestSize: 32 });
  t.same(CHAP_ALGORITHMS[8], { hash: 'sha3-256', digestSize: 32 });
  t.equal(challengeLength(5), 16);
  t.equal(challengeLength(6), 20);
  t.equal(challengeLength(7), 32);
  t.equal(challengeLength(8), 32);
  t.throws(() => challengeLength(4));
});

t.test('chapDigest = H(id || secret || challenge)', async (t) => {
  const challenge = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  for (const alg of [5, 6, 7, 8]) {
    for (const id of [0, 1, 127, 255]) {
      t.same(
        chapDigest(alg, id, 'secret-password', challenge),
        reference(alg, id, 'secret-password', challenge),
      );
    }
    t.equal(chapDigest(alg, 1, 'x', challenge).length, CHAP_ALGORITHMS[alg].digestSize);
  }
  // A fixed vector: MD5(0x01 || "secret" || 0x0102...10).
  const seq = Buffer.from(Array.from({ length: 16 }, (_, i) => i + 1));
  const md5 = createHash('md5')
    .update(Buffer.from([1]))
    .update('secret')
    .update(seq)
    .digest('hex');
  t.equal(chapDigest(5, 1, 'secret', seq).toString('hex'), md5);
  t.same(chapDigest(5, 1, Buffer.from('secret'), seq), chapDigest(5, 1, 'secret', seq), 'Buffer secret');
  t.throws(() => chapDigest(9, 1, 's', seq), RangeError);
  t.throws(() => chapDigest(5, 256, 's', seq), RangeError);
  t.throws(() => chapDigest(5, -1, 's', seq), RangeError);
});

t.test("selectChapAlgorithm: first supported in the initiator's order", async (t) => {
  t.equal(selectChapAlgorithm('5'), 5);
  t.equal(selectChapAlgorithm('7,6,5'), 7);
  t.equal(selectChapAlgorithm('8,7,6,5'), 8);
  t.equal(selectChapAlgorithm('1,2,6'), 6);
  t.equal(selectChapAlgorithm('x,6'), 6);
  t.equal(selectChapAlgorithm('9,10'), undefined);
  t.equal(selectChapAlgorithm(''), undefined);
  t.equal(selectChapAlgorithm('7,5', [5]), 5);
  t.equal(selectChapAlgorithm('07'), 7, 'decimal with leading zero still a number');
});

t.test('decodeChapBinary: hex and base64', async (t) => {
  t.same(decodeChapBinary('0x00ff10'), Buffer.from([0, 255, 16]));
  t.same(decodeChapBinary('0XABCDEF'), Buffer.from([0xab, 0xcd, 0xef]));
  t.same(decodeChapBinary('0xabc'), Buffer.from([0x0a, 0xbc]), 'odd digit count: implied leading zero');
  t.equal(decodeChapBinary('0x'), undefined);
  t.equal(decodeChapBinary('0xzz'), undefined);
  t.equal(decodeChapBinary('00ff'), undefined, 'no prefix');
  t.equal(decodeChapBinary(''), undefined);
  const bytes = Buffer.from([0xfb, 0xff, 0x00, 0x01, 0x02]);
  t.same(decodeChapBinary(`0b${bytes.toString('base64')}`), bytes);
  t.same(decodeChapBinary(`0B${bytes.toString('base64')}`), bytes);
  t.same(decodeChapBinary('0b+/8AAQI'), bytes, 'padding optional');
  t.equal(decodeChapBinary('0b'), undefined);
  t.equal(decodeChapBinary('0b+/8AAQI*'), undefined);
  t.equal(decodeChapBinary('0bA'), undefined, 'impossible length');
  t.equal(decodeChapBinary('0bAB=='), undefined, 'non-canonical trailing bits');
  t.equal(decodeChapBinary('0bAA=A'), undefined, 'padding in the middle');
  t.equal(encodeChapHex(Buffer.from([0, 0xab])), '0x00ab');
});

t.test('parseChapIdentifier', async (t) => {
  t.equal(parseChapIdentifier('0'), 0);
  t.equal(parseChapIdentifier('255'), 255);
  t.equal(parseChapIdentifier('0x1f'), 31);
  t.equal(parseChapIdentifier('256'), undefined);
  t.equal(parseChapIdentifier('-1'), undefined);
  t.equal(parseChapIdentifier('abc'), undefined);
  t.equal(parseChapIdentifier(''), undefined);
});

/** Run CHAP_A and parse the target's CHAP_I / CHAP_C. */
function challenged(alg: string, opts: { outgoing?: typeof TARGET } = {}) {
  const server = new ChapServer({
    incoming: [INITIATOR],
    outgoing: opts.outgoing,
    randomBytes: counterRandom(),
  });
  const r = server.challenge(alg);
  if (!r.ok) throw new Error(r.reason);
  const get = (k: string) => r.pairs.find(([key]) => key === k)?.[1] as string;
  return {
    server,
    pairs: r.pairs,
    algorithm: Number(get('CHAP_A')),
    id: Number(get('CHAP_I')),
    challenge: Buffer.from(get('CHAP_C').slice(2), 'hex'),
  };
}

t.test('challenge: CHAP_A, CHAP_I, CHAP_C from the injected random source', async (t) => {
  for (const [offer, alg] of [
    ['5', 5],
    ['6,5', 6],
    ['7,6,5', 7],
    ['8,7', 8],
  ] as Array<[string, number]>) {
    const c = challenged(offer);
    const len = challengeLength(alg);
    const expected = Buffer.from(Array.from({ length: len }, (_, i) => 0x41 + i));
    t.same(c.pairs, [
      ['CHAP_A', String(alg)],
      ['CHAP_I', String(0x40)],
      ['CHAP_C', `0x${expected.toString('hex')}`],
    ]);
  }
  const server = new ChapServer({ incoming: [INITIATOR] });
  const r = server.challenge('5');
  t.ok(r.ok, 'crypto.randomBytes by default');
  if (r.ok) t.match(r.pairs[2][1], /^0x[0-9a-f]{32}$/);
});

t.test('challenge failures', async (t) => {
  const server = new ChapServer({ incoming: [INITIATOR], randomBytes: counterRandom() });
  t.match(server.challenge('1,2,3'), { ok: false, reason: /no supported CHAP algorithm/ });
  t.match(server.challenge('5'), { ok: false }, 'no second chance after failure');
  const twice = new ChapServer({ incoming: [INITIATOR], randomBytes: counterRandom() });
  t.ok(twice.challenge('5').ok);
  t.match(twice.challenge('5'), { ok: false, reason: /twice/ });
});

t.test('one-way CHAP verification for every algorithm, hex and base64', async (t) => {
  for (const offer of ['5', '6', '7', '8']) {
    for (const encoding of ['hex', 'HEX', 'base64'] as const) {
      const c = challenged(offer);
      const digest = reference(c.algorithm, c.id, INITIATOR.password, c.challenge);
      const value =
        encoding === 'base64'
          ? `0b${digest.toString('base64')}`
          : encoding === 'HEX'
            ? `0x${digest.toString('hex').toUpperCase()}`
            : `0x${digest.toString('hex')}`;
      t.same(c.server.verify({ CHAP_N: INITIATOR.user, CHAP_R: value }), {
        ok: true,
        pairs: [],
        user: INITIATOR.user,
      });
    }
  }
});

t.test('one-way CHAP failures', async (t) => {
  const good = (c: ReturnType<typeof challenged>) =>
    encodeChapHex(reference(c.algorithm, c.id, INITIATOR.password, c.challenge));
  let c = challenged('5');
  t.match(
    c.server.verify({
      CHAP_N: INITIATOR.user,
      CHAP_R: encodeChapHex(reference(5, c.id, 'wrong', c.challenge)),
    }),
    {
      ok: false,
      reason: /does not match/,
    },
  );
  c = challenged('5');
  t.match(c.server.verify({ CHAP_N: 'someone-else', CHAP_R: good(c) }), {
    ok: false,
    reason: /unknown CHAP user/,
  });
  c = challenged('5');
  t.match(c.server.verify({ CHAP_N: INITIATOR.user }), { ok: false, reason: /missing/ });
  c = challenged('5');
  t.match(c.server.verify({ CHAP_R: good(c) }), { ok: false, reason: /missing/ });
  c = challenged('7');
  const truncated = good(c).slice(0, -2);
  t.match(c.server.verify({ CHAP_N: INITIATOR.user, CHAP_R: truncated }), { ok: false });
  c = challenged('7');
  // An MD5 answer to a SHA-256 challenge has the wrong length.
  t.match(
    c.server.verify({
      CHAP_N: INITIATOR.user,
      CHAP_R: encodeChapHex(reference(5, c.id, INITIATOR.password, c.challenge)),
    }),
    {
      ok: false,
    },
  );
  c = challenged('5');
  t.match(c.server.verify({ CHAP_N: INITIATOR.user, CHAP_R: 'garbage' }), { ok: false });
  c = challenged('5');
  t.ok(c.server.verify({ CHAP_N: INITIATOR.user, CHAP_R: good(c) }).ok);
  t.match(c.server.verify({ CHAP_N: INITIATOR.user, CHAP_R: good(c) }), { ok: false }, 'verify only once');
  const fresh = new ChapServer({ incoming: [INITIATOR] });
  t.match(fresh.verify({ CHAP_N: INITIATOR.user, CHAP_R: '0x00' }), {
    ok: false,
    reason: /without a pending/,
  });
});

t.test('several incoming accounts: CHAP_N selects the secret', async (t) => {
  const other = { user: 'other', password: 'other-secret-123' };
  const server = new ChapServer({ incoming: [INITIATOR, other], randomBytes: counterRandom(7) });
  const r = server.challenge('6');
  if (!r.ok) throw new Error('challenge');
  const id = Number(r.pairs[1][1]);
  const challenge = Buffer.from(r.pairs[2][1].slice(2), 'hex');
  t.match(
    server.verify({ CHAP_N: 'other', CHAP_R: encodeChapHex(reference(6, id, other.password, challenge)) }),
    {
      ok: true,
      user: 'other',
    },
  );
});

t.test('mutual CHAP answers with the outgoing account', async (t) => {
  for (const offer of ['5', '6', '7', '8']) {
    for (const [iValue, idNum] of [
      ['17', 17],
      ['0x11', 17],
      ['255', 255],
    ] as Array<[string, number]>) {
      const c = challenged(offer, { outgoing: TARGET });
      const theirs = Buffer.from('c0ffee' + '11'.repeat(29), 'hex');
      const r = c.server.verify({
        CHAP_N: INITIATOR.user,
        CHAP_R: encodeChapHex(reference(c.algorithm, c.id, INITIATOR.password, c.challenge)),
        CHAP_I: iValue,
        CHAP_C: offer === '8' ? `0b${theirs.toString('base64')}` : encodeChapHex(theirs),
      });
      t.same(r, {
        ok: true,
        user: INITIATOR.user,
        pairs: [
          ['CHAP_N', TARGET.user],
          ['CHAP_R', `0x${reference(c.algorithm, idNum, TARGET.password, theirs).toString('hex')}`],
        ],
      });
    }
  }
});

t.test('mutual CHAP refusals', async (t) => {
  const response = (c: ReturnType<typeof challenged>) =>
    encodeChapHex(reference(c.algorithm, c.id, INITIATOR.password, c.challenge));
  // Reflection: the initiator sends our own challenge back.
  let c = challenged('5', { outgoing: TARGET });
  t.match(
    c.server.verify({
      CHAP_N: INITIATOR.user,
      CHAP_R: response(c),
      CHAP_I: '1',
      CHAP_C: encodeChapHex(c.challenge),
    }),
    { ok: false, reason: /reflected/ },
  );
  c = challenged('7', { outgoing: TARGET });
  t.match(
    c.server.verify({
      CHAP_N: INITIATOR.user,
      CHAP_R: response(c),
      CHAP_I: '1',
      CHAP_C: `0b${c.challenge.toString('base64')}`,
    }),
    { ok: false, reason: /reflected/ },
    'reflection detected across encodings',
  );
  // No outgoing account bound.
  c = challenged('5');
  t.match(
    c.server.verify({ CHAP_N: INITIATOR.user, CHAP_R: response(c), CHAP_I: '1', CHAP_C: '0x0102030405' }),
    {
      ok: false,
      reason: /no outgoing account/,
    },
  );
  // Half a challenge.
  c = challenged('5', { outgoing: TARGET });
  t.match(c.server.verify({ CHAP_N: INITIATOR.user, CHAP_R: response(c), CHAP_I: '1' }), {
    ok: false,
    reason: /both CHAP_I and CHAP_C/,
  });
  c = challenged('5', { outgoing: TARGET });
  t.match(c.server.verify({ CHAP_N: INITIATOR.user, CHAP_R: response(c), CHAP_C: '0x01' }), { ok: false });
  c = challenged('5', { outgoing: TARGET });
  t.match(c.server.verify({ CHAP_N: INITIATOR.user, CHAP_R: response(c), CHAP_I: '256', CHAP_C: '0x01' }), {
    ok: false,
    reason: /CHAP_I/,
  });
  c = challenged('5', { outgoing: TARGET });
  t.match(c.server.verify({ CHAP_N: INITIATOR.user, CHAP_R: response(c), CHAP_I: '1', CHAP_C: '0xqq' }), {
    ok: false,
    reason: /CHAP_C/,
  });
  c = challenged('5', { outgoing: TARGET });
  t.match(
    c.server.verify({
      CHAP_N: INITIATOR.user,
      CHAP_R: response(c),
      CHAP_I: '1',
      CHAP_C: `0x${'ab'.repeat(1025)}`,
    }),
    { ok: false, reason: /oversized/ },
  );
  // The same secret in both directions (RFC 7143 12.1.3).
  const same = { user: 'target-user', password: INITIATOR.password };
  c = challenged('5', { outgoing: same });
  t.match(
    c.server.verify({ CHAP_N: INITIATOR.user, CHAP_R: response(c), CHAP_I: '1', CHAP_C: '0x0102030405' }),
    {
      ok: false,
      reason: /both directions/,
    },
  );
  // A wrong initiator response fails before the mutual part is looked at.
  c = challenged('5', { outgoing: TARGET });
  t.match(
    c.server.verify({ CHAP_N: INITIATOR.user, CHAP_R: '0x' + '00'.repeat(16), CHAP_I: '1', CHAP_C: '0x01' }),
    {
      ok: false,
      reason: /does not match/,
    },
  );
});
