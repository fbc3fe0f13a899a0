// A Curve volume opened by this process: the client's public face. Maps byte I/O to segments, chunks and
// copysets, runs the pieces in parallel under a per-volume in-flight bound, and holds I/O through
// transient failures (see chunk-requester.ts, volume-session.ts). Fencing: the volume epoch (raised on
// open when exclusive) rides on every write; once a newer opener shows up, writes fail with 'fenced'.
import * as grpc from '@grpc/grpc-js';
import { createLogger, type Logger } from '../../common/log';
import { MdsClient, type MdsServiceName } from '../mds/mds-client';
import { Backoff } from '../rpc/backoff';
import { InflightLimiter } from '../rpc/inflight-limiter';
import { RpcError } from '../rpc/rpc-status';
import { ChunkRequester, type RequesterHost } from './chunk-requester';
import { ChunkserverLinks } from './chunkserver-links';
import { CurveClientError } from './client-errors';
import { clientMetrics, type ClientMetrics, type VolumeLevels } from './client-metrics';
import { resolveVolumeOptions, type CurveVolumeOptions, type ResolvedVolumeOptions } from './client-options';
import { alignOut, chunkSpans, isAligned, segmentSpans, splitIo, type IoPiece } from './io-split';
import { MdsStatus, statusName, type FileInfo } from './mds-types';
import { MetaCache, type PageFileSegment } from './meta-cache';
import { endpointOfPeer } from './peer-address';
import { RangeLock } from './range-lock';
import { VolumeSession } from './volume-session';

export interface AllocationRun {
  offset: number;
  length: number;
  mapped: boolean;
}

export interface VolumeStats {
  /** Chunk RPCs sent since open. */
  chunkRequests: number;
  /** MDS calls since open. */
  mdsCalls: number;
  inflightRequests: number;
  waitingRequests: number;
  sessionRefreshes: number;
}

export class CurveVolume implements RequesterHost {
  readonly cache: MetaCache;
  readonly links = new ChunkserverLinks();
  readonly metrics: ClientMetrics = clientMetrics();
  readonly log: Logger;
  session!: VolumeSession;
  private info!: FileInfo;
  private ourEpoch = 0;
  /** Our own IncreaseFileEpoch is in flight: a session refresh may already report the raised epoch
   *  (the MDS pushes it to the chunkservers before answering), which is ours, not a newer opener's. */
  private raisingEpoch = false;
  private fencedReason: string | undefined;
  private closed = false;
  private readonly closeController = new AbortController();
  private readonly requester: ChunkRequester;
  private readonly limiter: InflightLimiter;
  private readonly writeLock = new RangeLock();
  private readonly lookups = new Map<string, Promise<PageFileSegment | undefined>>();
  private readonly membership = new Map<string, Promise<void>>();
  private mdsCallCount = 0;
  /** This volume's in-flight level for the gauge (registered while open). */
  private readonly levels: VolumeLevels;
  private unregisterLevels: () => void = () => undefined;

  private constructor(
    readonly opts: ResolvedVolumeOptions,
    private readonly mds: MdsClient,
  ) {
    this.cache = new MetaCache(opts.unallocatedCacheMs);
    this.log = createLogger('curve-client', { volume: opts.fileName });
    this.requester = new ChunkRequester(this);
    this.limiter = new InflightLimiter({
      maxCalls: opts.maxInflightRequests,
      maxBytes: opts.maxInflightBytes,
      maxWaiters: opts.maxWaitingRequests,
    });
    this.levels = { volume: opts.fileName, inflight: 0 };
  }

