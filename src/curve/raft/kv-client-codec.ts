// Binary put frames between a KV client and kv-node-main, so a 4 KiB value travels as raw bytes instead of
// a JSON string. A frame whose first byte is BINARY_PUT is binary; JSON frames start with '{'.
//   request: [u8 1][u32 id][u32 group][u16 key length][key utf8][value]
//   reply:   [u8 1][u32 id][u8 ok][u32 index when ok, else the leader hint (0 = unknown)]
export const BINARY_PUT = 0x01;
const REQUEST_HEADER = 11;
export const BINARY_REPLY_LENGTH = 10;

export interface BinaryPut {
  id: number;
  group: number;
  key: string;
  value: Buffer;
}

export interface BinaryReply {
  id: number;
  ok: boolean;
  /** The committed index when ok, else the leader hint. */
  n: number;
}

/** A complete length-prefixed request frame, ready to write (the value is copied once). */
export function encodeFramedBinaryPut(id: number, group: number, key: string, value: Uint8Array): Buffer {
  const keyLen = Buffer.byteLength(key);
  if (keyLen > 0xffff) throw new Error('kv client: key too long');
  const out = Buffer.allocUnsafe(4 + REQUEST_HEADER + keyLen + value.length);
  out.writeUInt32BE(REQUEST_HEADER + keyLen + value.length, 0);
  out[4] = BINARY_PUT;
  out.writeUInt32BE(id >>> 0, 5);
  out.writeUInt32BE(group >>> 0, 9);
  out.writeUInt16BE(keyLen, 13);
  out.write(key, 4 + REQUEST_HEADER, 'utf8');
  out.set(value, 4 + REQUEST_HEADER + keyLen);
  return out;
}

export function decodeBinaryPut(f: Buffer): BinaryPut {
  if (f.length < REQUEST_HEADER || f[0] !== BINARY_PUT) throw new Error('kv client: bad binary put');
  const keyLen = f.readUInt16BE(9);
  if (REQUEST_HEADER + keyLen > f.length) throw new Error('kv client: truncated binary put');
  return {
    id: f.readUInt32BE(1),
    group: f.readUInt32BE(5),
    key: f.toString('utf8', REQUEST_HEADER, REQUEST_HEADER + keyLen),
    value: f.subarray(REQUEST_HEADER + keyLen),
  };
}

/** Bytes of a length-prefixed reply frame. */
export const FRAMED_REPLY_LENGTH = 4 + BINARY_REPLY_LENGTH;

/** A complete length-prefixed reply frame, written into out at off (replies of one turn share a buffer). */
export function encodeBinaryReplyInto(out: Buffer, off: number, id: number, ok: boolean, n: number): void {
  out.writeUInt32BE(BINARY_REPLY_LENGTH, off);
  out[off + 4] = BINARY_PUT;
  out.writeUInt32BE(id >>> 0, off + 5);
  out[off + 9] = ok ? 1 : 0;
  out.writeUInt32BE(n >>> 0, off + 10);
}

/** Decode a reply payload (without the length prefix). */
export function decodeBinaryReply(f: Buffer): BinaryReply {
  if (f.length !== BINARY_REPLY_LENGTH || f[0] !== BINARY_PUT) throw new Error('kv client: bad binary reply');
  return { id: f.readUInt32BE(1), ok: f[5] === 1, n: f.readUInt32BE(6) };
}
