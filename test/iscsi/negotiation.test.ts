import t from 'tap';
import {
  IRRELEVANT,
  isSecurityKey,
  KeyNegotiator,
  NOT_UNDERSTOOD,
  parseBooleanValue,
  parseListValue,
  parseNumericValue,
  REJECT,
  RFC_DEFAULTS,
  selectFromList,
  TARGET_DEFAULTS,
  targetSettings,
  type NegotiationPhase,
  type OperationalParams,
  type SessionType,
} from '../../src/iscsi/negotiation';

interface Opts {
  sessionType?: SessionType;
  leading?: boolean;
  overrides?: Record<string, string>;
  phase?: NegotiationPhase;
  initial?: OperationalParams;
}

function negotiator(opts: Opts = {}): KeyNegotiator {
  return new KeyNegotiator({
    sessionType: opts.sessionType ?? 'Normal',
    leading: opts.leading ?? true,
    settings: targetSettings(new Map(Object.entries(opts.overrides ?? {}))),
    initial: opts.initial,
  });
}

/** Negotiate one request; return the answers and the resulting params. */
function run(pairs: Array<[string, string]>, opts: Opts = {}) {
  const n = negotiator(opts);
  const answers = n.negotiate(pairs, opts.phase ?? 'login');
  return { answers, params: n.params() };
}

/** The answer to a single key. */
function one(key: string, value: string, opts: Opts = {}): string | undefined {
  const { answers } = run([[key, value]], opts);
  if (answers.length > 1) throw new Error(`more than one answer for ${key}`);
  return answers[0]?.[1];
}

t.test('RFC defaults', async (t) => {
  t.same(RFC_DEFAULTS, {
    headerDigest: false,
    dataDigest: false,
    maxConnections: 1,
    initialR2T: true,
    immediateData: true,
    maxBurstLength: 262144,
    firstBurstLength: 65536,
    maxOutstandingR2T: 1,
    defaultTime2Wait: 2,
    defaultTime2Retain: 20,
    errorRecoveryLevel: 0,
    dataPDUInOrder: true,
    dataSequenceInOrder: true,
    targetMaxRecvDataSegmentLength: 8192,
    initiatorMaxRecvDataSegmentLength: 8192,
  });
  t.ok(Object.isFrozen(RFC_DEFAULTS));
  t.same(run([]).params, RFC_DEFAULTS, 'nothing negotiated -> RFC defaults');
});

t.test('target defaults', async (t) => {
  t.same(TARGET_DEFAULTS.headerDigest, ['None', 'CRC32C']);
  t.equal(TARGET_DEFAULTS.maxRecvDataSegmentLength, 262144);
  t.equal(TARGET_DEFAULTS.maxBurstLength, 16777215);
  t.equal(TARGET_DEFAULTS.firstBurstLength, 16777215);
  t.equal(TARGET_DEFAULTS.maxOutstandingR2T, 16);
  t.equal(TARGET_DEFAULTS.maxConnections, 8);
  t.equal(TARGET_DEFAULTS.errorRecoveryLevel, 0);
});

t.test('value syntax helpers', async (t) => {
  const numeric: Array<[string, number | undefined]> = [
    ['0', 0],
    ['7', 7],
    ['262144', 262144],
    ['0x1F', 31],
    ['0X1f', 31],
    ['0x0', 0],
    ['', undefined],
    ['-1', undefined],
    ['+1', undefined],
    ['01', undefined],
    [' 1', undefined],
    ['1 ', undefined],
    ['1.5', undefined],
    ['1e3', undefined],
    ['0x', undefined],
    ['0xg', undefined],
    ['99999999999999999999', undefined],
    ['0xffffffffffffffff', undefined],
  ];
  for (const [input, expected] of numeric) t.equal(parseNumericValue(input), expected, `numeric ${input}`);
  t.equal(parseBooleanValue('Yes'), true);
  t.equal(parseBooleanValue('No'), false);
  t.equal(parseBooleanValue('yes'), undefined);
  t.equal(parseBooleanValue('NO'), undefined);
  t.equal(parseBooleanValue(''), undefined);
  t.same(parseListValue('None,CRC32C'), ['None', 'CRC32C']);
  t.equal(parseListValue(''), undefined);
  t.equal(parseListValue('None,'), undefined);
  t.equal(selectFromList('CRC32C,None', ['None', 'CRC32C']), 'CRC32C', "offerer's order wins");
  t.equal(selectFromList('X,None', ['None']), 'None', 'unknown values are skipped');
  t.equal(selectFromList('X', ['None']), undefined);
  t.ok(isSecurityKey('AuthMethod'));
  t.ok(isSecurityKey('CHAP_R'));
  t.ok(isSecurityKey('SRP_U'));
  t.ok(isSecurityKey('KRB_AP_REQ'));
  t.notOk(isSecurityKey('HeaderDigest'));
  t.notOk(isSecurityKey('X-CHAP_R'));
});

