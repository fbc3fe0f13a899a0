// SO_RCVLOWAT on a TCP socket, through the optional native/sockopt addon (Node has no API for it). With a
// low-water mark of N the kernel reports the socket readable, and wakes its reader, only once N bytes are
// queued (or the peer closed): a reader that knows N bytes are on their way sleeps through the segments
// before them. Unavailable (addon not built, no handle): setReceiveLowWater answers false.
import type * as net from 'node:net';
import { loadNativeAddon } from './native-addon';

type SetFn = (fd: number, bytes: number) => number;

const addon = loadNativeAddon('sockopt');
const setFn: SetFn | undefined =
  typeof addon?.setReceiveLowWater === 'function' ? (addon.setReceiveLowWater as SetFn) : undefined;

/** Is SO_RCVLOWAT settable in this process (the addon loaded)? */
export const receiveLowWaterAvailable = setFn !== undefined;

/** Sets the socket's receive low-water mark to `bytes` (>= 1); false when that could not be done. */
export function setReceiveLowWater(socket: net.Socket, bytes: number): boolean {
  const fd = (socket as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
  if (!setFn || typeof fd !== 'number' || fd < 0) return false;
  return setFn(fd, Math.max(1, Math.floor(bytes))) === 0;
}
