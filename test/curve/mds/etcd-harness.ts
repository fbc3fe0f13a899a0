// Starts a private etcd (Debian's etcd-server) on random loopback ports in a temp dir; stops it by PID.
import { spawn, ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Etcd3 } from 'etcd3';
import { freePort } from '../../helpers/ports';

export interface EtcdProcess {
  endpoint: string;
  pid: number;
  stop(): Promise<void>;
}

export { freePort };

export async function startEtcd(): Promise<EtcdProcess> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mds-etcd-'));
  const [p, p2] = [await freePort(), await freePort()];
  const client = `http://127.0.0.1:${p}`;
  const peer = `http://127.0.0.1:${p2}`;
  const proc: ChildProcess = spawn(
    '/usr/bin/etcd',
    [
      '--data-dir',
      path.join(dir, 'data'),
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `default=${peer}`,
      '--name',
      'default',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const probe = new Etcd3({ hosts: client, dialTimeout: 500 });
  try {
    const deadline = Date.now() + 15000;
    for (;;) {
      try {
        await probe.get('probe').string();
        break;
      } catch (err) {
        if (Date.now() > deadline || proc.exitCode !== null) {
          await stop();
          throw new Error(`etcd did not start: ${(err as Error).message}\n${log}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    probe.close();
  }
  return { endpoint: client, pid: proc.pid!, stop };
}