  /** OpenFile (and IncreaseFileEpoch when exclusive); the session lease is refreshed from then on. */
  static async open(options: CurveVolumeOptions): Promise<CurveVolume> {
    const opts = resolveVolumeOptions(options);
    const mds = new MdsClient(opts.mdsAddresses, opts.mdsCallTimeoutMs, opts.mdsTotalTimeoutMs);
    const v = new CurveVolume(opts, mds);
    try {
      const { session, info } = await VolumeSession.open(
        v.mdsCall,
        { fileName: opts.fileName, owner: opts.owner, clientIp: opts.clientIp, clientPort: opts.clientPort },
        (i) => v.onFileInfo(i),
        v.log,
      );
      v.session = session;
      v.info = info;
      v.ourEpoch = info.epoch;
      if (opts.exclusive) {
        v.raisingEpoch = true;
        const r = await v
          .mdsCall<{ statusCode: number; fileInfo?: FileInfo | null }>('nameserver', 'IncreaseFileEpoch', {
            fileName: opts.fileName,
            owner: opts.owner,
          })
          .finally(() => {
            v.raisingEpoch = false;
          });
        if (r.statusCode !== MdsStatus.kOK || !r.fileInfo) {
          await session.close();
          throw new CurveClientError('io', `IncreaseFileEpoch ${opts.fileName}: ${statusName(r.statusCode)}`);
        }
        v.info = r.fileInfo;
        v.ourEpoch = r.fileInfo.epoch;
      }
      v.metrics.fenced.labels(opts.fileName).set(0);
      v.unregisterLevels = v.metrics.addVolume(v.levels);
      v.log.info('volume opened', {
        fileId: info.id,
        length: v.info.length,
        epoch: v.ourEpoch,
        leaseMs: session.leaseMs,
      });
      return v;
    } catch (err) {
      mds.close();
      await v.links.close();
      if (err instanceof CurveClientError) throw err;
      throw new CurveClientError('io', `open ${opts.fileName}: ${(err as Error).message}`);
    }
  }

  // ---- RequesterHost ----
  get fileId(): number {
    return this.info.id;
  }
  get epoch(): number {
    return this.ourEpoch;
  }
  get seqNum(): number {
    return this.info.seqNum;
  }
  isClosed(): boolean {
    return this.closed;
  }
  isFenced(): boolean {
    return this.fencedReason !== undefined;
  }
  fence(reason: string): void {
    if (this.fencedReason) return;
    this.fencedReason = reason;
    this.metrics.fenced.labels(this.opts.fileName).set(1);
    this.log.error('fenced: a newer opener owns the volume; writes are refused from now on', { reason });
  }
  sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.closeController.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.closeController.signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Counted, leader-following MDS call. */
  readonly mdsCall = async <T>(service: MdsServiceName, method: string, req: object): Promise<T> => {
    this.mdsCallCount++;
    try {
      const r = await this.mds.call<T>(service, method, req);
      this.metrics.mdsCalls.inc({ method, result: 'ok' });
      return r;
    } catch (err) {
      this.metrics.mdsCalls.inc({ method, result: 'error' });
      throw err;
    }
  };

  refreshMembership(pool: number, copysets: number[]): Promise<void> {
    const key = `${pool}:${copysets.join(',')}`;
    let p = this.membership.get(key);
    if (!p) {
      p = this.loadMembership(pool, copysets).finally(() => this.membership.delete(key));
      this.membership.set(key, p);
    }
    return p;
  }

  private async loadMembership(pool: number, copysets: number[]): Promise<void> {
    try {
      const r = await this.mdsCall<{
        statusCode: number;
        csInfo: Array<{
          copysetId: number;
          csLocs: Array<{ chunkServerID: number; hostIp: string; port: number }>;
        }>;
      }>('topology', 'GetChunkServerListInCopySets', { logicalPoolId: pool, copysetId: copysets });
      if (r.statusCode !== 0) {
        this.log.warn('GetChunkServerListInCopySets refused', { pool, status: r.statusCode });
        return;
      }
      for (const cs of r.csInfo) {
        const peers = cs.csLocs
          .map((l) => ({ id: l.chunkServerID, endpoint: endpointOfPeer(`${l.hostIp}:${l.port}`) ?? '' }))
          .filter((p) => p.endpoint);
        this.cache.setPeers(pool, cs.copysetId, peers);
      }
    } catch (err) {
      this.log.warn('copyset membership refresh failed', { pool, err: err as Error });
    }
  }

  // ---- public API ----

  /** Volume size in bytes (as last learned from the MDS). */
  size(): number {
    return this.info.length;
  }

  /** The file info as last learned (open, refresh, stat). */
  fileInfo(): FileInfo {
    return { ...this.info };
  }

  get fenced(): boolean {
    return this.isFenced();
  }

