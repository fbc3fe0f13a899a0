// scripts/systemd/tgtd.service run the way systemd would (without systemd): ExecStart in the
// background with $NOTIFY_SOCKET (a Python datagram receiver stands in for systemd and must get
// READY=1), then every ExecStartPost, ExecReload and ExecStop line in order; the daemon's state is
// checked after each phase. /usr/bin/<tool> maps to our build; paths point into a temp dir.
import t from 'tap';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort, ourPathDir, REPO_ROOT, run } from './proc';

function execLines(unit: string, key: string): string[] {
  return [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]);
}

t.test('tgtd.service Exec lines, in order', async (t) => {
  const unit = fs.readFileSync(path.join(REPO_ROOT, 'scripts/systemd/tgtd.service'), 'utf8');
  t.match(unit, /^Type=notify$/m);
  const dir = fs.mkdtempSync('/tmp/tgtT-unit-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bin = ourPathDir(dir);
  const port = await freePort();
  const conf = path.join(dir, 'targets.conf');
  const img = path.join(dir, 'disk.img');
  fs.writeFileSync(img, '');
  fs.truncateSync(img, 8 * 1024 * 1024);
  fs.writeFileSync(conf, `<target iqn.2024-01.unit:one>\n  backing-store ${img}\n</target>\n`);
  const env = {
    ...process.env,
    TGT_IPC_SOCKET: path.join(dir, 'socket'),
    PATH: `${bin}:${process.env.PATH ?? ''}`,
  };
  const localize = (line: string): string[] =>
    line
      .replaceAll('/etc/tgt/targets.conf', conf)
      .replaceAll('/var/lib/tgtd', path.join(dir, 'state'))
      .split(/\s+/)
      .map((w) => (w.startsWith('/usr/bin/') ? path.join(bin, path.basename(w)) : w));

  // systemd's side of sd_notify.
  const notifySocket = path.join(dir, 'notify');
  const receiver = spawn('python3', [
    '-c',
    'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\ns.settimeout(20)\nprint(s.recv(4096).decode(),flush=True)',
    notifySocket,
  ]);
  let notified = '';
  receiver.stdout.on('data', (b: Buffer) => (notified += b.toString()));
  const receiverDone = new Promise((r) => receiver.once('exit', r));
  for (let i = 0; i < 100 && !fs.existsSync(notifySocket); i++) await new Promise((r) => setTimeout(r, 50));

  const [start] = execLines(unit, 'ExecStart');
  const argv = [...localize(start), '--iscsi', `portal=127.0.0.1:${port}`, '--metrics', 'off'];
  const daemon = spawn(argv[0], argv.slice(1), {
    env: { ...env, NOTIFY_SOCKET: notifySocket },
    stdio: 'ignore',
  });
  const exited = new Promise<number | null>((r) => daemon.once('exit', (code) => r(code)));
  t.teardown(() => {
    if (daemon.exitCode === null) daemon.kill('SIGKILL');
    if (receiver.exitCode === null) receiver.kill('SIGKILL');
  });
  await receiverDone;
  t.match(notified, /READY=1/, 'READY=1 sent to $NOTIFY_SOCKET');
  t.match(notified, new RegExp(`MAINPID=${daemon.pid}`), 'with the daemon as main pid');

  const sh = async (line: string): Promise<void> => {
    const a = localize(line);
    const r = await run(a[0], a.slice(1), env);
    t.equal(r.code, 0, `${line}\n${r.stdout}${r.stderr}`);
  };
  const show = async (mode: string): Promise<string> =>
    (await run(path.join(bin, 'tgtadm'), ['--op', 'show', '--mode', mode], env)).stdout;

  for (const l of execLines(unit, 'ExecStartPost')) await sh(l);
  t.match(await show('system'), /State: ready/);
  t.match(await show('target'), /Target 1: iqn.2024-01.unit:one[\s\S]*disk.img/);

  fs.writeFileSync(conf, `<target iqn.2024-01.unit:two>\n  backing-store ${img}\n</target>\n`);
  for (const l of execLines(unit, 'ExecReload')) await sh(l);
  const reloaded = await show('target');
  t.match(reloaded, /iqn.2024-01.unit:two/);
  t.notMatch(reloaded, /iqn.2024-01.unit:one/, 'reload removed the target dropped from the file');

  for (const l of execLines(unit, 'ExecStop')) await sh(l);
  t.equal(await exited, 0, 'the last ExecStop ended tgtd cleanly');
  t.notOk(fs.existsSync(path.join(dir, 'socket.0')), 'control socket removed');
});
