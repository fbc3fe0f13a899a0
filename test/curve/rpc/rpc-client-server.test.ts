import * as net from 'node:net';
import t from 'tap';
import * as protobuf from 'protobufjs';
import { crc32c } from '../../../src/iscsi/crc32c';
import { FrameFlag, type Frame } from '../../../src/curve/rpc/frame';
import { FrameParser } from '../../../src/curve/rpc/frame-parser';
import { serializeFrame } from '../../../src/curve/rpc/frame-serializer';
import { RpcClient } from '../../../src/curve/rpc/rpc-client';
import { defineMethod } from '../../../src/curve/rpc/rpc-method';
import { RpcServer } from '../../../src/curve/rpc/rpc-server';
import { RpcError, RpcStatus, decodeErrorBody } from '../../../src/curve/rpc/rpc-status';

const Req = new protobuf.Type('EchoReq')
  .add(new protobuf.Field('n', 1, 'uint32'))
  .add(new protobuf.Field('delayMs', 2, 'uint32'))
  .add(new protobuf.Field('fail', 3, 'uint32'));
const Res = new protobuf.Type('EchoRes').add(new protobuf.Field('n', 1, 'uint32'));
new protobuf.Root().add(Req).add(Res);

interface EchoReq {
  n: number;
  delayMs?: number;
  fail?: number;
}
interface EchoRes {
  n: number;
}
const Echo = defineMethod<EchoReq, EchoRes>('test.Echo.Echo', Req, Res);
const Slow = defineMethod<EchoReq, EchoRes>('test.Echo.Slow', Req, Res);
const Unregistered = defineMethod<EchoReq, EchoRes>('test.Echo.Nope', Req, Res);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startServer(opts: ConstructorParameters<typeof RpcServer>[0] = {}) {
  const server = new RpcServer(opts);
  const cancelled: number[] = [];
  server.handle(Echo, (req, ctx) => {
    if (req.fail === 1) throw new RpcError(RpcStatus.BAD_REQUEST, 'asked to fail');
    if (req.fail === 2) throw new Error('boom');
    return { response: { n: req.n }, attachment: ctx.attachment };
  });
  server.handle(Slow, async (req, ctx) => {
    const signal = ctx.signal;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, req.delayMs ?? 0);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        cancelled.push(req.n);
        resolve();
      });
    });
    return { response: { n: req.n } };
  });
  const addr = await server.listen(0);
  return { server, port: addr.port, cancelled };
}

/** A raw socket speaking frames directly, to send what a well-behaved client never would. */
async function rawConnect(port: number) {
  const sock = net.connect({ host: '127.0.0.1', port });
  await new Promise((r) => sock.once('connect', r));
  const frames: Frame[] = [];
  const parser = new FrameParser();
  sock.on('data', (c: Buffer) => parser.push(c, (f) => frames.push(f)));
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  return { sock, frames, closed };
}

t.test('echo with attachment, pipelined, out-of-order completion', async (t) => {
  const { server, port } = await startServer();
  const client = new RpcClient({ host: '127.0.0.1', port });
  const data = Buffer.alloc(1 << 20);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
  const r = await client.call(Echo, { n: 5 }, { attachment: data });
  t.equal(r.response.n, 5);
  t.ok(r.attachment.equals(data), '1 MiB attachment echoed intact');

  const slow = client.call(Slow, { n: 1, delayMs: 100 });
  const fast = await Promise.all(Array.from({ length: 200 }, (_, i) => client.call(Echo, { n: i })));
  t.same(
    fast.map((x) => x.response.n),
    Array.from({ length: 200 }, (_, i) => i),
  );
  t.equal((await slow).response.n, 1, 'slow call completes after the fast ones');
  t.equal(client.stats().inFlightCalls, 0);
  t.equal(client.stats().inFlightBytes, 0);
  await client.close();
  await server.close();
});

t.test('a caller-supplied attachment CRC is sent as is and still verified by the server', async (t) => {
  const { server, port } = await startServer();
  const client = new RpcClient({ host: '127.0.0.1', port });
  const data = Buffer.from('payload-bytes');
  const good = await client.call(Echo, { n: 1 }, { attachment: data, attachmentCrc: crc32c(data) });
  t.equal(good.attachmentCrc, crc32c(data), 'response reports the verified CRC');
  await t.rejects(client.call(Echo, { n: 2 }, { attachment: data, attachmentCrc: 12345 }), {
    name: 'RpcError',
    status: RpcStatus.CRC_MISMATCH,
  });
  await client.close();
  await server.close();
});

