// PortMux: the first byte picks the protocol; a held mux accepts connections but serves none until open().
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import t from 'tap';
import { PortMux } from '../../../src/curve/chunkserver/port-mux';

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('a held mux serves connections accepted before open() once it opens', async (t) => {
  const rpcBytes: Buffer[] = [];
  const grpcSeen: Duplex[] = [];
  const mux = new PortMux(
    {
      rpc: (s, first) => {
        rpcBytes.push(first);
        s.on('data', (d: Buffer) => rpcBytes.push(d));
        s.resume();
        clients.push(s); // the RPC side owns it now: closed by the test
      },
      grpc: (s) => grpcSeen.push(s),
    },
    10_000,
    true,
  );
  const addr = await mux.listen(0, '127.0.0.1');
  const clients: net.Socket[] = [];
  t.teardown(async () => {
    for (const c of clients) c.destroy();
    await mux.close();
  });
  const early = await connect(addr.port);
  clients.push(early);
  early.write('CRPC-early');
  await tick(100);
  t.same(rpcBytes, [], 'nothing is dispatched while held');

  mux.open();
  const until = Date.now() + 5000;
  while (Buffer.concat(rpcBytes).toString() !== 'CRPC-early' && Date.now() < until) await tick(10);
  t.equal(
    Buffer.concat(rpcBytes).toString(),
    'CRPC-early',
    'the held connection reaches the RPC side, first byte included',
  );

  const late = await connect(addr.port);
  clients.push(late);
  late.write('PRI * HTTP/2.0');
  while (grpcSeen.length === 0 && Date.now() < until) await tick(10);
  t.equal(grpcSeen.length, 1, 'a connection after open() is dispatched at once (HTTP/2 to gRPC)');
});
