// ChunkService over the data-plane RPC. Writes (and deletes, clones, recovers) go through the copyset's
// Raft log and are answered only after the entry is committed on a majority and applied here; reads are
// served by the leader under its lease (else after a ReadIndex round). A replica that is not the leader
// answers REDIRECTED with the leader's "ip:port:0" when it knows it. At most maxInflight requests run at
// once; beyond that the answer is OVERLOAD at once, so callers back off instead of queueing unboundedly.
import { crc32c } from '../../iscsi/crc32c';
import { createLogger } from '../../common/log';
import type { HistogramSeries } from '../../common/tally-metrics';
import { NotLeaderError } from '../raft/multi-raft-host';
import { chunkServiceMethods } from '../rpc/chunk-methods';
import type { RpcCallContext, RpcReply, RpcReplyContext, RpcServer } from '../rpc/rpc-server';
import type { ChunkFilePool } from './chunk-file-pool';
import { ChunkLogOp, type ChunkLogEntry } from './chunk-op-codec';
import { ChunkOpStatus, ChunkStoreError, statusOfError } from './chunk-status';
import { chunkserverMetrics } from './chunkserver-metrics';
import { peerIdOf } from './copyset-id';
import type { CopysetManager } from './copyset-manager';
import type { ApplyResult, CopysetNode } from './copyset-node';
import type { ProposalListener } from './proposal';
import { SNAPSHOT_LIST_CHUNKS, SNAPSHOT_READ_PIECE } from './internal-methods';

const log = createLogger('chunk-service');

export interface ChunkRequestMsg {
  opType: number;
  logicPoolId: number;
  copysetId: number;
  chunkId: number;
  appliedIndex: number;
  offset: number;
  size: number;
  sn: number;
  correctedSn: number;
  location: string;
  cloneFileSource: string;
  cloneFileOffset: number;
  fileId: number;
  epoch: number;
}

export interface ChunkResponseMsg {
  status: number;
  redirect?: string;
  appliedIndex?: number;
  chunkSn?: number;
  snapSn?: number;
}

interface ChunkInfoRequestMsg {
  logicPoolId: number;
  copysetId: number;
  chunkId: number;
}
interface ChunkHashRequestMsg extends ChunkInfoRequestMsg {
  offset: number;
  length: number;
}

export interface ChunkServiceOptions {
  manager: CopysetManager;
  pool: ChunkFilePool;
  /** Requests in progress beyond which new ones get OVERLOAD. */
  maxInflight: number;
  /** Pool may create files when empty (else a write needing a new chunk gets NOSPACE). */
  poolAllowCreate: boolean;
  /** Capacity of the disk in chunks (0: unlimited): a new chunk beyond it gets NOSPACE. */
  maxChunks: number;
}

type Reply = RpcReply<Record<string, unknown>>;

/** One method's metric series, looked up once per method, then bumped per request. */
interface MethodMetrics {
  latency: HistogramSeries;
  /** This method's entry of the process tally: status -> requests since the last scrape. */
  byStatus: Map<number, number>;
}

function fail(status: ChunkOpStatus, extra: Partial<ChunkResponseMsg> = {}): Reply {
  return { response: { status, ...extra } };
}

export class ChunkService {
  private inflight = 0;
  /** Per-file epoch for fencing stale writers (set by UpdateEpoch and by newer writes). */
  private readonly epochs = new Map<number, number>();
  private readonly metrics = chunkserverMetrics();
  private readonly perMethod = new Map<string, MethodMetrics>();
  private readonly tally = this.metrics.tally;

  constructor(private readonly opts: ChunkServiceOptions) {}