t.test('HeaderDigest / DataDigest: list, first acceptable in the offerer order', async (t) => {
  for (const key of ['HeaderDigest', 'DataDigest'] as const) {
    const field = key === 'HeaderDigest' ? 'headerDigest' : 'dataDigest';
    t.equal(one(key, 'None'), 'None');
    t.equal(one(key, 'None,CRC32C'), 'None');
    t.equal(one(key, 'CRC32C,None'), 'CRC32C');
    t.equal(one(key, 'CRC32C'), 'CRC32C');
    t.equal(one(key, 'X-vendor,CRC32C'), 'CRC32C');
    t.equal(run([[key, 'CRC32C,None']]).params[field], true);
    t.equal(run([[key, 'None,CRC32C']]).params[field], false);
    t.equal(one(key, 'MD5'), REJECT);
    t.equal(one(key, ''), REJECT);
    t.equal(one(key, 'CRC32C,,None'), REJECT, 'malformed list');
    t.equal(one(key, 'crc32c'), REJECT, 'values are case-sensitive');
    // A target that insists on digests.
    t.equal(one(key, 'None,CRC32C', { overrides: { [key]: 'CRC32C' } }), 'CRC32C');
    t.equal(run([[key, 'None,CRC32C']], { overrides: { [key]: 'CRC32C' } }).params[field], true);
    t.equal(one(key, 'None', { overrides: { [key]: 'CRC32C' } }), REJECT);
    t.equal(
      run([[key, 'None']], { overrides: { [key]: 'CRC32C' } }).params[field],
      false,
      'Reject keeps default',
    );
    t.equal(one(key, 'CRC32C,None', { overrides: { [key]: 'None' } }), 'None');
  }
});

t.test('numerical min keys', async (t) => {
  const cases: Array<[string, string, string | undefined, Record<string, string>?]> = [
    ['MaxConnections', '1', '1'],
    ['MaxConnections', '32', '8'],
    ['MaxConnections', '0x10', '8'],
    ['MaxConnections', '65535', '8'],
    ['MaxConnections', '0', REJECT],
    ['MaxConnections', '65536', REJECT],
    ['MaxConnections', 'abc', REJECT],
    ['MaxConnections', '010', REJECT],
    ['MaxConnections', '32', '4', { MaxConnections: '4' }],
    ['MaxConnections', '32', '8', { MaxConnections: '100' }],
    ['MaxBurstLength', '16776192', '16776192'],
    ['MaxBurstLength', '262144', '262144'],
    ['MaxBurstLength', '16777215', '16777215'],
    ['MaxBurstLength', '512', '512'],
    ['MaxBurstLength', '511', REJECT],
    ['MaxBurstLength', '16777216', REJECT],
    ['MaxBurstLength', '16776192', '1048576', { MaxBurstLength: '1048576' }],
    ['MaxOutstandingR2T', '1', '1'],
    ['MaxOutstandingR2T', '16', '16'],
    ['MaxOutstandingR2T', '32', '16'],
    ['MaxOutstandingR2T', '0', REJECT],
    ['MaxOutstandingR2T', '32', '4', { MaxOutstandingR2T: '4' }],
    ['DefaultTime2Retain', '0', '0'],
    ['DefaultTime2Retain', '60', '20'],
    ['DefaultTime2Retain', '3600', '20'],
    ['DefaultTime2Retain', '3601', REJECT],
    ['DefaultTime2Retain', '60', '60', { DefaultTime2Retain: '120' }],
    ['ErrorRecoveryLevel', '0', '0'],
    ['ErrorRecoveryLevel', '1', '0'],
    ['ErrorRecoveryLevel', '2', '0'],
    ['ErrorRecoveryLevel', '3', REJECT],
    ['ErrorRecoveryLevel', '2', '0', { ErrorRecoveryLevel: '2' }],
    ['iSCSIProtocolLevel', '2', '1'],
    ['iSCSIProtocolLevel', '1', '1'],
    ['iSCSIProtocolLevel', '0', '0'],
    ['iSCSIProtocolLevel', '31', '1'],
    ['iSCSIProtocolLevel', '32', REJECT],
  ];
  for (const [key, offer, expected, overrides] of cases) {
    t.equal(one(key, offer, { overrides }), expected, `${key}=${offer} ${JSON.stringify(overrides ?? {})}`);
  }
  t.equal(run([['MaxConnections', '32']]).params.maxConnections, 8);
  t.equal(run([['MaxConnections', '0']]).params.maxConnections, 1, 'Reject keeps the default');
  t.equal(run([['MaxOutstandingR2T', '4']]).params.maxOutstandingR2T, 4);
  t.equal(run([['DefaultTime2Retain', '0']]).params.defaultTime2Retain, 0);
  t.equal(run([['ErrorRecoveryLevel', '2']]).params.errorRecoveryLevel, 0);
  t.equal(run([['MaxBurstLength', '1048576']]).params.maxBurstLength, 1048576);
});

