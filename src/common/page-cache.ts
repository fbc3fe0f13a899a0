// How files that later take small overwrites are written in the first place.
//
// Linux (6.x, ext4 with large folios) sizes a new page-cache folio by the write that creates it: a 1 MiB
// write of uncached range makes a 1 MiB folio. Every later buffered write into that folio walks all of
// its 256 block buffers (ext4_block_write_begin / block_commit_write), so a 4 KiB overwrite of a file
// zero-filled in 1 MiB writes measured 4.9-5.0 us here, against 1.3 us when it was filled in 64 KiB
// writes (1.2 us in 4 KiB writes); under load, with cache misses, ~15 us. The Raft journal is
// preformatted in pieces of this size (its records are written in batches, mostly many KiB long); chunk
// files, which take 4 KiB overwrites all over a large working set, in 4 KiB pieces (common/zero-fill).
export const FILL_WRITE_BYTES = 64 << 10;

/** A zero buffer of FILL_WRITE_BYTES for preformatting files. */
export const FILL_ZEROS: Buffer = Buffer.alloc(FILL_WRITE_BYTES);
