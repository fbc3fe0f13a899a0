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
  attachment?: Buffer;
  /** CRC32C of the attachment if the caller already has it (e.g. stored with the data). */
  attachmentCrc?: number;
}

/**
 * Encodes a frame as [header + message] followed, when present, by the attachment buffer itself.
 * The total length is FRAME_HEADER_SIZE + message.length + attachment.length.
 */
export function serializeFrame(f: OutgoingFrame): Buffer[] {
  const attachment = f.attachment ?? EMPTY;
  const head = Buffer.allocUnsafe(FRAME_HEADER_SIZE + f.message.length);
  writeFrameHeader(
    {
      flags: f.flags,
      correlationId: f.correlationId,
      methodId: f.methodId,
      messageLength: f.message.length,
      attachmentLength: attachment.length,
      attachmentCrc: attachment.length === 0 ? 0 : (f.attachmentCrc ?? crc32c(attachment)),
    },
    head,
  );
  head.set(f.message, FRAME_HEADER_SIZE);
  return attachment.length === 0 ? [head] : [head, attachment];
}

/** Total wire size of a frame (for in-flight byte accounting). */
export function frameSize(messageLength: number, attachmentLength: number): number {
  return FRAME_HEADER_SIZE + messageLength + attachmentLength;
}
