// The metapage at the head of every chunk and snapshot file (the first `pageSize` bytes; data follows).
// Pure encode/decode. Layout, big-endian:
//    0 magic u32 ('CKCH' chunk, 'CKSS' snapshot)   4 version u8   5 reserved u8
//    6 location length u16                          8 sn u64      16 correctedSn u64
//   24 bitmap bits u32   28 location bytes, then bitmap bytes, then CRC32C u32 of everything before it.
// A chunk has a bitmap only when it is a clone chunk (pages written so far); a snapshot always has one
// (pages copied so far). A page of all zeros is "unformatted" (a fresh pool file), not corrupt.

import { crc32c } from '../../iscsi/crc32c';
import { PageBitmap } from './page-bitmap';

export const META_MAGIC_CHUNK = 0x434b4348; // 'CKCH'
export const META_MAGIC_SNAPSHOT = 0x434b5353; // 'CKSS'
export const META_VERSION = 1;
const FIXED = 28;
const MAX_LOCATION = 0xffff;

export interface MetaPage {
  kind: 'chunk' | 'snapshot';
  sn: number;
  correctedSn: number;
  /** Clone chunks only: where the data not yet written here lives. */
  location: string;
  bitmap: PageBitmap | undefined;
}

export type MetaDecodeResult =
  | { ok: true; meta: MetaPage }
  | { ok: false; reason: 'unformatted' | 'magic' | 'version' | 'checksum' | 'length' };

export function encodeMetaPage(m: MetaPage, pageSize: number): Buffer {
  const loc = Buffer.from(m.location, 'utf8');
  if (loc.length > MAX_LOCATION) throw new RangeError('location too long');
  const bitmapBytes = m.bitmap ? m.bitmap.bytes.length : 0;
  const used = FIXED + loc.length + bitmapBytes + 4;
  if (used > pageSize) throw new RangeError(`metapage needs ${used} bytes, page is ${pageSize}`);
  const buf = Buffer.alloc(pageSize);
  buf.writeUInt32BE(m.kind === 'chunk' ? META_MAGIC_CHUNK : META_MAGIC_SNAPSHOT, 0);
  buf[4] = META_VERSION;
  buf.writeUInt16BE(loc.length, 6);
  buf.writeBigUInt64BE(BigInt(m.sn), 8);
  buf.writeBigUInt64BE(BigInt(m.correctedSn), 16);
  buf.writeUInt32BE(m.bitmap ? m.bitmap.bits : 0, 24);
  loc.copy(buf, FIXED);
  if (m.bitmap) buf.set(m.bitmap.bytes, FIXED + loc.length);
  const end = FIXED + loc.length + bitmapBytes;
  buf.writeUInt32BE(crc32c(buf.subarray(0, end)), end);
  return buf;
}

export function decodeMetaPage(buf: Buffer): MetaDecodeResult {
  if (buf.length < FIXED + 4) return { ok: false, reason: 'length' };
  const magic = buf.readUInt32BE(0);
  if (magic === 0 && buf.every((b) => b === 0)) return { ok: false, reason: 'unformatted' };
  if (magic !== META_MAGIC_CHUNK && magic !== META_MAGIC_SNAPSHOT) return { ok: false, reason: 'magic' };
  const locLen = buf.readUInt16BE(6);
  const bits = buf.readUInt32BE(24);
  const end = FIXED + locLen + PageBitmap.byteLength(bits);
  if (end + 4 > buf.length) return { ok: false, reason: 'checksum' };
  // The checksum is checked before any field is believed.
  if (crc32c(buf.subarray(0, end)) !== buf.readUInt32BE(end)) return { ok: false, reason: 'checksum' };
  if (buf[4] !== META_VERSION) return { ok: false, reason: 'version' };
  return {
    ok: true,
    meta: {
      kind: magic === META_MAGIC_CHUNK ? 'chunk' : 'snapshot',
      sn: Number(buf.readBigUInt64BE(8)),
      correctedSn: Number(buf.readBigUInt64BE(16)),
      location: buf.toString('utf8', FIXED, FIXED + locLen),
      bitmap: bits > 0 ? new PageBitmap(bits, buf.subarray(FIXED + locLen, end)) : undefined,
    },
  };
}