t.test('DefaultTime2Wait: numerical max', async (t) => {
  t.equal(one('DefaultTime2Wait', '0'), '2');
  t.equal(one('DefaultTime2Wait', '2'), '2');
  t.equal(one('DefaultTime2Wait', '5'), '5');
  t.equal(one('DefaultTime2Wait', '3600'), '3600');
  t.equal(one('DefaultTime2Wait', '3601'), REJECT);
  t.equal(one('DefaultTime2Wait', 'x'), REJECT);
  t.equal(one('DefaultTime2Wait', '0', { overrides: { DefaultTime2Wait: '0' } }), '0');
  t.equal(run([['DefaultTime2Wait', '7']]).params.defaultTime2Wait, 7);
});

t.test('FirstBurstLength: min, bounded by MaxBurstLength, irrelevant without unsolicited data', async (t) => {
  t.equal(one('FirstBurstLength', '262144'), '262144');
  t.equal(one('FirstBurstLength', '65536'), '65536');
  t.equal(one('FirstBurstLength', '511'), REJECT);
  t.equal(one('FirstBurstLength', '16777216'), REJECT);
  t.equal(one('FirstBurstLength', '262144', { overrides: { FirstBurstLength: '65536' } }), '65536');
  // No MaxBurstLength negotiated: the RFC default 262144 bounds it.
  t.equal(one('FirstBurstLength', '16776192'), '262144');
  // Same request, either order.
  for (const pairs of [
    [
      ['MaxBurstLength', '131072'],
      ['FirstBurstLength', '262144'],
    ],
    [
      ['FirstBurstLength', '262144'],
      ['MaxBurstLength', '131072'],
    ],
  ] as Array<Array<[string, string]>>) {
    const { answers, params } = run(pairs);
    t.same(
      answers,
      pairs.map(([k]) => [k, '131072']),
      'answers keep the offered order',
    );
    t.equal(params.firstBurstLength, 131072);
    t.equal(params.maxBurstLength, 131072);
  }
  // Irrelevant when InitialR2T=Yes and ImmediateData=No, whichever order they come in.
  t.same(
    run([
      ['FirstBurstLength', '65536'],
      ['InitialR2T', 'Yes'],
      ['ImmediateData', 'No'],
    ]).answers,
    [
      ['FirstBurstLength', IRRELEVANT],
      ['InitialR2T', 'Yes'],
      ['ImmediateData', 'No'],
    ],
  );
  // ... also when the target forces them although the initiator offers the opposite.
  t.same(
    run(
      [
        ['InitialR2T', 'No'],
        ['ImmediateData', 'Yes'],
        ['FirstBurstLength', '65536'],
      ],
      { overrides: { InitialR2T: 'Yes', ImmediateData: 'No' } },
    ).answers,
    [
      ['InitialR2T', 'Yes'],
      ['ImmediateData', 'No'],
      ['FirstBurstLength', IRRELEVANT],
    ],
  );
  // Relevant with InitialR2T=Yes but ImmediateData=Yes.
  t.equal(
    run([
      ['InitialR2T', 'Yes'],
      ['FirstBurstLength', '4096'],
    ]).answers[1][1],
    '4096',
  );
});

