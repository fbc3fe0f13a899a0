// `tgt-admin -e` on the shipped targets.conf.example (backing paths pointed at temp files) brings up
// every target in it. The Curve example is loaded with bs-type null (its MDS addresses do not exist) (the parsing and pass-through of `bs-type curve` + `bsopts` is checked with
// --pretend).
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BIN_DIR, REPO_ROOT, run, startTgtd, tgtadm } from './proc';

t.test('tgt-admin -e targets.conf.example', async (t) => {
  const d = await startTgtd('ours');
  t.teardown(() => d.stop());
  const text = fs.readFileSync(path.join(REPO_ROOT, 'targets.conf.example'), 'utf8');
  const names = [...text.matchAll(/^<target (\S+)>/gm)].map((m) => m[1]);
  t.ok(names.length >= 4, 'the example has targets');
  const dataDir = path.join(d.dir, 'srv');
  fs.mkdirSync(dataDir);
  for (const m of text.matchAll(/\/srv\/iscsi\/(\S+?\.img)/g)) {
    fs.writeFileSync(path.join(dataDir, m[1]), '');
    fs.truncateSync(path.join(dataDir, m[1]), 16 * 1024 * 1024);
  }
  let conf = text
    .replaceAll('/srv/iscsi/', dataDir + '/')
    .replace('/etc/tgt/conf.d', path.join(d.dir, 'conf.d'));
  const confFile = path.join(d.dir, 'targets.conf');
  const admin = (args: string[]) =>
    run(process.execPath, [path.join(BIN_DIR, 'tgt-admin.js'), '-C', String(d.controlPort), ...args], d.env);

  fs.writeFileSync(confFile, conf);
  const pretend = await admin(['-e', '-p', '-c', confFile]);
  t.equal(pretend.code, 0, pretend.stderr);
  t.match(pretend.stdout, /--bstype curve --bsopts mds=127.0.0.1:6666,127.0.0.1:6667 --blocksize 4096/);

  const sys = await tgtadm('ours', d, ['--op', 'show', '--mode', 'system']);
  t.match(sys.stdout, /^ {4}curve$/m, 'the curve store is registered');
  // The example's MDS addresses do not exist here (the curve store end to end is test/integration's
  // curve-cluster test), so the Curve target is brought up on a null store.
  conf = conf.replace(/^(\s*)bs-type curve$/m, '$1bs-type null');
  fs.writeFileSync(confFile, conf);
  const r = await admin(['-e', '-c', confFile]);
  t.equal(r.code, 0, r.stdout + r.stderr);
  const show = await tgtadm('ours', d, ['--op', 'show', '--mode', 'target']);
  for (const n of names) t.match(show.stdout, new RegExp(`Target \\d+: ${n.replace(/\./g, '\\.')}\n`), n);
  t.match(show.stdout, /LUN: 5\n[\s\S]*Size: 17 MB, Block size: 4096/, 'explicit lun and block-size');
  t.match(show.stdout, /targetuser \(outgoing\)/);
  const acc = await tgtadm('ours', d, ['--op', 'show', '--mode', 'account']);
  t.match(acc.stdout, /discoverer/);
});
