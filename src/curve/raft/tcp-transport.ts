// RaftTransport over TCP with length-prefixed frames: [u32 length][payload]. Each connection starts with a
// hello frame carrying the sender's node id; every later frame is one encoded batch. Each (peer, lane) pair
// has its own outgoing connection, so heartbeats and votes never sit behind megabytes of appends.
import * as net from 'node:net';
import { decodeBatch, encodeFramedBatch, GroupMessage } from './message-codec';
import { Lane, RaftTransport } from './transport';
import { NodeId } from './types';

export interface PeerAddress {
  host: string;
  port: number;
}

const MAX_FRAME = 256 << 20;

/** Split a byte stream into frames; keeps partial input between calls. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= 4) {
      let head = this.chunks[0];
      if (head.length < 4) {
        head = Buffer.concat(this.chunks);
        this.chunks = [head];
      }
      const len = head.readUInt32BE(0);
      if (len > MAX_FRAME) throw new Error(`raft transport: frame of ${len} bytes`);
      if (this.buffered < 4 + len) return;
      const all = this.chunks.length === 1 ? head : Buffer.concat(this.chunks);
      onFrame(all.subarray(4, 4 + len));
      const rest = all.subarray(4 + len);
      this.chunks = rest.length ? [rest] : [];
      this.buffered = rest.length;
    }
  }
}

export function frame(payload: Buffer): Buffer {
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(payload.length, 0);
  return Buffer.concat([head, payload]);
}

export class TcpTransport implements RaftTransport {
  private handler: (from: NodeId, batch: GroupMessage[]) => void = () => {};
  private readonly out = new Map<string, net.Socket>();
  private readonly inbound = new Set<net.Socket>();
  private closed = false;

  private constructor(
    readonly nodeId: NodeId,
    private readonly peers: Map<NodeId, PeerAddress>,
    private readonly server: net.Server,
  ) {}

  /** Listen on host:port (port 0 picks one; see address()). */
  static async listen(
    nodeId: NodeId,
    host: string,
    port: number,
    peers: Map<NodeId, PeerAddress>,
  ): Promise<TcpTransport> {
    const server = net.createServer();
    const t = new TcpTransport(nodeId, peers, server);
    server.on('connection', (sock) => t.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return t;
  }

  address(): PeerAddress {
    const a = this.server.address() as net.AddressInfo;
    return { host: a.address, port: a.port };
  }

  setPeer(id: NodeId, addr: PeerAddress): void {
    this.peers.set(id, addr);
  }

  onBatch(handler: (from: NodeId, batch: GroupMessage[]) => void): void {
    this.handler = handler;
  }

  send(to: NodeId, lane: Lane, batch: GroupMessage[]): void {
    if (this.closed) return;
    const sock = this.connection(to, lane);
    if (!sock) return;
    // Bound what one slow peer can pin in memory: drop data appends beyond 64 MiB queued (Raft resends).
    if (lane === 'data' && sock.writableLength > 64 << 20) return;
    sock.write(encodeFramedBatch(batch));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.out.values()) s.destroy();
    for (const s of this.inbound) s.destroy();
    this.out.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private connection(to: NodeId, lane: Lane): net.Socket | undefined {
    const key = `${to}/${lane}`;
    const existing = this.out.get(key);
    if (existing) return existing;
    const addr = this.peers.get(to);
    if (!addr) return undefined;
    const sock = net.connect(addr.port, addr.host);
    sock.setNoDelay(true);
    const hello = Buffer.allocUnsafe(4);
    hello.writeUInt32BE(this.nodeId, 0);
    sock.write(frame(hello));
    const drop = (): void => {
      if (this.out.get(key) === sock) this.out.delete(key);
      sock.destroy();
    };
    sock.on('error', drop);
    sock.on('close', drop);
    sock.on('data', () => {}); // nothing is sent back on this connection
    this.out.set(key, sock);
    return sock;
  }

  private accept(sock: net.Socket): void {
    sock.setNoDelay(true);
    this.inbound.add(sock);
    const reader = new FrameReader();
    let from = -1;
    sock.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk, (f) => {
          if (from < 0) {
            if (f.length !== 4) throw new Error('raft transport: bad hello');
            from = f.readUInt32BE(0);
            return;
          }
          this.handler(from, decodeBatch(f));
        });
      } catch {
        sock.destroy(); // malformed input: drop the connection, the peer reconnects
      }
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => this.inbound.delete(sock));
  }
}