t.test('params clamp FirstBurstLength to a MaxBurstLength lowered in a later step', async (t) => {
  const n = negotiator();
  n.negotiate([['FirstBurstLength', '65536']], 'login');
  n.negotiate([['MaxBurstLength', '16384']], 'login');
  t.equal(n.params().firstBurstLength, 16384);
});

t.test('boolean OR keys: InitialR2T, DataPDUInOrder, DataSequenceInOrder', async (t) => {
  for (const key of ['InitialR2T', 'DataPDUInOrder', 'DataSequenceInOrder']) {
    t.equal(one(key, 'No'), 'No', `${key}=No`);
    t.equal(one(key, 'Yes'), 'Yes', `${key}=Yes`);
    t.equal(one(key, 'No', { overrides: { [key]: 'Yes' } }), 'Yes', `${key}=No, target Yes`);
    t.equal(one(key, 'Yes', { overrides: { [key]: 'No' } }), 'Yes');
    t.equal(one(key, 'yes'), REJECT);
    t.equal(one(key, '1'), REJECT);
  }
  const { params } = run([
    ['InitialR2T', 'No'],
    ['DataPDUInOrder', 'No'],
    ['DataSequenceInOrder', 'No'],
  ]);
  t.equal(params.initialR2T, false);
  t.equal(params.dataPDUInOrder, false);
  t.equal(params.dataSequenceInOrder, false);
  t.equal(run([['InitialR2T', 'maybe']]).params.initialR2T, true, 'Reject keeps the default');
});

t.test('boolean AND key: ImmediateData', async (t) => {
  t.equal(one('ImmediateData', 'Yes'), 'Yes');
  t.equal(one('ImmediateData', 'No'), 'No');
  t.equal(one('ImmediateData', 'Yes', { overrides: { ImmediateData: 'No' } }), 'No');
  t.equal(one('ImmediateData', 'Y'), REJECT);
  t.equal(run([['ImmediateData', 'No']]).params.immediateData, false);
});

t.test('MaxRecvDataSegmentLength: declarative, answered with our own value', async (t) => {
  const r = run([['MaxRecvDataSegmentLength', '65536']]);
  t.same(r.answers, [['MaxRecvDataSegmentLength', '262144']]);
  t.equal(r.params.initiatorMaxRecvDataSegmentLength, 65536);
  t.equal(r.params.targetMaxRecvDataSegmentLength, 262144);
  const o = run([['MaxRecvDataSegmentLength', '1048576']], {
    overrides: { MaxRecvDataSegmentLength: '65536' },
  });
  t.same(o.answers, [['MaxRecvDataSegmentLength', '65536']]);
  t.equal(o.params.initiatorMaxRecvDataSegmentLength, 1048576, 'declarative: no min()');
  t.equal(o.params.targetMaxRecvDataSegmentLength, 65536);
  t.equal(one('MaxRecvDataSegmentLength', '511'), REJECT);
  t.equal(one('MaxRecvDataSegmentLength', '16777216'), REJECT);
  t.equal(one('MaxRecvDataSegmentLength', '512'), '262144');
  t.equal(run([['MaxRecvDataSegmentLength', '511']]).params.initiatorMaxRecvDataSegmentLength, 8192);
});

