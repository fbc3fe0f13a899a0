import t from 'tap';
import { encodeTextKeys, MAX_KEY_BYTES, MAX_VALUE_BYTES, parseTextKeys } from '../../src/iscsi/text-keys';

const bytes = (s: string) => Buffer.from(s, 'utf8');

t.test('parses NUL-terminated pairs in order', async (t) => {
  t.same(parseTextKeys(bytes('InitiatorName=iqn.a\0SessionType=Normal\0')), {
    pairs: [
      ['InitiatorName', 'iqn.a'],
      ['SessionType', 'Normal'],
    ],
  });
});

t.test('tolerates a missing final NUL', async (t) => {
  t.same(parseTextKeys(bytes('A=1\0B=2')).pairs, [
    ['A', '1'],
    ['B', '2'],
  ]);
  t.equal(parseTextKeys(bytes('A=1\0B=2')).error, undefined);
});

t.test('empty segment, padding NULs and empty strings between pairs', async (t) => {
  t.same(parseTextKeys(Buffer.alloc(0)), { pairs: [] });
  t.same(parseTextKeys(bytes('\0\0\0')), { pairs: [] });
  t.same(parseTextKeys(bytes('A=1\0\0B=2\0\0\0')).pairs, [
    ['A', '1'],
    ['B', '2'],
  ]);
});

t.test('values may be empty and may contain "="', async (t) => {
  t.same(parseTextKeys(bytes('TargetAlias=\0X-a=b=c\0')).pairs, [
    ['TargetAlias', ''],
    ['X-a', 'b=c'],
  ]);
});

t.test('UTF-8 names decode', async (t) => {
  t.same(parseTextKeys(bytes('InitiatorAlias=Grüße-主机\0')).pairs, [['InitiatorAlias', 'Grüße-主机']]);
});

t.test('errors', async (t) => {
  const err = (data: Buffer) => parseTextKeys(data).error;
  t.match(err(bytes('A=1\0NoEquals\0')), /without '='/);
  t.same(parseTextKeys(bytes('A=1\0NoEquals\0')).pairs, [['A', '1']], 'pairs before the error are kept');
  t.match(err(bytes('=value\0')), /empty key/);
  t.match(err(bytes('A=1\0B=2\0A=3\0')), /appears twice/);
  t.match(err(Buffer.from([0x41, 0xff, 0x3d, 0x31, 0])), /key is not valid UTF-8/);
  t.match(err(Buffer.from([0x41, 0x3d, 0xc3, 0x28, 0])), /value of A is not valid UTF-8/);
});

t.test('key length limit is 63 bytes (bytes, not characters)', async (t) => {
  t.equal(MAX_KEY_BYTES, 63);
  const k63 = 'K'.repeat(63);
  t.same(parseTextKeys(bytes(`${k63}=v\0`)).pairs, [[k63, 'v']]);
  t.match(parseTextKeys(bytes(`${'K'.repeat(64)}=v\0`)).error, /longer than 63 bytes/);
  // 62 ASCII + a 2-byte character = 64 bytes in 63 characters.
  t.match(parseTextKeys(bytes(`${'K'.repeat(62)}é=v\0`)).error, /longer than 63 bytes/);
});

t.test('value length limit is 8192 bytes', async (t) => {
  t.equal(MAX_VALUE_BYTES, 8192);
  const v = 'v'.repeat(8192);
  t.same(parseTextKeys(bytes(`CHAP_C=${v}\0`)).pairs, [['CHAP_C', v]]);
  t.match(parseTextKeys(bytes(`CHAP_C=${v}v\0`)).error, /value of CHAP_C longer than 8192 bytes/);
});

t.test('encode is byte-exact and keeps duplicate keys', async (t) => {
  const out = encodeTextKeys([
    ['TargetName', 'iqn.x:a'],
    ['TargetAddress', '10.0.0.1:3260,1'],
    ['TargetName', 'iqn.x:b'],
  ]);
  t.same(out, bytes('TargetName=iqn.x:a\0TargetAddress=10.0.0.1:3260,1\0TargetName=iqn.x:b\0'));
  t.same(encodeTextKeys([]), Buffer.alloc(0));
  t.same(encodeTextKeys([['A', 'é']]), Buffer.from([0x41, 0x3d, 0xc3, 0xa9, 0x00]));
});

t.test('round trip', async (t) => {
  const pairs: Array<[string, string]> = [
    ['HeaderDigest', 'None,CRC32C'],
    ['MaxRecvDataSegmentLength', '262144'],
    ['InitiatorAlias', ''],
  ];
  t.same(parseTextKeys(encodeTextKeys(pairs)), { pairs });
});
