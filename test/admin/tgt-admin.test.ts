import t from 'tap';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { controlSocketPath, ManagementServer } from '../../src/admin/mgmt-server';
import { setLogLevel } from '../../src/common/log';
import { TargetRegistry } from '../../src/target/registry';

setLogLevel('error');
const TGT_ADMIN = path.resolve(__dirname, '../../src/bin/tgt-admin.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tgt-admin-test-'));
process.env.TGT_IPC_SOCKET = path.join(dir, 'socket');
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TGT_ADMIN, ...args], { env: process.env }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

t.test('tgt-admin -e, --dump, --offline, --delete against a live management server', async (t) => {
  const reg = new TargetRegistry();
  const srv = new ManagementServer(reg);
  await srv.listen(controlSocketPath(21));
  t.teardown(() => srv.close());
  const img = path.join(dir, 'a.img');
  fs.writeFileSync(img, '');
  fs.truncateSync(img, 10 * 1024 * 1024);
  const conf = path.join(dir, 'targets.conf');
  fs.writeFileSync(
    conf,
    `default-driver iscsi\n<target iqn.2024-01.com.example:beta>\n  backing-store ${img}\n` +
      '  initiator-address 10.0.0.0/8\n  incominguser alice alicepass12\n  MaxConnections 2\n</target>\n',
  );
  const e = await run(['-C', '21', '-c', conf, '-e']);
  t.same(e, { code: 0, stdout: '', stderr: '' });
  const tg = reg.findTarget('iqn.2024-01.com.example:beta');
  t.ok(tg);
  t.same([...tg!.luns.keys()], [0, 1]);
  t.same(tg!.addressRules, ['10.0.0.0/8']);
  t.same(tg!.incomingAccounts(), [{ user: 'alice', password: 'alicepass12' }]);
  t.equal(tg!.iscsiParams().get('MaxConnections'), '2');

  t.same(
    await run(['-C', '21', '-c', conf, '-e']),
    { code: 0, stdout: '', stderr: '' },
    'running again is a no-op',
  );
  t.equal(reg.listTargets().length, 1);

  const dump = await run(['-C', '21', '--dump']);
  t.equal(
    dump.stdout,
    `default-driver iscsi\n\n<target iqn.2024-01.com.example:beta>\n` +
      `\t<backing-store ${img}>\n\t\tlun 1\n\t\tbs-type rdwr\n\t</backing-store>\n` +
      '\tincominguser alice alicepass12\n\tinitiator-address 10.0.0.0/8\n</target>\n\n',
  );
  t.same(await run(['-C', '21', '--offline', 'iqn.2024-01.com.example:beta']), {
    code: 0,
    stdout: '',
    stderr: '',
  });
  t.equal(tg!.state, 'offline');
  const del = await run(['-C', '21', '--delete', 'ALL', '-v']);
  t.same(del, {
    code: 0,
    stdout:
      '# Removing target: iqn.2024-01.com.example:beta\ntgtadm -C 21 --mode target --op delete --tid 1\n',
    stderr: '',
  });
  t.equal(reg.listTargets().length, 0);

  const bad = path.join(dir, 'bad.conf');
  fs.writeFileSync(bad, '<target iqn.x>\n  backing-store /dev/null\n  bs-typo null\n</target>\n');
  t.same(await run(['-C', '21', '-c', bad, '-e']), {
    code: 1,
    stdout: '',
    stderr: `tgt-admin: ${bad}:3: unknown option 'bs-typo' in <target>\n`,
  });
  // A command the daemon refuses stops tgt-admin with tgtadm's exit code, as tgt-admin does.
  const refused = path.join(dir, 'refused.conf');
  fs.writeFileSync(
    refused,
    '<target iqn.y>\n  backing-store /dev/null\n  bs-type null\n  MaxConnections 0\n</target>\n',
  );
  const r = await run(['-C', '21', '-c', refused, '-e']);
  t.equal(r.code, 22);
  t.equal(r.stderr, 'tgtadm: invalid request\n');
  t.equal(
    r.stdout,
    'Command:\n\ttgtadm -C 21 --lld iscsi --mode target --op update --tid 1 --name MaxConnections --value 0\nexited with code: 22.\n',
  );
});

t.test(
  "tgt-admin --dump keeps each LUN's store type, options, flags and block size: the dump round-trips",
  async (t) => {
    const reg = new TargetRegistry();
    const srv = new ManagementServer(reg);
    await srv.listen(controlSocketPath(22));
    t.teardown(() => srv.close());
    const img = path.join(dir, 'rt.img');
    fs.writeFileSync(img, '');
    fs.truncateSync(img, 4 * 1024 * 1024);
    const conf = path.join(dir, 'rt.conf');
    fs.writeFileSync(
      conf,
      'default-driver iscsi\n<target iqn.2024-01.com.example:rt>\n' +
        `  <backing-store ${img}>\n    lun 3\n    bsoflags sync\n    block-size 4096\n  </backing-store>\n` +
        '  <backing-store /nullvol>\n    lun 5\n    bs-type null\n    bsopts size=1G;x=y\n  </backing-store>\n' +
        '</target>\n',
    );
    t.same(await run(['-C', '22', '-c', conf, '-e']), { code: 0, stdout: '', stderr: '' });
    const dump = await run(['-C', '22', '--dump']);
    t.equal(
      dump.stdout,
      'default-driver iscsi\n\n<target iqn.2024-01.com.example:rt>\n' +
        `\t<backing-store ${img}>\n\t\tlun 3\n\t\tbs-type rdwr\n\t\tbsoflags sync\n\t\tblock-size 4096\n\t</backing-store>\n` +
        '\t<backing-store /nullvol>\n\t\tlun 5\n\t\tbs-type null\n\t\tbsopts size=1G;x=y\n\t</backing-store>\n' +
        '</target>\n\n',
    );
    // Recreate the daemon's state from the dump alone: same LUNs, same stores, same dump.
    t.same(await run(['-C', '22', '--delete', 'ALL']), { code: 0, stdout: '', stderr: '' });
    t.equal(reg.listTargets().length, 0);
    const dumped = path.join(dir, 'dumped.conf');
    fs.writeFileSync(dumped, dump.stdout);
    t.same(await run(['-C', '22', '-c', dumped, '-e']), { code: 0, stdout: '', stderr: '' });
    const luns = reg.listTargets()[0].sortedLuns();
    t.same(
      luns.map((l) => [l.lun, l.bstype, l.bsopts, l.oflags, l.blockSize]),
      [
        [0, luns[0].bstype, luns[0].bsopts, luns[0].oflags, luns[0].blockSize],
        [3, 'rdwr', '', ['sync'], 4096],
        [5, 'null', 'size=1G;x=y', [], 512],
      ],
    );
    t.equal((await run(['-C', '22', '--dump'])).stdout, dump.stdout);
  },
);
