// Debian's own tgt-admin (Perl; it runs `tgtadm` from PATH and parses its output) drives our tgtd when
// our tgtadm is first in PATH: --execute, --show, --dump, --update ALL, --delete ALL.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hasTool, ourPathDir, run, startTgtd, tgtadm } from './proc';

const PERL_TGT_ADMIN = '/usr/sbin/tgt-admin';

t.test(
  'Debian tgt-admin against our daemon',
  { skip: !hasTool(PERL_TGT_ADMIN) && 'tgt not installed' },
  async (t) => {
    const d = await startTgtd('ours');
    t.teardown(() => d.stop());
    const bin = ourPathDir(d.dir);
    const env = { ...d.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
    const img = (n: string): string => {
      const f = path.join(d.dir, n);
      fs.writeFileSync(f, '');
      fs.truncateSync(f, 16 * 1024 * 1024);
      return f;
    };
    const conf = path.join(d.dir, 'targets.conf');
    fs.writeFileSync(
      conf,
      `default-driver iscsi\n<target iqn.2024-01.test:a>\n  backing-store ${img('a.img')}\n  incominguser alice secretsecret1\n  initiator-address 127.0.0.1\n</target>\n` +
        `<target iqn.2024-01.test:b>\n  <backing-store ${img('b.img')}>\n    lun 3\n    vendor_id ACME\n  </backing-store>\n</target>\n`,
    );
    const ta = (args: string[]) => run(PERL_TGT_ADMIN, ['-C', String(d.controlPort), ...args], env);

    const exec = await ta(['--execute', '-c', conf]);
    t.equal(exec.code, 0, exec.stdout + exec.stderr);
    const show = await tgtadm('ours', d, ['--op', 'show', '--mode', 'target']);
    t.match(
      show.stdout,
      /Target 1: iqn.2024-01.test:a[\s\S]*Backing store path: .*a.img[\s\S]*alice[\s\S]*127.0.0.1/,
    );
    t.match(show.stdout, /Target 2: iqn.2024-01.test:b[\s\S]*LUN: 3/);

    const s = await ta(['--show']);
    t.equal(s.code, 0);
    t.equal(s.stdout, show.stdout, '--show is tgtadm show');

    const dump = await ta(['--dump']);
    t.equal(dump.code, 0);
    t.match(dump.stdout, /<target iqn.2024-01.test:a>[\s\S]*backing-store .*a.img[\s\S]*incominguser alice/);
    t.match(dump.stdout, /initiator-address 127.0.0.1/);

    // Drop target b from the file: --update ALL removes it and keeps a.
    fs.writeFileSync(
      conf,
      `<target iqn.2024-01.test:a>\n  backing-store ${path.join(d.dir, 'a.img')}\n</target>\n`,
    );
    const up = await ta(['--update', 'ALL', '-c', conf]);
    t.equal(up.code, 0, up.stdout + up.stderr);
    const after = await tgtadm('ours', d, ['--op', 'show', '--mode', 'target']);
    t.match(after.stdout, /iqn.2024-01.test:a/);
    t.notMatch(after.stdout, /iqn.2024-01.test:b/);

    const del = await ta(['--delete', 'ALL']);
    t.equal(del.code, 0, del.stdout + del.stderr);
    const empty = await tgtadm('ours', d, ['--op', 'show', '--mode', 'target']);
    t.equal(empty.stdout, '');
  },
);
