// Pure I/O geometry: a volume byte range -> segments -> chunks -> bounded pieces, and page alignment.
// No I/O here; the volume runs the pieces.

export interface VolumeGeometry {
  segmentSize: number;
  chunkSize: number;
}

/** One piece of a user I/O: a contiguous range inside one chunk, at most maxPieceBytes long. */
export interface IoPiece {
  /** Index of the segment in the volume (offset / segmentSize). */
  segmentIndex: number;
  /** Index of the chunk inside its segment. */
  chunkIndex: number;
  /** Byte offset inside the chunk. */
  chunkOffset: number;
  length: number;
  /** Where this piece sits in the user's buffer. */
  bufferOffset: number;
}

/** Splits [offset, offset+length) at chunk boundaries and into pieces of at most maxPieceBytes. */
export function splitIo(
  offset: number,
  length: number,
  geo: VolumeGeometry,
  maxPieceBytes: number,
): IoPiece[] {
  if (maxPieceBytes <= 0) throw new RangeError('maxPieceBytes must be positive');
  if (geo.segmentSize % geo.chunkSize !== 0)
    throw new RangeError('segment size is not a multiple of chunk size');
  const pieces: IoPiece[] = [];
  for (let done = 0; done < length;) {
    const pos = offset + done;
    const segmentIndex = Math.floor(pos / geo.segmentSize);
    const inSegment = pos - segmentIndex * geo.segmentSize;
    const chunkIndex = Math.floor(inSegment / geo.chunkSize);
    const chunkOffset = inSegment - chunkIndex * geo.chunkSize;
    const n = Math.min(geo.chunkSize - chunkOffset, maxPieceBytes, length - done);
    pieces.push({ segmentIndex, chunkIndex, chunkOffset, length: n, bufferOffset: done });
    done += n;
  }
  return pieces;
}

/** One segment's share of a byte range; `whole` when the range covers the segment entirely. */
export interface SegmentSpan {
  segmentIndex: number;
  offset: number;
  length: number;
  whole: boolean;
}

export function segmentSpans(offset: number, length: number, segmentSize: number): SegmentSpan[] {
  const spans: SegmentSpan[] = [];
  for (let done = 0; done < length;) {
    const pos = offset + done;
    const segmentIndex = Math.floor(pos / segmentSize);
    const within = pos - segmentIndex * segmentSize;
    const n = Math.min(segmentSize - within, length - done);
    spans.push({ segmentIndex, offset: pos, length: n, whole: n === segmentSize });
    done += n;
  }
  return spans;
}

/** A chunk's share of a byte range inside one segment; `whole` when it covers the chunk entirely. */
export interface ChunkSpan {
  chunkIndex: number;
  offset: number;
  length: number;
  whole: boolean;
}

/** Spans of [offset, offset+length) (inside segment `segmentIndex`) per chunk. */
export function chunkSpans(offset: number, length: number, geo: VolumeGeometry): ChunkSpan[] {
  const spans: ChunkSpan[] = [];
  for (let done = 0; done < length;) {
    const pos = offset + done;
    const inSegment = pos % geo.segmentSize;
    const chunkIndex = Math.floor(inSegment / geo.chunkSize);
    const within = inSegment - chunkIndex * geo.chunkSize;
    const n = Math.min(geo.chunkSize - within, length - done);
    spans.push({ chunkIndex, offset: pos, length: n, whole: n === geo.chunkSize });
    done += n;
  }
  return spans;
}

export function isAligned(offset: number, length: number, page: number): boolean {
  return offset % page === 0 && length % page === 0;
}

/** The smallest page-aligned range covering [offset, offset+length). */
export function alignOut(offset: number, length: number, page: number): { offset: number; length: number } {
  const start = Math.floor(offset / page) * page;
  const end = Math.ceil((offset + length) / page) * page;
  return { offset: start, length: end - start };
}
