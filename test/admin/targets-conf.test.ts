import t from 'tap';
import { dumpConfig, isAddressRule, parseShowAccounts, parseShowTargets } from '../../src/admin/show-parse';
import { parseTargetsConf, TargetsConfError } from '../../src/admin/targets-conf';
import { planExecute, type PlanStep } from '../../src/admin/targets-conf-plan';

const GOOD = `# example
default-driver iscsi
incomingdiscoveryuser disco discopass123

<target iqn.2024-01.com.example:beta>
    <backing-store /img/b.img>
    </backing-store>
    <backing-store /img/a.img>
    </backing-store>
    <backing-store "/img/c.img">
        lun 1
        vendor_id ACME
    </backing-store>
    initiator-name iqn.1994-05.com.redhat:client1
    incominguser alice alicepass12
    outgoinguser bob bobpass12345
    HeaderDigest None,CRC32C
    scsi_sn = SN001     # trailing comment
</target>
<target iqn.2024-01.com.example:alpha>
    backing-store /img/missing.img
    initiator-address 10.0.0.0/8
    write-cache off
    params thin_provisioning=1,\\
readonly=1
</target>
include conf.d/*.conf
`;

const INCLUDED = `<target iqn.2024-01.com.example:gamma>
    backing-store /dev/null
    bs-type null
</target>
`;

const resolver = (pattern: string, from: string): Array<{ file: string; text: string }> => {
  t.equal(pattern, 'conf.d/*.conf');
  t.equal(from, '/etc/tgt/targets.conf');
  return [{ file: '/etc/tgt/conf.d/gamma.conf', text: INCLUDED }];
};

t.test('parse a good file', async (t) => {
  const conf = parseTargetsConf(GOOD, '/etc/tgt/targets.conf', resolver);
  t.same(
    conf.globals.map((o) => [o.key, o.value, o.line]),
    [
      ['default-driver', 'iscsi', 2],
      ['incomingdiscoveryuser', 'disco discopass123', 3],
    ],
  );
  t.same(
    conf.targets.map((x) => x.name),
    ['iqn.2024-01.com.example:beta', 'iqn.2024-01.com.example:alpha', 'iqn.2024-01.com.example:gamma'],
  );
  const beta = conf.targets[0];
  t.same(
    beta.stores.map((s) => [s.kind, s.path, s.options.map((o) => `${o.key}=${o.value}`)]),
    [
      ['backing-store', '/img/b.img', []],
      ['backing-store', '/img/a.img', []],
      ['backing-store', '/img/c.img', ['lun=1', 'vendor_id=ACME']],
    ],
  );
  t.same(
    beta.options.find((o) => o.key === 'scsi_sn'),
    { key: 'scsi_sn', value: 'SN001', file: '/etc/tgt/targets.conf', line: 18 },
  );
  const alpha = conf.targets[1];
  t.same(
    alpha.options.find((o) => o.key === 'params')?.value,
    'thin_provisioning=1,readonly=1',
    'continuation line',
  );
  t.equal(conf.targets[2].file, '/etc/tgt/conf.d/gamma.conf');
});

t.test('bad files: the error names file and line', async (t) => {
  const bad: Array<[string, string]> = [
    ['<target iqn.a>\n  bogus-key 1\n</target>\n', "f.conf:2: unknown option 'bogus-key' in <target>"],
    ['<target iqn.a>\n  backing-store /x\n', 'f.conf:1: <target iqn.a> is not closed'],
    ['</target>\n', 'f.conf:1: unexpected </target>'],
    ['<target>\n</target>\n', 'f.conf:1: <target> needs a target name'],
    ['<target a>\n<target b>\n', 'f.conf:2: <target> blocks cannot be nested'],
    ['<target a>\n</target>\n\n<target a>\n</target>\n', 'f.conf:4: target a is defined twice'],
    ['<backing-store /x>\n</backing-store>\n', 'f.conf:1: <backing-store> must be directly inside <target>'],
    [
      '<target a>\n<backing-store /x>\n  initiator-address 1.2.3.4\n</backing-store>\n</target>\n',
      "f.conf:3: unknown option 'initiator-address' in <backing-store>",
    ],
    ['<target a>\n  incominguser\n</target>\n', "f.conf:2: option 'incominguser' needs a value"],
    ['frobnicate yes\n', "f.conf:1: unknown option 'frobnicate'"],
    ['<lun 1>\n</lun>\n', 'f.conf:1: unknown block <lun>'],
    ['include other.conf\n', 'f.conf:1: include is not allowed here'],
  ];
  for (const [text, msg] of bad) {
    let caught: unknown;
    try {
      parseTargetsConf(text, 'f.conf');
    } catch (e) {
      caught = e;
    }
    t.ok(caught instanceof TargetsConfError, msg);
    t.equal((caught as Error).message, msg);
  }
});

