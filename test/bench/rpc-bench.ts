// Data-plane RPC benchmark: pipelined echo calls (the attachment goes out and comes back) over
// loopback, server in a child process so client and server each get a core.
//   node dist-X/test/bench/rpc-bench.js [--seconds 3] [--depth4k 256] [--depth1m 8] [--connections 2]
// Prints calls/s and MB/s (payload bytes in one direction) for 4 KiB and 1 MiB attachments, and the
// CPU time each side spent per call with the rate that implies when each side has a core to itself.

import { fork, type ChildProcess } from 'node:child_process';
import * as protobuf from 'protobufjs';
import { crc32c } from '../../src/iscsi/crc32c';
import { RpcClient } from '../../src/curve/rpc/rpc-client';
import { defineMethod } from '../../src/curve/rpc/rpc-method';
import { RpcServer } from '../../src/curve/rpc/rpc-server';

const Req = new protobuf.Type('BenchReq').add(new protobuf.Field('seq', 1, 'uint64'));
const Res = new protobuf.Type('BenchRes').add(new protobuf.Field('seq', 1, 'uint64'));
new protobuf.Root().add(Req).add(Res);
const Echo = defineMethod<{ seq: number }, { seq: number }>('bench.Bench.Echo', Req, Res);

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

async function serve(): Promise<void> {
  const server = new RpcServer({ maxInFlightPerConnection: 1024, maxInFlightBytesPerConnection: 256 << 20 });
  server.handle(Echo, (req, ctx) => ({
    response: { seq: req.seq },
    attachment: ctx.attachment,
    attachmentCrc: ctx.attachmentCrc,
  }));
  const addr = await server.listen(0, '127.0.0.1');
  process.send?.({ port: addr.port });
  // CPU time lets the parent judge per-call cost even on a machine busy with other work.
  process.on('message', () => {
    const u = process.cpuUsage();
    process.send?.({ cpuUs: u.user + u.system });
  });
  process.on('disconnect', () => process.exit(0));
}

function serverCpuUs(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m: { cpuUs: number }) => resolve(m.cpuUs));
    child.send('cpu');
  });
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function run(client: RpcClient, child: ChildProcess, size: number, depth: number, seconds: number) {
  const payload = Buffer.alloc(size, 0xab);
  // The data's CRC is computed once, as a caller holding an iSCSI data digest would.
  const payloadCrc = crc32c(payload);
  const deadline = Date.now() + seconds * 1000;
  let calls = 0;
  const lat: number[] = [];
  async function worker(): Promise<void> {
    let seq = 0;
    while (Date.now() < deadline) {
      const t0 = process.hrtime.bigint();
      const r = await client.call(
        Echo,
        { seq: seq++ },
        {
          attachment: payload,
          attachmentCrc: payloadCrc,
          responseBytes: size,
        },
      );
      if (r.attachment.length !== size) throw new Error('short echo');
      if ((calls & 63) === 0) lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
      calls++;
    }
  }
  // Warm up, then measure.
  await Promise.all(
    Array.from({ length: Math.min(depth, 16) }, () => client.call(Echo, { seq: 0 }, { attachment: payload })),
  );
  const start = process.hrtime.bigint();
  const cpu0 = cpuUs();
  const srv0 = await serverCpuUs(child);
  await Promise.all(Array.from({ length: depth }, worker));
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const clientUsPerCall = (cpuUs() - cpu0) / calls;
  const serverUsPerCall = ((await serverCpuUs(child)) - srv0) / calls;
  // What one core per side would sustain if this process had it to itself.
  const cpuBoundCallsPerSec = 1e6 / Math.max(clientUsPerCall, serverUsPerCall);
  lat.sort((a, b) => a - b);
  return {
    size,
    depth,
    callsPerSec: Math.round(calls / secs),
    mbPerSec: Math.round((calls * size) / secs / 1e6),
    p50ms: lat[Math.floor(lat.length / 2)]?.toFixed(2),
    p99ms: lat[Math.floor(lat.length * 0.99)]?.toFixed(2),
    clientCpuUsPerCall: Math.round(clientUsPerCall),
    serverCpuUsPerCall: Math.round(serverUsPerCall),
    cpuBoundCallsPerSec: Math.round(cpuBoundCallsPerSec),
    cpuBoundMbPerSec: Math.round((cpuBoundCallsPerSec * size) / 1e6),
  };
}

async function main(): Promise<void> {
  if (process.argv.includes('--serve')) return serve();
  const child = fork(__filename, ['--serve'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) =>
    child.once('message', (m: { port: number }) => resolve(m.port)),
  );
  const seconds = arg('seconds', 3);
  const client = new RpcClient({
    host: '127.0.0.1',
    port,
    dataConnections: arg('connections', 2),
    maxInFlightCalls: 4096,
    maxInFlightBytes: 256 << 20,
  });
  try {
    const results = [
      await run(client, child, 4096, arg('depth4k', 256), seconds),
      await run(client, child, 1 << 20, arg('depth1m', 8), seconds),
    ];
    for (const r of results) console.log(JSON.stringify(r));
  } finally {
    await client.close();
    child.disconnect();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