t.test('handler errors reach the caller; the connection survives', async (t) => {
  const { server, port } = await startServer();
  const client = new RpcClient({ host: '127.0.0.1', port });
  await t.rejects(client.call(Echo, { n: 1, fail: 1 }), {
    name: 'RpcError',
    status: RpcStatus.BAD_REQUEST,
    message: 'asked to fail',
  });
  await t.rejects(client.call(Echo, { n: 1, fail: 2 }), { name: 'RpcError', status: RpcStatus.INTERNAL });
  await t.rejects(client.call(Unregistered, { n: 1 }), {
    name: 'RpcError',
    status: RpcStatus.UNKNOWN_METHOD,
  });
  t.equal((await client.call(Echo, { n: 9 })).response.n, 9);
  t.equal(client.stats().reconnects, 0);
  await client.close();
  await server.close();
});

t.test('handleWithReply: answered through ctx.reply, once; errors and throws as for handle()', async (t) => {
  const server = new RpcServer();
  const Replied = defineMethod<EchoReq, EchoRes>('test.Echo.Replied', Req, Res);
  let lateReplies = 0;
  server.handleWithReply(Replied, (req, ctx) => {
    if (req.fail === 1) return ctx.reply(new RpcError(RpcStatus.BAD_REQUEST, 'asked to fail'));
    if (req.fail === 2) throw new Error('boom');
    const answer = (): void => {
      ctx.reply(undefined, { response: { n: req.n }, attachment: ctx.attachment });
      // A second answer is ignored: no second frame, no accounting twice.
      ctx.reply(undefined, { response: { n: req.n + 1 } });
      lateReplies++;
    };
    if (req.delayMs) setTimeout(answer, req.delayMs);
    else answer();
  });
  const { port } = await server.listen(0);
  const client = new RpcClient({ host: '127.0.0.1', port });
  const data = Buffer.alloc(64 << 10, 7);
  const r = await client.call(Replied, { n: 3 }, { attachment: data });
  t.equal(r.response.n, 3);
  t.ok(r.attachment.equals(data), 'attachment answered intact');
  const many = await Promise.all(
    Array.from({ length: 300 }, (_, i) => client.call(Replied, { n: i, delayMs: i % 3 })),
  );
  t.same(
    many.map((x) => x.response.n),
    Array.from({ length: 300 }, (_, i) => i),
    'pipelined, answered synchronously and later, each with its own answer',
  );
  await t.rejects(client.call(Replied, { n: 1, fail: 1 }), {
    name: 'RpcError',
    status: RpcStatus.BAD_REQUEST,
    message: 'asked to fail',
  });
  await t.rejects(client.call(Replied, { n: 1, fail: 2 }), { name: 'RpcError', status: RpcStatus.INTERNAL });
  t.equal((await client.call(Replied, { n: 9 })).response.n, 9, 'the connection survives');
  t.equal(lateReplies, 302);
  t.equal(client.stats().reconnects, 0);
  // handle() for the same method takes over from the reply handler.
  server.handle(Replied, (req) => ({ response: { n: req.n * 2 } }));
  t.equal((await client.call(Replied, { n: 4 })).response.n, 8);
  await client.close();
  await server.close();
});

t.test('timeout rejects the call and cancels it on the server', async (t) => {
  const { server, port, cancelled } = await startServer();
  const client = new RpcClient({ host: '127.0.0.1', port });
  const start = Date.now();
  await t.rejects(client.call(Slow, { n: 77, delayMs: 5000 }, { timeoutMs: 100 }), {
    name: 'RpcError',
    status: RpcStatus.TIMEOUT,
  });
  t.ok(Date.now() - start < 1000);
  await sleep(50);
  t.same(cancelled, [77], 'server saw the cancel frame');
  t.equal(client.stats().inFlightCalls, 0, 'budget released');
  await client.close();
  await server.close();
});

t.test('AbortSignal cancels a call', async (t) => {
  const { server, port, cancelled } = await startServer();
  const client = new RpcClient({ host: '127.0.0.1', port });
  const ac = new AbortController();
  const p = client.call(Slow, { n: 3, delayMs: 5000 }, { signal: ac.signal });
  await sleep(20);
  ac.abort();
  await t.rejects(p, { name: 'RpcError', status: RpcStatus.CANCELLED });
  await sleep(50);
  t.same(cancelled, [3]);
  const pre = new AbortController();
  pre.abort();
  await t.rejects(client.call(Echo, { n: 1 }, { signal: pre.signal }), {
    name: 'RpcError',
    status: RpcStatus.CANCELLED,
  });
  await client.close();
  await server.close();
});

