// Data-plane RPC client for one peer: a few long-lived connections carrying pipelined calls, plus a
// separate connection (the control lane) for small calls so they never queue behind bulk data.
// Every call has a deadline and may be cancelled; in-flight calls and bytes are bounded per lane and
// callers beyond the bound wait (bounded); a lost connection fails its calls with CONNECTION_LOST and
// is re-established on demand after an exponential backoff.

import * as net from 'node:net';
import { sharedBufferPool } from '../../common/data-buffer-pool';
import { sharedBufferOnRead } from '../../common/shared-read-buffer';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import { DEFAULT_FRAME_LIMITS, FrameFlag, type Frame, type FrameLimits } from './frame';
import { attachmentLength, frameSize } from './frame-serializer';
import { FramedSocket } from './framed-socket';
import { InflightLimiter } from './inflight-limiter';
import { DECODE_OPTIONS, type RpcMethod } from './rpc-method';
import { RpcError, RpcStatus, decodeErrorBody } from './rpc-status';

export interface RpcClientOptions {
  host: string;
  port: number;
  /** Connections for the data lane (default 2). */
  dataConnections?: number;
  /** Give control calls their own connection and budget (default true). */
  controlLane?: boolean;
  /** Per lane (default 1024 calls, 64 MiB, 4096 waiting callers). */
  maxInFlightCalls?: number;
  maxInFlightBytes?: number;
  maxWaiters?: number;
  /** Default per-call deadline (default 10 s). */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  backoff?: BackoffOptions;
  limits?: FrameLimits;
}

export interface CallOptions {
  attachment?: Buffer;
  /** CRC32C of the attachment when already known (e.g. an iSCSI data digest, or a CRC verified on
   *  receipt when forwarding data), so it is not computed again. */
  attachmentCrc?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** 'control' for small latency-sensitive calls (default 'data'). */
  lane?: 'data' | 'control';
  /** Expected size of the response attachment (e.g. a read's length), counted against the byte budget. */
  responseBytes?: number;
}

export interface RpcResult<Res> {
  response: Res;
  attachment: Buffer;
  /** Verified CRC32C of the attachment (0 when empty). */
  attachmentCrc: number;
}

export interface RpcClientStats {
  inFlightCalls: number;
  inFlightBytes: number;
  waiting: number;
  openConnections: number;
  reconnects: number;
}

interface PendingCall {
  method: RpcMethod;
  resolve: (r: RpcResult<never>) => void;
  reject: (e: RpcError) => void;
  conn: ClientConnection;
  correlationId: number;
}

/** One socket to the peer, connected lazily and again after a backoff when lost. */
class ClientConnection {
  framed: FramedSocket | undefined;
  readonly pending = new Map<number, PendingCall>();
  /** Bytes of post() frames waiting for this connection to come up (bounded by POST_QUEUE_BYTES). */
  postQueued = 0;
  private connecting: Promise<void> | undefined;
  private notBefore = 0;
  private readonly backoff: Backoff;
  connects = 0;

  constructor(
    private readonly client: RpcClient,
    private readonly opts: Required<Pick<RpcClientOptions, 'host' | 'port' | 'connectTimeoutMs'>> & {
      limits: FrameLimits;
      backoff: BackoffOptions;
    },
  ) {
    this.backoff = new Backoff(opts.backoff);
  }

  get isOpen(): boolean {
    return this.framed !== undefined && !this.framed.isClosed;
  }

  /** Resolves once connected; rejects with UNAVAILABLE when the attempt fails. */
  open(): Promise<void> {
    if (this.isOpen) return Promise.resolve();
    this.connecting ??= this.attempt().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async attempt(): Promise<void> {
    const wait = this.notBefore - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (this.client.isClosed) throw new RpcError(RpcStatus.SHUTDOWN, 'client closed');
    // Reads land in the shared buffer. A server never speaks first, so bytes before `framed` exists
    // (set right after 'connect') would be a protocol error.
    const socket = net.connect({
      host: this.opts.host,
      port: this.opts.port,
      onread: sharedBufferOnRead((chunk) =>
        this.framed?.socket === socket ? this.framed.receive(chunk) : socket.destroy(),
      ),
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('connect timeout')), this.opts.connectTimeoutMs);
        socket.once('connect', () => {
          clearTimeout(timer);
          resolve();
        });
        socket.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
    } catch (err) {
      socket.destroy();
      this.notBefore = Date.now() + this.backoff.fail();
      throw new RpcError(
        RpcStatus.UNAVAILABLE,
        `connect ${this.opts.host}:${this.opts.port}: ${(err as Error).message}`,
      );
    }
    this.backoff.reset();
    this.connects++;
    this.framed = new FramedSocket(
      socket,
      {
        onFrame: (f) => this.onFrame(f),
        onClose: (err) => this.onClose(err),
      },
      this.opts.limits,
      true,
      // A read's data goes up to iSCSI, which gives the buffer back once it is on the wire.
      (n) => sharedBufferPool.take(n),
    );
  }

