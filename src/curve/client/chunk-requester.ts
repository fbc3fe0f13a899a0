// One chunk request carried to completion: find the copyset leader (cache, else GetLeader on every peer in
// parallel, else fresh membership from the MDS), send, and react to the answer. Leader changes, timeouts,
// overload and outages are retried with jittered backoff and growing timeouts while the session lease is
// held; only permanent answers (fenced, no space, invalid request) or the hold deadline end it early.
import type { Logger } from '../../common/log';
import { Backoff } from '../rpc/backoff';
import { chunkServiceMethods } from '../rpc/chunk-methods';
import { RpcError, RpcStatus } from '../rpc/rpc-status';
import type { ChunkserverLinks } from './chunkserver-links';
import { CurveClientError } from './client-errors';
import type { ClientMetrics } from './client-metrics';
import type { ResolvedVolumeOptions } from './client-options';
import { copysetKey, type ChunkLocation, type MetaCache } from './meta-cache';
import { endpointOfPeer } from './peer-address';
import type { VolumeSession } from './volume-session';

/** CHUNK_OP_STATUS of proto/chunk.proto. */
export const ChunkStatus = {
  SUCCESS: 0,
  REDIRECTED: 1,
  DISK_FAIL: 2,
  CRC_FAIL: 3,
  INVALID_REQUEST: 4,
  NOSPACE: 5,
  COPYSET_NOTEXIST: 6,
  CHUNK_NOTEXIST: 7,
  FAILURE_UNKNOWN: 8,
  OVERLOAD: 9,
  BACKWARD: 10,
  CHUNK_EXIST: 11,
  EPOCH_TOO_OLD: 12,
} as const;

const OP_TYPE = { delete: 0, read: 1, write: 2 } as const;
const METHOD = { delete: 'DeleteChunk', read: 'ReadChunk', write: 'WriteChunk' } as const;

export type ChunkOp = keyof typeof OP_TYPE;

/** What the requester needs from its volume. */
export interface RequesterHost {
  readonly opts: ResolvedVolumeOptions;
  readonly cache: MetaCache;
  readonly links: ChunkserverLinks;
  readonly session: VolumeSession;
  readonly metrics: ClientMetrics;
  readonly log: Logger;
  readonly fileId: number;
  readonly epoch: number;
  readonly seqNum: number;
  isClosed(): boolean;
  isFenced(): boolean;
  fence(reason: string): void;
  /** Re-reads the copysets' members from the MDS (GetChunkServerListInCopySets); never throws. */
  refreshMembership(pool: number, copysets: number[]): Promise<void>;
  /** Sleeps, cut short when the volume closes. */
  sleep(ms: number): Promise<void>;
}

interface ChunkResponse {
  status: number;
  redirect?: string;
}

export class ChunkRequester {
  private readonly resolving = new Map<string, Promise<string | undefined>>();
  private readonly methods = chunkServiceMethods();
  /** Chunk RPCs sent (tests count them). */
  sent = 0;

  constructor(private readonly host: RequesterHost) {}

