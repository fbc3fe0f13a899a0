import t from 'tap';
import { parseTgtadmArgs, TGTADM_USAGE } from '../../src/admin/tgtadm-args';

const TRY = "Try `tgtadm --help' for more information.\n";

// stderr and exit codes of Debian's tgtadm 1.0.85 for command lines it refuses before contacting tgtd.
const refused: Array<[string, number, string]> = [
  ['--op new --mode target --tid 0 -T x', 22, "tgtadm: 'tid' cannot be 0\n"],
  ['--op new --mode lu --tid 0 --lun 1 -b x', 22, "tgtadm: 'tid' must not be 0\n"],
  ['--op delete --mode target --tid 0', 22, "tgtadm: 'tid' cannot be 0\n"],
  ['--op new --mode lu --lun 1 -b x', 22, "tgtadm: 'tid' option is necessary\n"],
  ['--op new --mode target --tid 2', 22, 'tgtadm: creating new target requires a name, use --targetname\n'],
  ['--op new --mode target -T iqn.abc', 22, "tgtadm: 'tid' option is necessary\n"],
  [
    '--op new --mode lu --tid 1 --lun 1 -b x -P a=b',
    22,
    "tgtadm: logicalunit mode: option '-P' is not allowed/supported\n",
  ],
  [
    '--op update --mode lu --tid 1 --lun 1 -b x',
    22,
    "tgtadm: option '-b' not supported in logicalunit mode\n",
  ],
  [
    '--op update --mode target --tid 1 -n x',
    22,
    "tgtadm: update operation requires 'name' and 'value' options\n",
  ],
  ['--op bind --mode account --tid 1', 22, "tgtadm: 'user' option is necessary\n"],
  ['--op new --mode account --user a', 22, "tgtadm: 'user' and 'password' options are required\n"],
  [
    '--op new --mode account --user x --password y -t 3',
    22,
    "tgtadm: account mode: option '-t' is not allowed/supported\n",
  ],
  ['--op show --mode account --user a', 22, "tgtadm: account mode: option '-u' is not allowed/supported\n"],
  ['--op bind --mode lu --tid 1 --lun 1', 22, 'tgtadm: operation bind not supported in logicalunit mode\n'],
  ['--op show --mode lu --tid 1 --lun 1', 22, 'tgtadm: operation show not supported in logicalunit mode\n'],
  ['--op delete --mode lu --tid 1', 22, "tgtadm: 'lun' option is necessary\n"],
  ['--op new --mode system', 22, 'tgtadm: operation new not supported in system mode\n'],
  ['--op new --mode portal', 22, 'tgtadm: you must specify --param portal=<portal>\n'],
  [
    '--op show --mode target --tid 1 --lun 2',
    22,
    "tgtadm: target mode: option '-l' is not allowed/supported\n",
  ],
  [
    '--op bind --mode tgt --tid 1',
    22,
    'tgtadm: bind operation requires initiator-address, initiator-nameor bus\n',
  ],
  ['--op foo --mode tgt --tid 1', 1, 'tgtadm: unknown operation: foo\n'],
  ['--op new --mode foo --tid 1', 1, 'tgtadm: unknown mode: foo\n'],
  ['--op show --mode stats', 1, 'tgtadm: unknown mode: stats\n'],
  ['--op new --tid 1', 22, 'tgtadm: specify the mode\n'],
  ['--mode target --tid 1', 22, 'tgtadm: specify the operation type\n'],
  ['--op show --mode target --op new', 22, "tgtadm: 'tid' option is necessary\n"],
  ['--op new --mode lu --tid 1 --lun 7 -b x -Y foo', 22, 'tgtadm: unknown target type: foo\n'],
  ['--op new --mode target --tid abc -T x', 22, "-t argument value 'abc' invalid\n" + TRY],
  ['--op new --mode target --tid -1 -T x', 22, "-t argument value '-1' invalid\n" + TRY],
  ['--op show --mode target --tid 99999999999', 22, "-t argument value '99999999999' out of range\n" + TRY],
  ['--op show --mode target -C 70000', 22, "-C argument value '70000' out of range\n" + TRY],
  ['--op new --mode lu --tid 1 --lun abc -b x', 22, "-l argument value 'abc' invalid\n" + TRY],
  ['--op show --mode target extra', 22, "tgtadm: unrecognized option 'extra'\n" + TRY],
  ['--op show --mode target --bogus', 22, "tgtadm: unrecognized option '--bogus'\n" + TRY],
  ['--op show --mode target -Z', 22, "tgtadm: invalid option -- 'Z'\n" + TRY],
  ['--op show --mode target --tid', 22, "tgtadm: option '--tid' requires an argument\n" + TRY],
  ['--op show --mode target -t', 22, "tgtadm: option requires an argument -- 't'\n" + TRY],
];