  private onFrame(f: Frame): void {
    if ((f.flags & FrameFlag.RESPONSE) === 0) {
      this.framed?.destroy(new Error('peer sent a request on a client connection'));
      return;
    }
    const call = this.pending.get(f.correlationId);
    if (!call) {
      // Timed out or cancelled already, or a post() the peer does not know (an older build).
      if (f.flags & FrameFlag.ERROR && decodeErrorBody(f.message).status === RpcStatus.UNKNOWN_METHOD) {
        this.client.postUnsupported(f.methodId);
      }
      return;
    }
    this.pending.delete(f.correlationId);
    if (f.flags & FrameFlag.ERROR) {
      call.reject(decodeErrorBody(f.message));
      return;
    }
    if (!f.attachmentCrcOk) {
      call.reject(
        new RpcError(RpcStatus.CRC_MISMATCH, `${call.method.name}: response attachment CRC mismatch`),
      );
      return;
    }
    let response: unknown;
    try {
      const t = call.method.responseType;
      response = t.toObject(t.decode(f.message), DECODE_OPTIONS);
    } catch (err) {
      call.reject(new RpcError(RpcStatus.BAD_RESPONSE, `${call.method.name}: ${(err as Error).message}`));
      return;
    }
    call.resolve({ response: response as never, attachment: f.attachment, attachmentCrc: f.attachmentCrc });
  }

  private onClose(err: Error | undefined): void {
    this.framed = undefined;
    // The next attempt waits a backoff too, so a peer that accepts and drops does not spin us.
    this.notBefore = Date.now() + this.backoff.fail();
    const lost = [...this.pending.values()];
    this.pending.clear();
    const why = err ? `: ${err.message}` : '';
    for (const c of lost) c.reject(new RpcError(RpcStatus.CONNECTION_LOST, `connection lost${why}`));
  }

  close(): void {
    this.framed?.destroy();
  }
}

interface Lane {
  limiter: InflightLimiter;
  conns: ClientConnection[];
}

export class RpcClient {
  private readonly data: Lane;
  private readonly control: Lane;
  private readonly timeoutMs: number;
  private nextCorrelationId = 1;
  private closed = false;

