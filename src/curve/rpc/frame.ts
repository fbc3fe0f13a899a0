// The data-plane RPC frame: a fixed 32-byte header, then a protobuf-encoded message, then a raw
// attachment (chunk data), like brpc's attachment. All integers big-endian.
//
//   0  magic            u32  'CRPC'
//   4  version          u8   1
//   5  flags            u8   FrameFlag bits
//   6  reserved         u16  must be 0
//   8  correlation id   u32  chosen by the caller, echoed in the response
//  12  method id        u32  see method-id.ts
//  16  message length   u32
//  20  attachment len   u32
//  24  attachment crc   u32  CRC32C of the attachment (0 when it is empty)
//  28  header crc       u32  CRC32C of bytes 0..27, so a corrupt length is caught before it is trusted

import { crc32c } from '../../iscsi/crc32c';

export const FRAME_MAGIC = 0x43525043; // 'CRPC'
export const FRAME_VERSION = 1;
export const FRAME_HEADER_SIZE = 32;

export const FrameFlag = {
  /** Set on responses; clear on requests. */
  RESPONSE: 0x01,
  /** A response whose message is an RpcErrorBody instead of the method's response. */
  ERROR: 0x02,
  /** The caller gave up on the request with this correlation id; no message, no attachment. */
  CANCEL: 0x04,
} as const;

const KNOWN_FLAGS = FrameFlag.RESPONSE | FrameFlag.ERROR | FrameFlag.CANCEL;

export interface FrameHeader {
  flags: number;
  correlationId: number;
  methodId: number;
  messageLength: number;
  attachmentLength: number;
  attachmentCrc: number;
}

export interface Frame {
  flags: number;
  correlationId: number;
  methodId: number;
  message: Buffer;
  attachment: Buffer;
  /** CRC32C from the header; equal to the attachment's CRC when attachmentCrcOk. */
  attachmentCrc: number;
  /** False when the attachment does not match the CRC in the header: never use such data. */
  attachmentCrcOk: boolean;
}

export interface FrameLimits {
  maxMessageLength: number;
  maxAttachmentLength: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = {
  maxMessageLength: 1 << 20,
  maxAttachmentLength: 64 << 20,
};

/** A stream-level error: the byte stream can no longer be framed, so the connection must close. */
export class FrameError extends Error {
  constructor(
    readonly reason: 'magic' | 'version' | 'header-crc' | 'flags' | 'too-long',
    message: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

/** Writes the 32-byte header into `out` at `offset`. */
export function writeFrameHeader(h: FrameHeader, out: Buffer, offset = 0): void {
  out.writeUInt32BE(FRAME_MAGIC, offset);
  out[offset + 4] = FRAME_VERSION;
  out[offset + 5] = h.flags;
  out.writeUInt16BE(0, offset + 6);
  out.writeUInt32BE(h.correlationId >>> 0, offset + 8);
  out.writeUInt32BE(h.methodId >>> 0, offset + 12);
  out.writeUInt32BE(h.messageLength, offset + 16);
  out.writeUInt32BE(h.attachmentLength, offset + 20);
  out.writeUInt32BE(h.attachmentCrc >>> 0, offset + 24);
  out.writeUInt32BE(crc32c(out.subarray(offset, offset + 28)), offset + 28);
}

/** Decodes and validates a header; throws FrameError when the stream is not trustworthy. */
export function readFrameHeader(buf: Buffer, offset: number, limits: FrameLimits): FrameHeader {
  const magic = buf.readUInt32BE(offset);
  if (magic !== FRAME_MAGIC) throw new FrameError('magic', `bad frame magic 0x${magic.toString(16)}`);
  const stored = buf.readUInt32BE(offset + 28);
  if (crc32c(buf.subarray(offset, offset + 28)) !== stored)
    throw new FrameError('header-crc', 'frame header CRC mismatch');
  const version = buf[offset + 4];
  if (version !== FRAME_VERSION) throw new FrameError('version', `unsupported frame version ${version}`);
  const flags = buf[offset + 5];
  if ((flags & ~KNOWN_FLAGS) !== 0 || buf.readUInt16BE(offset + 6) !== 0) {
    throw new FrameError('flags', `unknown frame flags 0x${flags.toString(16)}`);
  }
  const h: FrameHeader = {
    flags,
    correlationId: buf.readUInt32BE(offset + 8),
    methodId: buf.readUInt32BE(offset + 12),
    messageLength: buf.readUInt32BE(offset + 16),
    attachmentLength: buf.readUInt32BE(offset + 20),
    attachmentCrc: buf.readUInt32BE(offset + 24),
  };
  if (h.messageLength > limits.maxMessageLength) {
    throw new FrameError(
      'too-long',
      `frame message of ${h.messageLength} bytes exceeds ${limits.maxMessageLength}`,
    );
  }
  if (h.attachmentLength > limits.maxAttachmentLength) {
    throw new FrameError(
      'too-long',
      `frame attachment of ${h.attachmentLength} bytes exceeds ${limits.maxAttachmentLength}`,
    );
  }
  return h;
}
