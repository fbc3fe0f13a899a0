#!/usr/bin/env node
// curve-cluster: the whole system on one machine, in the foreground. Each daemon is its own OS process
// (an MDS on the embedded store, 3 chunkservers in 3 zones, tgtd), with its data directory on its command
// line, so one can be killed on its own as on a real cluster. Builds nothing (scripts/start.sh does).
//   curve-cluster [--data-dir ./data] [--port 3260] [--size 10GiB] [--listen 127.0.0.1] ...
// Prints a summary, then exactly one line `READY <libiscsi URL of LUN 1>` once a real iSCSI login works.
// SIGINT/SIGTERM stop tgtd, then the chunkservers, then the MDS. A restart reuses the data directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import yargs from 'yargs';
import { MdsClient } from '../curve/mds/mds-client';
import { parseTopologyFile, planTopologyApply, type TopologyFile } from '../curve/mds/topology-file';
import { DAEMON_NODE_FLAGS } from '../common/daemon-node-flags';

const ZONES = 3;
const OWNER = 'root';
const GiB = 1024 ** 3;

interface Options {
  dataDir: string;
  port: number;
  listen: string;
  size: number;
  volume: string;
  iqn: string;
  mdsPort?: number;
  csPort?: number;
  copysets: number;
  restartDelayMs: number;
  logLevel: string;
}

/**
 * What must not change once data exists: chunkservers are known to the MDS and to their copysets by
 * ip:port, and the MDS is reached at ip:mdsPort.
 */
interface ClusterState {
  /** The address the daemons are known by (absent in data of older versions: 127.0.0.1). */
  ip: string;
  mdsPort: number;
  csPorts: number[];
}

class LaunchError extends Error {}
/** Bad command line: exit code 2. */
class UsageError extends LaunchError {}

function say(line: string): void {
  process.stdout.write(`[cluster] ${line}\n`);
}

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?$/i.exec(s.trim());
  if (!m) throw new UsageError(`bad size '${s}' (e.g. 10GiB)`);
  const unit = (m[2] ?? 'B').toUpperCase()[0];
  const mult = { B: 1, K: 1024, M: 1024 ** 2, G: GiB, T: 1024 ** 4 }[unit] ?? 1;
  return Math.round(Number(m[1]) * mult);
}

function parseArgs(): Options {
  const argv = yargs(process.argv.slice(2))
    .scriptName('curve-cluster')
    .usage('$0 [options]\nRuns an MDS, 3 chunkservers and tgtd on this machine, exporting one Curve volume.')
    .option('data-dir', { type: 'string', default: './data', describe: 'kept across restarts' })
    .option('port', { type: 'number', default: 3260, describe: 'iSCSI port' })
    .option('listen', {
      type: 'string',
      default: '127.0.0.1',
      describe: 'address every daemon binds: iSCSI, MDS, chunkservers (0.0.0.0 for every interface)',
    })
    .option('size', { type: 'string', default: '10GiB', describe: 'volume size when it is created' })
    .option('volume', { type: 'string', default: '/vol0' })
    .option('iqn', { type: 'string', default: 'iqn.2026-11.io.curve:vol0' })
    .option('mds-port', { type: 'number', describe: 'MDS port (default: --port + 1)' })
    .option('cs-port', { type: 'number', describe: 'first of 3 chunkserver ports (default: --port + 2)' })
    .option('copysets', { type: 'number', default: 16, describe: 'copysets of the logical pool' })
    .option('restart-delay', {
      type: 'number',
      default: 3,
      describe: 'seconds before a dead daemon restarts',
    })
    .option('log-level', { type: 'string', default: process.env.LOG_LEVEL ?? 'info' })
    .strict()
    .exitProcess(false)
    .fail((msg, err) => {
      throw new UsageError(msg ?? err?.message ?? 'bad arguments');
    })
    .parseSync();
  if (argv.help || argv.version) process.exit(0);
  const port = argv.port;
  if (!Number.isInteger(port) || port <= 0 || port > 65530) throw new UsageError(`bad --port ${port}`);
  return {
    dataDir: path.resolve(argv['data-dir']),
    port,
    listen: argv.listen,
    size: parseSize(argv.size),
    volume: argv.volume,
    iqn: argv.iqn,
    mdsPort: argv['mds-port'],
    csPort: argv['cs-port'],
    copysets: argv.copysets,
    restartDelayMs: argv['restart-delay'] * 1000,
    logLevel: argv['log-level'],
  };
}

