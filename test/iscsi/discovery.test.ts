import t from 'tap';
import {
  answerTextRequest,
  formatTargetAddress,
  sendTargetsResponse,
  type TextRequestContext,
} from '../../src/iscsi/discovery';
import { RFC_DEFAULTS } from '../../src/iscsi/negotiation';
import type { IscsiTargetDirectory, IscsiTargetView, PortalAddress } from '../../src/iscsi/target-port';

// ---- a tiny fake of the daemon's target model ----

function fakeTarget(
  name: string,
  allow: (initiator: string, address: string) => boolean = () => true,
  params: Record<string, string> = {},
): IscsiTargetView {
  return {
    tid: 1,
    name,
    state: 'ready',
    isAllowed: allow,
    incomingAccounts: () => [],
    outgoingAccount: () => undefined,
    iscsiParams: () => new Map(Object.entries(params)),
    nopInterval: () => 0,
    nopCount: () => 0,
    execute: () => Promise.reject(new Error('not used')),
    hasLun: () => false,
    resetLun: () => undefined,
    resetTarget: () => undefined,
    nexusAdded: () => undefined,
    nexusRemoved: () => undefined,
  };
}

function fakeDirectory(
  targets: IscsiTargetView[],
  portals: PortalAddress[],
  global: Record<string, string> = {},
): IscsiTargetDirectory {
  return {
    findTarget: (name) => targets.find((x) => x.name === name),
    listTargets: () => targets,
    discoveryAccounts: () => [],
    portals: () => portals,
    globalIscsiParams: () => new Map(Object.entries(global)),
  };
}

const A = 'iqn.2024-01.org.example:a';
const B = 'iqn.2024-01.org.example:b';
const SECRET = 'iqn.2024-01.org.example:secret';
const INITIATOR = 'iqn.1994-05.com.redhat:host';
const ADDR = '192.0.2.10';
const CONN = { address: '198.51.100.5', port: 3260, tpgt: 1 };

const targets = [
  fakeTarget(A),
  fakeTarget(B),
  fakeTarget(SECRET, (name, address) => name === 'iqn.1991-05.com.microsoft:special' && address === ADDR),
];

t.test('formatTargetAddress', async (t) => {
  t.equal(formatTargetAddress('10.0.0.1', 3260, 1), '10.0.0.1:3260,1');
  t.equal(formatTargetAddress('fd00::1', 3261, 2), '[fd00::1]:3261,2');
  t.equal(formatTargetAddress('fe80::1%eth0', 3260, 1), '[fe80::1%eth0]:3260,1');
});

t.test('SendTargets=All: every target this initiator may see, each with every portal', async (t) => {
  const dir = fakeDirectory(targets, [
    { address: '10.0.0.1', port: 3260, tpgt: 1 },
    { address: 'fd00::1', port: 3260, tpgt: 1 },
    { address: '10.0.1.1', port: 3261, tpgt: 2 },
  ]);
  t.same(sendTargetsResponse('All', dir, INITIATOR, ADDR, CONN), [
    ['TargetName', A],
    ['TargetAddress', '10.0.0.1:3260,1'],
    ['TargetAddress', '[fd00::1]:3260,1'],
    ['TargetAddress', '10.0.1.1:3261,2'],
    ['TargetName', B],
    ['TargetAddress', '10.0.0.1:3260,1'],
    ['TargetAddress', '[fd00::1]:3260,1'],
    ['TargetAddress', '10.0.1.1:3261,2'],
  ]);
  const special = sendTargetsResponse('All', dir, 'iqn.1991-05.com.microsoft:special', ADDR, CONN);
  t.same(
    special.filter(([k]) => k === 'TargetName').map(([, v]) => v),
    [A, B, SECRET],
    'the ACL admits this initiator to the third target',
  );
  t.same(
    sendTargetsResponse('All', dir, 'iqn.1991-05.com.microsoft:special', '203.0.113.9', CONN)
      .filter(([k]) => k === 'TargetName')
      .map(([, v]) => v),
    [A, B],
    'the ACL also checks the address',
  );
});

