// Test/bench helper: start kv-node-main processes on loopback and talk to them.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BINARY_PUT,
  BinaryReply,
  decodeBinaryReply,
  encodeFramedBinaryPut,
} from '../../../src/curve/raft/kv-client-codec';
import { FrameReader, frame } from '../../../src/curve/raft/tcp-transport';
import { DAEMON_NODE_FLAGS } from '../../../src/common/daemon-node-flags';
import { freePort } from '../../helpers/ports';

export const KV_NODE_MAIN = path.join(__dirname, '../../../src/curve/raft/kv-node-main.js');

export { freePort };

export class KvConnection {
  private readonly sock: net.Socket;
  private nextId = 1;
  /** Callers waiting for a reply, by request id, with their deadline (performance.now() ms). */
  private readonly waiting = new Map<number, { deadline: number; done: (r: KvReply) => void }>();
  /** One sweep for all deadlines instead of a timer per request (the benchmark has thousands in flight). */
  private sweeper: NodeJS.Timeout | null = null;
  closed = false;
  private corked = false;

  constructor(port: number) {
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.setNoDelay(true);
    const reader = new FrameReader();
    this.sock.on('data', (c: Buffer) =>
      reader.push(c, (f) => {
        const r =
          f[0] === BINARY_PUT
            ? fromBinary(decodeBinaryReply(f))
            : (JSON.parse(f.toString('utf8')) as KvReply);
        const w = this.waiting.get(r.id);
        this.waiting.delete(r.id);
        w?.done(r);
      }),
    );
    const fail = (): void => {
      this.closed = true;
      this.stopSweeper();
      for (const w of this.waiting.values()) w.done({ id: 0, ok: false, error: 'connection lost' });
      this.waiting.clear();
    };
    this.sock.on('error', fail);
    this.sock.on('close', fail);
  }

  call(req: Record<string, unknown>, timeoutMs = 3000): Promise<KvReply> {
    return this.request((id) => frame(Buffer.from(JSON.stringify({ ...req, id }))), timeoutMs);
  }

  /** A put in the binary protocol (kv-client-codec.ts): the value travels as raw bytes. */
  put(group: number, key: string, value: Uint8Array, timeoutMs = 3000): Promise<KvReply> {
    return this.request((id) => encodeFramedBinaryPut(id, group, key, value), timeoutMs);
  }

  private request(encode: (id: number) => Buffer, timeoutMs: number): Promise<KvReply> {
    if (this.closed) return Promise.resolve({ id: 0, ok: false, error: 'connection lost' });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, { deadline: performance.now() + timeoutMs, done: resolve });
      this.sweeper ??= setInterval(() => this.sweep(), 100);
      // Requests issued in one turn of the event loop leave in one socket write.
      if (!this.corked) {
        this.corked = true;
        this.sock.cork();
        process.nextTick(() => {
          this.corked = false;
          this.sock.uncork();
        });
      }
      this.sock.write(encode(id));
    });
  }

  /** Time out requests past their deadline (within ~100 ms); stop sweeping when none is waiting. */
  private sweep(): void {
    const now = performance.now();
    for (const [id, w] of this.waiting) {
      if (w.deadline > now) continue;
      this.waiting.delete(id);
      w.done({ id, ok: false, error: 'timeout' });
    }
    if (this.waiting.size === 0) this.stopSweeper();
  }

  private stopSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  close(): void {
    this.stopSweeper();
    this.sock.destroy();
  }
}

function fromBinary(r: BinaryReply): KvReply {
  return r.ok ? { id: r.id, ok: true, index: r.n } : { id: r.id, ok: false, leader: r.n };
}

export interface KvReply {
  id: number;
  ok: boolean;
  leader?: number;
  error?: string;
  index?: number;
  value?: string | null;
  applied?: number;
  role?: string;
  map?: [string, string][];
}

export class KvCluster {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raft-kv-'));
  readonly procs = new Map<number, ChildProcess>();
  raftPorts = new Map<number, number>();
  clientPorts = new Map<number, number>();

  constructor(
    readonly size = 3,
    readonly groups = 1,
    readonly tickMs = 50,
    /** false: replicas skip fsync (benchmark of everything but the disk). */
    readonly fsync = true,
    /** More kv-node options, e.g. ['--journal-checkpoint-bytes', '262144']. */
    readonly nodeArgs: string[] = [],
  ) {}

  async init(): Promise<void> {
    for (let id = 1; id <= this.size; id++) {
      this.raftPorts.set(id, await freePort());
      this.clientPorts.set(id, await freePort());
    }
  }

  async start(id: number): Promise<void> {
    const peers = [...this.raftPorts].map(([n, p]) => `${n}=127.0.0.1:${p}`).join(',');
    const child = spawn(
      process.execPath,
      [
        // e.g. RAFT_KV_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the replicas.
        ...DAEMON_NODE_FLAGS,
        ...(process.env.RAFT_KV_NODE_FLAGS ?? '').split(' ').filter(Boolean),
        KV_NODE_MAIN,
        ...['--id', String(id), '--dir', path.join(this.dir, `n${id}`), '--peers', peers],
        ...['--client-port', String(this.clientPorts.get(id)), '--groups', String(this.groups)],
        ...['--tick-ms', String(this.tickMs), '--fsync', this.fsync ? 'on' : 'off'],
        ...this.nodeArgs,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    this.procs.set(id, child);
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`kv-node ${id} exited with ${code}`)));
      child.stdout!.once('data', () => resolve());
    });
    child.removeAllListeners('exit');
  }

  kill(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.procs.get(id);
    this.procs.delete(id);
    if (!child || child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  async stopAll(): Promise<void> {
    // Profiled replicas (RAFT_KV_NODE_FLAGS=--cpu-prof) write their profile, and RAFT_KV_STATS their
    // counters, only on a clean exit.
    const clean = process.env.RAFT_KV_NODE_FLAGS?.includes('--cpu-prof') || process.env.RAFT_KV_STATS;
    const signal: NodeJS.Signals = clean ? 'SIGTERM' : 'SIGKILL';
    await Promise.all([...this.procs.keys()].map((id) => this.kill(id, signal)));
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