const isWildcard = (host: string): boolean => host === '0.0.0.0';

function loadState(o: Options): ClusterState {
  const file = path.join(o.dataDir, 'cluster.json');
  let state: Partial<ClusterState> | undefined;
  if (fs.existsSync(file)) state = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<ClusterState>;
  const csBase = o.csPort ?? o.port + 2;
  // The daemons are known by the listen address, or by loopback when they listen on every interface.
  const ip = state ? (state.ip ?? '127.0.0.1') : isWildcard(o.listen) ? '127.0.0.1' : o.listen;
  if (!isWildcard(o.listen) && o.listen !== ip)
    throw new UsageError(
      `the data in ${o.dataDir} belongs to daemons known as ${ip}: use --listen ${ip} or --listen 0.0.0.0`,
    );
  const wanted: ClusterState = {
    ip,
    mdsPort: o.mdsPort ?? state?.mdsPort ?? o.port + 1,
    csPorts: state?.csPorts ?? Array.from({ length: ZONES }, (_, i) => csBase + i),
  };
  if (state?.csPorts && o.csPort !== undefined && o.csPort !== state.csPorts[0])
    say(`keeping chunkserver ports ${state.csPorts.join(',')} of the existing data (--cs-port ignored)`);
  fs.writeFileSync(file, JSON.stringify(wanted, null, 2) + '\n');
  return wanted;
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** The iSCSI port answers a connect: another target (Debian's tgt listens on 3260) is there. */
function portAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: host === '0.0.0.0' ? '127.0.0.1' : host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Extra node options for every daemon, e.g. CURVE_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'
 * (options NODE_OPTIONS does not allow, such as --cpu-prof).
 */
const NODE_ARGS = [...DAEMON_NODE_FLAGS, ...(process.env.CURVE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)];

/** One supervised daemon: logs forwarded with a prefix, restarted when it dies unless we are stopping. */
class Daemon {
  proc?: ChildProcess;
  private exited: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(
    readonly name: string,
    private readonly script: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly readyText: string | undefined,
    private readonly onDeath: (d: Daemon) => void,
  ) {}

  /** Resolves when the ready text appears on stdout (or at once without one). */
  start(): Promise<void> {
    const proc = spawn(process.execPath, [...NODE_ARGS, this.script, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: this.env,
      // Own process group: a terminal's Ctrl-C reaches only us, and we stop the daemons in order.
      detached: true,
    });
    this.proc = proc;
    say(`${this.name} pid ${proc.pid}: ${path.basename(this.script)} ${this.args.join(' ')}`);
    const forward = (stream: NodeJS.ReadableStream): readline.Interface => {
      const rl = readline.createInterface({ input: stream });
      rl.on('line', (line) => process.stderr.write(`[${this.name}] ${line}\n`));
      return rl;
    };
    const out = forward(proc.stdout!);
    forward(proc.stderr!);
    this.exited = new Promise<void>((resolve) =>
      proc.once('exit', (code, signal) => {
        if (!this.stopping) {
          say(`${this.name} (pid ${proc.pid}) exited (${signal ?? `code ${code}`})`);
          this.onDeath(this);
        }
        resolve();
      }),
    );
    if (!this.readyText) return Promise.resolve();
    const text = this.readyText;
    return new Promise<void>((resolve, reject) => {
      const onLine = (line: string): void => {
        if (line.includes(text)) {
          out.off('line', onLine);
          resolve();
        }
      };
      out.on('line', onLine);
      void this.exited.then(() => reject(new LaunchError(`${this.name} exited before it was ready`)));
    });
  }

  get running(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** SIGTERM, then SIGKILL after the grace period. */
  async stop(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    if (!this.running) return;
    this.proc!.kill('SIGTERM');
    const timer = setTimeout(() => this.proc?.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

function topologyFile(o: Options, st: ClusterState, withLogicalPool: boolean): TopologyFile {
  const zones = Array.from({ length: ZONES }, (_, i) => i + 1);
  return {
    physicalPools: [{ name: 'pool1' }],
    zones: zones.map((z) => ({ name: `zone${z}`, physicalPool: 'pool1' })),
    servers: zones.map((z) => ({
      name: `server${z}`,
      internalIp: st.ip,
      internalPort: st.csPorts[z - 1],
      zone: `zone${z}`,
      physicalPool: 'pool1',
    })),
    logicalPools: withLogicalPool
      ? [{ name: 'lp1', physicalPool: 'pool1', copysetNum: o.copysets, replicaNum: 3 }]
      : [],
  };
}

type Rec = Record<string, unknown>;

async function topoCall(c: MdsClient, method: string, req: Rec): Promise<Rec> {
  const r = await c.call<Rec>('topology', method, req);
  if (r.statusCode !== 0) throw new LaunchError(`${method}: topology status ${String(r.statusCode)}`);
  return r;
}

/** Creates what the topology lacks (idempotent, like `curve topology apply`). */
async function applyTopology(c: MdsClient, file: TopologyFile): Promise<string[]> {
  const pools = (await topoCall(c, 'ListPhysicalPool', {})).physicalPoolInfos as Rec[];
  const zones = (await topoCall(c, 'ListPoolZone', {})).zones as Rec[];
  const servers = (await topoCall(c, 'ListZoneServer', {})).serverInfo as Rec[];
  const lps = (await topoCall(c, 'ListLogicalPool', {})).logicalPoolInfos as Rec[];
  const actions = planTopologyApply(parseTopologyFile(JSON.stringify(file)), {
    physicalPools: (pools ?? []).map((p) => String(p.physicalPoolName)),
    zones: (zones ?? []).map((z) => `${String(z.physicalPoolName)}/${String(z.zoneName)}`),
    servers: (servers ?? []).map((s) => String(s.hostName)),
    logicalPools: (lps ?? []).map((l) => String(l.logicalPoolName)),
  });
  for (const a of actions) await topoCall(c, a.kind, a.req);
  return actions.map((a) => a.kind);
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(200);
  }
  throw new LaunchError(`${what} within ${timeoutMs / 1000} s${last ? `: ${(last as Error).message}` : ''}`);
}

function runNode(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => resolve({ code: code ?? 1, out }));
  });
}

/**
 * A real iSCSI login (normal session, straight to the operational stage, no authentication) on LUN 1's
 * target: resolves true when the target answers with status class 0 (success).
 */
function iscsiLogin(host: string, port: number, iqn: string): Promise<boolean> {
  const keys =
    [
      `InitiatorName=iqn.2026-11.io.curve:cluster-probe`,
      `TargetName=${iqn}`,
      'SessionType=Normal',
      'HeaderDigest=None',
      'DataDigest=None',
    ].join('\0') + '\0';
  const data = Buffer.from(keys);
  const padded = Buffer.alloc((data.length + 3) & ~3);
  data.copy(padded);
  const bhs = Buffer.alloc(48);
  bhs[0] = 0x43; // Login Request, immediate
  bhs[1] = 0x80 | (1 << 2) | 3; // Transit, CSG operational, NSG full feature
  bhs.writeUIntBE(data.length, 5, 3);
  bhs[8] = 0x80; // ISID type: random
  randomBytes(5).copy(bhs, 9);
  bhs.writeUInt32BE(1, 16); // ITT
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    let got = Buffer.alloc(0);
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(5000, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write(Buffer.concat([bhs, padded])));
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 48) done((got[0] & 0x3f) === 0x23 && got[36] === 0);
    });
  });
}

