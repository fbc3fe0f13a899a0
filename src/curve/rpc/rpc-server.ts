// Data-plane RPC server: registered handlers answer framed requests, pipelined and out of order.
// Per connection, calls and request bytes in flight are bounded: beyond the bound the server stops
// reading that socket (TCP back-pressure reaches the client) instead of queueing. A bad request
// (unknown method, undecodable message, attachment CRC mismatch) gets an error answer; a bad stream
// (wrong magic, oversized lengths, corrupt header) closes that connection only.

import * as net from 'node:net';
import { createLogger } from '../../common/log';
import { DEFAULT_FRAME_LIMITS, FrameFlag, type Frame, type FrameLimits } from './frame';
import { frameSize } from './frame-serializer';
import { readIntoSharedBuffer } from '../../common/shared-read-buffer';
import { FramedSocket } from './framed-socket';
import { DECODE_OPTIONS, MethodTable, type RpcMethod } from './rpc-method';
import { RpcError, RpcStatus, encodeErrorBody } from './rpc-status';

const log = createLogger('rpc-server');

const OUTPUT_HIGH_WATER = 4 << 20;

export interface RpcCallContext {
  readonly method: RpcMethod;
  /** The request's attachment (CRC already verified). */
  readonly attachment: Buffer;
  /** Its verified CRC32C (0 when empty): pass it on with the data instead of recomputing it. */
  readonly attachmentCrc: number;
  /** "ip:port" of the caller. */
  readonly peer: string;
  /** Aborted when the caller cancels or times out, or the connection closes. */
  readonly signal: AbortSignal;
}

export interface RpcReply<Res> {
  response: Res;
  attachment?: Buffer;
  /** CRC32C of `attachment` when already known. */
  attachmentCrc?: number;
}

export type RpcHandler<Req, Res> = (
  request: Req,
  ctx: RpcCallContext,
) => RpcReply<Res> | Promise<RpcReply<Res>>;

/** The context of a call whose handler answers through it (RpcServer.handleWithReply). */
export interface RpcReplyContext<Res> extends RpcCallContext {
  /** Answers the call: once; later calls are ignored. `err` as a thrown handler error would be. */
  reply(err: unknown, r?: RpcReply<Res>): void;
}

/**
 * A handler that answers through ctx.reply instead of a returned promise: the hot data-path methods use
 * it to skip the promise, closures and async frames each awaited call costs (young-generation garbage).
 */
export type RpcReplyHandler<Req, Res> = (request: Req, ctx: RpcReplyContext<Res>) => void;

export interface RpcServerOptions {
  maxInFlightPerConnection?: number;
  maxInFlightBytesPerConnection?: number;
  limits?: FrameLimits;
  /** Where request attachments are copied (on the shared read buffer path); Buffer.allocUnsafe by default. */
  allocateAttachment?: (n: number) => Buffer;
}

type AnyHandler = RpcHandler<unknown, unknown>;

class CallContext implements RpcReplyContext<unknown> {
  private controller: AbortController | undefined;
  cancelled = false;
  /** Set while the call runs on a connection: where reply() goes. */
  conn: ServerConnection | undefined;
  correlationId = 0;
  bytes = 0;

  constructor(
    readonly method: RpcMethod,
    readonly attachment: Buffer,
    readonly attachmentCrc: number,
    readonly peer: string,
  ) {}

  reply(err: unknown, r?: RpcReply<unknown>): void {
    const conn = this.conn;
    if (!conn) return;
    this.conn = undefined;
    conn.complete(this.correlationId, this, this.bytes, err, r);
  }

  // Created on first use: most handlers never look, and an AbortController per call is not free.
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.cancelled) this.controller.abort();
    return this.controller.signal;
  }

  cancel(): void {
    this.cancelled = true;
    this.controller?.abort();
  }
}

class ServerConnection {
  private readonly framed: FramedSocket;
  private readonly calls = new Map<number, CallContext>();
  private inFlightBytes = 0;
  private backlog: Frame[] = [];
  private backlogHead = 0;
  private paused = false;
  private writeBlocked = false;
  private readonly peer: string;

