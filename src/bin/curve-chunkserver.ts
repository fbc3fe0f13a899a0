#!/usr/bin/env -S node --initial-old-space-size=64
// curve-chunkserver: one chunkserver (one data directory = one disk).
//   curve-chunkserver [--config cs.json] [--ip IP] [--port N] [--listen HOST[:PORT]] [--data-dir DIR]
//                     [--mds a:p,b:p] ...
// Prints "curve-chunkserver listening on ip:port" on stdout when ready. Exit codes: 0 clean stop
// (SIGTERM/SIGINT), 1 runtime failure, 2 bad configuration.
import yargs from 'yargs';
import { createLogger } from '../common/log';
import { Chunkserver } from '../curve/chunkserver/chunkserver';
import {
  ConfigError,
  loadConfigFile,
  resolveConfig,
  type ChunkserverConfig,
} from '../curve/chunkserver/chunkserver-config';

const log = createLogger('curve-chunkserver');

async function main(): Promise<number> {
  const argv = yargs(process.argv.slice(2))
    .scriptName('curve-chunkserver')
    .option('config', { type: 'string', describe: 'JSON config file' })
    .option('ip', { type: 'string', describe: 'address the MDS, clients and peers know us by' })
    .option('port', { type: 'number' })
    .option('listen', {
      type: 'string',
      describe: 'address to bind, host[:port] (default: --ip; 0.0.0.0 for every interface)',
    })
    .option('data-dir', { type: 'string' })
    .option('mds', { type: 'string', describe: 'MDS addresses, comma separated' })
    .option('server-name', { type: 'string' })
    .option('chunk-size', { type: 'number' })
    .option('page-size', { type: 'number' })
    .option('pool-target-count', { type: 'number' })
    .option('pool-allow-create', { type: 'boolean' })
    .option('max-chunks', { type: 'number', describe: 'disk capacity in chunks (0 = unlimited)' })
    .option('tick-ms', { type: 'number' })
    .option('election-ticks', { type: 'number' })
    .option('snapshot-interval-entries', { type: 'number' })
    .option('snapshot-retain-entries', { type: 'number' })
    .option('snapshot-interval-bytes', {
      type: 'number',
      describe: 'also snapshot after this many bytes of entries (bounds the in-memory log; 0 = off)',
    })
    .option('snapshot-retain-bytes', { type: 'number', describe: 'log bytes kept below a snapshot' })
    .option('log-budget-bytes', {
      type: 'number',
      describe:
        'unsnapshotted log bytes of all copysets together before the largest snapshots (0 = no bound)',
    })
    .option('raft-segment-bytes', { type: 'number' })
    .option('snapshot-throttle', { type: 'number', describe: 'snapshot copy bytes/s (0 = unlimited)' })
    .option('max-inflight', { type: 'number' })
    .option('heartbeat-interval-ms', { type: 'number' })
    .option('metrics', { type: 'string', describe: 'host:port or off' })
    .strict()
    .help()
    .exitProcess(false)
    .fail((msg, err) => {
      throw new ConfigError(msg ?? err?.message ?? 'bad arguments');
    })
    .parseSync();
  // With exitProcess(false) yargs prints the help and returns: do not go on to start a chunkserver.
  if (argv.help) return 0;
  const flags: Partial<ChunkserverConfig> = {
    ip: argv.ip,
    port: argv.port,
    listen: argv.listen,
    dataDir: argv['data-dir'],
    mdsAddresses: argv.mds === undefined ? undefined : argv.mds.split(',').filter(Boolean),
    serverName: argv['server-name'],
    chunkSize: argv['chunk-size'],
    pageSize: argv['page-size'],
    poolTargetCount: argv['pool-target-count'],
    poolAllowCreate: argv['pool-allow-create'],
    maxChunks: argv['max-chunks'],
    tickMs: argv['tick-ms'],
    electionTicks: argv['election-ticks'],
    snapshotIntervalEntries: argv['snapshot-interval-entries'],
    snapshotRetainEntries: argv['snapshot-retain-entries'],
    snapshotIntervalBytes: argv['snapshot-interval-bytes'],
    snapshotRetainBytes: argv['snapshot-retain-bytes'],
    logBudgetBytes: argv['log-budget-bytes'],
    raftSegmentBytes: argv['raft-segment-bytes'],
    snapshotThrottleBytesPerSec: argv['snapshot-throttle'],
    maxInflightRequests: argv['max-inflight'],
    heartbeatIntervalMs: argv['heartbeat-interval-ms'],
    metrics: argv.metrics,
  };
  const cfg = resolveConfig(argv.config ? loadConfigFile(argv.config) : {}, flags);
  const cs = await Chunkserver.start(cfg);
  process.stdout.write(`curve-chunkserver listening on ${cs.endpoint}\n`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal });
      cs.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error('unclean stop', { err: err as Error });
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`curve-chunkserver: ${err.message}\n`);
      process.exit(2);
    }
    log.error('fatal', { err: err as Error });
    process.stderr.write(`curve-chunkserver: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
