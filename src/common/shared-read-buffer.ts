// Sockets that carry bulk data (iSCSI connections, the Curve data-plane RPC) read into one process-wide
// buffer. By default Node gives every socket read a fresh 64 KiB allocation and then shrinks it to the
// bytes read (a realloc and a copy): with tgt's default MaxRecvDataSegmentLength of 8 KiB a 1 MiB write
// arrives in ~128 reads, and that allocator work was the largest cost we had over tgt (perf: memmove,
// memset, malloc/free ~18% of the daemon). Reading into a buffer we own (net.Socket's `onread`) removes
// it; the parsers copy out what they keep (PduParser's and FrameParser's `reusedChunks`), so headers and
// data are copied once, as they were before.
//
// Node (20) offers `onread` only for sockets it creates on connect() (sharedBufferOnRead), not for
// accepted ones, so an accepted socket (the server must use pauseOnConnect, so no read has started) is
// re-wrapped: its handle moves to a new net.Socket built with `onread`. That touches two private fields
// (`_handle`, `_server`); when they are not there, the socket is left as it was and reads stay on 'data'
// events.
import * as net from 'node:net';

/**
 * One buffer is enough for every socket: libuv reads into it and calls back synchronously, and the
 * callback consumes the bytes before the event loop can run another read.
 */
const SHARED = Buffer.allocUnsafe(256 * 1024);

/** net.connect's `onread` option: every read of the socket goes to `onChunk` (which copies what it keeps). */
export function sharedBufferOnRead(onChunk: (chunk: Buffer) => void): net.OnReadOpts {
  return {
    buffer: SHARED,
    callback: (n: number): boolean => {
      onChunk(SHARED.subarray(0, n));
      return true;
    },
  };
}

interface SocketInternals {
  _handle?: object | null;
  _server?: net.Server | null;
}

/**
 * Move an accepted, paused socket onto the shared read buffer. Every read is passed to `onChunk`, which
 * must copy what it keeps before returning. Returns the socket to use from now on, or undefined when the
 * socket could not be taken over (the caller then resumes `accepted` and listens for 'data').
 */
export function readIntoSharedBuffer(
  accepted: net.Socket,
  onChunk: (chunk: Buffer) => void,
): net.Socket | undefined {
  const internals = accepted as unknown as SocketInternals;
  const handle = internals._handle;
  if (handle === undefined || handle === null || !('_server' in internals)) return undefined;
  const server = internals._server ?? null;
  // The old wrapper must not close the handle or count the connection: the new one does both.
  internals._handle = null;
  internals._server = null;
  const socket = new net.Socket({ handle, onread: sharedBufferOnRead(onChunk) } as net.SocketConstructorOpts);
  (socket as unknown as SocketInternals)._server = server;
  return socket;
}
