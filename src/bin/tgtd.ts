#!/usr/bin/env node
// tgtd: the iSCSI target daemon. Options follow Linux tgt's tgtd (-f, -C, --iscsi portal=..., -d, -p).
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import yargs from 'yargs';
import { ManagementServer, controlSocketPath } from '../admin/mgmt-server';
import { createLogger, setLogLevel } from '../common/log';
import { enableDefaultMetrics, serveMetrics } from '../common/metrics';
import { parseIscsiOptions, parsePortal } from '../iscsi/portal-spec';
import { IscsiServer } from '../iscsi/portal-server';
import { TargetRegistry } from '../target/registry';

const VERSION = '0.1.0';

async function main(): Promise<void> {
  const argv = yargs(process.argv.slice(2))
    .scriptName('tgtd')
    .usage('Usage: tgtd [OPTION]\nTarget framework daemon (iSCSI), tgt-compatible.')
    .option('foreground', { alias: 'f', type: 'boolean', default: false, describe: 'make the program run in the foreground' })
    .option('control-port', { alias: 'C', type: 'number', default: 0, describe: 'use port NUM for the management channel' })
    .option('iscsi', { type: 'string', array: true, default: [] as string[], describe: 'portal=ADDR[:PORT],nop_interval=S,nop_count=N' })
    .option('debug', { alias: 'd', type: 'number', default: 0, describe: 'debug level (1 = debug logging)' })
    .option('pid-file', { alias: 'p', type: 'string', describe: 'write the daemon pid to this file' })
    .option('nr_iothreads', { alias: 't', type: 'number', describe: 'accepted for compatibility (Node I/O uses the libuv pool)' })
    .option('metrics', { type: 'string', describe: 'serve Prometheus metrics on ADDR:PORT (default 127.0.0.1:<9470+control port>, "off" to disable)' })
    .version(VERSION)
    .alias('version', 'V')
    .help()
    .alias('help', 'h')
    .strict()
    .fail((msg, err) => {
      process.stderr.write(`tgtd: ${msg ?? err?.message}\n`);
      process.exit(1);
    })
    .parseSync();

  if (!argv.foreground) {
    daemonize();
    return;
  }
  if (argv.debug > 0) setLogLevel('debug');
  const log = createLogger('tgtd');
  const controlPort = argv['control-port'];

  let iscsi;
  try {
    iscsi = parseIscsiOptions(argv.iscsi);
  } catch (err) {
    process.stderr.write(`tgtd: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const portals = iscsi.portals.length > 0 ? iscsi.portals : [parsePortal('0.0.0.0:3260'), parsePortal('[::]:3260')];

  const registry = new TargetRegistry({ nopInterval: iscsi.nopInterval, nopCount: iscsi.nopCount });
  const server = new IscsiServer({ directory: registry, log: createLogger('iscsi') });
  const mgmt = new ManagementServer(registry);
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
  registry.setPortals(server.portals());
  registry.on('target-removed', (tid: number) => server.closeTargetSessions(tid, 'target deleted'));
  registry.on('target-offline', (tid: number) => server.closeTargetSessions(tid, 'target offline'));
  registry.on('lun-added', (tid: number, lun: number) => server.notifyLunChange(tid, lun));
  registry.on('lun-removed', (tid: number, lun: number) => server.notifyLunChange(tid, lun));
  registry.setSessionSource?.((tid: number) => server.sessions.ofTarget(tid).map((s) => s.info()));

  enableDefaultMetrics('tgtd_');
  const metricsSpec = argv.metrics ?? `127.0.0.1:${9470 + controlPort}`;
  if (metricsSpec !== 'off') {
    const m = parseMetricsAddress(metricsSpec);
    try {
      const ms = await serveMetrics(m.address, m.port);
      ms.unref();
      const addr = ms.address();
      log.info('metrics', { address: m.address, port: typeof addr === 'object' && addr ? addr.port : m.port });
    } catch (err) {
      log.warn('metrics endpoint unavailable', { spec: metricsSpec, err });
    }
  }

  if (argv['pid-file']) fs.writeFileSync(argv['pid-file'], `${process.pid}\n`);
  log.info('tgtd started', { version: VERSION, controlPort, socket: socketPath, pid: process.pid });

  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal: sig });
    void Promise.allSettled([server.close(), mgmt.close(), registry.close?.()]).then(() => {
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

/** `ADDR:PORT` for the metrics endpoint; port 0 picks a free port (tests). */
function parseMetricsAddress(spec: string): { address: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(spec);
  if (!m || Number(m[2]) > 65535) {
    process.stderr.write(`tgtd: bad --metrics '${spec}': expected ADDR:PORT or off\n`);
    process.exit(1);
  }
  return { address: m[1] || '127.0.0.1', port: Number(m[2]) };
}

/** Without -f, run ourselves in the background (like tgt) and return once the child is up. */
function daemonize(): void {
  const child = spawn(process.execPath, [process.argv[1], ...process.argv.slice(2), '-f'], {
    detached: true,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  child.unref();
  process.exit(0);
}

main().catch((err: Error) => {
  process.stderr.write(`tgtd: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
