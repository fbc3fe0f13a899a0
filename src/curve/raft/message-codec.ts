// Binary encoding of batches of Raft messages (each tagged with its group) for the transports. Entry data
// is copied as raw bytes, so 4 KiB appends cost a memcpy, not a base64 round trip.
import { Entry, EntryType, Message, MessageType, Snapshot } from './types';

export interface GroupMessage {
  group: number;
  msg: Message;
  /** Set on a leader's last heartbeat before its group goes idle: followers stop ticking it too. */
  quiesce: boolean;
}

const TYPES: MessageType[] = [
  'app',
  'appResp',
  'heartbeat',
  'heartbeatResp',
  'vote',
  'voteResp',
  'preVote',
  'preVoteResp',
  'snap',
  'timeoutNow',
];
const TYPE_CODE = new Map(TYPES.map((t, i) => [t, i]));

// group u32, type u8, flags u8, from u32, to u32, then 8 f64: term logTerm index commit rejectHint
// leaseTick readSeq, entry count u32
const FIXED = 4 + 1 + 1 + 4 + 4 + 7 * 8 + 4;
// per entry: term f64, index f64, type u8 (bit 7: a u32 record crc follows the length), data length u32
const ENTRY_FIXED = 8 + 8 + 1 + 4;
const HAS_CRC = 0x80;

export function encodeBatch(batch: readonly GroupMessage[]): Buffer {
  return encodeInto(batch, 0);
}

/** `[u32 length][encodeBatch(batch)]` in one buffer: a transport frame without a second copy. */
export function encodeFramedBatch(batch: readonly GroupMessage[]): Buffer {
  const buf = encodeInto(batch, 4);
  buf.writeUInt32BE(buf.length - 4, 0);
  return buf;
}

/**
 * The entries sections encoded by encodeBatchParts, kept for reuse while the caller holds this (a leader
 * sends the same new entries to every follower in one flush: they are encoded, and copied, once).
 */
export class EntriesCache {
  private readonly byFirst = new Map<Entry, { last: Entry; count: number; bytes: Buffer }>();

  get(entries: readonly Entry[]): Buffer {
    const first = entries[0];
    const last = entries[entries.length - 1];
    const hit = this.byFirst.get(first);
    if (hit && hit.last === last && hit.count === entries.length) return hit.bytes;
    const bytes = encodeEntries(entries);
    this.byFirst.set(first, { last, count: entries.length, bytes });
    return bytes;
  }

  clear(): void {
    this.byFirst.clear();
  }
}

/**
 * encodeBatch(batch) as a list of buffers whose concatenation is the same bytes: each message's fixed part,
 * then its entries section from `cache`, shared with other batches that carry the same entries.
 */
export function encodeBatchParts(batch: readonly GroupMessage[], cache: EntriesCache): Buffer[] {
  for (const { msg } of batch) if (msg.snapshot) return [encodeBatch(batch)];
  const heads = Buffer.allocUnsafe(4 + batch.length * FIXED);
  heads.writeUInt32BE(batch.length, 0);
  const parts: Buffer[] = [];
  let start = 0;
  let o = 4;
  for (const gm of batch) {
    o = writeFixed(heads, o, gm);
    if (gm.msg.entries.length === 0) continue;
    parts.push(heads.subarray(start, o));
    start = o;
    parts.push(cache.get(gm.msg.entries));
  }
  if (o > start) parts.push(heads.subarray(start, o));
  return parts;
}

function encodeEntries(entries: readonly Entry[]): Buffer {
  let size = 0;
  for (const e of entries) size += ENTRY_FIXED + (e.crc === undefined ? 0 : 4) + e.data.length;
  const buf = Buffer.allocUnsafe(size);
  let o = 0;
  for (const e of entries) o = writeEntry(buf, o, e);
  return buf;
}

/** A message's fixed fields and its entry count (FIXED bytes). */
function writeFixed(buf: Buffer, o: number, { group, msg, quiesce }: GroupMessage): number {
  o = buf.writeUInt32BE(group, o);
  o = buf.writeUInt8(TYPE_CODE.get(msg.type)!, o);
  const flags = (msg.reject ? 1 : 0) | (msg.transfer ? 2 : 0) | (quiesce ? 4 : 0) | (msg.snapshot ? 8 : 0);
  o = buf.writeUInt8(flags, o);
  o = buf.writeUInt32BE(msg.from, o);
  o = buf.writeUInt32BE(msg.to, o);
  o = buf.writeDoubleBE(msg.term, o);
  o = buf.writeDoubleBE(msg.logTerm, o);
  o = buf.writeDoubleBE(msg.index, o);
  o = buf.writeDoubleBE(msg.commit, o);
  o = buf.writeDoubleBE(msg.rejectHint, o);
  o = buf.writeDoubleBE(msg.leaseTick, o);
  o = buf.writeDoubleBE(msg.readSeq, o);
  return buf.writeUInt32BE(msg.entries.length, o);
}