  stats(): VolumeStats {
    return {
      chunkRequests: this.requester.sent,
      mdsCalls: this.mdsCallCount,
      inflightRequests: this.limiter.inFlightCalls,
      waitingRequests: this.limiter.waiting,
      sessionRefreshes: this.session.refreshes,
    };
  }

  /**
   * A named attribute kept with the volume on the MDS (shared by every client of the volume): its value
   * and version (0 with an empty value when never set). Held through MDS outages like other MDS steps.
   */
  async getXattr(name: string): Promise<{ value: Buffer; version: number }> {
    this.checkOpen();
    const r = await this.mdsCall<{ statusCode: number; value: Buffer; version: number }>(
      'nameserver',
      'GetFileXattr',
      { fileName: this.opts.fileName, owner: this.opts.owner, name },
    );
    if (r.statusCode !== MdsStatus.kOK)
      throw new CurveClientError(
        'io',
        `get attribute ${name} of ${this.opts.fileName}: ${statusName(r.statusCode)}`,
      );
    return { value: Buffer.from(r.value ?? []), version: Number(r.version) };
  }

  /**
   * Compare-and-set of a named attribute: written only while its version is still `expectVersion`.
   * Resolves `{ ok: true, version: new }`, or `{ ok: false, version: current }` when someone else
   * changed it first.
   */
  async setXattr(
    name: string,
    value: Buffer,
    expectVersion: number,
  ): Promise<{ ok: boolean; version: number }> {
    this.checkOpen();
    if (this.opts.readonly) throw new CurveClientError('readonly', `${this.opts.fileName} is open read-only`);
    const r = await this.mdsCall<{ statusCode: number; version: number }>('nameserver', 'SetFileXattr', {
      fileName: this.opts.fileName,
      owner: this.opts.owner,
      name,
      value,
      expectVersion,
    });
    if (r.statusCode === MdsStatus.kXattrVersionMismatch) return { ok: false, version: Number(r.version) };
    if (r.statusCode !== MdsStatus.kOK)
      throw new CurveClientError(
        'io',
        `set attribute ${name} of ${this.opts.fileName}: ${statusName(r.statusCode)}`,
      );
    return { ok: true, version: Number(r.version) };
  }

  /** GetFileInfo from the MDS; updates the size. */
  async stat(): Promise<FileInfo> {
    this.checkOpen();
    const r = await this.mdsCall<{ statusCode: number; fileInfo?: FileInfo | null }>(
      'nameserver',
      'GetFileInfo',
      {
        fileName: this.opts.fileName,
        owner: this.opts.owner,
      },
    );
    if (r.statusCode !== MdsStatus.kOK || !r.fileInfo) {
      throw new CurveClientError(
        r.statusCode === MdsStatus.kFileNotExists ? 'notfound' : 'io',
        `stat ${this.opts.fileName}: ${statusName(r.statusCode)}`,
      );
    }
    this.onFileInfo(r.fileInfo);
    return { ...this.info };
  }

  async read(offset: number, length: number): Promise<Buffer> {
    return this.timed('read', length, async (deadline) => {
      this.checkOpen();
      this.checkRange(offset, length);
      if (length === 0) return Buffer.alloc(0);
      const a = alignOut(offset, length, this.opts.pageSize);
      const buf = await this.readAligned(a.offset, a.length, deadline);
      return a.offset === offset && a.length === length
        ? buf
        : buf.subarray(offset - a.offset, offset - a.offset + length);
    });
  }

  async write(offset: number, data: Buffer): Promise<void> {
    await this.timed('write', data.length, async (deadline) => {
      this.checkWritable();
      this.checkRange(offset, data.length);
      if (data.length === 0) return;
      const a = alignOut(offset, data.length, this.opts.pageSize);
      const release = await this.writeLock.acquire(a.offset, a.length);
      try {
        await this.writeLocked(offset, data, deadline);
      } finally {
        release();
      }
    });
  }

