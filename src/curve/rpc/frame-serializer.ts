// Serializer half of the frame codec: no I/O. Returns the pieces to hand to a socket's writev, so the
// attachment (which can be megabytes) is never copied.

import { crc32c } from '../../iscsi/crc32c';
import { FRAME_HEADER_SIZE, writeFrameHeader } from './frame';

const EMPTY = Buffer.alloc(0);

export interface OutgoingFrame {
  flags: number;
  correlationId: number;
  methodId: number;
  message: Uint8Array;
  /** One buffer, or pieces sent back to back (e.g. a Raft batch whose entries are shared between peers). */
  attachment?: Buffer | readonly Buffer[];
  /** CRC32C of the attachment if the caller already has it (e.g. stored with the data). */
  attachmentCrc?: number;
}

/** Bytes in an attachment given as one buffer or as pieces. */
export function attachmentLength(a: Buffer | readonly Buffer[] | undefined): number {
  if (a === undefined) return 0;
  if (Buffer.isBuffer(a)) return a.length;
  let n = 0;
  for (const p of a as readonly Buffer[]) n += p.length;
  return n;
}

function attachmentCrcOf(a: Buffer | readonly Buffer[]): number {
  if (Buffer.isBuffer(a)) return crc32c(a);
  let crc = 0;
  for (const p of a as readonly Buffer[]) crc = crc32c(p, crc);
  return crc;
}

/**
 * Encodes a frame as [header + message] followed, when present, by the attachment buffer(s) themselves.
 * The total length is FRAME_HEADER_SIZE + message.length + the attachment's length.
 */
export function serializeFrame(f: OutgoingFrame): Buffer[] {
  const attachment = f.attachment ?? EMPTY;
  const length = attachmentLength(attachment);
  const head = Buffer.allocUnsafe(FRAME_HEADER_SIZE + f.message.length);
  writeFrameHeader(
    {
      flags: f.flags,
      correlationId: f.correlationId,
      methodId: f.methodId,
      messageLength: f.message.length,
      attachmentLength: length,
      attachmentCrc: length === 0 ? 0 : (f.attachmentCrc ?? attachmentCrcOf(attachment)),
    },
    head,
  );
  head.set(f.message, FRAME_HEADER_SIZE);
  if (length === 0) return [head];
  if (Buffer.isBuffer(attachment)) return [head, attachment];
  const parts: Buffer[] = [head];
  for (const p of attachment as readonly Buffer[]) if (p.length) parts.push(p);
  return parts;
}

/** Total wire size of a frame (for in-flight byte accounting). */
export function frameSize(messageLength: number, attachmentLength: number): number {
  return FRAME_HEADER_SIZE + messageLength + attachmentLength;
}
