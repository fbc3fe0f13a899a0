// Chunkserver configuration: defaults, a JSON config file (unknown keys are errors) and validation.
import * as fs from 'node:fs';

export interface ChunkserverConfig {
  /** Address this server is known by: the MDS, clients and Raft peers use "ip:port:0". */
  ip: string;
  /** One port for data-plane RPC, Raft and gRPC (0 picks a free one). */
  port: number;
  /**
   * Address to bind, "host" or "host:port" (the port, when given, replaces `port`); empty: bind `ip`.
   * "0.0.0.0" accepts connections on every interface while peers still use `ip`.
   */
  listen: string;
  dataDir: string;
  /** MDS gRPC addresses; empty: no registration or heartbeat (standalone, tests). */
  mdsAddresses: string[];
  serverName: string;
  diskType: string;
  chunkSize: number;
  pageSize: number;
  /** Preformatted chunk files to keep ready. */
  poolTargetCount: number;
  /** Create a chunk file on demand when the pool is empty (else NOSPACE). */
  poolAllowCreate: boolean;
  trashDelayMs: number;
  /** Disk capacity in chunks (0: unlimited); new chunks beyond it answer NOSPACE. */
  maxChunks: number;
  tickMs: number;
  electionTicks: number;
  snapshotIntervalEntries: number;
  snapshotRetainEntries: number;
  /** Also snapshot once this many bytes of entries were applied since the last one (0: no byte limit). */
  snapshotIntervalBytes: number;
  /** Keep at most this many bytes of entries below a snapshot (with snapshotRetainEntries). */
  snapshotRetainBytes: number;
  /** Unsnapshotted log bytes all copysets together may hold (0: no bound); see log-memory-budget.ts. */
  logBudgetBytes: number;
  raftSegmentBytes: number;
  snapshotThrottleBytesPerSec: number;
  maxInflightRequests: number;
  heartbeatIntervalMs: number;
  /** "host:port" for GET /metrics, or "off". */
  metrics: string;
}

export const DEFAULT_CONFIG: ChunkserverConfig = {
  ip: '127.0.0.1',
  port: 8200,
  listen: '',
  dataDir: './chunkserver-data',
  mdsAddresses: [],
  serverName: '',
  diskType: 'ssd',
  chunkSize: 16 << 20,
  pageSize: 4096,
  poolTargetCount: 64,
  poolAllowCreate: true,
  trashDelayMs: 3600_000,
  maxChunks: 0,
  tickMs: 100,
  electionTicks: 10,
  snapshotIntervalEntries: 100_000,
  snapshotRetainEntries: 1000,
  snapshotIntervalBytes: 16 << 20,
  snapshotRetainBytes: 4 << 20,
  logBudgetBytes: 256 << 20,
  raftSegmentBytes: 64 << 20,
  snapshotThrottleBytesPerSec: 100 << 20,
  maxInflightRequests: 4096,
  heartbeatIntervalMs: 3000,
  metrics: 'off',
};

export class ConfigError extends Error {}

export function loadConfigFile(file: string): Partial<ChunkserverConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`${file}: expected a JSON object`);
  }
  for (const k of Object.keys(parsed)) {
    if (!(k in DEFAULT_CONFIG)) throw new ConfigError(`${file}: unknown key ${JSON.stringify(k)}`);
  }
  return parsed as Partial<ChunkserverConfig>;
}

export function resolveConfig(...layers: Partial<ChunkserverConfig>[]): ChunkserverConfig {
  const cfg: ChunkserverConfig = { ...DEFAULT_CONFIG };
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer))
      if (v !== undefined) (cfg as unknown as Record<string, unknown>)[k] = v;
  }
  if (cfg.listen) {
    const l = parseListen(cfg.listen);
    if (l.port !== undefined) cfg.port = l.port;
  }
  validateConfig(cfg);
  return cfg;
}

/** "host", "host:port", "[v6]" or "[v6]:port" (a bare IPv6 address has no port). */
export function parseListen(listen: string): { host: string; port?: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(listen) ?? /^([^:\s]+)(?::(\d+))?$/.exec(listen);
  const host = m ? m[1] : listen.includes(':') && !/\s/.test(listen) ? listen : undefined;
  const port = m?.[2] === undefined ? undefined : Number(m[2]);
  if (!host || (port !== undefined && port > 65535))
    throw new ConfigError(`listen must be host or host:port (got ${JSON.stringify(listen)})`);
  return { host, port };
}

/** Where to bind: the `listen` host, else the advertised `ip`. */
export function bindHost(cfg: ChunkserverConfig): string {
  return cfg.listen ? parseListen(cfg.listen).host : cfg.ip;
}

export function validateConfig(cfg: ChunkserverConfig): void {
  const int = (k: keyof ChunkserverConfig, min: number): void => {
    const v = cfg[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new ConfigError(`${k} must be an integer >= ${min} (got ${JSON.stringify(v)})`);
    }
  };
  int('port', 0);
  if (cfg.port > 65535) throw new ConfigError('port must be <= 65535');
  int('pageSize', 512);
  int('chunkSize', cfg.pageSize);
  if (cfg.chunkSize % cfg.pageSize) throw new ConfigError('chunkSize must be a multiple of pageSize');
  int('poolTargetCount', 0);
  int('trashDelayMs', 0);
  int('maxChunks', 0);
  int('tickMs', 1);
  int('electionTicks', 3);
  int('snapshotIntervalEntries', 0);
  int('snapshotRetainEntries', 0);
  int('snapshotIntervalBytes', 0);
  int('snapshotRetainBytes', 0);
  int('logBudgetBytes', 0);
  int('raftSegmentBytes', 4096);
  int('snapshotThrottleBytesPerSec', 0);
  int('maxInflightRequests', 1);
  int('heartbeatIntervalMs', 100);
  if (!cfg.ip) throw new ConfigError('ip is required');
  if (cfg.ip === '0.0.0.0' || cfg.ip === '::')
    throw new ConfigError('ip is the address peers connect to; bind every interface with listen instead');
  if (cfg.listen) parseListen(cfg.listen);
  if (!cfg.dataDir) throw new ConfigError('dataDir is required');
  if (!Array.isArray(cfg.mdsAddresses)) throw new ConfigError('mdsAddresses must be a list');
  if (cfg.metrics !== 'off' && !/^[^:]+:\d+$/.test(cfg.metrics)) {
    throw new ConfigError('metrics must be host:port or off');
  }
}