  /**
   * Deallocates [offset, offset+length): whole segments are emptied (their chunks deleted) and
   * deallocated on the MDS, whole chunks deleted, partial ranges written with zeros. Reads of the range
   * return zeros afterwards.
   */
  async discard(offset: number, length: number): Promise<void> {
    await this.timed('discard', 0, async (deadline) => {
      this.checkWritable();
      this.checkRange(offset, length);
      if (length === 0) return;
      const a = alignOut(offset, length, this.opts.pageSize);
      const release = await this.writeLock.acquire(a.offset, a.length);
      try {
        await Promise.all(
          segmentSpans(offset, length, this.info.segmentSize).map((s) => this.discardInSegment(s, deadline)),
        );
      } finally {
        release();
      }
    });
  }

  /** Which parts of the range lie in allocated segments (runs in order, adjacent runs merged). */
  async allocation(offset: number, length: number): Promise<AllocationRun[]> {
    this.checkOpen();
    this.checkRange(offset, length);
    const deadline = Date.now() + this.opts.holdLimitMs;
    const runs: AllocationRun[] = [];
    for (const s of segmentSpans(offset, length, this.info.segmentSize)) {
      const mapped = (await this.segmentFor(s.segmentIndex, false, deadline)) !== undefined;
      const last = runs[runs.length - 1];
      if (last && last.mapped === mapped) last.length += s.length;
      else runs.push({ offset: s.offset, length: s.length, mapped });
    }
    return runs;
  }

