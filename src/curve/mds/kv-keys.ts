// Key layout of the MDS metadata, by prefix as Curve lays it out: files by parent inode + name, segments
// by inode + offset, topology objects by kind + id, id counters. Ids are fixed-width hex so that key
// order is numeric order and a prefix scan lists one parent's children or one file's segments.

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

export const FILE_PREFIX = '01/';
export const SEGMENT_PREFIX = '02/';
/** Files being force-deleted: their segments are removed in batches, then the marker. */
export const DELETING_PREFIX = '09/';
/** Freed segments whose chunks the chunkservers still have to delete (keyed by the first chunk id,
 * unique forever, so a segment freed twice at one offset never overwrites a pending record). */
export const GARBAGE_PREFIX = '0a/';
/** Named attributes of a file by inode + name (e.g. SCSI reservations): 8-byte version + value. */
export const XATTR_PREFIX = '0b/';

export const ID_INODE = '04/inode';
export const ID_CHUNK = '05/chunk';
export const ID_TOPOLOGY = '06/topology';

export const fileDirPrefix = (parentId: number): string => `${FILE_PREFIX}${hex(parentId, 16)}/`;
export const fileKey = (parentId: number, name: string): string => fileDirPrefix(parentId) + name;
export const segmentFilePrefix = (inodeId: number): string => `${SEGMENT_PREFIX}${hex(inodeId, 16)}/`;
export const segmentKey = (inodeId: number, offset: number): string =>
  segmentFilePrefix(inodeId) + hex(offset, 16);
export const deletingKey = (inodeId: number): string => DELETING_PREFIX + hex(inodeId, 16);
export const garbageKey = (firstChunkId: number): string => GARBAGE_PREFIX + hex(firstChunkId, 16);
export const xattrFilePrefix = (inodeId: number): string => `${XATTR_PREFIX}${hex(inodeId, 16)}/`;
export const xattrKey = (inodeId: number, name: string): string => xattrFilePrefix(inodeId) + name;

export type TopoKind = 'logicalpool' | 'physicalpool' | 'zone' | 'server' | 'chunkserver' | 'cluster';

export const TOPO_PREFIX: Record<TopoKind, string> = {
  logicalpool: '1001/',
  physicalpool: '1002/',
  zone: '1003/',
  server: '1004/',
  chunkserver: '1005/',
  cluster: '1006/',
};
export const COPYSET_PREFIX = '1007/';

export const topoKey = (kind: TopoKind, id: number): string => TOPO_PREFIX[kind] + hex(id, 8);
export const copysetKey = (logicalPoolId: number, copysetId: number): string =>
  `${COPYSET_PREFIX}${hex(logicalPoolId, 8)}/${hex(copysetId, 8)}`;
