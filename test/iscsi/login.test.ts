import { createHash } from 'node:crypto';
import t from 'tap';
import {
  LoginNegotiator,
  LoginStatus,
  type LoginContext,
  type LoginStepInput,
  type LoginStepOutput,
} from '../../src/iscsi/login';
import { RFC_DEFAULTS, type OperationalParams } from '../../src/iscsi/negotiation';
import type {
  ChapAccount,
  IscsiTargetDirectory,
  IscsiTargetView,
  PortalAddress,
} from '../../src/iscsi/target-port';

// ---- a tiny fake of the daemon's target model ----

interface FakeTarget {
  name: string;
  state?: 'ready' | 'offline';
  allow?: (initiatorName: string, address: string) => boolean;
  incoming?: ChapAccount[];
  outgoing?: ChapAccount;
  params?: Record<string, string>;
}

function fakeTarget(o: FakeTarget, tid = 1): IscsiTargetView {
  return {
    tid,
    name: o.name,
    state: o.state ?? 'ready',
    isAllowed: o.allow ?? (() => true),
    incomingAccounts: () => o.incoming ?? [],
    outgoingAccount: () => o.outgoing,
    iscsiParams: () => new Map(Object.entries(o.params ?? {})),
    nopInterval: () => 0,
    nopCount: () => 0,
    execute: () => Promise.reject(new Error('not used by login')),
    hasLun: () => false,
    resetLun: () => undefined,
    resetTarget: () => undefined,
    nexusAdded: () => undefined,
    nexusRemoved: () => undefined,
  };
}

function fakeDirectory(
  targets: FakeTarget[],
  o: {
    discoveryAccounts?: ChapAccount[];
    discoveryOutgoing?: ChapAccount;
    portals?: PortalAddress[];
    global?: Record<string, string>;
  } = {},
): IscsiTargetDirectory {
  const views = targets.map((target, i) => fakeTarget(target, i + 1));
  return {
    findTarget: (name) => views.find((v) => v.name === name),
    listTargets: () => views,
    discoveryAccounts: () => o.discoveryAccounts ?? [],
    discoveryOutgoingAccount: () => o.discoveryOutgoing,
    portals: () => o.portals ?? [{ address: '0.0.0.0', port: 3260, tpgt: 1 }],
    globalIscsiParams: () => new Map(Object.entries(o.global ?? {})),
  };
}

// ---- fixtures ----

const IQN_T = 'iqn.2024-01.org.example:disk1';
const IQN_LINUX = 'iqn.1994-05.com.redhat:5f3c1e2a9b';
const IQN_WIN = 'iqn.1991-05.com.microsoft:winhost';
const IQN_LIBISCSI = 'iqn.2007-10.com.github:sahlberg:libiscsi:iscsi-test';
const IN_ACCOUNT = { user: 'alice', password: 'alice-secret-12' };
const OUT_ACCOUNT = { user: 'target-out', password: 'target-secret-99' };

/** Linux open-iscsi (iscsid) operational keys, in its order. */
const OPEN_ISCSI_OPERATIONAL: Array<[string, string]> = [
  ['HeaderDigest', 'None'],
  ['DataDigest', 'None'],
  ['DefaultTime2Wait', '2'],
  ['DefaultTime2Retain', '0'],
  ['IFMarker', 'No'],
  ['OFMarker', 'No'],
  ['ErrorRecoveryLevel', '0'],
  ['InitialR2T', 'No'],
  ['ImmediateData', 'Yes'],
  ['MaxBurstLength', '16776192'],
  ['FirstBurstLength', '262144'],
  ['MaxOutstandingR2T', '1'],
  ['MaxConnections', '1'],
  ['DataPDUInOrder', 'Yes'],
  ['DataSequenceInOrder', 'Yes'],
  ['MaxRecvDataSegmentLength', '262144'],
];

/** Microsoft iSCSI Initiator operational keys. */
function windowsOperational(maxOutstandingR2T: string): Array<[string, string]> {
  return [
    ['HeaderDigest', 'None,CRC32C'],
    ['DataDigest', 'None,CRC32C'],
    ['ErrorRecoveryLevel', '2'],
    ['InitialR2T', 'No'],
    ['ImmediateData', 'Yes'],
    ['MaxBurstLength', '262144'],
    ['FirstBurstLength', '65536'],
    ['MaxOutstandingR2T', maxOutstandingR2T],
    ['MaxConnections', '32'],
    ['DataPDUInOrder', 'Yes'],
    ['DataSequenceInOrder', 'Yes'],
    ['DefaultTime2Wait', '0'],
    ['DefaultTime2Retain', '0'],
    ['IFMarker', 'No'],
    ['OFMarker', 'No'],
    ['MaxRecvDataSegmentLength', '65536'],
  ];
}

/** libiscsi (lib/login.c iscsi_login_add_*) with its defaults from lib/init.c, in its order. */
const LIBISCSI_OPERATIONAL: Array<[string, string]> = [
  ['HeaderDigest', 'None,CRC32C'],
  ['DataDigest', 'None'],
  ['InitialR2T', 'No'],
  ['ImmediateData', 'Yes'],
  ['MaxBurstLength', '262144'],
  ['FirstBurstLength', '262144'],
  ['DefaultTime2Wait', '2'],
  ['DefaultTime2Retain', '0'],
  ['MaxOutstandingR2T', '1'],
  ['ErrorRecoveryLevel', '0'],
  ['IFMarker', 'No'],
  ['OFMarker', 'No'],
  ['MaxConnections', '1'],
  ['MaxRecvDataSegmentLength', '262144'],
  ['DataPDUInOrder', 'Yes'],
  ['DataSequenceInOrder', 'Yes'],
];

const identity = (initiator: string, target = IQN_T): Array<[string, string]> => [
  ['InitiatorName', initiator],
  ['SessionType', 'Normal'],
  ['TargetName', target],
];