t.test('back-pressure: in-flight calls bounded, callers wait, overflow refused', async (t) => {
  const { server, port } = await startServer();
  const client = new RpcClient({ host: '127.0.0.1', port, maxInFlightCalls: 4, maxWaiters: 6 });
  const calls = Array.from({ length: 10 }, (_, i) => client.call(Slow, { n: i, delayMs: 50 }));
  await sleep(10);
  t.equal(client.stats().inFlightCalls, 4);
  t.equal(client.stats().waiting, 6);
  await t.rejects(client.call(Echo, { n: 0 }), { name: 'RpcError', status: RpcStatus.OVERLOAD });
  const done = await Promise.all(calls);
  t.same(
    done.map((d) => d.response.n),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  await client.close();
  await server.close();
});

t.test('in-flight bytes bounded by the byte budget', async (t) => {
  const { server, port } = await startServer();
  const client = new RpcClient({ host: '127.0.0.1', port, maxInFlightBytes: 10_000 });
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, client.stats().inFlightBytes)), 0);
  const big = Buffer.alloc(4096, 7);
  const rs = await Promise.all(
    Array.from({ length: 50 }, (_, i) => client.call(Echo, { n: i }, { attachment: big })),
  );
  clearInterval(timer);
  t.equal(rs.length, 50);
  t.ok(peak <= 10_000, `peak in-flight ${peak} bytes`);
  await client.close();
  await server.close();
});

t.test('control lane is not blocked by a saturated data lane', async (t) => {
  const { server, port } = await startServer();
  const client = new RpcClient({ host: '127.0.0.1', port, maxInFlightCalls: 2, maxWaiters: 100 });
  const bulk = Array.from({ length: 6 }, (_, i) => client.call(Slow, { n: i, delayMs: 300 }));
  await sleep(10);
  const start = Date.now();
  const r = await client.call(Echo, { n: 42 }, { lane: 'control' });
  t.equal(r.response.n, 42);
  t.ok(Date.now() - start < 150, 'control call answered while data calls wait');
  await Promise.all(bulk);
  await client.close();
  await server.close();
});

t.test('server restart: calls fail with CONNECTION_LOST, then reconnect', async (t) => {
  const first = await startServer();
  const port = first.port;
  const client = new RpcClient({
    host: '127.0.0.1',
    port,
    backoff: { initialMs: 20, maxMs: 100, factor: 2 },
  });
  t.equal((await client.call(Echo, { n: 1 })).response.n, 1);
  const inflight = client.call(Slow, { n: 2, delayMs: 5000 });
  await sleep(20);
  await first.server.close();
  await t.rejects(inflight, { name: 'RpcError', status: RpcStatus.CONNECTION_LOST });
  await t.rejects(
    client.call(Echo, { n: 3 }),
    { name: 'RpcError', status: RpcStatus.UNAVAILABLE },
    'nobody listening',
  );
  const second = new RpcServer();
  second.handle(Echo, (req) => ({ response: { n: req.n + 100 } }));
  await second.listen(port);
  let answer: number | undefined;
  for (let i = 0; i < 50 && answer === undefined; i++) {
    try {
      answer = (await client.call(Echo, { n: 4 })).response.n;
    } catch (err) {
      t.equal((err as RpcError).status, RpcStatus.UNAVAILABLE);
      await sleep(20);
    }
  }
  t.equal(answer, 104, 'reconnected to the new server');
  t.ok(client.stats().reconnects >= 1);
  await client.close();
  await second.close();
});

t.test('calls after close fail with SHUTDOWN; in-flight ones too', async (t) => {
  const { server, port } = await startServer();
  const client = new RpcClient({ host: '127.0.0.1', port });
  const p = client.call(Slow, { n: 1, delayMs: 1000 });
  await sleep(20);
  await client.close();
  await t.rejects(p, { name: 'RpcError', status: RpcStatus.SHUTDOWN });
  await t.rejects(client.call(Echo, { n: 1 }), { name: 'RpcError', status: RpcStatus.SHUTDOWN });
  await server.close();
});