  register(server: RpcServer): void {
    const m = chunkServiceMethods();
    const bind = <Req>(name: string, fn: (req: Req, ctx: RpcCallContext) => Promise<Reply>): void => {
      server.handle(m[name], (req, ctx) => this.guarded(name, () => fn(req as unknown as Req, ctx)));
    };
    const bindWrite = (name: string, op: ChunkLogOp): void => {
      server.handleWithReply(m[name], (req, ctx) =>
        this.write(name, op, req as unknown as ChunkRequestMsg, ctx),
      );
    };
    bindWrite('WriteChunk', ChunkLogOp.WRITE);
    bindWrite('RecoverChunk', ChunkLogOp.PASTE);
    bind<ChunkRequestMsg>('ReadChunk', (r) => this.read(r, false));
    bind<ChunkRequestMsg>('ReadChunkSnapshot', (r) => this.read(r, true));
    bind<ChunkRequestMsg>('DeleteChunk', (r) => this.mutate(r, ChunkLogOp.DELETE));
    bind<ChunkRequestMsg>('DeleteChunkSnapshotOrCorrectSn', (r) => this.mutate(r, ChunkLogOp.DELETE_SNAP));
    bind<ChunkRequestMsg>('CreateCloneChunk', (r) => this.mutate(r, ChunkLogOp.CREATE_CLONE));
    bind<ChunkInfoRequestMsg>('GetChunkInfo', (r) => this.chunkInfo(r));
    bind<ChunkHashRequestMsg>('GetChunkHash', (r) => this.chunkHash(r));
    bind<{ fileId: number; epoch: number }>('UpdateEpoch', async (r) => ({
      response: { status: this.updateEpoch(r.fileId, r.epoch) },
    }));
    server.handle(SNAPSHOT_LIST_CHUNKS, async (req) => {
      const node = this.opts.manager.byGroup(req.group);
      if (!node)
        return {
          response: { status: ChunkOpStatus.COPYSET_NOTEXIST, chunkIds: [], chunkSns: [], chunkSize: 0 },
        };
      const { ids, sns } = await node.listChunksFor(req.minApplied);
      return {
        response: { status: 0, chunkIds: ids, chunkSns: sns, chunkSize: node.datastore.chunkSize },
      };
    });
    server.handle(SNAPSHOT_READ_PIECE, async (req) => {
      const node = this.opts.manager.byGroup(req.group);
      if (!node) return { response: { status: ChunkOpStatus.COPYSET_NOTEXIST } };
      try {
        const data = await node.datastore.readChunk(req.chunkId, req.offset, req.length);
        return { response: { status: 0 }, attachment: data };
      } catch (err) {
        return { response: { status: statusOfError(err) } };
      }
    });
  }

  get inflightCount(): number {
    return this.inflight;
  }

  /** UpdateEpoch: a newer epoch fences older writers; an older one is refused. */
  updateEpoch(fileId: number, epoch: number): ChunkOpStatus {
    const cur = this.epochs.get(fileId) ?? 0;
    if (epoch < cur) return ChunkOpStatus.EPOCH_TOO_OLD;
    this.epochs.set(fileId, epoch);
    return ChunkOpStatus.SUCCESS;
  }

  private methodMetrics(method: string): MethodMetrics {
    let mm = this.perMethod.get(method);
    if (!mm) {
      let byStatus = this.tally.requests.get(method);
      if (!byStatus) this.tally.requests.set(method, (byStatus = new Map()));
      mm = { latency: this.metrics.latency(method), byStatus };
      this.perMethod.set(method, mm);
    }
    return mm;
  }

  private count(mm: MethodMetrics, status: number): void {
    mm.byStatus.set(status, (mm.byStatus.get(status) ?? 0) + 1);
  }

  private async guarded(method: string, fn: () => Promise<Reply>): Promise<Reply> {
    const mm = this.methodMetrics(method);
    if (!this.enter(mm)) return { response: { status: ChunkOpStatus.OVERLOAD } };
    const started = performance.now();
    let r: Reply;
    try {
      r = await fn();
    } catch (err) {
      r = { response: { status: this.failureStatus(method, err) } };
    }
    this.leave(mm, started, r);
    return r;
  }

  /** A request starts unless maxInflight are running (then it is counted as OVERLOAD). */
  private enter(mm: MethodMetrics): boolean {
    if (this.inflight >= this.opts.maxInflight) {
      this.count(mm, ChunkOpStatus.OVERLOAD);
      return false;
    }
    this.inflight++;
    this.tally.inflight++;
    return true;
  }

  /** @internal A request that entered ends with `r`. */
  leave(mm: MethodMetrics, started: number, r: Reply): void {
    this.count(mm, (r.response.status as number) ?? 0);
    mm.latency.observe((performance.now() - started) / 1000);
    this.inflight--;
    this.tally.inflight--;
  }

  /** @internal The status answered for a handler's error. */
  failureStatus(method: string, err: unknown): ChunkOpStatus {
    const status = err instanceof NotLeaderError ? ChunkOpStatus.REDIRECTED : statusOfError(err);
    if (status === ChunkOpStatus.FAILURE_UNKNOWN) log.warn('request failed', { method, err: err as Error });
    return status;
  }

  /** The copyset's node when this replica leads it, else the answer to give. */
  private leaderNode(pool: number, copyset: number): CopysetNode | Reply {
    const node = this.opts.manager.get(pool, copyset);
    if (!node) return fail(ChunkOpStatus.COPYSET_NOTEXIST);
    if (!node.isLeader()) return this.redirect(node);
    return node;
  }