function login(directory: IscsiTargetDirectory, extra: Partial<LoginContext> = {}): LoginNegotiator {
  let counter = 0x20;
  return new LoginNegotiator({
    directory,
    portalTpgt: 7,
    initiatorAddress: '192.0.2.10',
    randomBytes: (n) => Buffer.from(Array.from({ length: n }, () => counter++ & 0xff)),
    ...extra,
  });
}

const req = (csg: number, nsg: number, transit: boolean, pairs: Array<[string, string]>): LoginStepInput => ({
  csg,
  nsg,
  transit,
  pairs,
});

function status(out: LoginStepOutput): number {
  return (out.statusClass << 8) | out.statusDetail;
}

function value(out: LoginStepOutput, key: string): string | undefined {
  return out.pairs.find(([k]) => k === key)?.[1];
}

const HASH: Record<string, string> = { '5': 'md5', '6': 'sha1', '7': 'sha256', '8': 'sha3-256' };

/** The initiator's CHAP_R for the target's CHAP_A / CHAP_I / CHAP_C, computed independently. */
function answerChallenge(
  out: LoginStepOutput,
  password: string,
  hexCase: 'lower' | 'upper' = 'lower',
): string {
  const alg = value(out, 'CHAP_A') as string;
  const id = Number(value(out, 'CHAP_I'));
  const challenge = Buffer.from((value(out, 'CHAP_C') as string).slice(2), 'hex');
  const hex = createHash(HASH[alg])
    .update(Buffer.concat([Buffer.from([id]), Buffer.from(password), challenge]))
    .digest('hex');
  return `0x${hexCase === 'upper' ? hex.toUpperCase() : hex}`;
}

function expectOk(t: Asserts, out: LoginStepOutput, transit: boolean, nsg = 0): void {
  t.equal(status(out), 0, 'status success');
  t.equal(out.transit, transit, `transit ${transit}`);
  t.equal(out.nsg, nsg, `nsg ${nsg}`);
}
type Asserts = Pick<typeof t, 'equal'>;

const LINUX_EXPECTED: OperationalParams = {
  headerDigest: false,
  dataDigest: false,
  maxConnections: 1,
  initialR2T: false,
  immediateData: true,
  maxBurstLength: 16776192,
  firstBurstLength: 262144,
  maxOutstandingR2T: 1,
  defaultTime2Wait: 2,
  defaultTime2Retain: 0,
  errorRecoveryLevel: 0,
  dataPDUInOrder: true,
  dataSequenceInOrder: true,
  targetMaxRecvDataSegmentLength: 262144,
  initiatorMaxRecvDataSegmentLength: 262144,
};

// ---- Linux open-iscsi ----

t.test('open-iscsi, AuthMethod=None', async (t) => {
  const dir = fakeDirectory([{ name: IQN_T }]);
  const l = login(dir);
  const r1 = l.step(
    req(0, 1, true, [...identity(IQN_LINUX), ['InitiatorAlias', 'linuxhost'], ['AuthMethod', 'None']]),
  );
  expectOk(t, r1, true, 1);
  t.equal(r1.csg, 0);
  t.same(r1.pairs, [
    ['TargetPortalGroupTag', '7'],
    ['AuthMethod', 'None'],
  ]);
  t.notOk(r1.done);
  t.throws(() => l.result(), 'no result before full feature phase');
  const r2 = l.step(req(1, 3, true, OPEN_ISCSI_OPERATIONAL));
  expectOk(t, r2, true, 3);
  t.equal(r2.csg, 1);
  t.ok(r2.done);
  t.same(r2.pairs, [
    ['HeaderDigest', 'None'],
    ['DataDigest', 'None'],
    ['DefaultTime2Wait', '2'],
    ['DefaultTime2Retain', '0'],
    ['IFMarker', 'No'],
    ['OFMarker', 'No'],
    ['ErrorRecoveryLevel', '0'],
    ['InitialR2T', 'No'],
    ['ImmediateData', 'Yes'],
    ['MaxBurstLength', '16776192'],
    ['FirstBurstLength', '262144'],
    ['MaxOutstandingR2T', '1'],
    ['MaxConnections', '1'],
    ['DataPDUInOrder', 'Yes'],
    ['DataSequenceInOrder', 'Yes'],
    ['MaxRecvDataSegmentLength', '262144'],
  ]);
  const result = l.result();
  t.equal(result.sessionType, 'Normal');
  t.equal(result.initiatorName, IQN_LINUX);
  t.equal(result.initiatorAlias, 'linuxhost');
  t.equal(result.target, dir.findTarget(IQN_T));
  t.same(result.params, LINUX_EXPECTED);
  t.equal(
    status(l.step(req(1, 3, true, []))),
    LoginStatus.INVALID_REQUEST_DURING_LOGIN,
    'no step after done',
  );
});

t.test('open-iscsi, one-way CHAP with SHA-256', async (t) => {
  const l = login(fakeDirectory([{ name: IQN_T, incoming: [IN_ACCOUNT] }]));
  const r1 = l.step(req(0, 1, true, [...identity(IQN_LINUX), ['AuthMethod', 'CHAP,None']]));
  expectOk(t, r1, false);
  t.same(r1.pairs, [
    ['TargetPortalGroupTag', '7'],
    ['AuthMethod', 'CHAP'],
  ]);
  const r2 = l.step(req(0, 1, false, [['CHAP_A', '8,7,6,5']]));
  expectOk(t, r2, false);
  t.equal(value(r2, 'CHAP_A'), '8', "the initiator's first choice");
  t.equal(value(r2, 'CHAP_I'), String(0x20));
  t.match(value(r2, 'CHAP_C'), /^0x[0-9a-f]{64}$/);
  const r3 = l.step(
    req(0, 1, true, [
      ['CHAP_N', IN_ACCOUNT.user],
      ['CHAP_R', answerChallenge(r2, IN_ACCOUNT.password)],
    ]),
  );
  expectOk(t, r3, true, 1);
  t.same(r3.pairs, []);
  const r4 = l.step(req(1, 3, true, OPEN_ISCSI_OPERATIONAL));
  t.ok(r4.done);
  t.same(l.result().params, LINUX_EXPECTED);
});