t.test('SendTargets=<name>, empty and unknown', async (t) => {
  const dir = fakeDirectory(targets, [{ address: '10.0.0.1', port: 3260, tpgt: 1 }]);
  t.same(sendTargetsResponse(B, dir, INITIATOR, ADDR, CONN), [
    ['TargetName', B],
    ['TargetAddress', '10.0.0.1:3260,1'],
  ]);
  t.same(sendTargetsResponse('', dir, INITIATOR, ADDR, CONN), []);
  t.same(sendTargetsResponse('iqn.2024-01.org.example:none', dir, INITIATOR, ADDR, CONN), []);
  t.same(sendTargetsResponse(SECRET, dir, INITIATOR, ADDR, CONN), [], 'refused by ACL');
  t.same(sendTargetsResponse('all', dir, INITIATOR, ADDR, CONN), [], '"All" is case-sensitive');
  t.same(
    sendTargetsResponse(
      'All',
      fakeDirectory([], [{ address: '10.0.0.1', port: 3260, tpgt: 1 }]),
      INITIATOR,
      ADDR,
      CONN,
    ),
    [],
  );
});

t.test('wildcard portals report the address the initiator connected to', async (t) => {
  const v4 = fakeDirectory([fakeTarget(A)], [{ address: '0.0.0.0', port: 3260, tpgt: 1 }]);
  t.same(sendTargetsResponse('All', v4, INITIATOR, ADDR, CONN), [
    ['TargetName', A],
    ['TargetAddress', '198.51.100.5:3260,1'],
  ]);
  t.same(
    sendTargetsResponse('All', v4, INITIATOR, ADDR, { address: '::ffff:198.51.100.5', port: 3260, tpgt: 1 }),
    [
      ['TargetName', A],
      ['TargetAddress', '198.51.100.5:3260,1'],
    ],
    'IPv4-mapped connection address',
  );
  t.same(
    sendTargetsResponse('All', v4, INITIATOR, ADDR, { address: 'fd00::5', port: 3260, tpgt: 1 }),
    [['TargetName', A]],
    'an IPv4 wildcard is not reachable at an IPv6 address',
  );
  const v6 = fakeDirectory([fakeTarget(A)], [{ address: '::', port: 3260, tpgt: 1 }]);
  t.same(sendTargetsResponse('All', v6, INITIATOR, ADDR, { address: 'fd00::5', port: 3260, tpgt: 1 }), [
    ['TargetName', A],
    ['TargetAddress', '[fd00::5]:3260,1'],
  ]);
  t.same(sendTargetsResponse('All', v6, INITIATOR, ADDR, CONN), [
    ['TargetName', A],
    ['TargetAddress', '198.51.100.5:3260,1'],
  ]);
  // Both wildcards on one port collapse into one address; the port and tag come from each portal.
  const both = fakeDirectory(
    [fakeTarget(A)],
    [
      { address: '0.0.0.0', port: 3260, tpgt: 1 },
      { address: '::', port: 3260, tpgt: 1 },
      { address: '0:0:0:0:0:0:0:0', port: 3270, tpgt: 5 },
    ],
  );
  t.same(sendTargetsResponse('All', both, INITIATOR, ADDR, CONN), [
    ['TargetName', A],
    ['TargetAddress', '198.51.100.5:3260,1'],
    ['TargetAddress', '198.51.100.5:3270,5'],
  ]);
});

function textContext(over: Partial<TextRequestContext> = {}): TextRequestContext {
  return {
    directory: fakeDirectory(targets, [{ address: '10.0.0.1', port: 3260, tpgt: 1 }]),
    sessionType: 'Discovery',
    initiatorName: INITIATOR,
    initiatorAddress: ADDR,
    connectionPortal: CONN,
    params: { ...RFC_DEFAULTS },
    ...over,
  };
}