t.test('declarations without an answer, target-only keys, FFP-only keys', async (t) => {
  t.same(
    run([
      ['InitiatorName', 'iqn.a'],
      ['InitiatorAlias', 'host'],
      ['TargetName', 'iqn.t'],
      ['SessionType', 'Normal'],
    ]).answers,
    [],
  );
  t.equal(one('TargetAlias', 'x'), REJECT);
  t.equal(one('TargetAddress', '1.2.3.4:3260,1'), REJECT);
  t.equal(one('TargetPortalGroupTag', '1'), REJECT);
  t.equal(one('SendTargets', 'All'), REJECT, 'SendTargets during login');
  t.equal(one('AuthMethod', 'None'), REJECT, 'security keys are not operational');
  t.equal(one('CHAP_A', '5'), REJECT);
});

t.test('unknown and extension keys are NotUnderstood', async (t) => {
  for (const key of ['X-com.example.Foo', 'X#org.example.Bar', 'Frobnicate', 'headerdigest', 'SRP_U']) {
    t.equal(one(key, 'Yes'), NOT_UNDERSTOOD, key);
    t.equal(one(key, 'Yes', { phase: 'ffp' }), NOT_UNDERSTOOD, `${key} in FFP`);
  }
});

t.test('obsolete RFC 3720 markers (RFC 7143 13.26): never NotUnderstood', async (t) => {
  t.equal(one('IFMarker', 'No'), 'No');
  t.equal(one('OFMarker', 'No'), 'No');
  t.equal(one('IFMarker', 'Yes'), 'No');
  t.equal(one('OFMarker', 'Yes'), 'No');
  t.equal(one('OFMarker', 'Perhaps'), REJECT);
  t.equal(one('IFMarkInt', '2048~8192'), REJECT);
  t.equal(one('OFMarkInt', '2048'), REJECT);
  t.equal(one('IFMarker', 'No', { sessionType: 'Discovery' }), 'No');
});

t.test('TaskReporting: only RFC3720', async (t) => {
  t.equal(one('TaskReporting', 'RFC3720'), 'RFC3720');
  t.equal(one('TaskReporting', 'FastAbort,ResponseFence,RFC3720'), 'RFC3720');
  t.equal(one('TaskReporting', 'FastAbort'), REJECT);
});

t.test('iSER keys on a TCP target', async (t) => {
  t.equal(one('RDMAExtensions', 'Yes'), 'No');
  t.equal(one('RDMAExtensions', 'No'), 'No');
  t.equal(one('RDMAExtensions', 'yes'), REJECT);
  t.equal(one('TargetRecvDataSegmentLength', '8192'), IRRELEVANT);
  t.equal(one('InitiatorRecvDataSegmentLength', '8192'), IRRELEVANT);
  t.equal(one('MaxOutstandingUnexpectedPDUs', '0'), IRRELEVANT);
});

t.test('Discovery session: data-transfer keys are Irrelevant', async (t) => {
  const d = { sessionType: 'Discovery' as const };
  for (const [key, value] of [
    ['MaxConnections', '1'],
    ['InitialR2T', 'No'],
    ['ImmediateData', 'Yes'],
    ['MaxBurstLength', '262144'],
    ['FirstBurstLength', '65536'],
    ['MaxOutstandingR2T', '1'],
    ['DataPDUInOrder', 'Yes'],
    ['DataSequenceInOrder', 'Yes'],
    ['TaskReporting', 'RFC3720'],
    ['iSCSIProtocolLevel', '1'],
  ]) {
    t.equal(one(key, value, d), IRRELEVANT, key);
  }
  t.equal(one('HeaderDigest', 'CRC32C,None', d), 'CRC32C');
  t.equal(one('MaxRecvDataSegmentLength', '32768', d), '262144');
  t.equal(one('ErrorRecoveryLevel', '2', d), '0');
  t.equal(one('DefaultTime2Wait', '0', d), '2');
  t.equal(one('DefaultTime2Retain', '0', d), '0');
  t.equal(
    run([['MaxBurstLength', '4096']], d).params.maxBurstLength,
    262144,
    'irrelevant keys change nothing',
  );
});