t.test('open-iscsi, mutual CHAP', async (t) => {
  for (const alg of ['5', '6', '7', '8']) {
    const l = login(fakeDirectory([{ name: IQN_T, incoming: [IN_ACCOUNT], outgoing: OUT_ACCOUNT }]));
    expectOk(t, l.step(req(0, 1, true, [...identity(IQN_LINUX), ['AuthMethod', 'CHAP']])), false);
    const r2 = l.step(req(0, 1, false, [['CHAP_A', alg]]));
    t.equal(value(r2, 'CHAP_A'), alg);
    const theirChallenge = Buffer.from('5a'.repeat(16), 'hex');
    const r3 = l.step(
      req(0, 1, true, [
        ['CHAP_N', IN_ACCOUNT.user],
        ['CHAP_R', answerChallenge(r2, IN_ACCOUNT.password)],
        ['CHAP_I', '200'],
        ['CHAP_C', `0x${theirChallenge.toString('hex')}`],
      ]),
    );
    expectOk(t, r3, true, 1);
    const expected = createHash(HASH[alg])
      .update(Buffer.concat([Buffer.from([200]), Buffer.from(OUT_ACCOUNT.password), theirChallenge]))
      .digest('hex');
    t.same(r3.pairs, [
      ['CHAP_N', OUT_ACCOUNT.user],
      ['CHAP_R', `0x${expected}`],
    ]);
    t.ok(l.step(req(1, 3, true, OPEN_ISCSI_OPERATIONAL)).done);
  }
});

t.test('CHAP failures end the login with 0x0201', async (t) => {
  const dir = fakeDirectory([{ name: IQN_T, incoming: [IN_ACCOUNT] }]);
  const toChallenge = (l: LoginNegotiator) => {
    l.step(req(0, 1, true, [...identity(IQN_LINUX), ['AuthMethod', 'CHAP']]));
    return l.step(req(0, 1, false, [['CHAP_A', '5']]));
  };
  // wrong secret
  let l = login(dir);
  let r = toChallenge(l);
  let out = l.step(
    req(0, 1, true, [
      ['CHAP_N', IN_ACCOUNT.user],
      ['CHAP_R', answerChallenge(r, 'not-the-secret')],
    ]),
  );
  t.equal(status(out), LoginStatus.AUTHENTICATION_FAILURE);
  t.equal(out.statusClass, 2);
  t.equal(out.statusDetail, 1);
  t.same(out.pairs, []);
  t.notOk(out.transit);
  t.match(l.failureReason, /does not match/);
  t.equal(status(l.step(req(0, 1, true, []))), LoginStatus.INVALID_REQUEST_DURING_LOGIN, 'login is over');
  // wrong user
  l = login(dir);
  r = toChallenge(l);
  out = l.step(
    req(0, 1, true, [
      ['CHAP_N', 'mallory'],
      ['CHAP_R', answerChallenge(r, IN_ACCOUNT.password)],
    ]),
  );
  t.equal(status(out), LoginStatus.AUTHENTICATION_FAILURE);
  // missing CHAP_R
  l = login(dir);
  toChallenge(l);
  t.equal(status(l.step(req(0, 1, true, [['CHAP_N', IN_ACCOUNT.user]]))), LoginStatus.AUTHENTICATION_FAILURE);
  // unsupported algorithms only
  l = login(dir);
  l.step(req(0, 1, true, [...identity(IQN_LINUX), ['AuthMethod', 'CHAP']]));
  t.equal(status(l.step(req(0, 1, false, [['CHAP_A', '129,130']]))), LoginStatus.AUTHENTICATION_FAILURE);
  // response before the challenge
  l = login(dir);
  l.step(req(0, 1, true, [...identity(IQN_LINUX), ['AuthMethod', 'CHAP']]));
  t.equal(
    status(
      l.step(
        req(0, 1, true, [
          ['CHAP_N', IN_ACCOUNT.user],
          ['CHAP_R', '0x00'],
        ]),
      ),
    ),
    LoginStatus.AUTHENTICATION_FAILURE,
  );
  // CHAP_A together with the response keys
  l = login(dir);
  l.step(req(0, 1, true, [...identity(IQN_LINUX), ['AuthMethod', 'CHAP']]));
  t.equal(
    status(
      l.step(
        req(0, 1, false, [
          ['CHAP_A', '5'],
          ['CHAP_N', IN_ACCOUNT.user],
        ]),
      ),
    ),
    LoginStatus.AUTHENTICATION_FAILURE,
  );
  // CHAP_A again after the challenge
  l = login(dir);
  toChallenge(l);
  t.equal(status(l.step(req(0, 1, false, [['CHAP_A', '5']]))), LoginStatus.AUTHENTICATION_FAILURE);
  // mutual CHAP requested, no outgoing account bound
  l = login(dir);
  r = toChallenge(l);
  out = l.step(
    req(0, 1, true, [
      ['CHAP_N', IN_ACCOUNT.user],
      ['CHAP_R', answerChallenge(r, IN_ACCOUNT.password)],
      ['CHAP_I', '1'],
      ['CHAP_C', '0x0102030405060708090a0b0c0d0e0f10'],
    ]),
  );
  t.equal(status(out), LoginStatus.AUTHENTICATION_FAILURE);
  t.match(l.failureReason, /no outgoing account/);
  // reflection of the target's own challenge
  l = login(fakeDirectory([{ name: IQN_T, incoming: [IN_ACCOUNT], outgoing: OUT_ACCOUNT }]));
  r = toChallenge(l);
  out = l.step(
    req(0, 1, true, [
      ['CHAP_N', IN_ACCOUNT.user],
      ['CHAP_R', answerChallenge(r, IN_ACCOUNT.password)],
      ['CHAP_I', '1'],
      ['CHAP_C', value(r, 'CHAP_C') as string],
    ]),
  );
  t.equal(status(out), LoginStatus.AUTHENTICATION_FAILURE);
  t.match(l.failureReason, /reflected/);
});

