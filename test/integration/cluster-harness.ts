// Test harness: runs the one-machine launcher (dist .../src/bin/curve-cluster.js) as a real process on
// random ports in a temp dir, waits for READY, and records every daemon PID it reports.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { freePortRange } from '../helpers/ports';
import * as path from 'node:path';
import * as readline from 'node:readline';

export const LAUNCHER = path.resolve(__dirname, '../../src/bin/curve-cluster.js');
export const IQN = 'iqn.2026-11.io.curve:vol0';

export interface Cluster {
  proc: ChildProcess;
  dataDir: string;
  port: number;
  url: string;
  /** Every `[cluster] <name> pid <N>` line so far, restarts included, in order. */
  pids: Array<{ name: string; pid: number }>;
  stdout: string[];
  stderrTail: string[];
  exited: Promise<number | null>;
  /** Latest PID of a daemon. */
  pidOf(name: string): number | undefined;
  /** Resolves with the first stdout line matching, waiting for it if needed. */
  waitLine(re: RegExp, timeoutMs: number): Promise<string>;
}

/** A base port P with P..P+4 free (iSCSI, MDS, 3 chunkservers: the launcher's derived ports). */
export function freeBasePort(): Promise<number> {
  return freePortRange(5);
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs the launcher; `env` replaces the environment it and its daemons get (e.g. CURVE_NODE_ARGS). */
export async function startCluster(
  dataDir: string,
  port: number,
  extra: string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Cluster> {
  const proc = spawn(
    process.execPath,
    [
      LAUNCHER,
      '--data-dir',
      dataDir,
      '--port',
      String(port),
      '--log-level',
      process.env.CLUSTER_LOG_LEVEL ?? 'warn',
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  const stdout: string[] = [];
  const stderrTail: string[] = [];
  const pids: Cluster['pids'] = [];
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  const exited = new Promise<number | null>((r) =>
    proc.once('exit', (code) => {
      keep?.end();
      r(code);
    }),
  );
  readline.createInterface({ input: proc.stdout! }).on('line', (line) => {
    stdout.push(line);
    const m = /^\[cluster\] (\S+) pid (\d+):/.exec(line);
    if (m) pids.push({ name: m[1], pid: Number(m[2]) });
    for (const w of [...waiters])
      if (w.re.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
  });
  // CLUSTER_LOG=FILE keeps every daemon log line (for debugging a failure; the temp dir is removed).
  const keep = process.env.CLUSTER_LOG
    ? fs.createWriteStream(process.env.CLUSTER_LOG, { flags: 'a' })
    : undefined;
  readline.createInterface({ input: proc.stderr! }).on('line', (line) => {
    keep?.write(`${new Date().toISOString()} ${line}\n`);
    stderrTail.push(line);
    if (stderrTail.length > 40) stderrTail.shift();
  });
  const c: Cluster = {
    proc,
    dataDir,
    port,
    url: '',
    pids,
    stdout,
    stderrTail,
    exited,
    pidOf: (name) => [...pids].reverse().find((p) => p.name === name)?.pid,
    waitLine: (re, timeoutMs) => {
      const seen = stdout.find((l) => re.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line ${re} within ${timeoutMs} ms`)), timeoutMs);
        void exited.then((code) =>
          reject(new Error(`launcher exited (${code}) before ${re}: ${stderrTail.slice(-8).join('\n')}`)),
        );
        waiters.push({
          re,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
  };
  const ready = await c.waitLine(/^READY /, 120_000);
  c.url = ready.slice('READY '.length);
  return c;
}

/** SIGTERM the launcher and wait for it; returns its exit code. */
export async function stopCluster(c: Cluster, timeoutMs = 60_000): Promise<number | null> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return c.proc.exitCode;
  c.proc.kill('SIGTERM');
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), timeoutMs);
  const code = await c.exited;
  clearTimeout(timer);
  return code;
}

/** Last-resort cleanup: the launcher and every daemon it reported, by PID. */
export function killAll(c: Cluster): void {
  for (const p of [{ name: 'launcher', pid: c.proc.pid! }, ...c.pids])
    if (pidAlive(p.pid)) process.kill(p.pid, 'SIGKILL');
}

/** qemu-img --image-opts for a byte window of LUN 1 (of the launcher's target unless `iqn` is given). */
export function lunWindow(port: number, offset: number, size: number, iqn = IQN): string {
  return (
    `driver=raw,offset=${offset},size=${size},file.driver=iscsi,file.transport=tcp,` +
    `file.portal=127.0.0.1:${port},file.target=${iqn},file.lun=1`
  );
}

export function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}