t.test('Text request in a discovery session', async (t) => {
  const ctx = textContext();
  const out = answerTextRequest(
    [
      ['MaxRecvDataSegmentLength', '16384'],
      ['SendTargets', 'All'],
      ['X-com.example.Foo', 'bar'],
      ['HeaderDigest', 'CRC32C'],
      ['MaxBurstLength', '262144'],
    ],
    ctx,
  );
  t.same(out, [
    ['MaxRecvDataSegmentLength', '262144'],
    ['TargetName', A],
    ['TargetAddress', '10.0.0.1:3260,1'],
    ['TargetName', B],
    ['TargetAddress', '10.0.0.1:3260,1'],
    ['X-com.example.Foo', 'NotUnderstood'],
    ['HeaderDigest', 'Reject'],
    ['MaxBurstLength', 'Reject'],
  ]);
  t.equal(ctx.params.initiatorMaxRecvDataSegmentLength, 16384, 'declaration updates the connection');
  t.equal(ctx.params.targetMaxRecvDataSegmentLength, 262144);
  t.equal(ctx.params.headerDigest, false, 'rejected key changes nothing');
});

t.test('Text request honours the MaxRecvDataSegmentLength overrides', async (t) => {
  const ctx = textContext({
    directory: fakeDirectory(targets, [], { MaxRecvDataSegmentLength: '65536' }),
  });
  t.same(answerTextRequest([['MaxRecvDataSegmentLength', '8192']], ctx), [
    ['MaxRecvDataSegmentLength', '65536'],
  ]);
  t.equal(ctx.params.targetMaxRecvDataSegmentLength, 65536);
  const custom = fakeTarget(A, () => true, { MaxRecvDataSegmentLength: '32768' });
  const normal = textContext({
    sessionType: 'Normal',
    target: custom,
    directory: fakeDirectory([custom], [], { MaxRecvDataSegmentLength: '65536' }),
  });
  t.same(answerTextRequest([['MaxRecvDataSegmentLength', '8192']], normal), [
    ['MaxRecvDataSegmentLength', '32768'],
  ]);
  t.same(answerTextRequest([], normal), []);
  t.equal(normal.params.initiatorMaxRecvDataSegmentLength, 8192);
});

t.test('SendTargets in a normal session describes only the session target', async (t) => {
  const target = targets[1];
  const ctx = textContext({ sessionType: 'Normal', target });
  const own = [
    ['TargetName', B],
    ['TargetAddress', '10.0.0.1:3260,1'],
  ];
  t.same(answerTextRequest([['SendTargets', '']], ctx), own, 'empty value: this target');
  t.same(answerTextRequest([['SendTargets', 'All']], ctx), own, 'All: still only this target');
  t.same(answerTextRequest([['SendTargets', B]], ctx), own);
  t.same(answerTextRequest([['SendTargets', A]], ctx), [], 'another target: nothing');
  t.same(
    answerTextRequest([['SendTargets', 'All']], textContext({ sessionType: 'Normal' })),
    [],
    'no target known',
  );
  t.same(answerTextRequest([['SendTargets', '']], textContext()), [], 'empty in discovery: nothing');
});

t.test('login-only keys in full feature phase are rejected', async (t) => {
  const out = answerTextRequest(
    [
      ['InitialR2T', 'No'],
      ['TargetName', A],
      ['InitiatorAlias', 'renamed'],
      ['DataDigest', 'None'],
      ['ErrorRecoveryLevel', '0'],
      ['AuthMethod', 'None'],
    ],
    textContext({ sessionType: 'Normal', target: targets[0] }),
  );
  t.same(out, [
    ['InitialR2T', 'Reject'],
    ['TargetName', 'Reject'],
    ['DataDigest', 'Reject'],
    ['ErrorRecoveryLevel', 'Reject'],
    ['AuthMethod', 'Reject'],
  ]);
});