t.test('AuthMethod selection', async (t) => {
  const withAuth = fakeDirectory([{ name: IQN_T, incoming: [IN_ACCOUNT] }]);
  const noAuth = fakeDirectory([{ name: IQN_T }]);
  // Accounts bound: offering only None is an authentication failure.
  let out = login(withAuth).step(req(0, 1, true, [...identity(IQN_LINUX), ['AuthMethod', 'None']]));
  t.equal(status(out), LoginStatus.AUTHENTICATION_FAILURE);
  // Accounts bound: CHAP picked from a longer list.
  out = login(withAuth).step(req(0, 1, true, [...identity(IQN_LINUX), ['AuthMethod', 'KRB5,SRP,CHAP,None']]));
  t.equal(value(out, 'AuthMethod'), 'CHAP');
  t.notOk(out.transit, 'no transit while CHAP is pending');
  // No accounts: None, even when CHAP is offered first.
  out = login(noAuth).step(req(0, 1, true, [...identity(IQN_LINUX), ['AuthMethod', 'CHAP,None']]));
  t.equal(value(out, 'AuthMethod'), 'None');
  expectOk(t, out, true, 1);
  // No accounts and only CHAP offered: nothing acceptable.
  out = login(noAuth).step(req(0, 1, true, [...identity(IQN_LINUX), ['AuthMethod', 'CHAP']]));
  t.equal(status(out), LoginStatus.AUTHENTICATION_FAILURE);
  // Accounts bound and the initiator tries to leave the security stage without any AuthMethod.
  out = login(withAuth).step(req(0, 1, true, identity(IQN_LINUX)));
  t.equal(status(out), LoginStatus.AUTHENTICATION_FAILURE);
  // Accounts bound and the initiator starts in the operational stage.
  out = login(withAuth).step(req(1, 3, true, identity(IQN_LINUX)));
  t.equal(status(out), LoginStatus.AUTHENTICATION_FAILURE);
  // No accounts, no AuthMethod at all: transit allowed (nothing to authenticate).
  out = login(noAuth).step(req(0, 1, true, identity(IQN_LINUX)));
  expectOk(t, out, true, 1);
  t.same(out.pairs, [['TargetPortalGroupTag', '7']]);
  // CHAP keys while AuthMethod=None.
  const l = login(noAuth);
  l.step(req(0, 1, false, [...identity(IQN_LINUX), ['AuthMethod', 'None']]));
  t.equal(status(l.step(req(0, 1, false, [['CHAP_A', '5']]))), LoginStatus.AUTHENTICATION_FAILURE);
  // AuthMethod re-offered later: answered again; a different choice is refused.
  const again = login(withAuth);
  again.step(req(0, 1, false, [...identity(IQN_LINUX), ['AuthMethod', 'CHAP']]));
  t.same(again.step(req(0, 1, false, [['AuthMethod', 'CHAP,None']])).pairs, [['AuthMethod', 'CHAP']]);
  const switched = login(noAuth);
  switched.step(req(0, 1, false, [...identity(IQN_LINUX), ['AuthMethod', 'None']]));
  t.same(switched.step(req(0, 1, false, [['AuthMethod', 'None']])).pairs, [['AuthMethod', 'None']]);
  // Other methods' keys are not understood.
  const srp = login(noAuth).step(req(0, 1, false, [...identity(IQN_LINUX), ['SRP_U', 'bob']]));
  t.same(srp.pairs, [
    ['TargetPortalGroupTag', '7'],
    ['SRP_U', 'NotUnderstood'],
  ]);
});

// ---- Windows ----

t.test('Microsoft iSCSI Initiator, both MaxOutstandingR2T variants', async (t) => {
  for (const r2t of ['1', '16']) {
    const l = login(fakeDirectory([{ name: IQN_T }]));
    const r1 = l.step(
      req(0, 1, true, [
        ['InitiatorName', IQN_WIN],
        ['InitiatorAlias', 'WINHOST'],
        ['SessionType', 'Normal'],
        ['TargetName', IQN_T],
        ['AuthMethod', 'None'],
      ]),
    );
    expectOk(t, r1, true, 1);
    const r2 = l.step(req(1, 3, true, windowsOperational(r2t)));
    expectOk(t, r2, true, 3);
    t.ok(r2.done);
    t.same(r2.pairs, [
      ['HeaderDigest', 'None'],
      ['DataDigest', 'None'],
      ['ErrorRecoveryLevel', '0'],
      ['InitialR2T', 'No'],
      ['ImmediateData', 'Yes'],
      ['MaxBurstLength', '262144'],
      ['FirstBurstLength', '65536'],
      ['MaxOutstandingR2T', r2t],
      ['MaxConnections', '8'],
      ['DataPDUInOrder', 'Yes'],
      ['DataSequenceInOrder', 'Yes'],
      ['DefaultTime2Wait', '2'],
      ['DefaultTime2Retain', '0'],
      ['IFMarker', 'No'],
      ['OFMarker', 'No'],
      ['MaxRecvDataSegmentLength', '262144'],
    ]);
    t.same(l.result().params, {
      headerDigest: false,
      dataDigest: false,
      maxConnections: 8,
      initialR2T: false,
      immediateData: true,
      maxBurstLength: 262144,
      firstBurstLength: 65536,
      maxOutstandingR2T: Number(r2t),
      defaultTime2Wait: 2,
      defaultTime2Retain: 0,
      errorRecoveryLevel: 0,
      dataPDUInOrder: true,
      dataSequenceInOrder: true,
      targetMaxRecvDataSegmentLength: 262144,
      initiatorMaxRecvDataSegmentLength: 65536,
    });
    t.equal(l.result().initiatorAlias, 'WINHOST');
  }
});

