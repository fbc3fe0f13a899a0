// A net.Socket carrying frames, shared by the RPC client and server: incoming bytes go through a
// FrameParser; outgoing frames written in one tick are corked together and leave in one writev.

import type * as net from 'node:net';
import { DEFAULT_FRAME_LIMITS, FrameError, type Frame, type FrameLimits } from './frame';
import { FrameParser } from './frame-parser';
import { serializeFrame, type OutgoingFrame } from './frame-serializer';

export interface FramedSocketEvents {
  onFrame(frame: Frame): void;
  /** Called once, when the socket is gone; `err` says why when it was not a clean close. */
  onClose(err: Error | undefined): void;
  /** The socket's write buffer drained after send() returned false. */
  onDrain?(): void;
}

export class FramedSocket {
  private readonly parser: FrameParser;
  private corked = false;
  private closed = false;
  private closeError: Error | undefined;

  constructor(
    readonly socket: net.Socket,
    private readonly events: FramedSocketEvents,
    limits: FrameLimits = DEFAULT_FRAME_LIMITS,
    /** The socket's reads are handed to receive() in a buffer that is reused afterwards (onread). */
    reusedChunks = false,
    /** Where received attachments are allocated (with reusedChunks). */
    allocate?: (n: number) => Buffer,
  ) {
    this.parser = new FrameParser(limits, reusedChunks, allocate);
    socket.setNoDelay(true);
    if (!reusedChunks) socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('drain', () => this.events.onDrain?.());
    socket.on('error', (err) => {
      this.closeError ??= err;
    });
    socket.on('close', () => {
      this.closed = true;
      this.events.onClose(this.closeError);
    });
  }

  get isClosed(): boolean {
    return this.closed || this.socket.destroyed;
  }

  /** Queues a frame; false means the socket's buffer is above its high-water mark (wait for onDrain). */
  send(frame: OutgoingFrame): boolean {
    if (this.isClosed) return false;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    const parts = serializeFrame(frame);
    let ok = true;
    for (const p of parts) ok = this.socket.write(p);
    return ok;
  }

  /** Closes the connection (with `err` reported to onClose when given). */
  destroy(err?: Error): void {
    if (err) this.closeError ??= err;
    this.socket.destroy();
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  /** Bytes read from the socket. */
  receive(chunk: Buffer): void {
    try {
      this.parser.push(chunk, this.events.onFrame);
    } catch (err) {
      // A broken stream cannot be resynchronised: drop the connection (only this one).
      this.destroy(err instanceof FrameError ? err : (err as Error));
    }
  }
}
