// A replicated key-value map built on Raft: each command is tagged with the client and its request number so
// the node that proposed it can answer the client when it applies. Commands are binary
// ([u32 client][u32 seq][u16 key length][key utf8][value utf8]) so a 4 KiB value costs a copy, not JSON.
import { Entry, EntryType } from './types';

export interface KvCommand {
  client: number;
  seq: number;
  key: string;
  value: string;
}

const decoder = new TextDecoder();
const COMMAND_HEADER = 10;

export function encodeKvCommand(cmd: KvCommand): Uint8Array {
  return encodeKvPut(cmd.client, cmd.seq, cmd.key, Buffer.from(cmd.value, 'utf8'));
}

/** Same encoding with the value already as (utf8) bytes, as the binary client protocol delivers it. */
export function encodeKvPut(client: number, seq: number, key: string, value: Uint8Array): Uint8Array {
  const keyLen = Buffer.byteLength(key);
  if (keyLen > 0xffff) throw new Error('kv: key too long');
  const out = Buffer.allocUnsafe(COMMAND_HEADER + keyLen + value.length);
  out.writeUInt32BE(client >>> 0, 0);
  out.writeUInt32BE(seq >>> 0, 4);
  out.writeUInt16BE(keyLen, 8);
  out.write(key, COMMAND_HEADER, 'utf8');
  out.set(value, COMMAND_HEADER + keyLen);
  return out;
}

export function decodeKvCommand(data: Uint8Array): KvCommand {
  if (data.length < COMMAND_HEADER) throw new Error('kv: short command');
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const keyLen = b.readUInt16BE(8);
  if (COMMAND_HEADER + keyLen > b.length) throw new Error('kv: truncated command');
  return {
    client: b.readUInt32BE(0),
    seq: b.readUInt32BE(4),
    key: b.toString('utf8', COMMAND_HEADER, COMMAND_HEADER + keyLen),
    value: b.toString('utf8', COMMAND_HEADER + keyLen),
  };
}

export class KvStateMachine {
  /** Values as the utf8 bytes the command carried: decoded only when read (apply is the hot path). */
  private readonly values = new Map<string, Buffer>();
  applied = 0;

  /** Apply one committed entry; returns who issued it when it was a put (the value stays undecoded). */
  apply(e: Entry): Omit<KvCommand, 'value'> | null {
    if (e.index !== this.applied + 1) throw new Error(`kv: applying ${e.index} after ${this.applied}`);
    this.applied = e.index;
    if (e.type !== EntryType.Normal || e.data.length === 0) return null;
    const b = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
    if (b.length < COMMAND_HEADER) throw new Error('kv: short command');
    const keyLen = b.readUInt16BE(8);
    if (COMMAND_HEADER + keyLen > b.length) throw new Error('kv: truncated command');
    const key = b.toString('utf8', COMMAND_HEADER, COMMAND_HEADER + keyLen);
    // A copy, so the map does not pin the (much larger) network or file buffer the entry points into;
    // into the old value's buffer when the size is the same (block-like overwrites allocate nothing).
    const value = b.subarray(COMMAND_HEADER + keyLen);
    const old = this.values.get(key);
    if (old && old.length === value.length) old.set(value);
    else this.values.set(key, Buffer.from(value));
    return { client: b.readUInt32BE(0), seq: b.readUInt32BE(4), key };
  }

  get(key: string): string | null {
    return this.values.get(key)?.toString('utf8') ?? null;
  }

  /** The whole map, decoded (for snapshots, state dumps and checks). */
  get map(): Map<string, string> {
    const m = new Map<string, string>();
    for (const [k, v] of this.values) m.set(k, v.toString('utf8'));
    return m;
  }

  /**
   * The whole map in binary: [u8 SNAPSHOT_V1][u32 count] then per key [u16 key length][key][u32 value
   * length][value]; values are copied as bytes (JSON would decode and re-encode every 4 KiB value).
   */
  snapshot(): Uint8Array {
    let size = 5;
    for (const [k, v] of this.values) size += 6 + Buffer.byteLength(k) + v.length;
    const out = Buffer.allocUnsafe(size);
    out[0] = SNAPSHOT_V1;
    out.writeUInt32BE(this.values.size, 1);
    let o = 5;
    for (const [k, v] of this.values) {
      const keyLen = out.write(k, o + 2, 'utf8');
      out.writeUInt16BE(keyLen, o);
      o += 2 + keyLen;
      out.writeUInt32BE(v.length, o);
      out.set(v, o + 4);
      o += 4 + v.length;
    }
    return out;
  }

  /** Replace the map with a snapshot taken at `index` (binary, or the JSON of older snapshots). */
  restore(data: Uint8Array, index: number): void {
    this.values.clear();
    if (data.length > 0 && data[0] === SNAPSHOT_V1) {
      const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      const count = b.readUInt32BE(1);
      let o = 5;
      for (let i = 0; i < count; i++) {
        const keyLen = b.readUInt16BE(o);
        const key = b.toString('utf8', o + 2, o + 2 + keyLen);
        o += 2 + keyLen;
        const len = b.readUInt32BE(o);
        if (o + 4 + len > b.length) throw new Error('kv: truncated snapshot');
        this.values.set(key, Buffer.from(b.subarray(o + 4, o + 4 + len)));
        o += 4 + len;
      }
    } else {
      const s = JSON.parse(decoder.decode(data)) as { applied: number; map: [string, string][] };
      if (s.applied !== index) throw new Error(`kv: snapshot at ${s.applied} labelled ${index}`);
      for (const [k, v] of s.map) this.values.set(k, Buffer.from(v, 'utf8'));
    }
    this.applied = index;
  }
}

/** First byte of a binary snapshot (a JSON one starts with '{'). */
const SNAPSHOT_V1 = 0x01;