t.test('bad input on the wire: per-request rejects and per-connection closes', async (t) => {
  const { server, port } = await startServer({
    limits: { maxMessageLength: 1024, maxAttachmentLength: 4096 },
  });
  const msg = Req.encode({ n: 11 }).finish();

  // Attachment CRC mismatch: that request is rejected, the next one on the same connection works.
  const a = await rawConnect(port);
  const bad = Buffer.concat(
    serializeFrame({
      flags: 0,
      correlationId: 1,
      methodId: Echo.id,
      message: msg,
      attachment: Buffer.from('xxxx'),
    }),
  );
  bad[bad.length - 1] ^= 1;
  a.sock.write(bad);
  a.sock.write(
    Buffer.concat(serializeFrame({ flags: 0, correlationId: 2, methodId: Echo.id, message: msg })),
  );
  // Unknown method and undecodable message: rejected per request too.
  a.sock.write(Buffer.concat(serializeFrame({ flags: 0, correlationId: 3, methodId: 12345, message: msg })));
  a.sock.write(
    Buffer.concat(
      serializeFrame({ flags: 0, correlationId: 4, methodId: Echo.id, message: Buffer.from([0xff, 0xff]) }),
    ),
  );
  for (let i = 0; i < 50 && a.frames.length < 4; i++) await sleep(10);
  const byId = new Map(a.frames.map((f) => [f.correlationId, f]));
  t.equal(byId.get(1)!.flags, FrameFlag.RESPONSE | FrameFlag.ERROR);
  t.equal(decodeErrorBody(byId.get(1)!.message).status, RpcStatus.CRC_MISMATCH);
  t.equal(byId.get(2)!.flags, FrameFlag.RESPONSE);
  t.same(Res.toObject(Res.decode(byId.get(2)!.message)), { n: 11 });
  t.equal(decodeErrorBody(byId.get(3)!.message).status, RpcStatus.UNKNOWN_METHOD);
  t.equal(decodeErrorBody(byId.get(4)!.message).status, RpcStatus.BAD_REQUEST);

  // A healthy client on another connection is unaffected by the connections killed below.
  const client = new RpcClient({ host: '127.0.0.1', port });
  t.equal((await client.call(Echo, { n: 1 })).response.n, 1);

  const b = await rawConnect(port);
  b.sock.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n0123')); // wrong magic
  await b.closed;
  t.pass('wrong magic closes the connection');

  const c = await rawConnect(port);
  c.sock.write(
    Buffer.concat(
      serializeFrame({
        flags: 0,
        correlationId: 1,
        methodId: Echo.id,
        message: msg,
        attachment: Buffer.alloc(8192),
      }),
    ),
  );
  await c.closed;
  t.pass('oversized attachment closes the connection');

  const d = await rawConnect(port);
  d.sock.write(
    Buffer.concat(
      serializeFrame({ flags: FrameFlag.RESPONSE, correlationId: 1, methodId: Echo.id, message: msg }),
    ),
  );
  await d.closed;
  t.pass('a response frame sent to the server closes the connection');

  // Declared attachment longer than what is sent, then the peer half-closes: nothing is dispatched.
  const e = await rawConnect(port);
  const short = Buffer.concat(
    serializeFrame({
      flags: 0,
      correlationId: 9,
      methodId: Echo.id,
      message: msg,
      attachment: Buffer.alloc(100),
    }),
  );
  e.sock.end(short.subarray(0, short.length - 10));
  await sleep(50);
  t.equal(e.frames.length, 0, 'truncated frame is never answered');
  e.sock.destroy();

  t.equal((await client.call(Echo, { n: 2 })).response.n, 2, 'the healthy connection still works');
  a.sock.destroy();
  await client.close();
  await server.close();
});