function writeEntry(buf: Buffer, o: number, e: Entry): number {
  o = buf.writeDoubleBE(e.term, o);
  o = buf.writeDoubleBE(e.index, o);
  o = buf.writeUInt8(e.crc === undefined ? e.type : e.type | HAS_CRC, o);
  o = buf.writeUInt32BE(e.data.length, o);
  if (e.crc !== undefined) o = buf.writeUInt32BE(e.crc, o);
  buf.set(e.data, o);
  return o + e.data.length;
}

function encodeInto(batch: readonly GroupMessage[], headroom: number): Buffer {
  let size = headroom + 4;
  for (const { msg } of batch) {
    size += FIXED;
    for (const e of msg.entries) size += ENTRY_FIXED + (e.crc === undefined ? 0 : 4) + e.data.length;
    if (msg.snapshot)
      size += 8 + Buffer.byteLength(JSON.stringify(msg.snapshot.meta)) + msg.snapshot.data.length;
  }
  const buf = Buffer.allocUnsafe(size);
  let o = buf.writeUInt32BE(batch.length, headroom);
  for (const gm of batch) {
    const msg = gm.msg;
    o = writeFixed(buf, o, gm);
    for (const e of msg.entries) o = writeEntry(buf, o, e);
    if (msg.snapshot) {
      const meta = Buffer.from(JSON.stringify(msg.snapshot.meta));
      o = buf.writeUInt32BE(meta.length, o);
      o += meta.copy(buf, o);
      o = buf.writeUInt32BE(msg.snapshot.data.length, o);
      buf.set(msg.snapshot.data, o);
      o += msg.snapshot.data.length;
    }
  }
  return buf;
}

export function decodeBatch(buf: Buffer): GroupMessage[] {
  let o = 0;
  const need = (n: number): void => {
    if (o + n > buf.length) throw new Error('raft codec: truncated batch');
  };
  need(4);
  const count = buf.readUInt32BE(o);
  o += 4;
  const out: GroupMessage[] = [];
  for (let i = 0; i < count; i++) {
    need(FIXED);
    const group = buf.readUInt32BE(o);
    const type = TYPES[buf.readUInt8(o + 4)];
    if (!type) throw new Error('raft codec: bad message type');
    const flags = buf.readUInt8(o + 5);
    const msg: Message = {
      type,
      from: buf.readUInt32BE(o + 6),
      to: buf.readUInt32BE(o + 10),
      term: buf.readDoubleBE(o + 14),
      logTerm: buf.readDoubleBE(o + 22),
      index: buf.readDoubleBE(o + 30),
      commit: buf.readDoubleBE(o + 38),
      rejectHint: buf.readDoubleBE(o + 46),
      leaseTick: buf.readDoubleBE(o + 54),
      readSeq: buf.readDoubleBE(o + 62),
      entries: [],
      reject: (flags & 1) !== 0,
      snapshot: null,
      transfer: (flags & 2) !== 0,
    };
    const n = buf.readUInt32BE(o + 70);
    o += FIXED;
    for (let k = 0; k < n; k++) {
      need(ENTRY_FIXED);
      const term = buf.readDoubleBE(o);
      const index = buf.readDoubleBE(o + 8);
      const typeByte = buf.readUInt8(o + 16);
      const len = buf.readUInt32BE(o + 17);
      o += ENTRY_FIXED;
      let crc: number | undefined;
      if (typeByte & HAS_CRC) {
        need(4);
        crc = buf.readUInt32BE(o);
        o += 4;
      }
      need(len);
      const etype = (typeByte & ~HAS_CRC) as EntryType;
      const e: Entry = { term, index, type: etype, data: buf.subarray(o, o + len), crc };
      msg.entries.push(e);
      o += len;
    }
    if (flags & 8) {
      need(4);
      const ml = buf.readUInt32BE(o);
      o += 4;
      need(ml + 4);
      const meta = JSON.parse(buf.toString('utf8', o, o + ml)) as Snapshot['meta'];
      o += ml;
      const dl = buf.readUInt32BE(o);
      o += 4;
      need(dl);
      msg.snapshot = { meta, data: buf.subarray(o, o + dl) };
      o += dl;
    }
    out.push({ group, msg, quiesce: (flags & 4) !== 0 });
  }
  if (o !== buf.length) throw new Error('raft codec: trailing bytes in batch');
  return out;
}
