// Starts a private tgtd (ours or Debian's) on loopback for integration tests, with its own
// management socket directory, random ports and guaranteed clean-up.
import { spawn, ChildProcess } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants as fsConstants,
  existsSync,
  openSync,
  rmSync,
  truncateSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { DAEMON_NODE_FLAGS } from '../../src/common/daemon-node-flags';
import { freePort } from './ports';

export type TgtdImpl = 'ours' | 'debian';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface StartOptions {
  impl?: TgtdImpl;
  /** Extra `--iscsi portal=` values; the first listening portal is always 127.0.0.1:<port>. */
  portals?: string[];
  /** Environment added to the daemon's (e.g. LOG_LEVEL). */
  env?: NodeJS.ProcessEnv;
  /** More daemon arguments (ours only), e.g. `['--state-dir', dir]`. */
  args?: string[];
}

export interface Daemon {
  impl: TgtdImpl;
  port: number;
  controlPort: number;
  dir: string;
  pid: number;
  /** Runs tgtadm with `-C <controlPort>` (and `--lld iscsi` unless given) against this daemon. */
  tgtadm(args: string[]): Promise<RunResult>;
  /** Like tgtadm() but throws with the output when the exit code is not 0. */
  tgtadmOk(args: string[]): Promise<RunResult>;
  url(iqn: string, lun: number): string;
  /** Stops the daemon (ours: with `signal`, default SIGTERM; SIGKILL after 5 s) and removes its dir. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  stderrLines(): string[];
}

/** Which Debian package ships each external tool the tests use. */
const TOOL_PACKAGES: Record<string, string> = {
  'iscsi-test-cu': 'libiscsi-bin',
  'iscsi-perf': 'libiscsi-bin',
  'iscsi-inq': 'libiscsi-bin',
  'iscsi-ls': 'libiscsi-bin',
  'iscsi-readcapacity16': 'libiscsi-bin',
  'qemu-img': 'qemu-utils',
  tgtd: 'tgt',
  tgtadm: 'tgt',
  etcd: 'etcd-server',
  python3: 'python3',
};

const SEARCH_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The absolute path of an executable on PATH or in the usual sbin/bin dirs. */
export function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...SEARCH_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/** Returns the tool's absolute path or throws the message scripts/test.sh users act on. */
export function requireTool(name: string): string {
  const found = findTool(name);
  if (found) return found;
  const pkg = TOOL_PACKAGES[name] ?? name;
  throw new Error(
    `missing tool ${name}: run 'apt-get install -y ${pkg}' (scripts/test.sh does this as root)`,
  );
}

/** Runs a command to completion, capturing output; kills it (SIGKILL) when timeoutMs passes. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs);
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    });
  });
}

export { freePort };

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Our compiled entry points. The helper runs from <root>/dist/test/helpers or from a helper's
 * private build dir (<root>/dist-X/test/helpers); both use <root>/dist, unless TGTD_BIN is set.
 */
export function ourBinaries(): { tgtd: string; tgtadm: string } {
  const tgtd =
    process.env.TGTD_BIN ?? path.resolve(__dirname, '..', '..', '..', 'dist', 'src', 'bin', 'tgtd.js');
  const tgtadm = process.env.TGTADM_BIN ?? path.join(path.dirname(tgtd), 'tgtadm.js');
  return { tgtd, tgtadm };
}

export function defaultImpl(): TgtdImpl {
  const v = process.env.TGTD_IMPL ?? 'ours';
  if (v !== 'ours' && v !== 'debian') throw new Error(`TGTD_IMPL must be 'ours' or 'debian', not '${v}'`);
  return v;
}

// Daemons still alive when the test process ends are killed hard, whatever the way out.
const live = new Map<number, { child: ChildProcess; dir: string }>();
let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  const killAll = (): void => {
    for (const [pid, { dir }] of live) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    }
    live.clear();
  };
  process.on('exit', killAll);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(sig === 'SIGTERM' ? 143 : 130);
    });
  }
}

const MAX_LOG_LINES = 20000;