  private redirect(node: CopysetNode): Reply {
    const leader = node.leaderEndpoint();
    return fail(ChunkOpStatus.REDIRECTED, leader ? { redirect: peerIdOf(leader) } : {});
  }

  private checkRange(node: CopysetNode, offset: number, size: number): boolean {
    const page = node.datastore.pageSize;
    return size > 0 && offset % page === 0 && size % page === 0 && offset + size <= node.datastore.chunkSize;
  }

  private checkEpoch(req: ChunkRequestMsg): ChunkOpStatus {
    if (!req.fileId || !req.epoch) return ChunkOpStatus.SUCCESS;
    return this.updateEpoch(req.fileId, req.epoch);
  }

  /** No room for one more chunk: the pool is dry (and may not grow) or the capacity is used up. */
  private full(): boolean {
    if (!this.opts.poolAllowCreate && this.opts.pool.stats().available === 0) return true;
    const max = this.opts.maxChunks;
    if (max <= 0) return false;
    let used = 0;
    for (const n of this.opts.manager.all()) used += n.datastore.chunkIds().length;
    return used >= max;
  }

  /**
   * WriteChunk and RecoverChunk: checked, then proposed to the copyset's Raft group and answered once the
   * entry is committed and applied here. The hottest path: no promises (see Proposal, WriteCall).
   */
  private write(method: string, op: ChunkLogOp, req: ChunkRequestMsg, ctx: RpcReplyContext<unknown>): void {
    const mm = this.methodMetrics(method);
    if (!this.enter(mm)) return ctx.reply(undefined, fail(ChunkOpStatus.OVERLOAD));
    const started = performance.now();
    let checked: CopysetNode | Reply;
    try {
      checked = this.checkWrite(req, ctx.attachment, op);
    } catch (err) {
      checked = fail(this.failureStatus(method, err));
    }
    if (!('group' in checked)) {
      this.leave(mm, started, checked);
      return ctx.reply(undefined, checked);
    }
    const node = checked;
    const data = ctx.attachment;
    const call = new WriteCall(this, method, mm, started, ctx, node, data.length);
    try {
      node.proposeTo(
        {
          op,
          chunkId: req.chunkId,
          offset: req.offset,
          size: req.size,
          sn: req.sn,
          correctedSn: 0,
          location: '',
          data,
        },
        call,
      );
    } catch (err) {
      // Thrown before the proposal was made (its listener has not heard anything).
      call.proposalFailed(err as Error);
    }
  }

  /** The copyset to write through, or the answer when the write must not go ahead. */
  private checkWrite(req: ChunkRequestMsg, data: Buffer, op: ChunkLogOp): CopysetNode | Reply {
    const node = this.leaderNode(req.logicPoolId, req.copysetId);
    if (!('group' in node)) return node;
    if (req.size !== data.length || !this.checkRange(node, req.offset, req.size)) {
      return fail(ChunkOpStatus.INVALID_REQUEST);
    }
    const epoch = this.checkEpoch(req);
    if (epoch !== ChunkOpStatus.SUCCESS) return fail(epoch);
    const info = node.datastore.getChunkInfo(req.chunkId); // CRC_FAIL for a corrupt chunk
    if (op === ChunkLogOp.WRITE) {
      if (info && (req.sn < info.curSn || req.sn < info.correctedSn)) return fail(ChunkOpStatus.BACKWARD);
      if (!info && this.full()) return fail(ChunkOpStatus.NOSPACE);
    } else if (!info) return fail(ChunkOpStatus.CHUNK_NOTEXIST);
    return node;
  }

  /** @internal A replicated write ended (WriteCall). */
  wrote(bytes: number): void {
    this.tally.writeBytes += bytes;
  }

  /** @internal The answer to an operation whose proposal failed: REDIRECTED when leadership moved. */
  proposalFailure(node: CopysetNode, method: string, err: unknown): Reply {
    // Not leader any more, or the entry was overwritten by a new leader: the outcome is unknown to
    // us; the client retries on the leader (the operations are idempotent).
    if (err instanceof NotLeaderError || /overwritten|not leader|stopped/.test(String(err))) {
      return this.redirect(node);
    }
    return fail(this.failureStatus(method, err));
  }

