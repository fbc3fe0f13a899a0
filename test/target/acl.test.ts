import t from 'tap';
import {
  addressRuleMatches,
  ipv6ToGroups,
  isInitiatorAllowed,
  normalizePeerAddress,
} from '../../src/target/acl';

t.test('address rules, as tgt matches them', async (t) => {
  const table: Array<[string, string, boolean]> = [
    ['ALL', '10.1.2.3', true],
    ['ALL', 'fe80::1', true],
    ['10.0.0.5', '10.0.0.5', true],
    ['10.0.0.5', '10.0.0.6', false],
    ['10.0.0.5', '::ffff:10.0.0.5', true], // Node reports IPv4 peers on dual-stack sockets this way
    ['192.168.0.0/24', '192.168.0.1', true],
    ['192.168.0.0/24', '192.168.0.255', true],
    ['192.168.0.0/24', '192.168.1.1', false],
    ['192.168.0.1/24', '192.168.0.1', false], // host bits set: tgt never matches
    ['10.0.0.0/8', '10.255.1.1', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['172.16.0.0/12', '172.31.255.255', true],
    ['172.16.0.0/12', '172.32.0.0', false],
    ['10.0.0.9/32', '10.0.0.9', true],
    ['10.0.0.9/32', '10.0.0.8', false],
    ['0.0.0.0/0', '8.8.8.8', true],
    ['10.0.0.0/33', '10.0.0.0', false],
    ['10.0.0.0/x', '10.0.0.0', false],
    ['::1', '::1', true],
    ['::1', '::2', false],
    ['[::1]', '::1', true],
    ['fe80::1', 'FE80:0:0:0:0:0:0:1', true],
    ['fe80::/64', 'fe80::abcd:1', true],
    ['[fe80::]/64', 'fe80::abcd:1', true],
    ['fe80::/64', 'fe80:0:0:1::1', false],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['2001:db8::/129', '2001:db8::', false],
    ['::ffff:10.0.0.0/120', '::ffff:10.0.0.7', false], // the peer is normalized to IPv4
    ['10.0.0.1', 'fe80::1', false],
    ['fe80::1', '10.0.0.1', false],
    ['foo', '10.0.0.1', false],
    ['iqn.1994-05.com.redhat:x', '10.0.0.1', false],
  ];
  for (const [rule, peer, expected] of table)
    t.equal(addressRuleMatches(rule, peer), expected, `${rule} vs ${peer}`);
});

t.test('IPv6 groups and peer normalization', async (t) => {
  t.same(ipv6ToGroups('fe80::1'), [0xfe80, 0, 0, 0, 0, 0, 0, 1]);
  t.same(ipv6ToGroups('::'), [0, 0, 0, 0, 0, 0, 0, 0]);
  t.same(ipv6ToGroups('1:2:3:4:5:6:7:8'), [1, 2, 3, 4, 5, 6, 7, 8]);
  t.same(ipv6ToGroups('::ffff:1.2.3.4'), [0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
  t.equal(normalizePeerAddress('::ffff:1.2.3.4'), '1.2.3.4');
  t.equal(normalizePeerAddress('::1'), '::1');
});

t.test('address AND name rules together', async (t) => {
  const name = 'iqn.1994-05.com.redhat:client1';
  t.equal(isInitiatorAllowed([], [], name, '10.0.0.1'), false, 'no address rule: nobody (tgt default)');
  t.equal(isInitiatorAllowed([], [name], name, '10.0.0.1'), false, 'a name rule alone is not enough');
  t.equal(isInitiatorAllowed(['ALL'], [], name, '10.0.0.1'), true);
  t.equal(isInitiatorAllowed(['ALL'], [name], name, '10.0.0.1'), true);
  t.equal(isInitiatorAllowed(['ALL'], ['iqn.other'], name, '10.0.0.1'), false);
  t.equal(isInitiatorAllowed(['ALL'], ['iqn.other', name], name, '10.0.0.1'), true);
  t.equal(isInitiatorAllowed(['192.168.0.0/24'], [name], name, '10.0.0.1'), false);
  t.equal(isInitiatorAllowed(['10.9.9.9', '10.0.0.0/24'], [], name, '10.0.0.1'), true, 'any address rule');
  t.equal(isInitiatorAllowed(['ALL'], [name.toUpperCase()], name, '10.0.0.1'), false, 'names are exact');
});
