#!/usr/bin/env -S node --initial-old-space-size=64
// tgtd: the iSCSI target daemon, with tgt's options: -f/--foreground, -D/--nodaemonize, -C/--control-port,
// -d/--debug, -p/--pid-file, -t/--nr_iothreads, --iscsi portal=...,nop_interval=S,nop_count=N, -V, -h.
// Ours besides: --state-dir DIR (persistent LU state), --metrics ADDR:PORT|off.
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import yargs from 'yargs';
import { ManagementServer, controlSocketPath } from '../admin/mgmt-server';
import { notifyReady } from '../admin/sd-notify';
import { createLogger, setLogLevel } from '../common/log';
import { enableDefaultMetrics, registry as promRegistry, serveMetrics } from '../common/metrics';
import { parseIscsiOptions, parsePortal } from '../iscsi/portal-spec';
import { IscsiServer } from '../iscsi/portal-server';
import { TargetRegistry } from '../target/registry';
import { registerTargetMetrics } from '../target/target-metrics';

const VERSION = '0.1.0';
const DEFAULT_STATE_DIR = '/var/lib/tgtd';

async function main(): Promise<void> {
  const argv = yargs(process.argv.slice(2))
    .scriptName('tgtd')
    .usage('Usage: tgtd [OPTION]\nLinux SCSI Target framework daemon (iSCSI), tgt-compatible.')
    .option('foreground', {
      alias: 'f',
      type: 'boolean',
      default: false,
      describe: 'make the program run in the foreground',
    })
    .option('nodaemonize', {
      alias: 'D',
      type: 'boolean',
      default: false,
      describe: 'run in the foreground, logging as a daemon does',
    })
    .option('control-port', {
      alias: 'C',
      type: 'number',
      default: 0,
      describe: 'use port NNNN for the mgmt channel',
    })
    .option('nr_iothreads', {
      alias: 't',
      type: 'number',
      describe: 'number of I/O threads (sets the libuv pool size)',
    })
    .option('pid-file', { alias: 'p', type: 'string', describe: 'specify the pid file' })
    .option('debug', {
      alias: 'd',
      type: 'number',
      default: 0,
      describe: 'print debugging information (level > 0)',
    })
    .option('iscsi', {
      type: 'string',
      array: true,
      default: [] as string[],
      describe: 'portal=ADDR[:PORT][,portal=...],nop_interval=S,nop_count=N',
    })
    .option('state-dir', {
      type: 'string',
      default: DEFAULT_STATE_DIR,
      describe: 'directory for persistent LU state (reservations)',
    })
    .option('metrics', {
      type: 'string',
      describe: 'serve Prometheus metrics on ADDR:PORT (default 127.0.0.1:<9470+control port>; "off")',
    })
    .version(VERSION)
    .alias('version', 'V')
    .help()
    .alias('help', 'h')
    .strict()
    .fail((msg, err) => {
      process.stderr.write(`tgtd: ${msg ?? err?.message}\nTry \`tgtd --help' for more information.\n`);
      process.exit(1);
    })
    .parseSync();

  const controlPort = argv['control-port'];
  // tgt keeps control ports in 0..32767 and says so in these words.
  if (!Number.isInteger(controlPort) || controlPort < 0 || controlPort > 32767) {
    process.stderr.write(
      `-C argument value '${controlPort}' out of range\nTry \`tgtd --help' for more information.\n`,
    );
    process.exit(22);
  }
  if (!argv.foreground && !argv.nodaemonize) {
    // A stale socket file from a crashed daemon would end the wait early; the child removes it.
    daemonize(controlPort);
    return;
  }
  if (argv.nr_iothreads !== undefined) {
    // Only effective before the first use of the pool, which has not happened yet.
    process.env.UV_THREADPOOL_SIZE = String(Math.max(1, Math.min(1024, Math.floor(argv.nr_iothreads))));
  }
  if (argv.debug > 0) setLogLevel('debug');
  const log = createLogger('tgtd');

  let iscsi;
  try {
    iscsi = parseIscsiOptions(argv.iscsi);
  } catch (err) {
    process.stderr.write(`tgtd: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const portals =
    iscsi.portals.length > 0 ? iscsi.portals : [parsePortal('0.0.0.0:3260'), parsePortal('[::]:3260')];

  const stateDir = argv['state-dir'];
  try {
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    log.warn('state directory unavailable: persistent reservations will not survive a restart', {
      stateDir,
      err,
    });
  }

  const registry = new TargetRegistry({ nopInterval: iscsi.nopInterval, nopCount: iscsi.nopCount, stateDir });
  const server = new IscsiServer({ directory: registry, log: createLogger('iscsi') });
  let stop: (why: string) => void = () => undefined;
  const mgmt = new ManagementServer(registry, { onSystem: () => stop('tgtadm --op delete --mode system') });
  const socketPath = controlSocketPath(controlPort);
  try {
    await mgmt.listen(socketPath);
  } catch (err) {
    log.error('cannot open the management socket', { path: socketPath, err });
    process.stderr.write(`tgtd: ${(err as Error).message}\n`);
    process.exit(1);
  }
  for (const p of portals) {
    try {
      await server.listen(p.address, p.port, 1);
    } catch (err) {
      // tgt keeps going when one of the default wildcard portals is unavailable (e.g. no IPv6).
      if (iscsi.portals.length > 0) {
        log.error('cannot listen on portal', { address: p.address, port: p.port, err });
        process.stderr.write(`tgtd: cannot listen on ${p.address}:${p.port}: ${(err as Error).message}\n`);
        await mgmt.close();
        process.exit(1);
      }
      log.warn('cannot listen on default portal', { address: p.address, port: p.port, err });
    }
  }
  wireTransport(registry, server);
  registry.on('debug', (on: boolean) => setLogLevel(on || argv.debug > 0 ? 'debug' : 'info'));
  registry.on('system-state', (state: string) => log.info('system state', { state }));

  enableDefaultMetrics('tgtd_');
  registerTargetMetrics(registry, promRegistry);
  const metricsSpec = argv.metrics ?? `127.0.0.1:${9470 + controlPort}`;
  if (metricsSpec !== 'off') {
    const m = parseMetricsAddress(metricsSpec);
    try {
      const ms = await serveMetrics(m.address, m.port);
      ms.unref();
      const addr = ms.address();
      log.info('metrics', {
        address: m.address,
        port: typeof addr === 'object' && addr ? addr.port : m.port,
      });
    } catch (err) {
      log.warn('metrics endpoint unavailable', { spec: metricsSpec, err });
    }
  }

  if (argv['pid-file']) fs.writeFileSync(argv['pid-file'], `${process.pid}\n`);
  log.info('tgtd started', { version: VERSION, controlPort, socket: socketPath, pid: process.pid, stateDir });
  void notifyReady(log);

  let stopping = false;
  stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { why });
    void Promise.allSettled([server.close(), mgmt.close()])
      .then(() => registry.close())
      .finally(() => {
        if (argv['pid-file']) fs.rmSync(argv['pid-file'], { force: true });
        process.exit(0);
      });
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('uncaughtException', (err) => {
    log.error('uncaught exception', { err: err.stack });
  });
}

/** Connect the target model to the transport: session lookups, closes, portal changes, LUN events. */
function wireTransport(registry: TargetRegistry, server: IscsiServer): void {
  registry.on('target-removed', (tid: number) => server.closeTargetSessions(tid, 'target deleted'));
  registry.on('target-offline', (tid: number) => server.closeTargetSessions(tid, 'target offline'));
  registry.on('lun-added', (tid: number, lun: number) => server.notifyLunChange(tid, lun));
  registry.on('lun-removed', (tid: number, lun: number) => server.notifyLunChange(tid, lun));
  registry.setSessionSource((tid: number) => server.sessions.ofTarget(tid).map((s) => s.info()));
  registry.setConnectionCloser((tid, sid, cid) => {
    const session = server.sessions.ofTarget(tid).find((s) => s.tsih === sid);
    if (!session) return 'no-session';
    if (cid === undefined) {
      session.close('tgtadm --op delete --mode conn');
      return 'ok';
    }
    const conn = session.connectionByCid(cid);
    if (!conn) return 'no-connection';
    conn.close();
    return 'ok';
  });
  registry.setPortalControl({
    add: async (address, port) => {
      await server.listen(address, port, 1);
    },
    remove: (address, port) => server.closePortal(address, port),
    list: () => server.portals(),
  });
}

/** `ADDR:PORT` for the metrics endpoint; port 0 picks a free port (tests). */
function parseMetricsAddress(spec: string): { address: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(spec);
  if (!m || Number(m[2]) > 65535) {
    process.stderr.write(`tgtd: bad --metrics '${spec}': expected ADDR:PORT or off\n`);
    process.exit(1);
  }
  return { address: m[1] || '127.0.0.1', port: Number(m[2]) };
}

/** Without -f/-D, run ourselves in the background (like tgt) and return once the child answers on
 *  its control socket (so a tgtadm run right after `tgtd` finds it), or exits. */
function daemonize(controlPort: number): void {
  const child = spawn(
    process.execPath,
    [...process.execArgv, process.argv[1], ...process.argv.slice(2), '-f'],
    {
      detached: true,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const socketPath = controlSocketPath(controlPort, { create: false });
  const started = Date.now();
  child.once('exit', (code) => process.exit(code ?? 1));
  const poll = setInterval(() => {
    if (fs.existsSync(socketPath) || Date.now() - started > 10_000) {
      clearInterval(poll);
      child.unref();
      process.exit(0);
    }
  }, 50);
}

main().catch((err: Error) => {
  process.stderr.write(`tgtd: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