  /** Fails new I/O, ends held I/O, closes the session (CloseFile) and all connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unregisterLevels();
    this.closeController.abort();
    await this.session.close();
    await this.links.close();
    this.mds.close();
    this.log.info('volume closed');
  }

  // ---- internals ----

  private onFileInfo(info: FileInfo): void {
    if (info.id !== this.info?.id && this.info) {
      this.log.error('the volume path now names another file', { fileId: info.id });
      this.fence('volume path now names another file');
      return;
    }
    if (info.length > (this.info?.length ?? 0)) this.log.info('volume grew', { length: info.length });
    this.info = info;
    if (info.epoch > this.ourEpoch && this.opts.exclusive && !this.raisingEpoch)
      this.fence(`MDS reports epoch ${info.epoch} > ours ${this.ourEpoch}`);
  }

  private checkOpen(): void {
    if (this.closed) throw new CurveClientError('closed', `${this.opts.fileName}: volume closed`);
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.opts.readonly) throw new CurveClientError('readonly', `${this.opts.fileName}: opened read-only`);
    if (this.fencedReason)
      throw new CurveClientError(
        'fenced',
        `${this.opts.fileName}: fenced (${this.fencedReason}); writes refused`,
      );
  }

  private checkRange(offset: number, length: number): void {
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.info.length
    )
      throw new CurveClientError(
        'range',
        `${this.opts.fileName}: range ${offset}+${length} beyond size ${this.info.length}`,
      );
  }

  private async timed<T>(op: string, bytes: number, fn: (deadline: number) => Promise<T>): Promise<T> {
    const tally = this.metrics.op(op);
    const started = performance.now();
    try {
      const r = await fn(Date.now() + this.opts.holdLimitMs);
      tally.ok++;
      tally.bytes += bytes;
      return r;
    } catch (err) {
      this.metrics.ios.inc({ op, result: err instanceof CurveClientError ? err.kind : 'error' });
      throw err;
    } finally {
      tally.latency.observe((performance.now() - started) / 1000);
    }
  }

  /** A slot of the per-volume in-flight bound; resolves with its release. */
  private async slot(bytes: number): Promise<() => void> {
    let w;
    try {
      w = this.limiter.tryAcquire(bytes);
    } catch (err) {
      if (err instanceof RpcError)
        throw new CurveClientError('overload', `${this.opts.fileName}: ${err.message}`);
      throw err;
    }
    if (w) await new Promise<void>((resolve) => this.limiter.wait(w, resolve));
    const levels = this.levels;
    levels.inflight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      levels.inflight--;
      this.limiter.release(bytes);
    };
  }

  private async readAligned(offset: number, length: number, deadline: number): Promise<Buffer> {
    const pieces = splitIo(offset, length, this.info, this.opts.maxPieceBytes);
    // One piece (the common case up to maxPieceBytes within a chunk): its data is the answer, no copy.
    if (pieces.length === 1) return (await this.readPiece(pieces[0], deadline)) ?? Buffer.alloc(length);
    const out = Buffer.allocUnsafe(length);
    await Promise.all(
      pieces.map(async (p) => {
        const data = await this.readPiece(p, deadline);
        if (data) data.copy(out, p.bufferOffset);
        else out.fill(0, p.bufferOffset, p.bufferOffset + p.length);
      }),
    );
    return out;
  }

  /** A piece's bytes, or undefined where it reads as zeros (never written). */
  private async readPiece(p: IoPiece, deadline: number): Promise<Buffer | undefined> {
    const seg = await this.segmentFor(p.segmentIndex, false, deadline);
    if (!seg) return undefined;
    const release = await this.slot(p.length);
    try {
      return await this.requester.run(
        'read',
        this.cache.chunk(seg, p.chunkIndex),
        p.chunkOffset,
        p.length,
        undefined,
        deadline,
      );
    } finally {
      release();
    }
  }

  /** Writes under the range lock; unaligned edges are completed from the current contents first. */
  private async writeLocked(offset: number, data: Buffer, deadline: number): Promise<void> {
    const page = this.opts.pageSize;
    if (isAligned(offset, data.length, page)) return this.writeAligned(offset, data, deadline);
    const a = alignOut(offset, data.length, page);
    const buf = Buffer.alloc(a.length);
    const headPage = a.offset;
    const tailPage = a.offset + a.length - page;
    const needHead = offset !== headPage;
    const needTail = offset + data.length !== tailPage + page;
    const edges: Promise<void>[] = [];
    if (needHead || (needTail && tailPage === headPage))
      edges.push(this.readAligned(headPage, page, deadline).then((b) => void b.copy(buf, 0)));
    if (needTail && tailPage !== headPage)
      edges.push(this.readAligned(tailPage, page, deadline).then((b) => void b.copy(buf, a.length - page)));
    await Promise.all(edges);
    data.copy(buf, offset - a.offset);
    await this.writeAligned(a.offset, buf, deadline);
  }

  private async writeAligned(offset: number, data: Buffer, deadline: number): Promise<void> {
    const pieces = splitIo(offset, data.length, this.info, this.opts.maxPieceBytes);
    await Promise.all(
      pieces.map(async (p) => {
        const seg = await this.segmentFor(p.segmentIndex, true, deadline);
        if (!seg) throw new CurveClientError('io', `segment ${p.segmentIndex} could not be allocated`);
        const release = await this.slot(p.length);
        try {
          await this.requester.run(
            'write',
            this.cache.chunk(seg, p.chunkIndex),
            p.chunkOffset,
            p.length,
            data.subarray(p.bufferOffset, p.bufferOffset + p.length),
            deadline,
          );
        } finally {
          release();
        }
      }),
    );
  }

  private async discardInSegment(
    s: { segmentIndex: number; offset: number; length: number; whole: boolean },
    deadline: number,
  ): Promise<void> {
    const seg = await this.segmentFor(s.segmentIndex, false, deadline);
    if (!seg) return; // never allocated: already zeros
    const spans = chunkSpans(s.offset, s.length, this.info);
    await Promise.all(
      spans.map(async (c) => {
        if (!c.whole) return this.writeLocked(c.offset, Buffer.alloc(c.length), deadline);
        const release = await this.slot(0);
        try {
          await this.requester.run('delete', this.cache.chunk(seg, c.chunkIndex), 0, 0, undefined, deadline);
        } finally {
          release();
        }
      }),
    );
    if (!s.whole) return;
    // Every chunk is gone; now the segment itself (a fresh write allocates new chunks).
    await this.mdsRetry(deadline, 'DeAllocateSegment', async () => {
      const r = await this.mdsCall<{ statusCode: number }>('nameserver', 'DeAllocateSegment', {
        fileName: this.opts.fileName,
        owner: this.opts.owner,
        offset: s.segmentIndex * this.info.segmentSize,
      });
      if (r.statusCode !== MdsStatus.kOK && r.statusCode !== MdsStatus.kSegmentNotAllocated)
        return this.mdsFailure('DeAllocateSegment', r.statusCode);
      return true;
    });
    this.cache.setUnallocated(s.segmentIndex, Date.now());
  }

  /** The segment (allocating it on first write), or undefined for a read of unallocated space. */
  private segmentFor(
    index: number,
    allocate: boolean,
    deadline: number,
  ): Promise<PageFileSegment | undefined> | PageFileSegment | undefined {
    const hit = this.cache.segment(index, Date.now());
    if (hit?.allocated) return hit.segment;
    if (hit && !allocate) return undefined;
    const key = `${index}:${allocate}`;
    let p = this.lookups.get(key);
    if (!p) {
      p = this.lookupSegment(index, allocate, deadline).finally(() => this.lookups.delete(key));
      this.lookups.set(key, p);
    }
    return p;
  }

  private async lookupSegment(
    index: number,
    allocate: boolean,
    deadline: number,
  ): Promise<PageFileSegment | undefined> {
    const method = 'GetOrAllocateSegment';
    let found: PageFileSegment | undefined;
    await this.mdsRetry(deadline, method, async () => {
      const r = await this.mdsCall<{ statusCode: number; pageFileSegment?: PageFileSegment | null }>(
        'nameserver',
        method,
        {
          fileName: this.opts.fileName,
          owner: this.opts.owner,
          offset: index * this.info.segmentSize,
          allocateIfNotExist: allocate,
          seqNum: this.info.seqNum,
          epoch: allocate ? this.ourEpoch : 0,
        },
      );
      if (r.statusCode === MdsStatus.kOK && r.pageFileSegment) {
        found = r.pageFileSegment;
        return true;
      }
      if (r.statusCode === MdsStatus.kSegmentNotAllocated && !allocate) return true;
      if (r.statusCode === MdsStatus.kEpochTooOld) {
        this.fence('MDS answered kEpochTooOld');
        throw new CurveClientError(
          'fenced',
          `${this.opts.fileName}: fenced by a newer opener; writes refused`,
        );
      }
      return this.mdsFailure(method, r.statusCode);
    });
    if (!found) {
      this.cache.setUnallocated(index, Date.now());
      return undefined;
    }
    this.cache.setSegment(index, found);
    // Learn the members of its copysets in one call, so the first I/O goes straight to GetLeader.
    const unknown = [...new Set(found.chunks.map((c) => c.copysetID))].filter(
      (c) => !this.cache.route(found!.logicalPoolID, c),
    );
    if (unknown.length) await this.refreshMembership(found.logicalPoolID, unknown);
    return found;
  }

  /** Permanent MDS refusals throw; transient ones (storage/internal errors) return false to retry. */
  private mdsFailure(method: string, code: number): false {
    if (code === MdsStatus.kStorageError || code === MdsStatus.KInternalError) return false;
    const kind =
      code === MdsStatus.kFileNotExists
        ? 'notfound'
        : code === MdsStatus.kSegmentAllocateError
          ? 'nospace'
          : 'io';
    throw new CurveClientError(kind, `${method} ${this.opts.fileName}: ${statusName(code)}`);
  }

  /** Runs an MDS step until it reports done, holding through MDS outages up to the deadline. */
  private async mdsRetry(deadline: number, what: string, step: () => Promise<boolean>): Promise<void> {
    const backoff = new Backoff(this.opts.retryBackoff);
    let last = '';
    for (;;) {
      this.checkOpen();
      try {
        if (await step()) return;
        last = 'transient MDS error';
      } catch (err) {
        if (err instanceof CurveClientError) throw err;
        const e = err as grpc.ServiceError;
        last = e.message;
        if (
          e.code !== undefined &&
          e.code !== grpc.status.UNAVAILABLE &&
          e.code !== grpc.status.DEADLINE_EXCEEDED &&
          e.code !== grpc.status.INTERNAL
        )
          throw new CurveClientError('io', `${what} ${this.opts.fileName}: ${e.message}`);
      }
      if (Date.now() >= deadline)
        throw new CurveClientError(
          'held-too-long',
          `${what} ${this.opts.fileName}: MDS unavailable for longer than the hold limit; last: ${last}`,
        );
      this.metrics.retries.inc({ reason: 'mds' });
      await this.sleep(Math.min(backoff.fail(), Math.max(0, deadline - Date.now())));
    }
  }
}