  constructor(
    socket: net.Socket,
    private readonly server: RpcServer,
    private readonly maxCalls: number,
    private readonly maxBytes: number,
    limits: FrameLimits,
    /** The socket reads into a buffer reused after each receive() (the shared read buffer). */
    reusedChunks: boolean,
    allocateAttachment: ((n: number) => Buffer) | undefined,
  ) {
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.framed = new FramedSocket(
      socket,
      {
        onFrame: (f) => this.onFrame(f),
        onClose: (err) => this.onClose(err),
        onDrain: () => {
          this.writeBlocked = false;
          this.updateFlow();
        },
      },
      limits,
      reusedChunks,
      allocateAttachment,
    );
  }

  /** Bytes read from the socket. */
  receive(chunk: Buffer): void {
    this.framed.receive(chunk);
  }

  destroy(): void {
    this.framed.destroy();
  }

  private onFrame(f: Frame): void {
    if (f.flags & FrameFlag.RESPONSE) {
      this.framed.destroy(new Error('client sent a response frame'));
      return;
    }
    if (f.flags & FrameFlag.CANCEL) {
      this.calls.get(f.correlationId)?.cancel();
      const i = this.backlog.findIndex((b) => b.correlationId === f.correlationId);
      if (i >= this.backlogHead) this.backlog.splice(i, 1);
      return;
    }
    // Reading is paused at the limit, but frames already in the chunk being parsed still arrive: hold
    // them (at most one socket read's worth) until calls complete.
    if (this.overLimit() || this.backlogHead < this.backlog.length) {
      this.backlog.push(f);
      this.updateFlow();
      return;
    }
    this.dispatch(f);
  }

  private overLimit(): boolean {
    return this.calls.size >= this.maxCalls || this.inFlightBytes >= this.maxBytes;
  }

  private drainBacklog(): void {
    while (this.backlogHead < this.backlog.length && !this.overLimit() && !this.framed.isClosed) {
      this.dispatch(this.backlog[this.backlogHead++]);
    }
    if (this.backlogHead === this.backlog.length) {
      this.backlog = [];
      this.backlogHead = 0;
    }
  }

