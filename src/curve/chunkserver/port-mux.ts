// One listening port for the whole chunkserver, as in Curve: the first byte of a connection tells the
// data-plane RPC (frames start with the magic 'CRPC') from gRPC (HTTP/2 starts with "PRI * HTTP/2.0").
import * as net from 'node:net';
import { Duplex } from 'node:stream';

const RPC_FIRST_BYTE = 0x43; // 'C'

export interface PortMuxTargets {
  /** A connection that speaks the framed RPC, paused, with the bytes already read from it. The target
   *  owns it from then on (and closes it). */
  rpc(socket: net.Socket, first: Buffer): void;
  /** A connection that speaks HTTP/2 (gRPC). */
  grpc(socket: Duplex): void;
}

export class PortMux {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  /** Connections accepted while held: dispatched by open(). */
  private waiting: net.Socket[] | undefined;
  private readonly dispatch: (socket: net.Socket) => void;

  /**
   * With `held`, connections are accepted but not read until open(): a server must know its port
   * before its services exist (its Raft identity is ip:port), and a request that arrived in between
   * would otherwise be answered "unknown method" — an error the client does not retry.
   */
  constructor(targets: PortMuxTargets, firstByteTimeoutMs = 10_000, held = false) {
    if (held) this.waiting = [];
    this.server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.once('error', () => socket.destroy());
      if (this.waiting) this.waiting.push(socket);
      else this.dispatch(socket);
    });
    this.dispatch = (socket) => {
      if (socket.destroyed) return;
      const timer = setTimeout(() => socket.destroy(), firstByteTimeoutMs);
      socket.once('data', (chunk: Buffer) => {
        clearTimeout(timer);
        socket.pause();
        if (chunk[0] === RPC_FIRST_BYTE) {
          // The RPC server may move the socket's handle to a new net.Socket (the shared read buffer):
          // this wrapper would then never report 'close', so the server alone tracks the connection.
          this.sockets.delete(socket);
          targets.rpc(socket, chunk);
        } else {
          // HTTP/2 reads the socket's handle directly and would miss unshifted bytes: give it a stream
          // that replays the first chunk.
          targets.grpc(new PrefixedSocket(socket, chunk));
        }
      });
    };
  }

  /** Starts serving the connections held so far and every later one. */
  open(): void {
    const held = this.waiting ?? [];
    this.waiting = undefined;
    for (const s of held) this.dispatch(s);
  }

  listen(port: number, host: string): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  /** Stops listening, drops the connections still held or sniffed here, and resolves once every
   *  connection it accepted is closed (those handed to the RPC side must be closed there). */
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A duplex over `socket` whose readable side starts with `first` (bytes already read from it). */
class PrefixedSocket extends Duplex {
  constructor(
    private readonly socket: net.Socket,
    first: Buffer,
  ) {
    super();
    socket.setNoDelay(true);
    this.push(first);
    socket.on('data', (d: Buffer) => {
      if (!this.push(d)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
    socket.on('error', (e) => this.destroy(e));
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.socket.write(chunk, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }
}