t.test('Windows against a target that requires digests', async (t) => {
  const l = login(fakeDirectory([{ name: IQN_T, params: { HeaderDigest: 'CRC32C', DataDigest: 'CRC32C' } }]));
  l.step(req(0, 1, true, [...identity(IQN_WIN), ['AuthMethod', 'None']]));
  const r2 = l.step(req(1, 3, true, windowsOperational('1')));
  t.equal(value(r2, 'HeaderDigest'), 'CRC32C');
  t.equal(value(r2, 'DataDigest'), 'CRC32C');
  t.equal(l.result().params.headerDigest, true);
  t.equal(l.result().params.dataDigest, true);
});

// ---- libiscsi ----

const LIBISCSI_EXPECTED: OperationalParams = {
  headerDigest: false,
  dataDigest: false,
  maxConnections: 1,
  initialR2T: false,
  immediateData: true,
  maxBurstLength: 262144,
  firstBurstLength: 262144,
  maxOutstandingR2T: 1,
  defaultTime2Wait: 2,
  defaultTime2Retain: 0,
  errorRecoveryLevel: 0,
  dataPDUInOrder: true,
  dataSequenceInOrder: true,
  targetMaxRecvDataSegmentLength: 262144,
  initiatorMaxRecvDataSegmentLength: 262144,
};

t.test('libiscsi without CHAP: a single request straight into the operational stage', async (t) => {
  const l = login(fakeDirectory([{ name: IQN_T }]));
  const out = l.step(
    req(1, 3, true, [
      ['InitiatorName', IQN_LIBISCSI],
      ['TargetName', IQN_T],
      ['SessionType', 'Normal'],
      ...LIBISCSI_OPERATIONAL,
    ]),
  );
  expectOk(t, out, true, 3);
  t.ok(out.done);
  t.equal(out.pairs[0][0], 'TargetPortalGroupTag');
  t.equal(value(out, 'HeaderDigest'), 'None');
  t.same(l.result().params, LIBISCSI_EXPECTED);
});

t.test('libiscsi with mutual CHAP (MD5, upper-case hex, T=1 while offering)', async (t) => {
  const l = login(fakeDirectory([{ name: IQN_T, incoming: [IN_ACCOUNT], outgoing: OUT_ACCOUNT }]));
  // libiscsi sets T=1 when it offers CHAP,None; the target must hold it in the security stage.
  const r1 = l.step(
    req(0, 1, true, [
      ['InitiatorName', IQN_LIBISCSI],
      ['TargetName', IQN_T],
      ['SessionType', 'Normal'],
      ['AuthMethod', 'CHAP,None'],
    ]),
  );
  expectOk(t, r1, false);
  t.equal(value(r1, 'AuthMethod'), 'CHAP');
  const r2 = l.step(req(0, 1, false, [['CHAP_A', '5']]));
  expectOk(t, r2, false);
  t.equal(value(r2, 'CHAP_A'), '5');
  t.match(value(r2, 'CHAP_C'), /^0x[0-9a-f]{32}$/);
  const theirChallenge = Buffer.from(Array.from({ length: 32 }, (_, i) => 0x90 + i));
  const r3 = l.step(
    req(0, 1, true, [
      ['CHAP_N', IN_ACCOUNT.user],
      ['CHAP_R', answerChallenge(r2, IN_ACCOUNT.password, 'upper')],
      ['CHAP_I', '1'],
      ['CHAP_C', `0x${theirChallenge.toString('hex').toUpperCase()}`],
    ]),
  );
  expectOk(t, r3, true, 1);
  const expected = createHash('md5')
    .update(Buffer.concat([Buffer.from([1]), Buffer.from(OUT_ACCOUNT.password), theirChallenge]))
    .digest('hex');
  t.same(r3.pairs, [
    ['CHAP_N', OUT_ACCOUNT.user],
    ['CHAP_R', `0x${expected}`],
  ]);
  // libiscsi repeats its identity keys in the operational stage.
  const r4 = l.step(
    req(1, 3, true, [
      ['InitiatorName', IQN_LIBISCSI],
      ['TargetName', IQN_T],
      ['SessionType', 'Normal'],
      ...LIBISCSI_OPERATIONAL,
    ]),
  );
  expectOk(t, r4, true, 3);
  t.equal(value(r4, 'TargetPortalGroupTag'), undefined, 'TPGT only in the first response');
  t.same(l.result().params, LIBISCSI_EXPECTED);
});

// ---- identity and target checks ----

