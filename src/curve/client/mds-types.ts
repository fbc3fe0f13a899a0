// Shapes and status codes of the MDS answers the client uses (proto/nameserver.proto, topology.proto).
import type { MdsServiceName } from '../mds/mds-client';

export interface FileInfo {
  id: number;
  fileName: string;
  fileType: number;
  owner: string;
  chunkSize: number;
  segmentSize: number;
  length: number;
  ctime: number;
  seqNum: number;
  fileStatus: number;
  epoch: number;
  blocksize: number;
}

/** One MDS call (leader-following, counted). */
export type MdsCall = <T>(service: MdsServiceName, method: string, req: object) => Promise<T>;

/** Curve's nameserver StatusCode numbers used by the client. */
export const MdsStatus = {
  kOK: 0,
  kFileNotExists: 102,
  kParaError: 104,
  kSegmentNotAllocated: 107,
  kSegmentAllocateError: 108,
  kOwnerAuthFail: 111,
  kSessionNotExist: 125,
  kEpochTooOld: 140,
  kXattrVersionMismatch: 141,
  kStorageError: 501,
  KInternalError: 502,
} as const;

const NAMES = new Map<number, string>(Object.entries(MdsStatus).map(([k, v]) => [v, k]));

export function statusName(code: number): string {
  return `${NAMES.get(code) ?? 'status'} (${code})`;
}
