// MDS configuration: defaults, a JSON config file, then command-line flags (later wins).
import * as fs from 'node:fs';

export interface MdsConfig {
  /** gRPC address to bind, host:port (0.0.0.0:port for every interface) */
  listen: string;
  /**
   * host:port this MDS is known by (the leader address published in etcd, status answers); empty: the
   * listen address. Needed when listen is a wildcard address and the store is etcd.
   */
  advertise: string;
  store: 'level' | 'etcd';
  /** LevelDB directory (store=level) */
  dataDir: string;
  /** etcd endpoints, e.g. http://127.0.0.1:2379 (store=etcd) */
  etcdEndpoints: string[];
  electionKey: string;
  leaseTtlSec: number;
  leaseMarginMs: number;
  sessionLeaseMs: number;
  unstableAfterMs: number;
  offlineAfterMs: number;
  recoverIntervalMs: number;
  replicaIntervalMs: number;
  leaderIntervalMs: number;
  copysetIntervalMs: number;
  operatorTimeoutMs: number;
  operatorsPerChunkServer: number;
  copysetPushRetries: number;
  /** retry pause of the chunk cleaner (DeleteChunk of freed segments) while chunks remain */
  chunkCleanIntervalMs: number;
  /** how long IncreaseFileEpoch keeps pushing UpdateEpoch to chunkservers that do not answer */
  epochPushTimeoutMs: number;
  /** metrics endpoint host:port, or 'off' */
  metrics: string;
}

export const defaultMdsConfig: MdsConfig = {
  listen: '127.0.0.1:6700',
  advertise: '',
  store: 'level',
  dataDir: './mds-data',
  etcdEndpoints: ['http://127.0.0.1:2379'],
  electionKey: 'curve/mds/leader',
  leaseTtlSec: 5,
  leaseMarginMs: 1500,
  sessionLeaseMs: 5000,
  unstableAfterMs: 10_000,
  offlineAfterMs: 60_000,
  recoverIntervalMs: 5000,
  replicaIntervalMs: 10_000,
  leaderIntervalMs: 30_000,
  copysetIntervalMs: 60_000,
  operatorTimeoutMs: 120_000,
  operatorsPerChunkServer: 2,
  copysetPushRetries: 3,
  chunkCleanIntervalMs: 2000,
  epochPushTimeoutMs: 3000,
  metrics: '127.0.0.1:6701',
};

/** Reads a JSON config file; unknown keys and wrong types are errors (a typo must not pass silently). */
export function loadMdsConfigFile(path: string): Partial<MdsConfig> {
  const parsed: unknown = JSON.parse(fs.readFileSync(path, 'utf8'));
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error(`${path}: not a JSON object`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (!(k in defaultMdsConfig)) throw new Error(`${path}: unknown key '${k}'`);
    const want = defaultMdsConfig[k as keyof MdsConfig];
    const ok = Array.isArray(want)
      ? Array.isArray(v) && v.every((x) => typeof x === 'string')
      : typeof v === typeof want;
    if (!ok)
      throw new Error(`${path}: '${k}' must be ${Array.isArray(want) ? 'a list of strings' : typeof want}`);
    out[k] = v;
  }
  if (out.store !== undefined && out.store !== 'level' && out.store !== 'etcd')
    throw new Error(`${path}: store must be 'level' or 'etcd'`);
  return out as Partial<MdsConfig>;
}

/** 0.0.0.0 or :: (with or without brackets): binds every interface, names no one. */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

/** Checks the address settings; throws a message for the command line. */
export function validateMdsAddresses(c: MdsConfig): void {
  const hostPort = /^(\[[^\]]+\]|[^:\s]+):\d{1,5}$/;
  if (!hostPort.test(c.listen)) throw new Error(`bad listen address '${c.listen}' (want host:port)`);
  if (c.advertise && !hostPort.test(c.advertise))
    throw new Error(`bad advertise address '${c.advertise}' (want host:port)`);
  const host = c.listen.slice(0, c.listen.lastIndexOf(':'));
  if (c.advertise && isWildcardHost(c.advertise.slice(0, c.advertise.lastIndexOf(':'))))
    throw new Error('advertise must name a reachable address, not a wildcard');
  if (c.store === 'etcd' && isWildcardHost(host) && !c.advertise)
    throw new Error(`listen ${c.listen} names no address for the other MDSs and clients: give --advertise`);
}