t.test('identity failures', async (t) => {
  const dir = fakeDirectory([
    { name: IQN_T },
    { name: 'iqn.2024-01.org.example:private', allow: (name) => name === IQN_WIN },
    { name: 'iqn.2024-01.org.example:byaddress', allow: (_n, address) => address === '198.51.100.1' },
    { name: 'iqn.2024-01.org.example:down', state: 'offline' },
  ]);
  const first = (pairs: Array<[string, string]>, csg = 0) =>
    status(login(dir).step(req(csg, 1, true, pairs)));
  t.equal(
    first([
      ['SessionType', 'Normal'],
      ['TargetName', IQN_T],
      ['AuthMethod', 'None'],
    ]),
    LoginStatus.MISSING_PARAMETER,
  );
  t.equal(
    first([
      ['InitiatorName', ''],
      ['TargetName', IQN_T],
    ]),
    LoginStatus.MISSING_PARAMETER,
  );
  t.equal(
    first([
      ['InitiatorName', IQN_LINUX],
      ['AuthMethod', 'None'],
    ]),
    LoginStatus.MISSING_PARAMETER,
    'no TargetName',
  );
  t.equal(first(identity(IQN_LINUX, 'iqn.2024-01.org.example:nope')), LoginStatus.NOT_FOUND);
  t.equal(first(identity(IQN_LINUX, 'iqn.2024-01.org.example:private')), LoginStatus.AUTHORIZATION_FAILURE);
  t.equal(first(identity(IQN_WIN, 'iqn.2024-01.org.example:private')), 0);
  t.equal(first(identity(IQN_LINUX, 'iqn.2024-01.org.example:byaddress')), LoginStatus.AUTHORIZATION_FAILURE);
  t.equal(first(identity(IQN_LINUX, 'iqn.2024-01.org.example:down')), LoginStatus.SERVICE_UNAVAILABLE);
  t.equal(
    first([
      ['InitiatorName', IQN_LINUX],
      ['SessionType', 'Bogus'],
    ]),
    LoginStatus.SESSION_TYPE_NOT_SUPPORTED,
  );
  t.equal(
    status(login(dir).step(req(0, 1, true, identity(IQN_LINUX, 'iqn.2024-01.org.example:nope')))),
    0x0203,
  );
  const out = login(dir).step(req(0, 1, true, identity(IQN_LINUX, 'iqn.2024-01.org.example:down')));
  t.equal(out.statusClass, 3);
  t.equal(out.statusDetail, 1);
  // The ACL sees the connection's address.
  const fromAllowed = login(dir, { initiatorAddress: '198.51.100.1' });
  t.equal(
    status(fromAllowed.step(req(0, 1, true, identity(IQN_LINUX, 'iqn.2024-01.org.example:byaddress')))),
    0,
  );
  t.equal(first(identity(IQN_LINUX)), 0, 'SessionType defaults to Normal when given');
  t.equal(
    first([
      ['InitiatorName', IQN_LINUX],
      ['TargetName', IQN_T],
    ]),
    0,
    'SessionType omitted -> Normal',
  );
});

t.test('identity keys may repeat but not change', async (t) => {
  const dir = fakeDirectory([{ name: IQN_T }, { name: 'iqn.2024-01.org.example:other' }]);
  let l = login(dir);
  l.step(req(0, 1, false, [...identity(IQN_LINUX), ['AuthMethod', 'None']]));
  t.equal(status(l.step(req(0, 1, false, identity(IQN_LINUX)))), 0, 'same values again');
  t.equal(
    status(l.step(req(0, 1, true, [['InitiatorName', 'iqn.1994-05.com.redhat:other']]))),
    LoginStatus.INVALID_REQUEST_DURING_LOGIN,
  );
  l = login(dir);
  l.step(req(0, 1, false, [...identity(IQN_LINUX), ['AuthMethod', 'None']]));
  t.equal(
    status(l.step(req(0, 1, true, [['TargetName', 'iqn.2024-01.org.example:other']]))),
    LoginStatus.INVALID_REQUEST_DURING_LOGIN,
  );
  l = login(dir);
  l.step(req(0, 1, false, [...identity(IQN_LINUX), ['AuthMethod', 'None']]));
  t.equal(
    status(l.step(req(0, 1, true, [['SessionType', 'Discovery']]))),
    LoginStatus.INVALID_REQUEST_DURING_LOGIN,
  );
  // InitiatorAlias may be updated.
  l = login(dir);
  l.step(req(0, 1, true, [...identity(IQN_LINUX), ['InitiatorAlias', 'a']]));
  l.step(req(1, 3, true, [['InitiatorAlias', 'b']]));
  t.equal(l.result().initiatorAlias, 'b');
  t.equal(l.result().params.maxBurstLength, RFC_DEFAULTS.maxBurstLength, 'nothing negotiated -> defaults');
});

// ---- stages and the T bit ----

t.test('stage and T-bit rules', async (t) => {
  const dir = fakeDirectory([{ name: IQN_T }]);
  const start = () => {
    const l = login(dir);
    l.step(req(0, 1, false, [...identity(IQN_LINUX), ['AuthMethod', 'None']]));
    return l;
  };
  // Without T the target stays, and NSG is reserved (0).
  let l = login(dir);
  let out = l.step(req(0, 1, false, [...identity(IQN_LINUX), ['AuthMethod', 'None']]));
  expectOk(t, out, false, 0);
  t.equal(out.csg, 0);
  out = l.step(req(0, 1, true, []));
  expectOk(t, out, true, 1);
  // Jumping back to the security stage after moving on.
  t.equal(status(l.step(req(0, 1, true, []))), LoginStatus.INVALID_REQUEST_DURING_LOGIN);
  // Jumping ahead without the target agreeing to transit.
  l = start();
  t.equal(status(l.step(req(1, 3, true, []))), LoginStatus.INVALID_REQUEST_DURING_LOGIN);
  // Malformed stage fields.
  t.equal(status(start().step(req(0, 0, true, []))), LoginStatus.INVALID_REQUEST_DURING_LOGIN, 'NSG == CSG');
  t.equal(status(start().step(req(0, 2, true, []))), LoginStatus.INVALID_REQUEST_DURING_LOGIN, 'NSG 2');
  t.equal(
    status(login(dir).step(req(3, 3, true, identity(IQN_LINUX)))),
    LoginStatus.INVALID_REQUEST_DURING_LOGIN,
  );
  t.equal(
    status(login(dir).step(req(2, 3, true, identity(IQN_LINUX)))),
    LoginStatus.INVALID_REQUEST_DURING_LOGIN,
  );
  t.equal(
    status(login(dir).step(req(1, 1, true, identity(IQN_LINUX)))),
    LoginStatus.INVALID_REQUEST_DURING_LOGIN,
    'operational -> operational with T',
  );
  // Security straight to full feature phase.
  l = login(dir);
  out = l.step(
    req(0, 3, true, [...identity(IQN_LINUX), ['AuthMethod', 'None'], ['MaxRecvDataSegmentLength', '65536']]),
  );
  expectOk(t, out, true, 3);
  t.ok(out.done);
  t.equal(
    l.result().params.initiatorMaxRecvDataSegmentLength,
    65536,
    'operational keys in the security stage count',
  );
  // The operational stage can take several requests before T.
  l = login(dir);
  l.step(req(0, 1, true, [...identity(IQN_LINUX), ['AuthMethod', 'None']]));
  out = l.step(req(1, 3, false, [['MaxBurstLength', '1048576']]));
  expectOk(t, out, false, 0);
  t.same(out.pairs, [['MaxBurstLength', '1048576']]);
  out = l.step(req(1, 3, false, [['MaxBurstLength', '524288']]));
  t.same(out.pairs, [['MaxBurstLength', '524288']], 'renegotiated key answered again');
  out = l.step(req(1, 3, true, []));
  t.ok(out.done);
  t.equal(l.result().params.maxBurstLength, 524288);
});