  constructor(opts: RpcClientOptions) {
    const connOpts = {
      host: opts.host,
      port: opts.port,
      connectTimeoutMs: opts.connectTimeoutMs ?? 3000,
      limits: opts.limits ?? DEFAULT_FRAME_LIMITS,
      backoff: opts.backoff ?? DEFAULT_BACKOFF,
    };
    const limits = {
      maxCalls: opts.maxInFlightCalls ?? 1024,
      maxBytes: opts.maxInFlightBytes ?? 64 << 20,
      maxWaiters: opts.maxWaiters ?? 4096,
    };
    const n = Math.max(1, opts.dataConnections ?? 2);
    this.data = {
      limiter: new InflightLimiter(limits),
      conns: Array.from({ length: n }, () => new ClientConnection(this, connOpts)),
    };
    this.control =
      opts.controlLane === false
        ? this.data
        : { limiter: new InflightLimiter(limits), conns: [new ClientConnection(this, connOpts)] };
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  stats(): RpcClientStats {
    const lanes = this.control === this.data ? [this.data] : [this.data, this.control];
    const conns = lanes.flatMap((l) => l.conns);
    return {
      inFlightCalls: lanes.reduce((s, l) => s + l.limiter.inFlightCalls, 0),
      inFlightBytes: lanes.reduce((s, l) => s + l.limiter.inFlightBytes, 0),
      waiting: lanes.reduce((s, l) => s + l.limiter.waiting, 0),
      openConnections: conns.filter((c) => c.isOpen).length,
      reconnects: conns.reduce((s, c) => s + Math.max(0, c.connects - 1), 0),
    };
  }

  private readonly noPost = new Set<number>();

  /** False once the peer answered a post() of `method` with UNKNOWN_METHOD: use call() instead. */
  supportsPost<Req, Res>(method: RpcMethod<Req, Res>): boolean {
    return !this.noPost.has(method.id);
  }

  /** @internal */
  postUnsupported(methodId: number): void {
    this.noPost.add(methodId);
  }

  /**
   * One-way: send `request` to a method the server registered with handleOneWay, expect no answer. For
   * traffic that tolerates loss (Raft resends): when the connection is down it is opened and the frame
   * sent once it is up (at most POST_QUEUE_BYTES wait per connection; beyond, or when the connection
   * fails, frames are dropped); when more than `maxQueuedBytes` wait in the socket already, the frame is
   * dropped and false returned. No deadline, no in-flight accounting: nothing is held after the write.
   */
  post<Req>(
    method: RpcMethod<Req, unknown>,
    request: Req,
    opts: {
      attachment?: Buffer | readonly Buffer[];
      lane?: 'data' | 'control';
      maxQueuedBytes?: number;
    } = {},
  ): boolean {
    if (this.closed) return false;
    const message = method.requestType.encode(request as object).finish();
    const lane = opts.lane === 'control' ? this.control : this.data;
    const conn = pickConnection(lane.conns);
    const send = (): void => {
      const framed = conn.framed;
      if (!framed || framed.isClosed) return;
      const correlationId = this.nextCorrelationId;
      this.nextCorrelationId = (this.nextCorrelationId + 1) >>> 0 || 1;
      framed.send({ flags: 0, correlationId, methodId: method.id, message, attachment: opts.attachment });
    };
    if (!conn.isOpen) {
      const bytes = message.length + attachmentLength(opts.attachment);
      if (conn.postQueued + bytes > POST_QUEUE_BYTES) {
        conn.open().catch(() => {});
        return false;
      }
      conn.postQueued += bytes;
      const done = (): void => {
        conn.postQueued -= bytes;
      };
      conn.open().then(() => {
        done();
        send();
      }, done);
      return true;
    }
    if (conn.framed!.socket.writableLength > (opts.maxQueuedBytes ?? 64 << 20)) return false;
    send();
    return true;
  }

  /** Calls `method`; resolves with the decoded response and the response attachment. */
  call<Req, Res>(method: RpcMethod<Req, Res>, request: Req, opts: CallOptions = {}): Promise<RpcResult<Res>> {
    return new Promise<RpcResult<Res>>((resolve, reject) => {
      if (this.closed) return reject(new RpcError(RpcStatus.SHUTDOWN, 'client closed'));
      let message: Uint8Array;
      try {
        message = method.requestType.encode(request as object).finish();
      } catch (err) {
        return reject(new RpcError(RpcStatus.BAD_REQUEST, `${method.name}: ${(err as Error).message}`));
      }
      const attachment = opts.attachment;
      const lane = opts.lane === 'control' ? this.control : this.data;
      const bytes = frameSize(message.length, attachment?.length ?? 0) + (opts.responseBytes ?? 0);

      // Settle-once bookkeeping shared by the deadline, the abort signal and the response.
      let settled = false;
      let holding = false;
      let waiter: ReturnType<InflightLimiter['tryAcquire']>;
      let sent: PendingCall | undefined;
      const finish = (err: RpcError | undefined, result?: RpcResult<Res>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (opts.signal) opts.signal.removeEventListener('abort', onAbort);
        if (waiter && !holding) lane.limiter.cancel(waiter);
        if (holding) lane.limiter.release(bytes);
        if (err) {
          if (sent && sent.conn.pending.delete(sent.correlationId)) {
            // Tell the server so it can drop the work; the answer, if any, is ignored.
            sent.conn.framed?.send({
              flags: FrameFlag.CANCEL,
              correlationId: sent.correlationId,
              methodId: method.id,
              message: EMPTY,
            });
          }
          reject(err);
        } else resolve(result as RpcResult<Res>);
      };
      const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
      const timer = setTimeout(
        () => finish(new RpcError(RpcStatus.TIMEOUT, `${method.name}: no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onAbort = (): void => finish(new RpcError(RpcStatus.CANCELLED, `${method.name}: cancelled`));
      if (opts.signal) {
        if (opts.signal.aborted) return onAbort();
        opts.signal.addEventListener('abort', onAbort, { once: true });
      }

      const dispatch = (): void => {
        if (settled) return;
        const conn = pickConnection(lane.conns);
        if (!conn.isOpen) {
          conn.open().then(dispatch, (err: RpcError) => finish(err));
          return;
        }
        const correlationId = this.nextCorrelationId;
        this.nextCorrelationId = (this.nextCorrelationId + 1) >>> 0 || 1;
        sent = {
          method: method as RpcMethod,
          conn,
          correlationId,
          resolve: (r) => finish(undefined, r as RpcResult<Res>),
          reject: (e) => finish(e),
        };
        conn.pending.set(correlationId, sent);
        conn.framed!.send({
          flags: 0,
          correlationId,
          methodId: method.id,
          message,
          attachment,
          attachmentCrc: opts.attachmentCrc,
        });
      };

      try {
        waiter = lane.limiter.tryAcquire(bytes);
      } catch (err) {
        return finish(err as RpcError);
      }
      if (!waiter) {
        holding = true;
        dispatch();
      } else {
        lane.limiter.wait(waiter, () => {
          holding = true;
          dispatch();
        });
      }
    });
  }

  /** Fails every call in flight with SHUTDOWN and closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const lanes = this.control === this.data ? [this.data] : [this.data, this.control];
    for (const lane of lanes) {
      for (const c of lane.conns) {
        for (const p of [...c.pending.values()]) p.reject(new RpcError(RpcStatus.SHUTDOWN, 'client closed'));
        c.pending.clear();
        c.close();
      }
    }
  }
}

const EMPTY = new Uint8Array(0);

/** The open connection with the fewest calls in flight; a closed one only when none is open. */
/** post() frames that may wait for one connection to come up. */
const POST_QUEUE_BYTES = 4 << 20;

function pickConnection(conns: ClientConnection[]): ClientConnection {
  let best: ClientConnection | undefined;
  for (const c of conns) {
    if (!c.isOpen) {
      // Re-establish lost connections in the background (each attempt waits its backoff).
      if (conns.length > 1) c.open().catch(() => undefined);
      continue;
    }
    if (!best || c.pending.size < best.pending.size) best = c;
  }
  return best ?? conns[0];
}