const show = (steps: PlanStep[]): string[] =>
  steps.map((s) => ('comment' in s ? `# ${s.comment}` : s.args.join(' ')));

t.test('plan: the command sequence tgt-admin 1.0.85 -e -p printed for the same file', async (t) => {
  const conf = parseTargetsConf(GOOD.replace('include conf.d/*.conf\n', ''), 't.conf');
  const steps = planExecute(conf, {
    existingTargets: [{ tid: 1, name: 'iqn.2024-01.com.example:golden', inUse: false }],
    existingAccounts: ['alice'],
    pathExists: (p) => !p.includes('missing'),
    force: false,
  });
  t.same(show(steps), [
    '--lld iscsi --mode account --op new --user disco --password discopass123',
    '--lld iscsi --mode account --op bind --user disco',
    '# Adding target: iqn.2024-01.com.example:alpha',
    '--lld iscsi --op new --mode target --tid 2 -T iqn.2024-01.com.example:alpha',
    '# Skipping device: /img/missing.img',
    '# /img/missing.img does not exist - please check the configuration file',
    '--lld iscsi --op bind --mode target --tid 2 -I 10.0.0.0/8',
    '# Adding target: iqn.2024-01.com.example:beta',
    '--lld iscsi --op new --mode target --tid 3 -T iqn.2024-01.com.example:beta',
    '--lld iscsi --mode target --op update --tid 3 --name HeaderDigest --value None,CRC32C',
    '--lld iscsi --op new --mode logicalunit --tid 3 --lun 2 -b /img/a.img',
    '--lld iscsi --op update --mode logicalunit --tid 3 --lun 2 --params scsi_sn=SN001',
    '# Write cache is enabled (default) for lun 2.',
    '--lld iscsi --op new --mode logicalunit --tid 3 --lun 3 -b /img/b.img',
    '--lld iscsi --op update --mode logicalunit --tid 3 --lun 3 --params scsi_sn=SN001',
    '# Write cache is enabled (default) for lun 3.',
    '--lld iscsi --op new --mode logicalunit --tid 3 --lun 1 -b /img/c.img',
    '--lld iscsi --op update --mode logicalunit --tid 3 --lun 1 --params vendor_id=ACME',
    '--lld iscsi --op update --mode logicalunit --tid 3 --lun 1 --params scsi_sn=SN001',
    '# Write cache is enabled (default) for lun 1.',
    '--lld iscsi --mode account --op bind --tid 3 --user alice',
    '--lld iscsi --op bind --mode target --tid 3 -Q iqn.1994-05.com.redhat:client1',
    '--lld iscsi --mode account --op new --user bob --password bobpass12345',
    '--lld iscsi --mode account --op bind --tid 3 --user bob --outgoing',
    '--lld iscsi --op bind --mode target --tid 3 -I ALL',
    '# Removing target: iqn.2024-01.com.example:golden',
    '--mode target --op delete --tid 1',
  ]);
});

t.test('plan: existing and in-use targets, params, bad values', async (t) => {
  const conf = parseTargetsConf(
    '<target iqn.a>\n backing-store /dev/null\n bs-type null\n params thin_provisioning=1\n write-cache off\n</target>\n',
    't.conf',
  );
  const steps = show(
    planExecute(conf, {
      existingTargets: [
        { tid: 4, name: 'iqn.busy', inUse: true },
        { tid: 2, name: 'iqn.idle', inUse: false },
      ],
      existingAccounts: [],
      pathExists: () => false,
      force: false,
    }),
  );
  t.same(steps, [
    '# default-driver not defined, defaulting to iscsi.',
    '# Adding target: iqn.a',
    '--lld iscsi --op new --mode target --tid 5 -T iqn.a',
    '--lld iscsi --op new --mode logicalunit --tid 5 --lun 1 -b /dev/null --bstype null',
    '# write-cache off is not supported yet: lun 1 keeps its write cache on',
    '--lld iscsi --op update --mode logicalunit --tid 5 --lun 1 --params thin_provisioning=1',
    '--lld iscsi --op bind --mode target --tid 5 -I ALL',
    "# Target with tid 4 (iqn.busy) is in use, it won't be deleted.",
    '# Removing target: iqn.idle',
    '--mode target --op delete --tid 2',
  ]);
  const again = planExecute(conf, {
    existingTargets: [{ tid: 1, name: 'iqn.a', inUse: false }],
    existingAccounts: [],
    pathExists: () => true,
    force: false,
  });
  t.same(show(again).slice(1), ['# Target iqn.a already exists!']);

  const twoLuns = parseTargetsConf(
    '<target iqn.b>\n lun 3\n backing-store /x\n backing-store /y\n</target>\n',
    'u.conf',
  );
  t.throws(
    () =>
      planExecute(twoLuns, {
        existingTargets: [],
        existingAccounts: [],
        pathExists: () => true,
        force: false,
      }),
    { message: "u.conf:2: a target-level 'lun' needs exactly one backing-store" },
  );
  const badDriver = parseTargetsConf('<target iqn.c>\n driver iser\n</target>\n', 'v.conf');
  t.throws(
    () =>
      planExecute(badDriver, {
        existingTargets: [],
        existingAccounts: [],
        pathExists: () => true,
        force: false,
      }),
    { message: "v.conf:2: driver 'iser' is not supported (only iscsi)" },
  );
});

