// Shapes and constants of the namespace (nameserver) messages; status codes are Curve's.

export const Status = {
  kOK: 0,
  kFileExists: 101,
  kFileNotExists: 102,
  kNotDirectory: 103,
  kParaError: 104,
  kShrinkBiggerFile: 105,
  kExtentUnitError: 106,
  kSegmentNotAllocated: 107,
  kSegmentAllocateError: 108,
  kDirNotExist: 109,
  kNotSupported: 110,
  kOwnerAuthFail: 111,
  kDirNotEmpty: 112,
  kSessionNotExist: 125,
  kFileOccupied: 126,
  kFileIdNotMatch: 130,
  kFileUnderDeleting: 131,
  kFileLengthNotSupported: 132,
  kRecoverFileError: 139,
  kEpochTooOld: 140,
  kXattrVersionMismatch: 141,
  kStorageError: 501,
  KInternalError: 502,
} as const;

export const statusName = (code: number): string =>
  Object.entries(Status).find(([, v]) => v === code)?.[0] ?? `status ${code}`;

export const FileType = { INODE_DIRECTORY: 0, INODE_PAGEFILE: 1 } as const;
export const FileStatus = { kFileCreated: 0, kFileDeleting: 1 } as const;

export const GiB = 1024 ** 3;
export const TiB = 1024 ** 4;
export const SEGMENT_SIZE = GiB;
export const CHUNK_SIZE = 16 * 1024 * 1024;
export const MIN_FILE_LENGTH = 10 * GiB;
export const MAX_FILE_LENGTH = 20 * TiB;
export const ROOT_INODE_ID = 0;
export const RECYCLE_BIN_ID = 1;
export const RECYCLE_BIN_NAME = 'RecycleBin';
export const ROOT_USER = 'root';

export interface FileInfo {
  id: number;
  fileName: string;
  parentId: number;
  fileType: number;
  owner: string;
  chunkSize: number;
  segmentSize: number;
  length: number;
  ctime: number;
  seqNum: number;
  fileStatus: number;
  originalFullPathName: string;
  epoch: number;
  poolset: string;
  blocksize: number;
}

export interface PageFileSegment {
  logicalPoolID: number;
  startOffset: number;
  segmentSize: number;
  chunkSize: number;
  chunks: { copysetID: number; chunkID: number }[];
}
