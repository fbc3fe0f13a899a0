// Real-process helpers for the admin integration tests: start our tgtd (or Debian's) on a private
// socket and random port, run our CLIs from the same build directory, clean everything up.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../helpers/ports';

/** Our compiled bin/ next to this compiled test (dist-X/test/admin -> dist-X/src/bin). */
export const BIN_DIR = path.resolve(__dirname, '..', '..', 'src', 'bin');
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 30_000,
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export { freePort };

export function hasTool(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface Tgtd {
  dir: string;
  port: number;
  controlPort: number;
  env: NodeJS.ProcessEnv;
  child: ChildProcess;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Start a tgtd on 127.0.0.1:<random>, control socket in a fresh temp dir. */
export async function startTgtd(impl: 'ours' | 'debian', extra: string[] = []): Promise<Tgtd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tgtT-${impl}-`));
  const port = await freePort();
  const controlPort = 1000 + Math.floor(Math.random() * 31000);
  const env = { TGT_IPC_SOCKET: path.join(dir, 'socket') };
  const args = ['-f', '-C', String(controlPort), '--iscsi', `portal=127.0.0.1:${port}`];
  const child =
    impl === 'ours'
      ? spawn(
          process.execPath,
          [
            path.join(BIN_DIR, 'tgtd.js'),
            ...args,
            '--metrics',
            'off',
            '--state-dir',
            path.join(dir, 'state'),
            ...extra,
          ],
          {
            env: { ...process.env, ...env },
            stdio: 'ignore',
          },
        )
      : spawn('/usr/sbin/tgtd', args, { env: { ...process.env, ...env }, stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const sock = `${env.TGT_IPC_SOCKET}.${controlPort}`;
  for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
  const d: Tgtd = {
    dir,
    port,
    controlPort,
    env,
    child,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // Debian's tgtd ignores SIGTERM while targets exist: ask it to shut down first.
        const tgtadm =
          impl === 'ours' ? [process.execPath, path.join(BIN_DIR, 'tgtadm.js')] : ['/usr/sbin/tgtadm'];
        await run(
          tgtadm[0],
          [...tgtadm.slice(1), '-C', String(controlPort), '--op', 'delete', '--mode', 'system'],
          env,
        );
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.kill('SIGTERM');
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return d;
}

/** Run our tgtadm (or Debian's) against a daemon. */
export function tgtadm(impl: 'ours' | 'debian', d: Tgtd, args: string[]): Promise<Run> {
  const full = ['-C', String(d.controlPort), ...args];
  return impl === 'ours'
    ? run(process.execPath, [path.join(BIN_DIR, 'tgtadm.js'), ...full], d.env)
    : run('/usr/sbin/tgtadm', full, d.env);
}

/** A directory holding `tgtadm`, `tgtd` and `tgt-admin` wrappers for our build (first in PATH). */
export function ourPathDir(into: string): string {
  const bin = path.join(into, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  for (const name of ['tgtadm', 'tgtd', 'tgt-admin']) {
    const file = path.join(bin, name);
    fs.writeFileSync(
      file,
      `#!/bin/sh\nexec "${process.execPath}" "${path.join(BIN_DIR, name + '.js')}" "$@"\n`,
    );
    fs.chmodSync(file, 0o755);
  }
  return bin;
}
