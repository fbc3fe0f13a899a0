// Outcomes of chunk operations, numbered as CHUNK_OP_STATUS in proto/chunk.proto, and the error the
// chunk store throws to carry one. File-system errors are mapped here so callers see NOSPACE for a full
// disk and DISK_FAIL for an I/O error instead of a raw errno.

export enum ChunkOpStatus {
  SUCCESS = 0,
  REDIRECTED = 1,
  DISK_FAIL = 2,
  CRC_FAIL = 3,
  INVALID_REQUEST = 4,
  NOSPACE = 5,
  COPYSET_NOTEXIST = 6,
  CHUNK_NOTEXIST = 7,
  FAILURE_UNKNOWN = 8,
  OVERLOAD = 9,
  BACKWARD = 10,
  CHUNK_EXIST = 11,
  EPOCH_TOO_OLD = 12,
}

export class ChunkStoreError extends Error {
  constructor(
    readonly status: ChunkOpStatus,
    message: string,
  ) {
    super(message);
    this.name = 'ChunkStoreError';
  }
}

/** The status for a thrown value: a ChunkStoreError keeps its own; errno codes are classified. */
export function statusOfError(err: unknown): ChunkOpStatus {
  if (err instanceof ChunkStoreError) return err.status;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return ChunkOpStatus.NOSPACE;
  if (code === 'EIO' || code === 'EROFS' || code === 'ENXIO' || code === 'EBADF')
    return ChunkOpStatus.DISK_FAIL;
  return ChunkOpStatus.FAILURE_UNKNOWN;
}

/** Wraps any thrown value as a ChunkStoreError with the right status. */
export function toChunkStoreError(err: unknown, context: string): ChunkStoreError {
  if (err instanceof ChunkStoreError) return err;
  return new ChunkStoreError(statusOfError(err), `${context}: ${(err as Error)?.message ?? String(err)}`);
}