  /**
   * Runs one request. Reads resolve to the data, or undefined for a chunk never written (zeros); writes
   * and deletes to undefined.
   */
  async run(
    op: ChunkOp,
    loc: ChunkLocation,
    chunkOffset: number,
    length: number,
    data: Buffer | undefined,
    deadline: number,
  ): Promise<Buffer | undefined> {
    const h = this.host;
    let backoff: Backoff | undefined; // made on the first retry: most requests succeed at once
    let timeouts = 0;
    let redirects = 0;
    let held = false;
    let last = '';
    try {
      for (let attempt = 0; ; attempt++) {
        if (h.isClosed()) throw new CurveClientError('closed', 'volume closed');
        if (op !== 'read' && h.isFenced()) throw fencedError(h.opts.fileName);
        if (!h.session.valid()) {
          if (!held) this.heldGauge().inc();
          held = true;
          await h.session.whenValid(deadline);
          continue;
        }
        let pause = true;
        const leader = await this.leaderOf(loc);
        if (leader === undefined) {
          last = 'no leader known';
          h.metrics.retries.inc({ reason: 'no-leader' });
        } else {
          const timeoutMs = Math.min(
            h.opts.maxRpcTimeoutMs,
            h.opts.rpcTimeoutMs * 2 ** timeouts,
            Math.max(1, deadline - Date.now()),
          );
          try {
            this.sent++;
            const { response, attachment } = await h.links.rpc(leader).call<object, ChunkResponse>(
              this.methods[METHOD[op]] as never,
              {
                opType: OP_TYPE[op],
                logicPoolId: loc.logicalPoolId,
                copysetId: loc.copysetId,
                chunkId: loc.chunkId,
                offset: chunkOffset,
                size: op === 'delete' ? 0 : length,
                sn: h.seqNum,
                fileId: h.fileId,
                epoch: h.epoch,
              },
              { attachment: data, timeoutMs, responseBytes: op === 'read' ? length : 0 },
            );
            const s = response.status;
            if (s === ChunkStatus.SUCCESS) {
              if (op !== 'read') return undefined;
              if (attachment.length !== length)
                throw new CurveClientError(
                  'io',
                  `read returned ${attachment.length} bytes, wanted ${length}`,
                );
              return attachment;
            }
            if (s === ChunkStatus.CHUNK_NOTEXIST && op !== 'write') return undefined;
            last = statusText(s);
            h.metrics.retries.inc({ reason: last });
            switch (s) {
              case ChunkStatus.REDIRECTED: {
                const hint = endpointOfPeer(response.redirect);
                if (hint && hint !== leader) {
                  h.cache.setLeader(loc.logicalPoolId, loc.copysetId, hint);
                  // Follow a fresh hint at once; a ping-pong of hints still backs off.
                  pause = ++redirects > 3;
                } else h.cache.clearLeader(loc.logicalPoolId, loc.copysetId, leader);
                break;
              }
              case ChunkStatus.COPYSET_NOTEXIST:
                h.cache.clearLeader(loc.logicalPoolId, loc.copysetId, leader);
                await h.refreshMembership(loc.logicalPoolId, [loc.copysetId]);
                break;
              case ChunkStatus.EPOCH_TOO_OLD:
                h.fence(`chunkserver ${leader} answered EPOCH_TOO_OLD`);
                throw fencedError(h.opts.fileName);
              case ChunkStatus.NOSPACE:
                throw new CurveClientError(
                  'nospace',
                  `chunkserver ${leader}: no space for chunk ${loc.chunkId}`,
                );
              case ChunkStatus.INVALID_REQUEST:
              case ChunkStatus.BACKWARD:
              case ChunkStatus.CHUNK_NOTEXIST:
                throw new CurveClientError('io', `chunkserver ${leader}: ${last} on chunk ${loc.chunkId}`);
              case ChunkStatus.OVERLOAD:
                break;
              default:
                // DISK_FAIL, CRC_FAIL, FAILURE_UNKNOWN: perhaps a sick leader; ask again who leads.
                h.cache.clearLeader(loc.logicalPoolId, loc.copysetId, leader);
            }
          } catch (err) {
            if (!(err instanceof RpcError)) throw err;
            last = `${RpcStatus[err.status]} from ${leader}`;
            h.metrics.retries.inc({ reason: RpcStatus[err.status] });
            if (err.status === RpcStatus.UNKNOWN_METHOD || err.status === RpcStatus.BAD_REQUEST)
              throw new CurveClientError('io', `chunkserver ${leader}: ${err.message}`);
            if (err.status === RpcStatus.TIMEOUT) timeouts++;
            if (err.status !== RpcStatus.OVERLOAD)
              h.cache.clearLeader(loc.logicalPoolId, loc.copysetId, leader);
          }
        }
        if (!held) {
          held = true;
          this.heldGauge().inc();
        }
        if (Date.now() >= deadline) throw heldTooLong(h.opts, op, loc, last);
        if (attempt % 20 === 19)
          h.log.warn('chunk request still held', { op, chunkId: loc.chunkId, copyset: loc.copysetId, last });
        if (pause)
          await h.sleep(
            Math.min(
              (backoff ??= new Backoff(h.opts.retryBackoff)).fail(),
              Math.max(0, deadline - Date.now()),
            ),
          );
      }
    } finally {
      if (held) this.heldGauge().dec();
    }
  }

  /** This volume's held-requests gauge (looked up only when a request is held: most never are). */
  private heldGauge(): { inc(): void; dec(): void } {
    return this.host.metrics.held.labels(this.host.opts.fileName);
  }

  /** The cached leader, else one found by asking every peer (and the MDS for members if needed). */
  private leaderOf(loc: ChunkLocation): Promise<string | undefined> | string {
    const leader = this.host.cache.route(loc.logicalPoolId, loc.copysetId)?.leader;
    if (leader) return leader;
    const key = copysetKey(loc.logicalPoolId, loc.copysetId);
    let p = this.resolving.get(key);
    if (!p) {
      p = this.resolveLeader(loc.logicalPoolId, loc.copysetId).finally(() => this.resolving.delete(key));
      this.resolving.set(key, p);
    }
    return p;
  }

  private async resolveLeader(pool: number, copyset: number): Promise<string | undefined> {
    const h = this.host;
    if (!h.cache.route(pool, copyset)?.peers.length) await h.refreshMembership(pool, [copyset]);
    let leader = await this.askPeers(pool, copyset);
    if (!leader) {
      await h.refreshMembership(pool, [copyset]);
      leader = await this.askPeers(pool, copyset);
    }
    if (leader) h.cache.setLeader(pool, copyset, leader);
    return leader;
  }

  /** GetLeader on every member at once; the first one that names a leader wins. */
  private askPeers(pool: number, copyset: number): Promise<string | undefined> {
    const h = this.host;
    const peers = h.cache.route(pool, copyset)?.peers ?? [];
    if (peers.length === 0) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let pending = peers.length;
      for (const p of peers) {
        void h.links.getLeader(p.endpoint, pool, copyset, h.opts.getLeaderTimeoutMs).then((leader) => {
          pending--;
          if (leader) resolve(leader);
          else if (pending === 0) resolve(undefined);
        });
      }
    });
  }
}

function statusText(s: number): string {
  return Object.entries(ChunkStatus).find(([, v]) => v === s)?.[0] ?? `status ${s}`;
}

function fencedError(fileName: string): CurveClientError {
  return new CurveClientError(
    'fenced',
    `${fileName}: fenced by a newer opener (epoch increased); writes refused`,
  );
}

function heldTooLong(
  opts: ResolvedVolumeOptions,
  op: ChunkOp,
  loc: ChunkLocation,
  last: string,
): CurveClientError {
  return new CurveClientError(
    'held-too-long',
    `${opts.fileName}: ${op} of chunk ${loc.chunkId} (copyset ${loc.logicalPoolId}:${loc.copysetId}) ` +
      `held ${opts.holdLimitMs} ms without success; last: ${last}`,
  );
}