  private dispatch(f: Frame): void {
    const entry = this.server.lookup(f.methodId);
    if (!entry) {
      this.sendError(
        f.correlationId,
        f.methodId,
        RpcStatus.UNKNOWN_METHOD,
        `unknown method id ${f.methodId}`,
      );
      return;
    }
    const { method, value: handler } = entry;
    if (this.server.isOneWay(f.methodId)) {
      this.dispatchOneWay(f, method, handler);
      return;
    }
    if (!f.attachmentCrcOk) {
      this.sendError(
        f.correlationId,
        f.methodId,
        RpcStatus.CRC_MISMATCH,
        `${method.name}: attachment CRC mismatch`,
      );
      return;
    }
    let request: unknown;
    try {
      request = method.requestType.toObject(method.requestType.decode(f.message), DECODE_OPTIONS);
    } catch (err) {
      this.sendError(
        f.correlationId,
        f.methodId,
        RpcStatus.BAD_REQUEST,
        `${method.name}: ${(err as Error).message}`,
      );
      return;
    }
    if (this.calls.has(f.correlationId)) {
      this.sendError(f.correlationId, f.methodId, RpcStatus.BAD_REQUEST, 'correlation id already in flight');
      return;
    }
    const ctx = new CallContext(method, f.attachment, f.attachmentCrc, this.peer);
    const bytes = frameSize(f.message.length, f.attachment.length);
    this.calls.set(f.correlationId, ctx);
    this.inFlightBytes += bytes;
    this.updateFlow();

    if (this.server.answersThroughContext(f.methodId)) {
      ctx.conn = this;
      ctx.correlationId = f.correlationId;
      ctx.bytes = bytes;
      try {
        (handler as unknown as RpcReplyHandler<unknown, unknown>)(request, ctx);
      } catch (err) {
        ctx.reply(err);
      }
      return;
    }
    let result: RpcReply<unknown> | Promise<RpcReply<unknown>>;
    try {
      result = handler(request, ctx);
    } catch (err) {
      this.complete(f.correlationId, ctx, bytes, err, undefined);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (r) => this.complete(f.correlationId, ctx, bytes, undefined, r),
        (err) => this.complete(f.correlationId, ctx, bytes, err, undefined),
      );
    } else this.complete(f.correlationId, ctx, bytes, undefined, result);
  }

  private dispatchOneWay(f: Frame, method: RpcMethod, handler: AnyHandler): void {
    let request: unknown;
    try {
      if (!f.attachmentCrcOk) throw new Error('attachment CRC mismatch');
      request = method.requestType.toObject(method.requestType.decode(f.message), DECODE_OPTIONS);
    } catch (err) {
      this.server.droppedOneWay++;
      log.warn('one-way frame dropped', { method: method.name, err: err as Error });
      return;
    }
    try {
      void handler(request, new CallContext(method, f.attachment, f.attachmentCrc, this.peer));
    } catch (err) {
      log.warn('one-way handler failed', { method: method.name, err: err as Error });
    }
  }

  /** @internal (CallContext.reply) */
  complete(
    correlationId: number,
    ctx: CallContext,
    bytes: number,
    err: unknown,
    reply: RpcReply<unknown> | undefined,
  ): void {
    if (this.calls.get(correlationId) === ctx) this.calls.delete(correlationId);
    this.inFlightBytes -= bytes;
    const methodId = ctx.method.id;
    if (!ctx.cancelled && !this.framed.isClosed) {
      if (err !== undefined || !reply) {
        if (err instanceof RpcError) this.sendError(correlationId, methodId, err.status, err.message);
        else {
          log.warn('handler failed', { method: ctx.method.name, err: err as Error });
          this.sendError(
            correlationId,
            methodId,
            RpcStatus.INTERNAL,
            `${ctx.method.name}: ${String((err as Error)?.message ?? err)}`,
          );
        }
      } else {
        let message: Uint8Array;
        try {
          message = ctx.method.responseType.encode(reply.response as object).finish();
        } catch (e) {
          this.sendError(
            correlationId,
            methodId,
            RpcStatus.INTERNAL,
            `${ctx.method.name}: bad response: ${(e as Error).message}`,
          );
          this.drainBacklog();
          this.updateFlow();
          return;
        }
        if (
          !this.framed.send({
            flags: FrameFlag.RESPONSE,
            correlationId,
            methodId,
            message,
            attachment: reply.attachment,
            attachmentCrc: reply.attachmentCrc,
          })
        ) {
          this.noteBlocked();
        }
      }
    }
    this.drainBacklog();
    this.updateFlow();
  }

  private sendError(correlationId: number, methodId: number, status: RpcStatus, text: string): void {
    const ok = this.framed.send({
      flags: FrameFlag.RESPONSE | FrameFlag.ERROR,
      correlationId,
      methodId,
      message: encodeErrorBody(status, text),
    });
    if (!ok) {
      this.noteBlocked();
      this.updateFlow();
    }
  }

  /** Answers pile up in the socket: stop taking requests once more than OUTPUT_HIGH_WATER is queued
   *  (the socket's own 16 KiB mark is far below one tick's corked batch). */
  private noteBlocked(): void {
    if (this.framed.socket.writableLength > OUTPUT_HIGH_WATER) this.writeBlocked = true;
  }

  /** Stops reading while too much is in flight or the answers cannot be written out. */
  private updateFlow(): void {
    const over = this.overLimit() || this.writeBlocked || this.backlogHead < this.backlog.length;
    if (over && !this.paused) {
      this.paused = true;
      this.framed.socket.pause();
    } else if (!over && this.paused) {
      this.paused = false;
      this.framed.socket.resume();
    }
  }

  private onClose(err: Error | undefined): void {
    if (err) log.debug('connection closed', { peer: this.peer, err });
    for (const ctx of this.calls.values()) ctx.cancel();
    this.calls.clear();
    this.backlog = [];
    this.backlogHead = 0;
    this.server.forget(this);
  }
}

