import * as net from 'node:net';
import t from 'tap';
import { readIntoSharedBuffer } from '../../src/common/shared-read-buffer';

/** A server whose accepted sockets are moved onto the shared read buffer; resolves with what it needs. */
async function takeOverServer(onChunk: (chunk: Buffer) => void) {
  let accepted: (s: net.Socket) => void = () => {};
  const sockets = new Promise<net.Socket>((r) => (accepted = r));
  const server = net.createServer({ pauseOnConnect: true }, (raw) => {
    const taken = readIntoSharedBuffer(raw, onChunk);
    if (!taken) throw new Error('socket was not taken over');
    accepted(taken);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => client.once('connect', r));
  return { server, client, socket: await sockets };
}

t.test('an accepted socket reads into the shared buffer, writes, pauses and closes normally', async (t) => {
  const received: Buffer[] = [];
  let reads = 0;
  const { server, client, socket } = await takeOverServer((chunk) => {
    reads++;
    received.push(Buffer.from(chunk)); // the memory is reused: keep a copy
  });
  t.equal(socket.remoteAddress, '127.0.0.1');
  t.equal(socket.remotePort, client.localPort);

  // 1 MiB of patterned bytes arrives intact, in reads no larger than the shared buffer.
  const payload = Buffer.alloc(1 << 20);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 11)) & 0xff;
  client.write(payload);
  while (received.reduce((n, b) => n + b.length, 0) < payload.length)
    await new Promise((r) => setTimeout(r, 5));
  t.ok(Buffer.concat(received).equals(payload), 'bytes arrive in order, unchanged');
  t.ok(reads >= 4, `read in pieces (${reads} reads)`);
  t.ok(Math.max(...received.map((b) => b.length)) <= 256 * 1024);

  // pause() stops delivery until resume().
  socket.pause();
  received.length = 0;
  client.write('held');
  await new Promise((r) => setTimeout(r, 50));
  t.equal(received.length, 0, 'nothing delivered while paused');
  socket.resume();
  while (received.length === 0) await new Promise((r) => setTimeout(r, 5));
  t.equal(Buffer.concat(received).toString(), 'held');

  // Writing back works, and the server counts the connection once: close() completes after it ends.
  const echoed = new Promise<string>((r) => client.once('data', (d) => r(d.toString())));
  socket.write('pong');
  t.equal(await echoed, 'pong');
  let serverClosed = false;
  const closed = new Promise<void>((r) =>
    server.close(() => {
      serverClosed = true;
      r();
    }),
  );
  await new Promise((r) => setTimeout(r, 20));
  t.notOk(serverClosed, 'server close waits for the live connection');
  const clientEnded = new Promise((r) => client.once('close', r));
  socket.destroy();
  await closed;
  await clientEnded;
});

t.test('a socket without a handle is left alone', async (t) => {
  const s = new net.Socket();
  t.equal(
    readIntoSharedBuffer(s, () => {}),
    undefined,
  );
  s.destroy();
});
