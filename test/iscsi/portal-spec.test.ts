// tgt's --iscsi option syntax.
import t from 'tap';
import { parseIscsiOptions, parsePortal } from '../../src/iscsi/portal-spec';

t.test('portals: IPv4, IPv6 in brackets, default port, wildcard', async (t) => {
  t.same(parsePortal('127.0.0.1:3261'), { address: '127.0.0.1', port: 3261 });
  t.same(parsePortal('127.0.0.1'), { address: '127.0.0.1', port: 3260 });
  t.same(parsePortal('[::1]:3262'), { address: '::1', port: 3262 });
  t.same(parsePortal('[::]'), { address: '::', port: 3260 });
  t.same(parsePortal('fe80::1'), { address: 'fe80::1', port: 3260 });
  t.same(parsePortal('*:3260'), { address: '0.0.0.0', port: 3260 });
  t.throws(() => parsePortal('1.2.3.4:99999'), /out of range/);
  t.throws(() => parsePortal('1.2.3.4:abc'), /number/);
  t.throws(() => parsePortal('[::1:3260'), /missing/);
});

t.test('options: several portals, nop settings, repeated --iscsi', async (t) => {
  const o = parseIscsiOptions(['portal=127.0.0.1:3260,portal=[::1]:3260,nop_interval=5', 'nop_count=3']);
  t.same(o.portals, [
    { address: '127.0.0.1', port: 3260 },
    { address: '::1', port: 3260 },
  ]);
  t.equal(o.nopInterval, 5);
  t.equal(o.nopCount, 3);
  t.throws(() => parseIscsiOptions(['bogus=1']), /unknown --iscsi option/);
  t.throws(() => parseIscsiOptions(['portal']), /key=value/);
  t.throws(() => parseIscsiOptions(['nop_count=-1']), /non-negative/);
});