async function main(): Promise<number> {
  const o = parseArgs();
  const connectHost = o.listen === '0.0.0.0' ? os.hostname() : o.listen;
  fs.mkdirSync(o.dataDir, { recursive: true });
  if (await portAnswers(o.listen, o.port))
    throw new LaunchError(
      `port ${o.port} on ${o.listen} is already in use (Debian's system tgt listens on 3260); ` +
        `stop it or choose another port: --port ${o.port + 10}`,
    );
  const st = loadState(o);
  const host = st.ip;
  for (const p of [st.mdsPort, ...st.csPorts])
    if (!(await portFree(o.listen, p)))
      throw new LaunchError(
        `port ${p} on ${o.listen} is in use; choose others with --mds-port/--cs-port or --port`,
      );
  fs.writeFileSync(
    path.join(o.dataDir, 'topology.json'),
    JSON.stringify(topologyFile(o, st, true), null, 2) + '\n',
  );

  const bin = __dirname;
  const mdsAddr = `${host}:${st.mdsPort}`;
  const childEnv = { ...process.env, LOG_LEVEL: o.logLevel };
  let shuttingDown = false;
  const daemons: Daemon[] = [];
  let fatal: (err: Error) => void = () => undefined;
  const fatalP = new Promise<never>((_, reject) => (fatal = reject));
  fatalP.catch(() => undefined);

  const onDeath = (d: Daemon): void => {
    if (shuttingDown) return;
    if (d.name === 'tgtd') {
      fatal(new LaunchError('tgtd died; stopping the cluster'));
      return;
    }
    say(`restarting ${d.name} in ${o.restartDelayMs / 1000} s`);
    setTimeout(() => {
      if (shuttingDown || d.running) return;
      d.start().then(
        () => say(`${d.name} restarted, pid ${d.proc?.pid}`),
        (err: Error) => say(`${d.name} restart failed: ${err.message}`),
      );
    }, o.restartDelayMs).unref();
  };

  const stopAll = async (): Promise<void> => {
    shuttingDown = true;
    const tgtd = daemons.find((d) => d.name === 'tgtd');
    if (tgtd) await tgtd.stop();
    await Promise.all(daemons.filter((d) => d.name.startsWith('cs')).map((d) => d.stop()));
    const mds = daemons.find((d) => d.name === 'mds');
    if (mds) await mds.stop();
  };
  let signalled: (sig: string) => void = () => undefined;
  const signalP = new Promise<string>((r) => (signalled = r));
  process.on('SIGINT', () => signalled('SIGINT'));
  process.on('SIGTERM', () => signalled('SIGTERM'));
  const interruptible = <T>(p: Promise<T>): Promise<T> =>
    Promise.race([p, fatalP, signalP.then((s) => Promise.reject(new LaunchError(`interrupted by ${s}`)))]);

  let mdsClient: MdsClient | undefined;
  try {
    // MDS on the embedded store.
    const mds = new Daemon(
      'mds',
      path.join(bin, 'curve-mds.js'),
      [
        '--listen',
        `${o.listen}:${st.mdsPort}`,
        '--store',
        'level',
        '--data-dir',
        path.join(o.dataDir, 'mds'),
        '--metrics',
        'off',
      ],
      childEnv,
      'listening on',
      onDeath,
    );
    daemons.push(mds);
    await interruptible(mds.start());
    mdsClient = new MdsClient([mdsAddr]);
    const c = mdsClient;
    const created = await interruptible(applyTopology(c, topologyFile(o, st, false)));
    if (created.length) say(`topology: ${created.join(', ')}`);

    // Three chunkservers, one per zone (server<N> lives in zone<N>).
    await interruptible(
      Promise.all(
        st.csPorts.map((port, i) => {
          const d = new Daemon(
            `cs${i + 1}`,
            path.join(bin, 'curve-chunkserver.js'),
            [
              '--ip',
              host,
              '--port',
              String(port),
              '--listen',
              o.listen,
              '--data-dir',
              path.join(o.dataDir, `cs${i + 1}`),
              '--mds',
              mdsAddr,
              '--server-name',
              `server${i + 1}`,
              '--pool-target-count',
              '4',
              '--heartbeat-interval-ms',
              '1000',
              '--metrics',
              'off',
            ],
            childEnv,
            'listening on',
            onDeath,
          );
          daemons.push(d);
          return d.start();
        }),
      ),
    );
    await interruptible(
      waitFor('3 chunkservers registered with the MDS', 60_000, async () => {
        const r = await topoCall(c, 'ListChunkServer', {});
        return ((r.chunkServerInfos as Rec[]) ?? []).length >= ZONES ? true : undefined;
      }),
    );
    const lp = await interruptible(applyTopology(c, topologyFile(o, st, true)));
    if (lp.length) say(`logical pool lp1 created with ${o.copysets} copysets`);

    // The volume, thin (segments are allocated on first write).
    const createRes = await interruptible(
      c.call<Rec>('nameserver', 'CreateFile', {
        fileName: o.volume,
        owner: OWNER,
        fileType: 1,
        fileLength: o.size,
        date: Date.now(),
      }),
    );
    if (createRes.statusCode === 0) say(`volume ${o.volume} created (${o.size / GiB} GiB, thin)`);
    else if (createRes.statusCode === 101) say(`volume ${o.volume} exists; reusing it`);
    else throw new LaunchError(`CreateFile ${o.volume}: status ${String(createRes.statusCode)}`);

    // tgtd, with its management socket and state inside the data directory.
    let socketBase = path.join(o.dataDir, 'tgtd', 'socket');
    if (socketBase.length > 90)
      socketBase = path.join(os.tmpdir(), `curve-cluster-${st.mdsPort}-${process.pid}.socket`);
    fs.mkdirSync(path.join(o.dataDir, 'tgtd'), { recursive: true });
    const socket = `${socketBase}.0`;
    fs.rmSync(socket, { force: true });
    const tgtEnv = { ...childEnv, TGT_IPC_SOCKET: socketBase };
    const tgtd = new Daemon(
      'tgtd',
      path.join(bin, 'tgtd.js'),
      [
        '-f',
        '-C',
        '0',
        '--iscsi',
        `portal=${o.listen}:${o.port}`,
        '--state-dir',
        path.join(o.dataDir, 'tgtd'),
        '--metrics',
        'off',
      ],
      tgtEnv,
      undefined,
      onDeath,
    );
    daemons.push(tgtd);
    await tgtd.start();
    await interruptible(
      waitFor('tgtd management socket', 30_000, async () => (fs.existsSync(socket) ? true : undefined)),
    );
    const admin = async (...args: string[]): Promise<void> => {
      const r = await runNode(path.join(bin, 'tgtadm.js'), ['-C', '0', '--lld', 'iscsi', ...args], tgtEnv);
      if (r.code !== 0) throw new LaunchError(`tgtadm ${args.join(' ')}: ${r.out.trim()}`);
    };
    await interruptible(admin('--op', 'new', '--mode', 'target', '--tid', '1', '-T', o.iqn));
    await interruptible(
      admin(
        '--op', 'new', '--mode', 'logicalunit', '--tid', '1', '--lun', '1',
        '--bstype', 'curve', '--backing-store', o.volume, '--bsopts', `mds=${mdsAddr}`,
      ), // prettier-ignore
    );
    // Thin: UNMAP and WRITE SAME with UNMAP deallocate (whole segments on the MDS), GET LBA STATUS
    // reports segment allocation.
    await interruptible(
      admin(
        '--op',
        'update',
        '--mode',
        'logicalunit',
        '--tid',
        '1',
        '--lun',
        '1',
        '-P',
        'thin_provisioning=1',
      ),
    );
    await interruptible(admin('--op', 'bind', '--mode', 'target', '--tid', '1', '-I', 'ALL'));

    const loginHost = o.listen === '0.0.0.0' ? host : o.listen;
    await interruptible(
      waitFor('an iSCSI login to succeed', 60_000, async () =>
        (await iscsiLogin(loginHost, o.port, o.iqn)) ? true : undefined,
      ),
    );
    const portal = `${connectHost}:${o.port}`;
    const url = `iscsi://${portal}/${o.iqn}/1`;
    const pids = daemons.map((d) => `${d.name}=${d.proc?.pid}`).join(' ');
    process.stdout.write(
      [
        '',
        `Curve cluster in ${o.dataDir} (pids: ${pids})`,
        `  MDS          ${mdsAddr}          (curve --mds ${mdsAddr} status)`,
        ...st.csPorts.map(
          (p, i) => `  chunkserver  ${host}:${p}  zone${i + 1}  ${path.join(o.dataDir, `cs${i + 1}`)}`,
        ),
        `  volume       ${o.volume}  ${o.size / GiB} GiB thin, owner ${OWNER}`,
        `  iSCSI        ${o.listen}:${o.port}  target ${o.iqn}  LUN 1 (bstype curve)`,
        ...(o.listen === host ? [] : [`  (MDS and chunkservers listen on ${o.listen}, known as ${host})`]),
        'Connect with',
        `  open-iscsi:  iscsiadm -m discovery -t sendtargets -p ${portal}`,
        `               iscsiadm -m node -T ${o.iqn} -p ${portal} --login`,
        `  libiscsi:    iscsi-inq ${url}`,
        'Stop with Ctrl-C; the next start reuses the data.',
        '',
        `READY ${url}`,
        '',
      ].join('\n'),
    );
    await Promise.race([signalP, fatalP]);
    say('stopping: tgtd, then chunkservers, then the MDS');
    return 0;
  } catch (err) {
    process.stderr.write(`curve-cluster: ${(err as Error).message}\n`);
    return 1;
  } finally {
    mdsClient?.close();
    await stopAll();
    say('stopped');
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `curve-cluster: ${err instanceof LaunchError ? err.message : String((err as Error)?.stack ?? err)}\n`,
    );
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