export async function startTgtd(opts: StartOptions = {}): Promise<Daemon> {
  const impl = opts.impl ?? defaultImpl();
  const dir = await mkdtemp(path.join(os.tmpdir(), `tgtd-${impl}-`));
  const port = await freePort();
  // The control port only names the socket file inside our private dir; tgt accepts 0..32767.
  const controlPort = 1000 + Math.floor(Math.random() * 31000);
  const socketBase = path.join(dir, 'socket');
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env, TGT_IPC_SOCKET: socketBase };
  const portals = [`127.0.0.1:${port}`, ...(opts.portals ?? [])];
  const daemonArgs = ['-f', '-C', String(controlPort), ...portals.flatMap((p) => ['--iscsi', `portal=${p}`])];

  let cmd: string;
  let args: string[];
  let adminCmd: string;
  let adminPrefix: string[];
  if (impl === 'debian') {
    cmd = requireTool('tgtd');
    adminCmd = requireTool('tgtadm');
    args = daemonArgs;
    adminPrefix = [];
  } else {
    const bins = ourBinaries();
    if (!existsSync(bins.tgtd)) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`our tgtd is not built: ${bins.tgtd} is missing (run 'npm run build' or set TGTD_BIN)`);
    }
    cmd = process.execPath;
    args = [...DAEMON_NODE_FLAGS, bins.tgtd, ...daemonArgs, ...(opts.args ?? [])];
    adminCmd = process.execPath;
    adminPrefix = [bins.tgtadm];
  }

  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const collect = (stream: NodeJS.ReadableStream): void => {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const l of parts) if (lines.length < MAX_LOG_LINES) lines.push(l);
    });
    stream.on('end', () => {
      if (partial && lines.length < MAX_LOG_LINES) lines.push(partial);
    });
  };
  collect(child.stdout!);
  collect(child.stderr!);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(child.pid ?? -1);
      resolve();
    });
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  hookExit();
  if (child.pid !== undefined) live.set(child.pid, { child, dir });

  const tgtadm = (a: string[]): Promise<RunResult> => {
    const hasLld = a.includes('--lld') || a.includes('-L');
    const full = [...adminPrefix, '-C', String(controlPort), ...(hasLld ? [] : ['--lld', 'iscsi']), ...a];
    return run(adminCmd, full, { env: { TGT_IPC_SOCKET: socketBase }, timeoutMs: 30_000 });
  };
  const tgtadmOk = async (a: string[]): Promise<RunResult> => {
    const r = await tgtadm(a);
    if (r.code !== 0) {
      throw new Error(`tgtadm ${a.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    }
    return r;
  };

  let stopped = false;
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      if (impl === 'debian') {
        // tgt ignores SIGTERM while targets exist: remove them first.
        const show = await tgtadm(['--op', 'show', '--mode', 'target']).catch(() => undefined);
        const tids = [...(show?.stdout ?? '').matchAll(/^Target (\d+):/gm)].map((m) => m[1]);
        for (const tid of tids) {
          await tgtadm(['--op', 'delete', '--force', '--mode', 'target', '--tid', tid]).catch(
            () => undefined,
          );
        }
        // It exits about 2 s after this request; it ignores SIGTERM altogether.
        await tgtadm(['--op', 'delete', '--mode', 'system']).catch(() => undefined);
      } else {
        child.kill(signal);
      }
      let timer: NodeJS.Timeout | undefined;
      const gone = await Promise.race([
        exitPromise.then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 5000))),
      ]);
      clearTimeout(timer);
      if (!gone) {
        child.kill('SIGKILL');
        await exitPromise;
      }
    }
    await rm(dir, { recursive: true, force: true });
  };

  // Ready = the iSCSI port accepts connections and the management socket exists.
  const socketPath = `${socketBase}.${controlPort}`;
  const deadline = Date.now() + 20_000;
  while (true) {
    const failed = await Promise.race([spawnError, sleep(0).then(() => undefined)]);
    if (failed || exited) {
      await stop();
      const why = failed ? failed.message : `exited with ${exited?.code ?? exited?.signal}`;
      throw new Error(`tgtd (${impl}) failed to start: ${why}\n${lines.join('\n')}`);
    }
    if (existsSync(socketPath) && (await canConnect(port))) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`tgtd (${impl}) not ready after 20 s on port ${port}\n${lines.join('\n')}`);
    }
    await sleep(50);
  }

  return {
    impl,
    port,
    controlPort,
    dir,
    pid: child.pid!,
    tgtadm,
    tgtadmOk,
    url: (iqn, lun) => `iscsi://127.0.0.1:${port}/${iqn}/${lun}`,
    stop,
    stderrLines: () => [...lines],
  };
}

/** Creates a sparse file of `bytes` bytes (like truncate -s). */
export function makeSparseFile(file: string, bytes: number): void {
  closeSync(openSync(file, 'w'));
  truncateSync(file, bytes);
}

/** tgtadm steps for one target with one LUN bound to ALL initiators. */
export async function addTarget(
  d: Daemon,
  t: { tid: number; iqn: string; lun?: number; store: 'rdwr' | 'null' | 'mem'; path: string },
): Promise<void> {
  const tid = String(t.tid);
  await d.tgtadmOk(['--op', 'new', '--mode', 'target', '--tid', tid, '-T', t.iqn]);
  await d.tgtadmOk([
    '--op',
    'new',
    '--mode',
    'logicalunit',
    '--tid',
    tid,
    '--lun',
    String(t.lun ?? 1),
    '-E',
    t.store,
    '-b',
    t.path,
  ]);
  await d.tgtadmOk(['--op', 'bind', '--mode', 'target', '--tid', tid, '-I', 'ALL']);
}
