// Options of a Curve volume client, with defaults chosen for an iSCSI gateway.
import type { BackoffOptions } from '../rpc/backoff';

export interface CurveVolumeOptions {
  /** MDS addresses "host:port"; the client follows the leader among them. */
  mdsAddresses: string[];
  /** Volume path, e.g. "/pool/vol1". */
  fileName: string;
  /** Owner presented to the MDS (default $CURVE_USER or "root"). */
  owner?: string;
  /** Increase the volume epoch on open, fencing older writers (default true unless readonly). */
  exclusive?: boolean;
  readonly?: boolean;
  /** Chunkserver page size: I/O not aligned to it is done by read-modify-write (default 4096). */
  pageSize?: number;
  /** Largest chunk request (default 1 MiB). */
  maxPieceBytes?: number;
  /** Chunk requests in flight per volume (default 128) and their bytes (default 64 MiB). */
  maxInflightRequests?: number;
  maxInflightBytes?: number;
  /** Requests allowed to wait for an in-flight slot before new I/O is refused (default 4096). */
  maxWaitingRequests?: number;
  /** How long an I/O is held through failures before it fails (default 300 s). */
  holdLimitMs?: number;
  /** First chunk RPC timeout; doubled after each timeout up to maxRpcTimeoutMs (defaults 2 s, 16 s). */
  rpcTimeoutMs?: number;
  maxRpcTimeoutMs?: number;
  /** Retry backoff (full jitter in [ceiling/2, ceiling]); default 20 ms doubling to 1 s. */
  retryBackoff?: BackoffOptions;
  /** Deadline of one GetLeader call (default 1 s). */
  getLeaderTimeoutMs?: number;
  /** How long "segment not allocated" is believed without asking the MDS again (default 1 s). */
  unallocatedCacheMs?: number;
  /** Per-call MDS deadline and total time MdsClient spends looking for the leader (defaults 3 s, 6 s). */
  mdsCallTimeoutMs?: number;
  mdsTotalTimeoutMs?: number;
  /** Reported to the MDS in OpenFile/RefreshSession (ListClient). */
  clientIp?: string;
  clientPort?: number;
}

export type ResolvedVolumeOptions = Required<Omit<CurveVolumeOptions, 'owner'>> & { owner: string };

export function resolveVolumeOptions(o: CurveVolumeOptions): ResolvedVolumeOptions {
  const readonly = o.readonly ?? false;
  const r: ResolvedVolumeOptions = {
    mdsAddresses: o.mdsAddresses,
    fileName: o.fileName,
    owner: o.owner ?? process.env.CURVE_USER ?? 'root',
    readonly,
    exclusive: o.exclusive ?? !readonly,
    pageSize: o.pageSize ?? 4096,
    maxPieceBytes: o.maxPieceBytes ?? 1 << 20,
    maxInflightRequests: o.maxInflightRequests ?? 128,
    maxInflightBytes: o.maxInflightBytes ?? 64 << 20,
    maxWaitingRequests: o.maxWaitingRequests ?? 4096,
    holdLimitMs: o.holdLimitMs ?? 300_000,
    rpcTimeoutMs: o.rpcTimeoutMs ?? 2000,
    maxRpcTimeoutMs: o.maxRpcTimeoutMs ?? 16_000,
    retryBackoff: o.retryBackoff ?? { initialMs: 20, maxMs: 1000, factor: 2 },
    getLeaderTimeoutMs: o.getLeaderTimeoutMs ?? 1000,
    unallocatedCacheMs: o.unallocatedCacheMs ?? 1000,
    mdsCallTimeoutMs: o.mdsCallTimeoutMs ?? 3000,
    mdsTotalTimeoutMs: o.mdsTotalTimeoutMs ?? 6000,
    clientIp: o.clientIp ?? '',
    clientPort: o.clientPort ?? 0,
  };
  if (r.mdsAddresses.length === 0) throw new Error('no MDS address given');
  if (!r.fileName.startsWith('/')) throw new Error(`volume path must be absolute: '${r.fileName}'`);
  if (r.pageSize <= 0 || (r.pageSize & (r.pageSize - 1)) !== 0)
    throw new Error('pageSize must be a power of two');
  if (r.maxPieceBytes < r.pageSize || r.maxPieceBytes % r.pageSize !== 0)
    throw new Error('maxPieceBytes must be a multiple of pageSize');
  if (r.maxInflightRequests < 1) throw new Error('maxInflightRequests must be at least 1');
  return r;
}