t.test('non-leading connection: leading-only keys are Reject, connection keys negotiate', async (t) => {
  const session: OperationalParams = { ...RFC_DEFAULTS, maxBurstLength: 1048576, initialR2T: false };
  const { answers, params } = run(
    [
      ['MaxBurstLength', '4096'],
      ['InitialR2T', 'Yes'],
      ['ErrorRecoveryLevel', '0'],
      ['SessionType', 'Normal'],
      ['HeaderDigest', 'CRC32C'],
      ['MaxRecvDataSegmentLength', '65536'],
    ],
    { leading: false, initial: session },
  );
  t.same(answers, [
    ['MaxBurstLength', REJECT],
    ['InitialR2T', REJECT],
    ['ErrorRecoveryLevel', REJECT],
    ['SessionType', REJECT],
    ['HeaderDigest', 'CRC32C'],
    ['MaxRecvDataSegmentLength', '262144'],
  ]);
  t.equal(params.maxBurstLength, 1048576);
  t.equal(params.initialR2T, false);
  t.equal(params.headerDigest, true);
  t.equal(params.initiatorMaxRecvDataSegmentLength, 65536);
});

t.test('full feature phase: only ALL keys negotiate', async (t) => {
  const ffp = { phase: 'ffp' as const };
  t.equal(one('MaxRecvDataSegmentLength', '131072', ffp), '262144');
  t.equal(one('HeaderDigest', 'None', ffp), REJECT);
  t.equal(one('MaxBurstLength', '262144', ffp), REJECT);
  t.equal(one('InitialR2T', 'No', ffp), REJECT);
  t.equal(one('TargetName', 'iqn.t', ffp), REJECT);
  t.equal(one('InitiatorName', 'iqn.a', ffp), REJECT);
  t.equal(one('SessionType', 'Normal', ffp), REJECT);
  t.equal(one('AuthMethod', 'None', ffp), REJECT);
  t.equal(one('IFMarker', 'No', ffp), REJECT);
  t.equal(one('TargetAlias', 'x', ffp), REJECT);
  t.equal(one('InitiatorAlias', 'host', ffp), undefined, 'declaration, no answer');
  t.equal(one('SendTargets', 'All', ffp), undefined, 'left to the Text request handler');
});

t.test('renegotiation in a later step answers again and updates', async (t) => {
  const n = negotiator();
  t.same(n.negotiate([['MaxBurstLength', '1048576']], 'login'), [['MaxBurstLength', '1048576']]);
  t.same(n.negotiate([['MaxBurstLength', '524288']], 'login'), [['MaxBurstLength', '524288']]);
  t.equal(n.params().maxBurstLength, 524288);
});

t.test('targetSettings layering and validation', async (t) => {
  const global = new Map([
    ['MaxRecvDataSegmentLength', '65536'],
    ['MaxConnections', '2'],
    ['HeaderDigest', 'crc32c'],
  ]);
  const target = new Map([
    ['MaxConnections', '4'],
    ['ImmediateData', 'no'],
    ['InitialR2T', 'YES'],
    ['MaxBurstLength', 'abc'],
    ['FirstBurstLength', '100'],
    ['DataDigest', 'Bogus'],
    ['DefaultTime2Wait', ' 5 '],
    ['NoSuchKey', '1'],
  ]);
  const s = targetSettings(global, undefined, target);
  t.equal(s.maxRecvDataSegmentLength, 65536);
  t.equal(s.maxConnections, 4, 'later layer wins');
  t.same(s.headerDigest, ['CRC32C'], 'digest names case-insensitive');
  t.same(s.dataDigest, ['None', 'CRC32C'], 'unusable digest override ignored');
  t.equal(s.immediateData, false);
  t.equal(s.initialR2T, true);
  t.equal(s.maxBurstLength, TARGET_DEFAULTS.maxBurstLength, 'unparseable ignored');
  t.equal(s.firstBurstLength, TARGET_DEFAULTS.firstBurstLength, 'out of RFC range ignored');
  t.equal(s.defaultTime2Wait, 5, 'whitespace trimmed');
  t.equal(targetSettings(new Map([['ErrorRecoveryLevel', '2']])).errorRecoveryLevel, 0, 'capped at 0');
  t.equal(targetSettings(new Map([['MaxOutstandingR2T', '64']])).maxOutstandingR2T, 16, 'capped at 16');
  t.not(targetSettings().headerDigest, TARGET_DEFAULTS.headerDigest, 'defaults are copied, not shared');
});
