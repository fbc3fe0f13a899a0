// Test harness: real curve-chunkserver processes on 127.0.0.1 (random ports, temp dirs), copyset
// creation over gRPC, and a small ChunkService client that follows REDIRECTED to the leader.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { cliServiceCtor, copysetServiceCtor } from '../../../src/curve/chunkserver/control-services';
import { createGrpcClient, grpcCall } from '../../../src/curve/rpc/grpc';
import { chunkServiceMethods } from '../../../src/curve/rpc/chunk-methods';
import { RpcClient } from '../../../src/curve/rpc/rpc-client';
import { DAEMON_NODE_FLAGS } from '../../../src/common/daemon-node-flags';
import { freePort } from '../../helpers/ports';

export const BIN = path.resolve(__dirname, '../../../src/bin/curve-chunkserver.js');

export { freePort };

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface CsProc {
  endpoint: string;
  port: number;
  dir: string;
  args: string[];
  proc: ChildProcess;
  logs: string[];
  exited: Promise<number | null>;
}

export const FAST_ARGS = [
  '--chunk-size',
  String(256 << 10),
  '--page-size',
  '4096',
  '--pool-target-count',
  '8',
  '--tick-ms',
  '50',
  '--election-ticks',
  '10',
];

export async function startChunkserver(
  dir: string,
  port: number,
  args: string[] = FAST_ARGS,
  startTimeoutMs = 30_000,
): Promise<CsProc> {
  // CS_LAUNCHER runs each chunkserver through a command that execs it, e.g. "chrt --batch 0" or "taskset -c 1".
  const launcher = (process.env.CS_LAUNCHER ?? '').split(' ').filter(Boolean);
  const proc = spawn(
    launcher[0] ?? process.execPath,
    // CS_NODE_ARGS passes node flags to every chunkserver, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    [
      ...(launcher.length ? [...launcher.slice(1), process.execPath] : []),
      ...DAEMON_NODE_FLAGS,
      ...(process.env.CS_NODE_ARGS ?? '').split(' ').filter(Boolean),
      BIN,
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--data-dir',
      dir,
      ...args,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: process.env.CS_LOG_LEVEL ?? 'info' },
    },
  );
  const logs: string[] = [];
  // CS_STDOUT_DIR=D keeps each chunkserver's stdout in D/<port>.out (e.g. with CS_NODE_ARGS=--trace-gc)
  // and its log (stderr) in D/<port>.err.
  if (process.env.CS_STDOUT_DIR) {
    const out = fs.createWriteStream(path.join(process.env.CS_STDOUT_DIR, `${port}.out`));
    const err = fs.createWriteStream(path.join(process.env.CS_STDOUT_DIR, `${port}.err`));
    proc.stdout!.on('data', (d: Buffer) => out.write(d));
    proc.stderr!.on('data', (d: Buffer) => err.write(d));
  }
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  proc.stderr!.on('data', (d: Buffer) => logs.push(...d.toString().split('\n').filter(Boolean)));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    // A chunkserver that neither listens nor exits (stuck recovering) must fail the test, not hang it.
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(
        new Error(
          `chunkserver on ${port} not listening within ${startTimeoutMs} ms: ${logs.slice(-10).join('\n')}`,
        ),
      );
    }, startTimeoutMs);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('listening on')) {
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        resolve();
      }
    };
    proc.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`chunkserver exited ${code}: ${logs.slice(-5).join('\n')}`));
    });
  });
  return { endpoint: `127.0.0.1:${port}`, port, dir, args, proc, logs, exited };
}

