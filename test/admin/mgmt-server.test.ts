import t from 'tap';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { sendMgmtRequest, MgmtConnectError } from '../../src/admin/mgmt-client';
import { controlSocketPath, ManagementServer } from '../../src/admin/mgmt-server';
import { setLogLevel } from '../../src/common/log';
import { TargetRegistry } from '../../src/target/registry';

setLogLevel('error');
const TGTADM = path.resolve(__dirname, '../../src/bin/tgtadm.js');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mgmt-test-'));
process.env.TGT_IPC_SOCKET = path.join(dir, 'run', 'socket');
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function tgtadm(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TGTADM, ...args], { env: process.env }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Raw request line -> raw response line. */
function rawRequest(socketPath: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    let data = '';
    s.on('connect', () => s.write(line));
    s.on('data', (c) => (data += c.toString()));
    s.on('close', () => resolve(data));
    s.on('error', reject);
  });
}

t.test('control socket path, permissions, one daemon per control port', async (t) => {
  const p = controlSocketPath(11);
  t.equal(p, path.join(dir, 'run', 'socket') + '.11');
  t.ok(fs.existsSync(path.join(dir, 'run')), 'parent directory created');
  const a = new ManagementServer(new TargetRegistry());
  await a.listen(p);
  t.equal(fs.statSync(p).mode & 0o777, 0o600, 'owner-only socket');
  const b = new ManagementServer(new TargetRegistry());
  await t.rejects(
    b.listen(p),
    /control socket .*socket\.11 is in use: is another tgtd running on this control port\?/,
  );
  await a.close();
  t.notOk(fs.existsSync(p), 'socket removed on close');

  fs.writeFileSync(p, 'stale');
  const c = new ManagementServer(new TargetRegistry());
  await c.listen(p);
  t.ok(fs.statSync(p).isSocket(), 'a stale file is replaced');
  t.equal(await rawRequest(p, 'not json\n'), '{"code":22,"error":"invalid request"}\n');
  t.equal(
    await rawRequest(p, '{"mode":"target","op":"show","tid":-1}\n'),
    '{"code":22,"error":"invalid request"}\n',
    'field types are checked',
  );
  t.equal(await rawRequest(p, '{"mode":"target","op":"show"}\n'), '{"code":0,"output":""}\n', 'empty show');
  await c.close();
});

t.test('requests over the socket: atomic failures, real LUNs, system delete', async (t) => {
  const p = controlSocketPath(12);
  const reg = new TargetRegistry();
  let systemDeleted = 0;
  const srv = new ManagementServer(reg, { onSystem: () => systemDeleted++ });
  await srv.listen(p);
  t.teardown(() => srv.close());
  const img = path.join(dir, 'disk.img');
  fs.writeFileSync(img, '');
  fs.truncateSync(img, 64 * 1024 * 1024);

  const ok = async (req: object): Promise<string | undefined> => {
    const r = await sendMgmtRequest(p, req as never);
    t.equal(r.code, 0, JSON.stringify(req) + ' ' + (r.error ?? ''));
    return r.output;
  };
  await ok({ mode: 'target', op: 'new', tid: 1, targetName: 'iqn.2024-01.com.example:a' });
  await ok({ mode: 'logicalunit', op: 'new', tid: 1, lun: 1, backingStore: img });
  await ok({ mode: 'target', op: 'bind', tid: 1, initiatorAddress: 'ALL' });
  await ok({ mode: 'account', op: 'new', user: 'alice', password: 'alicepass12' });
  await ok({ mode: 'account', op: 'bind', tid: 1, user: 'alice', outgoing: true });
  const before = await ok({ mode: 'target', op: 'show' });
  t.match(
    before,
    /LUN: 1\n {12}Type: disk\n {12}SCSI ID: IET {5}00010001\n {12}SCSI SN: beaf11\n {12}Size: 67 MB, Block size: 512\n/,
  );
  t.match(before, new RegExp(`Backing store type: rdwr\\n {12}Backing store path: ${img}\\n`));
  const paramsBefore = await ok({ mode: 'target', op: 'show', tid: 1 });

  const refused: Array<[object, string]> = [
    [{ mode: 'target', op: 'new', tid: 1, targetName: 'iqn.other' }, 'this target already exists'],
    [
      { mode: 'logicalunit', op: 'new', tid: 1, lun: 2, backingStore: path.join(dir, 'nope.img') },
      'invalid request',
    ],
    [
      { mode: 'logicalunit', op: 'new', tid: 1, lun: 2, backingStore: img, bstype: 'bogus' },
      'invalid request',
    ],
    [
      { mode: 'logicalunit', op: 'new', tid: 1, lun: 1, backingStore: img },
      'this logical unit number already exists',
    ],
    [{ mode: 'logicalunit', op: 'update', tid: 1, lun: 1, params: 'readonly=1,bogus=1' }, 'invalid request'],
    [{ mode: 'logicalunit', op: 'delete', tid: 1, lun: 0 }, 'invalid request'],
    [
      { mode: 'target', op: 'bind', tid: 1, initiatorAddress: '10.0.0.1', initiatorName: 'iqn.x' },
      'no error',
    ],
    [
      { mode: 'target', op: 'bind', tid: 1, initiatorAddress: 'ALL', initiatorName: 'iqn.x' },
      'this access control rule already exists',
    ],
    [
      { mode: 'target', op: 'update', tid: 1, name: 'MaxRecvDataSegmentLength', value: '100' },
      'invalid request',
    ],
    [
      { mode: 'account', op: 'bind', tid: 1, user: 'alice', outgoing: true },
      'this target already has an outgoing account',
    ],
    [{ mode: 'account', op: 'bind', tid: 1, user: 'zed' }, "can't find the account"],
    [{ mode: 'account', op: 'new', user: 'bob', password: 'x' }, 'no error'],
    [
      { mode: 'account', op: 'bind', tid: 1, user: 'bob', outgoing: true },
      'this target already has an outgoing account',
    ],
    [{ mode: 'account', op: 'unbind', tid: 1, user: 'bob' }, "can't find the account"],
    [{ mode: 'target', op: 'show', tid: 9 }, "can't find the target"],
    [{ mode: 'target', op: 'show', lld: 'iser' }, "can't find the driver"],
  ];
  for (const [req, error] of refused) {
    const r = await sendMgmtRequest(p, req as never);
    if (error === 'no error') t.equal(r.code, 0);
    else t.same(r, { code: 22, error }, JSON.stringify(req));
  }
  // The bind with -I 10.0.0.1 -Q iqn.x above was valid: undo it to compare with the earlier state.
  await ok({ mode: 'target', op: 'unbind', tid: 1, initiatorAddress: '10.0.0.1', initiatorName: 'iqn.x' });
  t.equal(await ok({ mode: 'target', op: 'show' }), before, 'refused requests changed nothing');
  t.equal(await ok({ mode: 'target', op: 'show', tid: 1 }), paramsBefore);

  await ok({ mode: 'logicalunit', op: 'update', tid: 1, lun: 1, params: 'readonly=1,thin_provisioning=1' });
  const after = await ok({ mode: 'target', op: 'show' });
  t.match(after, /Readonly: Yes\n {12}SWP: No\n {12}Thin-provisioning: Yes\n/);
  t.match(await ok({ mode: 'system', op: 'show' }), /^System:\n {4}State: ready\n/);

  // Concurrent requests are serialized: exactly one of two identical creations wins.
  const [x, y] = await Promise.all([
    sendMgmtRequest(p, { mode: 'logicalunit', op: 'new', tid: 1, lun: 5, backingStore: img }),
    sendMgmtRequest(p, { mode: 'logicalunit', op: 'new', tid: 1, lun: 5, backingStore: img }),
  ]);
  t.same([x.code, y.code].sort(), [0, 22]);

  // Like tgt: the system is not deleted while targets exist.
  t.same(await sendMgmtRequest(p, { mode: 'system', op: 'delete' }), { code: 22, error: 'invalid request' });
  t.equal(systemDeleted, 0);
  await ok({ mode: 'target', op: 'delete', tid: 1 });
  await ok({ mode: 'system', op: 'delete' });
  t.equal(systemDeleted, 1);
});