t.test("tgtadm's own refusals, as tgt 1.0.85 prints them", async (t) => {
  for (const [line, code, stderr] of refused) {
    const r = parseTgtadmArgs(line.split(' '));
    t.same(r, { kind: 'exit', code, stdout: '', stderr }, line);
  }
});

t.test('help and version', async (t) => {
  t.same(parseTgtadmArgs(['-h']), { kind: 'exit', code: 0, stdout: TGTADM_USAGE, stderr: '' });
  t.same(parseTgtadmArgs(['--version']), { kind: 'exit', code: 0, stdout: '1.0.85\n', stderr: '' });
  t.ok(
    TGTADM_USAGE.startsWith(
      'Linux SCSI Target administration utility, version 1.0.85\n\nUsage: tgtadm [OPTION]\n',
    ),
  );
});

t.test('requests', async (t) => {
  const req = (line: string): unknown => {
    const r = parseTgtadmArgs(line.split(' '));
    return r.kind === 'request' ? { ...r.request, _port: r.controlPort } : r;
  };
  t.same(req('--lld iscsi --op new --mode target --tid 1 -T iqn.a'), {
    mode: 'target',
    op: 'new',
    lld: 'iscsi',
    tid: 1,
    targetName: 'iqn.a',
    _port: 0,
  });
  t.same(req('-C 7 -L iscsi -o new -m lu -t 1 -l 2 -b /img -E null -f sync:direct -S a=b -y 4096 -Y disk'), {
    mode: 'logicalunit',
    op: 'new',
    lld: 'iscsi',
    tid: 1,
    lun: 2,
    backingStore: '/img',
    bstype: 'null',
    bsoflags: 'sync:direct',
    bsopts: 'a=b',
    blockSize: 4096,
    deviceType: 'disk',
    _port: 7,
  });
  t.same(req('--op update --mode logicalunit --tid=1 --lun=1 --params readonly=1,vendor_id=X'), {
    mode: 'logicalunit',
    op: 'update',
    tid: 1,
    lun: 1,
    params: 'readonly=1,vendor_id=X',
    _port: 0,
  });
  t.same(req('--op bind --mode account --user u -O'), {
    mode: 'account',
    op: 'bind',
    user: 'u',
    outgoing: true,
    _port: 0,
  });
  t.same(req('--op delete --mode target --tid 3 -F'), {
    mode: 'target',
    op: 'delete',
    tid: 3,
    force: true,
    _port: 0,
  });
  t.same(req('--op bind --mode target --tid 1 -I 10.0.0.0/8 -Q iqn.x'), {
    mode: 'target',
    op: 'bind',
    tid: 1,
    initiatorAddress: '10.0.0.0/8',
    initiatorName: 'iqn.x',
    _port: 0,
  });
  t.same(req('--op update --mode target --tid 1 -n HeaderDigest -v None,CRC32C'), {
    mode: 'target',
    op: 'update',
    tid: 1,
    name: 'HeaderDigest',
    value: 'None,CRC32C',
    _port: 0,
  });
  t.same(
    req('--op show --mode target --tid 1x'),
    { mode: 'target', op: 'show', tid: 1, _port: 0 },
    "tgt's strtoull",
  );
  t.same(
    req('--op show --mode target --targ'),
    {
      kind: 'exit',
      code: 22,
      stdout: '',
      stderr: "tgtadm: option '--targetname' requires an argument\n" + TRY,
    },
    'unique prefixes like getopt_long',
  );
});
