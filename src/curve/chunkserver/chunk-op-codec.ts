// The Raft log entry of a chunk operation: a 36-byte header, a location string and the data. Written by
// the leader's ChunkService, applied by every replica's copyset node. All integers big-endian; 64-bit ids
// as doubles (ids stay below 2^53).
//
//   0 op u8 | 1 reserved u8 | 2 location length u16 | 4 offset u32 | 8 size u32 | 12 chunkId f64
//  20 sn f64 | 28 correctedSn f64 | 36 location | data (size bytes for WRITE/PASTE, else none)

export enum ChunkLogOp {
  DELETE = 0,
  WRITE = 2,
  DELETE_SNAP = 4,
  CREATE_CLONE = 5,
  PASTE = 7,
  /** Not a chunk operation: records a peer's address (chunkId = node id, location = "ip:port"). */
  PEER_ADDRESS = 100,
}

export interface ChunkLogEntry {
  op: ChunkLogOp;
  chunkId: number;
  offset: number;
  size: number;
  sn: number;
  correctedSn: number;
  location: string;
  data: Buffer;
}

const HEADER = 36;
const KNOWN = new Set<number>([0, 2, 4, 5, 7, 100]);

/** Data buffers made by allocateWithEntryHeadroom: HEADER bytes in front of each are theirs. */
const withHeadroom = new WeakSet<Buffer>();

/**
 * Small attachments are carved out of slabs of this size (see allocateWithEntryHeadroom). Small, because
 * a slab lives as long as its longest-lived entry: with many copysets one slab holds entries of ~15
 * different ones, and a copyset that keeps a few entries for long (an idle one below its snapshot
 * threshold) pins up to one slab per entry.
 */
const SLAB_BYTES = 64 << 10;
let slab: ArrayBuffer | null = null;
let slabUsed = 0;

/**
 * A buffer for `n` bytes of chunk data with room for an entry header in front (the RPC server copies
 * WriteChunk attachments into these): a WRITE or PASTE entry of it is then built in place, without
 * allocating and copying the data again. Small ones (4 KiB writes) are views into a shared 64 KiB slab,
 * like Node's own pool for small Buffers: one ArrayBuffer per ~15 writes instead of one each (each costs
 * ~1 us to make and adds to the external memory that drives V8's full GCs). A slab lives until its last
 * entry is compacted out of the Raft log; a copyset's entries leave it in the order they came.
 */
export function allocateWithEntryHeadroom(n: number): Buffer {
  const size = HEADER + n;
  let data: Buffer;
  if (size > SLAB_BYTES >> 3) data = Buffer.allocUnsafe(size).subarray(HEADER);
  else {
    const aligned = (size + 7) & ~7;
    if (!slab || slabUsed + aligned > SLAB_BYTES) {
      slab = Buffer.allocUnsafeSlow(SLAB_BYTES).buffer as ArrayBuffer;
      slabUsed = 0;
    }
    data = Buffer.from(slab, slabUsed + HEADER, n);
    slabUsed += aligned;
  }
  withHeadroom.add(data);
  return data;
}

export function encodeChunkLogEntry(e: ChunkLogEntry): Buffer {
  const loc = Buffer.from(e.location, 'utf8');
  if (loc.length > 0xffff) throw new RangeError('location too long');
  const carriesData = e.op === ChunkLogOp.WRITE || e.op === ChunkLogOp.PASTE;
  const dataLen = carriesData ? e.data.length : 0;
  // In place once only: a second entry of the same data must not rewrite the first one's header.
  const inPlace = dataLen > 0 && loc.length === 0 && withHeadroom.delete(e.data);
  const buf = inPlace
    ? Buffer.from(e.data.buffer, e.data.byteOffset - HEADER, HEADER + dataLen)
    : Buffer.allocUnsafe(HEADER + loc.length + dataLen);
  buf.writeUInt8(e.op, 0);
  buf.writeUInt8(0, 1);
  buf.writeUInt16BE(loc.length, 2);
  buf.writeUInt32BE(e.offset, 4);
  buf.writeUInt32BE(carriesData ? dataLen : e.size, 8);
  buf.writeDoubleBE(e.chunkId, 12);
  buf.writeDoubleBE(e.sn, 20);
  buf.writeDoubleBE(e.correctedSn, 28);
  loc.copy(buf, HEADER);
  if (dataLen && !inPlace) e.data.copy(buf, HEADER + loc.length);
  return buf;
}

export function decodeChunkLogEntry(data: Uint8Array): ChunkLogEntry {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < HEADER) throw new Error(`chunk log entry too short (${buf.length} bytes)`);
  const op = buf.readUInt8(0);
  if (!KNOWN.has(op)) throw new Error(`unknown chunk log op ${op}`);
  const locLen = buf.readUInt16BE(2);
  const size = buf.readUInt32BE(8);
  const carriesData = op === ChunkLogOp.WRITE || op === ChunkLogOp.PASTE;
  const expected = HEADER + locLen + (carriesData ? size : 0);
  if (buf.length !== expected)
    throw new Error(`chunk log entry is ${buf.length} bytes, header says ${expected}`);
  return {
    op,
    offset: buf.readUInt32BE(4),
    size,
    chunkId: buf.readDoubleBE(12),
    sn: buf.readDoubleBE(20),
    correctedSn: buf.readDoubleBE(28),
    location: buf.toString('utf8', HEADER, HEADER + locLen),
    data: carriesData ? buf.subarray(HEADER + locLen) : Buffer.alloc(0),
  };
}