t.test('operational keys in the security stage, security keys in the operational stage', async (t) => {
  const dir = fakeDirectory([{ name: IQN_T, incoming: [IN_ACCOUNT] }]);
  const l = login(dir);
  const r1 = l.step(
    req(0, 1, false, [
      ...identity(IQN_LINUX),
      ['AuthMethod', 'CHAP'],
      ['MaxBurstLength', '65536'],
      ['X-foo', 'bar'],
    ]),
  );
  t.same(r1.pairs, [
    ['TargetPortalGroupTag', '7'],
    ['AuthMethod', 'CHAP'],
    ['MaxBurstLength', '65536'],
    ['X-foo', 'NotUnderstood'],
  ]);
  const r2 = l.step(req(0, 1, false, [['CHAP_A', '5']]));
  l.step(
    req(0, 1, true, [
      ['CHAP_N', IN_ACCOUNT.user],
      ['CHAP_R', answerChallenge(r2, IN_ACCOUNT.password)],
    ]),
  );
  t.equal(
    status(l.step(req(1, 3, true, [['AuthMethod', 'None']]))),
    LoginStatus.INVALID_REQUEST_DURING_LOGIN,
  );
  const noAuth = login(fakeDirectory([{ name: IQN_T }]));
  noAuth.step(req(0, 1, true, identity(IQN_LINUX)));
  t.equal(status(noAuth.step(req(1, 3, true, [['CHAP_A', '5']]))), LoginStatus.INVALID_REQUEST_DURING_LOGIN);
});

t.test('target and global overrides shape the answers', async (t) => {
  const dir = fakeDirectory(
    [{ name: IQN_T, params: { MaxRecvDataSegmentLength: '65536', InitialR2T: 'Yes', ImmediateData: 'No' } }],
    { global: { MaxRecvDataSegmentLength: '131072', MaxBurstLength: '1048576' } },
  );
  const l = login(dir);
  l.step(req(0, 1, true, [...identity(IQN_LINUX), ['AuthMethod', 'None']]));
  const out = l.step(req(1, 3, true, OPEN_ISCSI_OPERATIONAL));
  t.equal(value(out, 'MaxRecvDataSegmentLength'), '65536', 'target beats global');
  t.equal(value(out, 'MaxBurstLength'), '1048576', 'global applies');
  t.equal(value(out, 'InitialR2T'), 'Yes');
  t.equal(value(out, 'ImmediateData'), 'No');
  t.equal(value(out, 'FirstBurstLength'), 'Irrelevant');
  const p = l.result().params;
  t.equal(p.targetMaxRecvDataSegmentLength, 65536);
  t.equal(p.initialR2T, true);
  t.equal(p.immediateData, false);
});

// ---- discovery ----

t.test('discovery without discovery accounts', async (t) => {
  const dir = fakeDirectory([{ name: IQN_T, incoming: [IN_ACCOUNT] }]);
  const l = login(dir);
  const r1 = l.step(
    req(0, 1, true, [
      ['InitiatorName', IQN_LINUX],
      ['SessionType', 'Discovery'],
      ['AuthMethod', 'None'],
    ]),
  );
  expectOk(t, r1, true, 1);
  t.same(r1.pairs, [['AuthMethod', 'None']], 'no TargetPortalGroupTag in discovery');
  const r2 = l.step(
    req(1, 3, true, [
      ['HeaderDigest', 'None'],
      ['DataDigest', 'None'],
      ['DefaultTime2Wait', '2'],
      ['DefaultTime2Retain', '0'],
      ['IFMarker', 'No'],
      ['OFMarker', 'No'],
      ['ErrorRecoveryLevel', '0'],
      ['MaxRecvDataSegmentLength', '32768'],
      ['MaxBurstLength', '16776192'],
    ]),
  );
  expectOk(t, r2, true, 3);
  t.ok(r2.done);
  t.equal(value(r2, 'MaxBurstLength'), 'Irrelevant');
  const res = l.result();
  t.equal(res.sessionType, 'Discovery');
  t.equal(res.target, undefined);
  t.equal(res.params.initiatorMaxRecvDataSegmentLength, 32768);
  t.equal(res.params.maxBurstLength, RFC_DEFAULTS.maxBurstLength);
  // A TargetName sent in discovery is ignored, even an unknown one.
  const l2 = login(dir);
  expectOk(
    t,
    l2.step(
      req(1, 3, true, [
        ['InitiatorName', IQN_LINUX],
        ['SessionType', 'Discovery'],
        ['TargetName', 'iqn.x:none'],
      ]),
    ),
    true,
    3,
  );
});