t.test('reading show output back, and --dump', async (t) => {
  const text =
    'Target 1: iqn.a\n    System information:\n        Driver: iscsi\n        State: ready\n' +
    '    I_T nexus information:\n        I_T nexus: 3\n            Initiator: iqn.i alias: none\n' +
    '            Connection: 0\n                IP Address: 127.0.0.1\n    LUN information:\n' +
    '        LUN: 0\n            Backing store path: None\n        LUN: 1\n            Backing store path: /img/a\n' +
    '    Account information:\n        alice\n        carol (outgoing)\n    ACL information:\n' +
    '        192.168.0.0/24\n        fe80::/64\n        iqn.1994-05.com.redhat:c\n' +
    'Target 2: iqn.b\n    System information:\n        Driver: iscsi\n        State: ready\n' +
    '    I_T nexus information:\n    LUN information:\n        LUN: 0\n            Backing store path: None\n' +
    '    Account information:\n    ACL information:\n        ALL\n';
  const targets = parseShowTargets(text);
  t.same(targets, [
    {
      tid: 1,
      name: 'iqn.a',
      driver: 'iscsi',
      backingStores: ['/img/a'],
      luns: [
        { lun: 0, blockSize: 512, bstype: '', path: undefined, oflags: '' },
        { lun: 1, blockSize: 512, bstype: '', path: '/img/a', oflags: '' },
      ],
      accounts: ['alice', 'carol (outgoing)'],
      acls: ['192.168.0.0/24', 'fe80::/64', 'iqn.1994-05.com.redhat:c'],
      inUse: true,
    },
    {
      tid: 2,
      name: 'iqn.b',
      driver: 'iscsi',
      backingStores: [],
      luns: [{ lun: 0, blockSize: 512, bstype: '', path: undefined, oflags: '' }],
      accounts: [],
      acls: ['ALL'],
      inUse: false,
    },
  ]);
  t.equal(
    dumpConfig(targets),
    'default-driver iscsi\n\n<target iqn.a>\n\t<backing-store /img/a>\n\t\tlun 1\n\t</backing-store>\n' +
      '\tincominguser alice PLEASE_CORRECT_THE_PASSWORD\n\toutgoinguser carol PLEASE_CORRECT_THE_PASSWORD\n' +
      '\tinitiator-address 192.168.0.0/24\n\tinitiator-address fe80::/64\n\tinitiator-name iqn.1994-05.com.redhat:c\n' +
      '</target>\n\n<target iqn.b>\n</target>\n\n',
  );
  t.same(parseShowAccounts('Account list:\n    carol\n    alice\n'), ['carol', 'alice']);
  t.equal(isAddressRule('[fe80::1]/64'), true);
  t.equal(isAddressRule('iqn.x'), false);
});

t.test('ALUA directives become target updates', async (t) => {
  const conf = parseTargetsConf(
    `<target iqn.2026-11.test:alua>
    backing-store /dev/null
    bs-type null
    alua explicit
    alua-port-group 12
    alua-state standby
</target>
`,
    'alua.conf',
  );
  const steps = planExecute(conf, {
    existingTargets: [],
    existingAccounts: [],
    pathExists: () => true,
    force: false,
  });
  const updates = steps.flatMap((s) =>
    'args' in s && s.args.includes('update') && s.args.includes('target') ? [s.args.slice(-4)] : [],
  );
  t.same(updates, [
    ['--name', 'alua', '--value', 'explicit'],
    ['--name', 'alua_group', '--value', '12'],
    ['--name', 'alua_state', '--value', 'standby'],
  ]);
});
