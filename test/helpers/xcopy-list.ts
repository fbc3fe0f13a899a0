// EXTENDED COPY (LID1) parameter lists as an initiator builds them, for engine and real-daemon tests.

/** Identification descriptor (0xE4) target descriptor naming an LU by its NAA designator. */
export function naaTarget(naa: Buffer, blockSize = 512): Buffer {
  const b = Buffer.alloc(32);
  b[0] = 0xe4;
  b[4] = 0x01; // code set binary
  b[5] = 0x03; // LU association, NAA
  b[7] = naa.length;
  naa.copy(b, 8);
  b.writeUIntBE(blockSize, 29, 3);
  return b;
}

/** Block device to block device segment descriptor (0x02). */
export function blockSegment(
  blocks: number,
  srcLba: number,
  dstLba: number,
  srcIdx: number,
  dstIdx: number,
): Buffer {
  const b = Buffer.alloc(28);
  b[0] = 0x02;
  b.writeUInt16BE(24, 2);
  b.writeUInt16BE(srcIdx, 4);
  b.writeUInt16BE(dstIdx, 6);
  b.writeUInt16BE(blocks, 10);
  b.writeBigUInt64BE(BigInt(srcLba), 12);
  b.writeBigUInt64BE(BigInt(dstLba), 20);
  return b;
}

export function copyList(listId: number, targets: Buffer[], segments: Buffer[]): Buffer {
  const h = Buffer.alloc(16);
  h[0] = listId;
  const td = Buffer.concat(targets);
  const sd = Buffer.concat(segments);
  h.writeUInt16BE(td.length, 2);
  h.writeUInt32BE(sd.length, 8);
  return Buffer.concat([h, td, sd]);
}

export function extendedCopyCdb(parameterListLength: number): Buffer {
  const c = Buffer.alloc(16);
  c[0] = 0x83;
  c.writeUInt32BE(parameterListLength, 10);
  return c;
}

/** RECEIVE COPY RESULTS, COPY STATUS of a list id. */
export function copyStatusCdb(listId: number, alloc = 1024): Buffer {
  const c = Buffer.alloc(16);
  c[0] = 0x84;
  c[2] = listId;
  c.writeUInt32BE(alloc, 10);
  return c;
}