t.test('discovery with discovery accounts', async (t) => {
  const dir = fakeDirectory([{ name: IQN_T }], { discoveryAccounts: [IN_ACCOUNT] });
  const disc: Array<[string, string]> = [
    ['InitiatorName', IQN_LINUX],
    ['SessionType', 'Discovery'],
  ];
  t.equal(
    status(login(dir).step(req(0, 1, true, [...disc, ['AuthMethod', 'None']]))),
    LoginStatus.AUTHENTICATION_FAILURE,
  );
  t.equal(status(login(dir).step(req(1, 3, true, disc))), LoginStatus.AUTHENTICATION_FAILURE);
  const l = login(dir);
  expectOk(t, l.step(req(0, 1, true, [...disc, ['AuthMethod', 'CHAP']])), false);
  const r2 = l.step(req(0, 1, false, [['CHAP_A', '7']]));
  const r3 = l.step(
    req(0, 3, true, [
      ['CHAP_N', IN_ACCOUNT.user],
      ['CHAP_R', answerChallenge(r2, IN_ACCOUNT.password)],
    ]),
  );
  expectOk(t, r3, true, 3);
  t.ok(r3.done);
  t.equal(l.result().sessionType, 'Discovery');
  // Mutual CHAP is refused in discovery: no outgoing account exists there.
  const m = login(dir);
  m.step(req(0, 1, true, [...disc, ['AuthMethod', 'CHAP']]));
  const c = m.step(req(0, 1, false, [['CHAP_A', '5']]));
  const out = m.step(
    req(0, 1, true, [
      ['CHAP_N', IN_ACCOUNT.user],
      ['CHAP_R', answerChallenge(c, IN_ACCOUNT.password)],
      ['CHAP_I', '3'],
      ['CHAP_C', '0x00112233445566778899aabbccddeeff'],
    ]),
  );
  t.equal(status(out), LoginStatus.AUTHENTICATION_FAILURE);

  // With an outgoing discovery account bound, mutual CHAP in discovery succeeds.
  const withOut = fakeDirectory([{ name: IQN_T }], {
    discoveryAccounts: [IN_ACCOUNT],
    discoveryOutgoing: OUT_ACCOUNT,
  });
  const mm = login(withOut);
  mm.step(req(0, 1, true, [...disc, ['AuthMethod', 'CHAP']]));
  const cc = mm.step(req(0, 1, false, [['CHAP_A', '5']]));
  const challenge = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const ok = mm.step(
    req(0, 1, true, [
      ['CHAP_N', IN_ACCOUNT.user],
      ['CHAP_R', answerChallenge(cc, IN_ACCOUNT.password)],
      ['CHAP_I', '3'],
      ['CHAP_C', '0x' + challenge.toString('hex')],
    ]),
  );
  t.equal(status(ok), 0, 'mutual CHAP accepted');
  t.equal(value(ok, 'CHAP_N'), OUT_ACCOUNT.user);
  const expected = createHash('md5')
    .update(Buffer.concat([Buffer.from([3]), Buffer.from(OUT_ACCOUNT.password), challenge]))
    .digest('hex');
  t.equal(value(ok, 'CHAP_R')?.toLowerCase(), '0x' + expected, 'target proves the outgoing secret');
});

// ---- a connection joining an existing session ----

t.test('existing session: fixed target, session-wide keys not renegotiated', async (t) => {
  const dir = fakeDirectory([{ name: IQN_T }, { name: 'iqn.2024-01.org.example:other' }]);
  const session = { ...LINUX_EXPECTED, maxConnections: 4, headerDigest: true };
  const existingSession = { targetName: IQN_T, sessionType: 'Normal' as const, params: session };
  const l = login(dir, { existingSession });
  const r1 = l.step(req(0, 1, true, [...identity(IQN_LINUX), ['AuthMethod', 'None']]));
  expectOk(t, r1, true, 1);
  t.equal(value(r1, 'TargetPortalGroupTag'), '7');
  const r2 = l.step(
    req(1, 3, true, [
      ['HeaderDigest', 'CRC32C,None'],
      ['DataDigest', 'None'],
      ['MaxRecvDataSegmentLength', '131072'],
      ['MaxBurstLength', '4096'],
      ['MaxConnections', '1'],
    ]),
  );
  t.same(r2.pairs, [
    ['HeaderDigest', 'CRC32C'],
    ['DataDigest', 'None'],
    ['MaxRecvDataSegmentLength', '262144'],
    ['MaxBurstLength', 'Reject'],
    ['MaxConnections', 'Reject'],
  ]);
  const p = l.result().params;
  t.equal(p.maxBurstLength, session.maxBurstLength);
  t.equal(p.maxConnections, 4);
  t.equal(p.headerDigest, true);
  t.equal(p.initiatorMaxRecvDataSegmentLength, 131072);
  // Connection-only keys start from defaults on the new connection.
  const fresh = login(dir, { existingSession });
  fresh.step(req(0, 3, true, [...identity(IQN_LINUX), ['AuthMethod', 'None']]));
  t.equal(fresh.result().params.headerDigest, false);
  t.equal(fresh.result().params.initiatorMaxRecvDataSegmentLength, 8192);
  t.equal(fresh.result().params.maxConnections, 4);
  // A different target or session type cannot join.
  t.equal(
    status(
      login(dir, { existingSession }).step(
        req(0, 1, true, identity(IQN_LINUX, 'iqn.2024-01.org.example:other')),
      ),
    ),
    LoginStatus.CANT_INCLUDE_IN_SESSION,
  );
  t.equal(
    status(
      login(dir, { existingSession }).step(
        req(0, 1, true, [
          ['InitiatorName', IQN_LINUX],
          ['SessionType', 'Discovery'],
        ]),
      ),
    ),
    LoginStatus.CANT_INCLUDE_IN_SESSION,
  );
});

t.test('default random source works without injection', async (t) => {
  const l = new LoginNegotiator({
    directory: fakeDirectory([{ name: IQN_T, incoming: [IN_ACCOUNT] }]),
    portalTpgt: 1,
    initiatorAddress: '192.0.2.1',
  });
  l.step(req(0, 1, false, [...identity(IQN_LINUX), ['AuthMethod', 'CHAP']]));
  const r2 = l.step(req(0, 1, false, [['CHAP_A', '6']]));
  t.match(value(r2, 'CHAP_C'), /^0x[0-9a-f]{40}$/);
  const r3 = l.step(
    req(0, 1, true, [
      ['CHAP_N', IN_ACCOUNT.user],
      ['CHAP_R', answerChallenge(r2, IN_ACCOUNT.password)],
    ]),
  );
  expectOk(t, r3, true, 1);
});