  private async mutate(req: ChunkRequestMsg, op: ChunkLogOp): Promise<Reply> {
    const node = this.leaderNode(req.logicPoolId, req.copysetId);
    if (!('group' in node)) return node;
    const epoch = this.checkEpoch(req);
    if (epoch !== ChunkOpStatus.SUCCESS) return fail(epoch);
    const info = node.datastore.getChunkInfo(req.chunkId);
    if (op === ChunkLogOp.DELETE && info && req.sn < info.curSn) return fail(ChunkOpStatus.BACKWARD);
    if (op === ChunkLogOp.CREATE_CLONE) {
      if (req.size !== node.datastore.chunkSize || !req.location) return fail(ChunkOpStatus.INVALID_REQUEST);
      if (!info && this.full()) return fail(ChunkOpStatus.NOSPACE);
    }
    return this.replicate(node, {
      op,
      chunkId: req.chunkId,
      offset: 0,
      size: req.size,
      sn: req.sn,
      correctedSn: req.correctedSn,
      location: req.location,
      data: Buffer.alloc(0),
    });
  }

  private async replicate(node: CopysetNode, e: ChunkLogEntry): Promise<Reply> {
    try {
      const r = await node.propose(e);
      return fail(r.status, { appliedIndex: node.appliedIndex });
    } catch (err) {
      if (err instanceof NotLeaderError || /overwritten|not leader|stopped/.test(String(err))) {
        return this.redirect(node);
      }
      throw err;
    }
  }

  private async barrier(node: CopysetNode): Promise<Reply | undefined> {
    try {
      await node.readBarrier();
      return undefined;
    } catch (err) {
      if (err instanceof NotLeaderError) return this.redirect(node);
      throw err;
    }
  }

  private async read(req: ChunkRequestMsg, snapshot: boolean): Promise<Reply> {
    const node = this.leaderNode(req.logicPoolId, req.copysetId);
    if (!('group' in node)) return node;
    if (!this.checkRange(node, req.offset, req.size)) return fail(ChunkOpStatus.INVALID_REQUEST);
    const redirected = await this.barrier(node);
    if (redirected) return redirected;
    try {
      const data = snapshot
        ? await node.datastore.readSnapshotChunk(req.chunkId, req.sn, req.offset, req.size)
        : await node.datastore.readChunk(req.chunkId, req.offset, req.size);
      this.tally.readBytes += data.length;
      return { response: { status: 0, appliedIndex: node.appliedIndex }, attachment: data };
    } catch (err) {
      const status = statusOfError(err);
      if (status === ChunkOpStatus.CRC_FAIL) {
        log.error('corrupt chunk refused', { copyset: node.name, chunkId: req.chunkId, err: err as Error });
      }
      return fail(status, { appliedIndex: node.appliedIndex });
    }
  }

  private async chunkInfo(req: ChunkInfoRequestMsg): Promise<Reply> {
    const node = this.leaderNode(req.logicPoolId, req.copysetId);
    if (!('group' in node)) return node;
    const redirected = await this.barrier(node);
    if (redirected) return redirected;
    const info = node.datastore.getChunkInfo(req.chunkId);
    const chunkSn = info ? (info.snapSn ? [info.curSn, info.snapSn] : [info.curSn]) : [];
    return { response: { status: ChunkOpStatus.SUCCESS, chunkSn } };
  }

  private async chunkHash(req: ChunkHashRequestMsg): Promise<Reply> {
    const node = this.leaderNode(req.logicPoolId, req.copysetId);
    if (!('group' in node)) return node;
    if (!this.checkRange(node, req.offset, req.length)) return fail(ChunkOpStatus.INVALID_REQUEST);
    const redirected = await this.barrier(node);
    if (redirected) return redirected;
    try {
      const data = await node.datastore.readChunk(req.chunkId, req.offset, req.length);
      return { response: { status: 0, hash: String(crc32c(data)) } };
    } catch (err) {
      if (err instanceof ChunkStoreError && err.status === ChunkOpStatus.CHUNK_NOTEXIST) {
        return { response: { status: 0, hash: '0' } };
      }
      return { response: { status: statusOfError(err) } };
    }
  }
}

/** One WriteChunk/RecoverChunk from proposal to answer (the listener of its Proposal). */
class WriteCall implements ProposalListener {
  constructor(
    private readonly service: ChunkService,
    private readonly method: string,
    private readonly mm: MethodMetrics,
    private readonly started: number,
    private readonly ctx: RpcReplyContext<unknown>,
    private readonly node: CopysetNode,
    private readonly bytes: number,
  ) {}

  proposalApplied(r: ApplyResult): void {
    if (r.status === ChunkOpStatus.SUCCESS) this.service.wrote(this.bytes);
    this.end(fail(r.status, { appliedIndex: this.node.appliedIndex }));
  }

  proposalFailed(err: Error): void {
    this.end(this.service.proposalFailure(this.node, this.method, err));
  }

  private end(reply: Reply): void {
    this.service.leave(this.mm, this.started, reply);
    this.ctx.reply(undefined, reply);
  }
}