export class RpcServer {
  private readonly table = new MethodTable<AnyHandler>();
  private readonly oneWay = new Set<number>();
  private readonly withReply = new Set<number>();
  private readonly connections = new Set<ServerConnection>();
  private readonly server: net.Server;
  private readonly maxCalls: number;
  private readonly maxBytes: number;
  private readonly limits: FrameLimits;
  private readonly allocateAttachment: ((n: number) => Buffer) | undefined;

  constructor(opts: RpcServerOptions = {}) {
    this.maxCalls = opts.maxInFlightPerConnection ?? 256;
    this.maxBytes = opts.maxInFlightBytesPerConnection ?? 64 << 20;
    this.limits = opts.limits ?? DEFAULT_FRAME_LIMITS;
    this.allocateAttachment = opts.allocateAttachment;
    this.server = net.createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
  }

  /**
   * Serves a connected socket: one accepted here, or one handed over by a port multiplexer with the
   * bytes it already read from it (`first`). The socket's reads go into the shared read buffer (see
   * common/shared-read-buffer) when its handle can be taken over: no buffer allocated per read.
   */
  accept(socket: net.Socket, first?: Buffer): void {
    socket.pause();
    // Reads of a taken-over socket arrive from a later event-loop turn, after `conn` exists.
    const taken = readIntoSharedBuffer(socket, (chunk) => conn.receive(chunk));
    const conn = new ServerConnection(
      taken ?? socket,
      this,
      this.maxCalls,
      this.maxBytes,
      this.limits,
      taken !== undefined,
      this.allocateAttachment,
    );
    this.connections.add(conn);
    if (first) conn.receive(first);
    if (!taken) socket.resume();
  }

  handle<Req, Res>(method: RpcMethod<Req, Res>, handler: RpcHandler<Req, Res>): this {
    this.table.add(method as RpcMethod, handler as AnyHandler);
    this.withReply.delete(method.id);
    return this;
  }

  /** A method whose handler answers through ctx.reply (see RpcReplyHandler). */
  handleWithReply<Req, Res>(method: RpcMethod<Req, Res>, handler: RpcReplyHandler<Req, Res>): this {
    this.table.add(method as RpcMethod, handler as unknown as AnyHandler);
    this.withReply.add(method.id);
    return this;
  }

  /** @internal */
  answersThroughContext(methodId: number): boolean {
    return this.withReply.has(methodId);
  }

  /**
   * A one-way method (RpcClient.post): the handler runs synchronously and nothing is answered, not even
   * errors (a frame with a bad attachment CRC or an undecodable message is dropped and counted).
   */
  handleOneWay<Req>(
    method: RpcMethod<Req, unknown>,
    handler: (request: Req, ctx: CallContext) => void,
  ): this {
    this.table.add(
      method as RpcMethod,
      ((req: Req, ctx: CallContext) => {
        handler(req, ctx);
        return { response: {} };
      }) as AnyHandler,
    );
    this.oneWay.add(method.id);
    return this;
  }

  /** @internal */
  isOneWay(methodId: number): boolean {
    return this.oneWay.has(methodId);
  }

  /** One-way frames dropped because their attachment CRC or message was bad. */
  droppedOneWay = 0;

  /** @internal */
  lookup(methodId: number): { method: RpcMethod; value: AnyHandler } | undefined {
    return this.table.get(methodId);
  }

  /** @internal */
  forget(conn: ServerConnection): void {
    this.connections.delete(conn);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  listen(port: number, host = '127.0.0.1'): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  /** Drops every connection (calls in flight are cancelled); new ones are still served. */
  dropConnections(): void {
    for (const c of this.connections) c.destroy();
  }

  /** Stops listening and drops every connection (calls in flight are cancelled). */
  close(): Promise<void> {
    this.dropConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