t.test('tgtadm as a process against the server', async (t) => {
  const p = controlSocketPath(13);
  const reg = new TargetRegistry();
  const srv = new ManagementServer(reg);
  await srv.listen(p);
  const steps: Array<[string, Run]> = [
    [
      '--lld iscsi --op new --mode target --tid 1 -T iqn.2024-01.com.example:golden',
      { code: 0, stdout: '', stderr: '' },
    ],
    [
      '--lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -E null -b /dev/null',
      { code: 0, stdout: '', stderr: '' },
    ],
    ['--lld iscsi --op bind --mode target --tid 1 -I 192.168.10.0/24', { code: 0, stdout: '', stderr: '' }],
    [
      '--lld iscsi --op bind --mode target --tid 1 -Q iqn.1994-05.com.redhat:client1',
      { code: 0, stdout: '', stderr: '' },
    ],
    [
      '--lld iscsi --op new --mode account --user alice --password alicepass12',
      { code: 0, stdout: '', stderr: '' },
    ],
    [
      '--lld iscsi --op new --mode account --user carol --password carolpass12',
      { code: 0, stdout: '', stderr: '' },
    ],
    ['--lld iscsi --op bind --mode account --tid 1 --user alice', { code: 0, stdout: '', stderr: '' }],
    [
      '--lld iscsi --op bind --mode account --tid 1 --user carol --outgoing',
      { code: 0, stdout: '', stderr: '' },
    ],
    ['--op show --mode account', { code: 0, stdout: 'Account list:\n    carol\n    alice\n', stderr: '' }],
    [
      '--op new --mode target --tid 1 -T iqn.x',
      { code: 22, stdout: '', stderr: 'tgtadm: this target already exists\n' },
    ],
    [
      '--op delete --mode lu --tid 1 --lun 9',
      { code: 22, stdout: '', stderr: "tgtadm: can't find the logical unit\n" },
    ],
    [
      '--op new --mode account --user x',
      { code: 22, stdout: '', stderr: "tgtadm: 'user' and 'password' options are required\n" },
    ],
    ['--op foo --mode target', { code: 1, stdout: '', stderr: 'tgtadm: unknown operation: foo\n' }],
  ];
  for (const [line, expected] of steps)
    t.same(await tgtadm(['-C', '13', ...line.split(' ')]), expected, line);

  const show = await tgtadm(['-C', '13', '--op', 'show', '--mode', 'target']);
  t.equal(show.code, 0);
  t.match(show.stdout, /^Target 1: iqn\.2024-01\.com\.example:golden\n {4}System information:\n/);
  t.match(
    show.stdout,
    / {4}Account information:\n {8}alice\n {8}carol \(outgoing\)\n {4}ACL information:\n {8}192\.168\.10\.0\/24\n {8}iqn\.1994-05\.com\.redhat:client1\n$/,
  );
  await srv.close();

  t.same(await tgtadm(['-C', '13', '--op', 'show', '--mode', 'target']), {
    code: 107,
    stdout: '',
    stderr: 'tgtadm: failed to send request hdr to tgt daemon, Transport endpoint is not connected\n',
  });
  await t.rejects(sendMgmtRequest(p, { mode: 'target', op: 'show' }), MgmtConnectError);
});
