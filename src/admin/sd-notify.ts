// systemd readiness (Type=notify): tell the service manager "READY=1" over $NOTIFY_SOCKET. Node has no
// Unix datagram sockets, so we run systemd's own `systemd-notify --ready --pid=<our pid>` helper. The
// message then comes from a child process, which systemd accepts only with NotifyAccess=all in the unit
// (scripts/systemd/tgtd.service sets it); MAINPID=<our pid> keeps the main PID right.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import type { Logger } from '../common/log';

const HELPERS = ['/usr/bin/systemd-notify', '/bin/systemd-notify', '/usr/local/bin/systemd-notify'];

/** The argument list the helper is run with (pure; tested). */
export function notifyArgs(pid: number): string[] {
  return ['--ready', `--pid=${pid}`];
}

/** Send READY=1 when started by systemd; a no-op otherwise. Resolves once the helper exited. */
export function notifyReady(log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (!env.NOTIFY_SOCKET) return Promise.resolve(false);
  const helper = env.SYSTEMD_NOTIFY_BIN ?? HELPERS.find((h) => fs.existsSync(h));
  if (!helper) {
    log.warn('NOTIFY_SOCKET is set but systemd-notify was not found: readiness not reported');
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const child = spawn(helper, notifyArgs(process.pid), { stdio: 'ignore', env });
    child.once('error', (err) => {
      log.warn('systemd-notify failed', { err });
      resolve(false);
    });
    child.once('exit', (code) => {
      if (code !== 0) log.warn('systemd-notify failed', { code });
      else log.info('readiness reported to systemd');
      resolve(code === 0);
    });
  });
}