export async function stopChunkserver(
  cs: CsProc,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<number | null> {
  if (cs.proc.exitCode !== null || cs.proc.signalCode !== null) return cs.proc.exitCode;
  cs.proc.kill(signal);
  return cs.exited;
}

const grpcClients = new Map<string, grpc.Client>();

function grpcClient(kind: 'copyset' | 'cli', endpoint: string): grpc.Client {
  const key = `${kind}@${endpoint}`;
  let c = grpcClients.get(key);
  if (!c) {
    c = createGrpcClient(kind === 'copyset' ? copysetServiceCtor() : cliServiceCtor(), endpoint);
    grpcClients.set(key, c);
  }
  return c;
}

export function closeGrpcClients(): void {
  for (const c of grpcClients.values()) c.close();
  grpcClients.clear();
}

export function copysetCall<T>(endpoint: string, method: string, req: object): Promise<T> {
  return grpcCall<T>(grpcClient('copyset', endpoint), method, req);
}

export function cliCall<T>(endpoint: string, method: string, req: object): Promise<T> {
  return grpcCall<T>(grpcClient('cli', endpoint), method, req);
}

export async function createCopyset(endpoints: string[], pool: number, copyset: number): Promise<number[]> {
  const peerid = endpoints.map((e) => `${e}:0`);
  return Promise.all(
    endpoints.map(async (e) => {
      const r = await copysetCall<{ status: number }>(e, 'CreateCopysetNode', {
        logicPoolId: pool,
        copysetId: copyset,
        peerid,
      });
      return r.status;
    }),
  );
}

/** The leader's endpoint once some live replica reports one. */
export async function waitLeader(
  endpoints: string[],
  pool: number,
  copyset: number,
  timeoutMs = 10_000,
): Promise<string> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    for (const e of endpoints) {
      try {
        const r = await cliCall<{ leader?: { address: string } }>(e, 'GetLeader', {
          logicPoolId: pool,
          copysetId: copyset,
        });
        const addr = r.leader?.address;
        if (addr) {
          const ep = addr.split(':').slice(0, 2).join(':');
          const st = await copysetCall<{ state: number }>(ep, 'GetCopysetStatus', {
            logicPoolId: pool,
            copysetId: copyset,
          });
          if (st.state === 1) return ep;
        }
      } catch {
        // down or not ready
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no leader for ${pool}_${copyset} within ${timeoutMs} ms`);
}

export const STATUS = {
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

export interface ChunkAddr {
  pool: number;
  copyset: number;
  chunkId: number;
}

/** ChunkService client over the data-plane RPC, following REDIRECTED and retrying unreachable peers. */
export class ChunkClient {
  private readonly clients = new Map<string, RpcClient>();
  private leader = new Map<string, string>();
  readonly methods = chunkServiceMethods();

  constructor(
    private readonly endpoints: string[],
    private readonly timeoutMs = 1000,
  ) {}

  rpc(endpoint: string): RpcClient {
    let c = this.clients.get(endpoint);
    if (!c) {
      const [host, port] = endpoint.split(':');
      c = new RpcClient({
        host,
        port: Number(port),
        timeoutMs: this.timeoutMs,
        connectTimeoutMs: 500,
        backoff: { initialMs: 20, maxMs: 200, factor: 2 },
      });
      this.clients.set(endpoint, c);
    }
    return c;
  }

  /** One call on one endpoint, no retries. */
  async callAt(endpoint: string, method: string, req: Record<string, unknown>, attachment?: Buffer) {
    return this.rpc(endpoint).call(this.methods[method], req, { attachment });
  }

  /** REDIRECTED answers seen (each is then retried on the leader it names). */
  redirects = 0;

  /** Calls until a status other than REDIRECTED/transport failure, or the deadline. */
  async call(
    method: string,
    a: ChunkAddr,
    req: Record<string, unknown>,
    attachment?: Buffer,
    deadlineMs = 15_000,
  ): Promise<{ status: number; data: Buffer; response: Record<string, unknown> }> {
    const key = `${a.pool}_${a.copyset}`;
    const until = Date.now() + deadlineMs;
    let i = 0;
    for (;;) {
      const target = this.leader.get(key) ?? this.endpoints[i++ % this.endpoints.length];
      try {
        const r = await this.rpc(target).call(
          this.methods[method],
          { logicPoolId: a.pool, copysetId: a.copyset, chunkId: a.chunkId, ...req },
          { attachment },
        );
        const res = r.response as Record<string, unknown> & { status: number; redirect?: string };
        if (res.status === STATUS.REDIRECTED || res.status === STATUS.COPYSET_NOTEXIST) {
          if (res.status === STATUS.REDIRECTED) this.redirects++;
          this.leader.delete(key);
          if (res.redirect) this.leader.set(key, res.redirect.split(':').slice(0, 2).join(':'));
          else await new Promise((r2) => setTimeout(r2, 20));
        } else {
          this.leader.set(key, target);
          return { status: res.status, data: r.attachment, response: res };
        }
      } catch {
        this.leader.delete(key);
        await new Promise((r2) => setTimeout(r2, 20));
      }
      if (Date.now() > until) throw new Error(`${method} on ${key}: no answer within ${deadlineMs} ms`);
    }
  }

  write(a: ChunkAddr, offset: number, data: Buffer, sn = 1, deadlineMs?: number) {
    return this.call('WriteChunk', a, { offset, size: data.length, sn }, data, deadlineMs);
  }

  read(a: ChunkAddr, offset: number, size: number, deadlineMs?: number) {
    return this.call('ReadChunk', a, { offset, size, sn: 1 }, undefined, deadlineMs);
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }
}

/** Deterministic page content: identifies chunk, offset and version. */
export function pattern(chunkId: number, offset: number, version: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let o = 0; o < size; o += 16) {
    b.writeUInt32BE(chunkId, o);
    b.writeUInt32BE(offset + o, o + 4);
    b.writeUInt32BE(version, o + 8);
    b.writeUInt32BE(0xc0ffee, o + 12);
  }
  return b;
}

export interface ThreeChunkservers {
  /** The processes; a test may replace an entry (a restart) and teardown stops what is there then. */
  cs: CsProc[];
  eps: string[];
  dirs: string[];
  client: ChunkClient;
}

/**
 * Three chunkservers on fresh ports and temp dirs plus a ChunkClient, all stopped (with `stopSignal`) and
 * removed in the test's teardown.
 */
export async function startThreeChunkservers(
  t: { teardown(fn: () => unknown): void },
  dirPrefix: string,
  args: string[],
  opts: { clientTimeoutMs: number; stopSignal: NodeJS.Signals },
): Promise<ThreeChunkservers> {
  const ports = [await freePort(), await freePort(), await freePort()];
  const dirs = ports.map(() => tempDir(dirPrefix));
  const cs: CsProc[] = await Promise.all(ports.map((p, i) => startChunkserver(dirs[i], p, args)));
  const eps = cs.map((c) => c.endpoint);
  const client = new ChunkClient(eps, opts.clientTimeoutMs);
  t.teardown(async () => {
    await client.close();
    closeGrpcClients();
    for (const c of cs) await stopChunkserver(c, opts.stopSignal);
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });
  return { cs, eps, dirs, client };
}