t.test('client rejects a response whose attachment fails its CRC', async (t) => {
  // A fake server that corrupts the attachment of its answer.
  const srv = net.createServer((sock) => {
    const parser = new FrameParser();
    sock.on('data', (c: Buffer) =>
      parser.push(c, (f) => {
        const out = Buffer.concat(
          serializeFrame({
            flags: FrameFlag.RESPONSE,
            correlationId: f.correlationId,
            methodId: f.methodId,
            message: Res.encode({ n: 1 }).finish(),
            attachment: Buffer.from('abcdef'),
          }),
        );
        out[out.length - 1] ^= 0x10;
        sock.write(out);
      }),
    );
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  const client = new RpcClient({ host: '127.0.0.1', port });
  await t.rejects(client.call(Echo, { n: 1 }), { name: 'RpcError', status: RpcStatus.CRC_MISMATCH });
  await client.close();
  await new Promise((r) => srv.close(r));
});

t.test('server pauses reading at its in-flight limit', async (t) => {
  const { server, port } = await startServer({ maxInFlightPerConnection: 2 });
  const client = new RpcClient({ host: '127.0.0.1', port, dataConnections: 1 });
  const start = Date.now();
  const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => client.call(Slow, { n: i, delayMs: 50 })));
  const elapsed = Date.now() - start;
  t.equal(rs.length, 6);
  t.ok(elapsed >= 140, `6 calls of 50 ms at 2 in flight took ${elapsed} ms`);
  await client.close();
  await server.close();
});

t.test('post: one-way frames reach handleOneWay, nothing is answered; bad ones are dropped', async (t) => {
  const server = new RpcServer();
  const got: { n: number; attachment: string }[] = [];
  const Post = defineMethod<EchoReq, EchoRes>('test.Echo.Post', Req, Res);
  server.handleOneWay(Post, (req, ctx) => got.push({ n: req.n, attachment: ctx.attachment.toString() }));
  const { port } = await server.listen(0);
  const client = new RpcClient({ host: '127.0.0.1', port });
  t.ok(client.supportsPost(Post));
  for (let n = 1; n <= 50; n++) t.equal(client.post(Post, { n }, { attachment: Buffer.from(`a${n}`) }), true);
  for (let i = 0; i < 200 && got.length < 50; i++) await sleep(5);
  t.same(
    got.map((g) => g.n),
    [...Array(50).keys()].map((i) => i + 1),
    'all 50 delivered in order (the first once the connection was up)',
  );
  t.equal(got[49].attachment, 'a50');

  // On the wire: a posted frame gets no response, and a corrupt attachment is dropped, not answered.
  const raw = await rawConnect(port);
  const frame = (attachmentCrc?: number): Buffer =>
    Buffer.concat(
      serializeFrame({
        flags: 0,
        correlationId: 7,
        methodId: Post.id,
        message: Req.encode({ n: 99 }).finish(),
        attachment: Buffer.from('xyz'),
        attachmentCrc,
      }),
    );
  raw.sock.write(frame((crc32c(Buffer.from('xyz')) ^ 1) >>> 0));
  raw.sock.write(frame());
  for (let i = 0; i < 200 && got.length < 51; i++) await sleep(5);
  await sleep(50);
  t.equal(got.length, 51, 'the good frame was delivered, the corrupt one was not');
  t.equal(server.droppedOneWay, 1, 'the corrupt frame was counted as dropped');
  t.same(raw.frames, [], 'no frame was sent back for either');
  raw.sock.destroy();
  await client.close();
  await server.close();
});

t.test('post to a server that does not know the method: the client learns to call instead', async (t) => {
  const { server, port } = await startServer();
  const client = new RpcClient({ host: '127.0.0.1', port });
  const Post = defineMethod<EchoReq, EchoRes>('test.Echo.PostUnknown', Req, Res);
  await client.call(Echo, { n: 1 }); // connection up
  t.ok(client.post(Post, { n: 1 }));
  for (let i = 0; i < 200 && client.supportsPost(Post); i++) await sleep(5);
  t.notOk(client.supportsPost(Post), 'UNKNOWN_METHOD for a posted frame marks the method unsupported');
  t.ok(client.supportsPost(Echo), 'other methods are unaffected');
  await client.close();
  await server.close();
});

t.test('post while the connection is down: a bounded amount waits, the rest is dropped', async (t) => {
  // A port nobody listens on: connecting fails, after the client's timeout/backoff.
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const client = new RpcClient({ host: '127.0.0.1', port, connectTimeoutMs: 200, controlLane: false });
  const Post = defineMethod<EchoReq, EchoRes>('test.Echo.PostDown', Req, Res);
  const mib = Buffer.alloc(1 << 20);
  const accepted = Array.from({ length: 6 }, (_, n) => client.post(Post, { n }, { attachment: mib }));
  t.same(accepted, [true, true, true, false, false, false], 'about 4 MiB may wait for the connection');
  await sleep(300); // the connection attempt failed: the waiting frames were dropped
  t.equal(client.post(Post, { n: 9 }, { attachment: mib }), true, 'their room is free again');
  await client.close();
});
