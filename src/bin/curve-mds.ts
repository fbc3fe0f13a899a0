#!/usr/bin/env -S node --initial-old-space-size=64
// curve-mds: the Curve metadata server. Config from a JSON file (--config) and flags (flags win).
// Exit codes: 0 after a clean shutdown, 1 on a runtime failure, 2 on bad configuration.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { createLogger } from '../common/log';
import { enableDefaultMetrics, serveMetrics } from '../common/metrics';
import {
  defaultMdsConfig,
  loadMdsConfigFile,
  MdsConfig,
  validateMdsAddresses,
} from '../curve/mds/mds-config';
import { MdsServer } from '../curve/mds/mds-server';

const log = createLogger('curve-mds');

function parseArgs(): MdsConfig {
  const argv = yargs(hideBin(process.argv))
    .scriptName('curve-mds')
    .usage('$0 [options]')
    .option('config', { type: 'string', describe: 'JSON config file' })
    .option('listen', {
      type: 'string',
      describe: 'gRPC address to bind, host:port (default 127.0.0.1:6700; 0.0.0.0:6700 for every interface)',
    })
    .option('advertise', {
      type: 'string',
      describe: 'host:port others know this MDS by (default: the listen address)',
    })
    .option('store', { choices: ['level', 'etcd'] as const, describe: 'metadata store' })
    .option('data-dir', { type: 'string', describe: 'embedded store directory' })
    .option('etcd', { type: 'string', describe: 'etcd endpoints, comma separated' })
    .option('lease-ttl', { type: 'number', describe: 'leader lease TTL, seconds' })
    .option('lease-margin-ms', {
      type: 'number',
      describe: 'stop serving this long before the lease could expire',
    })
    .option('session-lease-ms', { type: 'number' })
    .option('unstable-after-ms', { type: 'number' })
    .option('offline-after-ms', { type: 'number' })
    .option('recover-interval-ms', { type: 'number' })
    .option('metrics', { type: 'string', describe: "metrics host:port or 'off'" })
    .strict()
    .help()
    .fail((msg, err) => {
      process.stderr.write(`curve-mds: ${msg ?? err?.message}\n`);
      process.exit(2);
    })
    .parseSync();
  const fromFile = argv.config ? loadMdsConfigFile(argv.config) : {};
  const flags: Partial<MdsConfig> = {};
  if (argv.listen) flags.listen = argv.listen;
  if (argv.advertise) flags.advertise = argv.advertise;
  if (argv.store) flags.store = argv.store;
  if (argv['data-dir']) flags.dataDir = argv['data-dir'];
  if (argv.etcd) flags.etcdEndpoints = argv.etcd.split(',').map((s) => s.trim());
  if (argv['lease-ttl'] !== undefined) flags.leaseTtlSec = argv['lease-ttl'];
  if (argv['lease-margin-ms'] !== undefined) flags.leaseMarginMs = argv['lease-margin-ms'];
  if (argv['session-lease-ms'] !== undefined) flags.sessionLeaseMs = argv['session-lease-ms'];
  if (argv['unstable-after-ms'] !== undefined) flags.unstableAfterMs = argv['unstable-after-ms'];
  if (argv['offline-after-ms'] !== undefined) flags.offlineAfterMs = argv['offline-after-ms'];
  if (argv['recover-interval-ms'] !== undefined) flags.recoverIntervalMs = argv['recover-interval-ms'];
  if (argv.metrics) flags.metrics = argv.metrics;
  const config = { ...defaultMdsConfig, ...fromFile, ...flags };
  validateMdsAddresses(config);
  if (!(config.leaseTtlSec >= 1) || config.leaseMarginMs >= config.leaseTtlSec * 1000)
    throw new Error('lease TTL must be >= 1 s and larger than the margin');
  return config;
}

async function main(): Promise<void> {
  let config: MdsConfig;
  try {
    config = parseArgs();
  } catch (err) {
    process.stderr.write(`curve-mds: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const mds = new MdsServer(config);
  await mds.start();
  if (config.metrics !== 'off') {
    enableDefaultMetrics('curve_mds_');
    const i = config.metrics.lastIndexOf(':');
    const server = await serveMetrics(config.metrics.slice(0, i), Number(config.metrics.slice(i + 1)));
    const addr = server.address();
    log.info('metrics', { port: typeof addr === 'object' && addr ? addr.port : config.metrics });
  }
  // printed once everything is up: scripts and tests wait for this line
  process.stdout.write(`curve-mds listening on ${mds.address()}\n`);
  let stopping = false;
  const shutdown = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal: sig });
    mds.stop().then(
      () => process.exit(0),
      (err: Error) => {
        log.error('shutdown failed', { err });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: Error) => {
  log.error('fatal', { err });
  process.exit(1);
});
