// The Curve namespace (CurveFS): directories and page files keyed by parent inode + name, segments
// keyed by inode + offset, a recycle bin, sessions and epochs. Every change is one compare-and-swap
// transaction on the store, so concurrent callers (or a deposed leader) cannot half-apply anything.
import { messageCodec } from '../common/protos';
import { BatchIdAllocator } from './id-allocator';
import {
  DELETING_PREFIX,
  deletingKey,
  fileDirPrefix,
  fileKey,
  garbageKey,
  ID_CHUNK,
  ID_INODE,
  segmentFilePrefix,
  segmentKey,
  xattrFilePrefix,
  xattrKey,
} from './kv-keys';
import { KvOp, KvStore } from './kv-store';
import {
  CHUNK_SIZE,
  FileInfo,
  FileStatus,
  FileType,
  MAX_FILE_LENGTH,
  MIN_FILE_LENGTH,
  PageFileSegment,
  RECYCLE_BIN_ID,
  RECYCLE_BIN_NAME,
  ROOT_INODE_ID,
  ROOT_USER,
  SEGMENT_SIZE,
  Status,
} from './namespace-types';
import { joinPath, splitPath } from './path-util';
import { SegmentPlacer } from './segment-allocator';
import { Session, SessionTable } from './sessions';

const fileCodec = messageCodec<FileInfo>('curve.mds.FileInfo');
const segmentCodec = messageCodec<PageFileSegment>('curve.mds.PageFileSegment');

export type NsResult<T = undefined> = { code: number; value?: T };

const ROOT: FileInfo = {
  id: ROOT_INODE_ID,
  fileName: '/',
  parentId: ROOT_INODE_ID,
  fileType: FileType.INODE_DIRECTORY,
  owner: ROOT_USER,
  chunkSize: 0,
  segmentSize: 0,
  length: 0,
  ctime: 0,
  seqNum: 0,
  fileStatus: FileStatus.kFileCreated,
  originalFullPathName: '',
  epoch: 0,
  poolset: '',
  blocksize: 0,
};

interface Resolved {
  info: FileInfo;
  key: string;
  raw: Buffer;
}

/** Ops that free a segment: its key goes, a garbage record for the chunk cleaner comes. */
function freeSegmentOps(key: string, raw: Buffer): KvOp[] {
  const seg = segmentCodec.decode(raw);
  const ops: KvOp[] = [{ type: 'delete', key }];
  if (seg.chunks.length > 0) ops.push({ type: 'put', key: garbageKey(seg.chunks[0].chunkID), value: raw });
  return ops;
}

export class Namespace {
  private readonly inodeIds: BatchIdAllocator;
  private readonly chunkIds: BatchIdAllocator;
  readonly sessions: SessionTable;
  /** Called after segments were freed (their chunks wait for the chunk cleaner). */
  onGarbage: () => void = () => {};

  constructor(
    private readonly store: KvStore,
    private readonly placer: SegmentPlacer,
    private readonly chunkServersOfCopysets: (logicalPoolId: number, copysetIds: number[]) => number[],
    sessionLeaseMs = 5000,
  ) {
    this.inodeIds = new BatchIdAllocator(store, ID_INODE, 100, RECYCLE_BIN_ID + 1);
    this.chunkIds = new BatchIdAllocator(store, ID_CHUNK, 1024);
    this.sessions = new SessionTable(sessionLeaseMs);
  }

  /** Creates /RecycleBin on first start; finishes deletions a previous leader left half done. */
  async init(): Promise<void> {
    for (const m of await this.store.scan(DELETING_PREFIX)) await this.purge(fileCodec.decode(m.value).id);
    const key = fileKey(ROOT_INODE_ID, RECYCLE_BIN_NAME);
    if (await this.store.get(key)) return;
    const bin: FileInfo = {
      ...ROOT,
      id: RECYCLE_BIN_ID,
      fileName: RECYCLE_BIN_NAME,
      ctime: Date.now() * 1000,
    };
    await this.store.txn([{ key, value: null }], [{ type: 'put', key, value: fileCodec.encode(bin) }]);
  }

  private async lookup(parentId: number, name: string): Promise<Resolved | undefined> {
    const key = fileKey(parentId, name);
    const raw = await this.store.get(key);
    return raw ? { info: fileCodec.decode(raw), key, raw } : undefined;
  }

  /** Resolves a path; code kFileNotExists / kNotDirectory / kParaError on failure. */
  private async resolve(path: string): Promise<NsResult<Resolved>> {
    const parts = splitPath(path);
    if (!parts) return { code: Status.kParaError };
    let cur: Resolved = { info: ROOT, key: '', raw: Buffer.alloc(0) };
    for (const part of parts) {
      if (cur.info.fileType !== FileType.INODE_DIRECTORY) return { code: Status.kNotDirectory };
      const next = await this.lookup(cur.info.id, part);
      if (!next) return { code: Status.kFileNotExists };
      cur = next;
    }
    return { code: Status.kOK, value: cur };
  }

  /** The parent directory of path and the last component. */
  private async resolveParent(path: string): Promise<NsResult<{ parent: FileInfo; name: string }>> {
    const parts = splitPath(path);
    if (!parts || parts.length === 0) return { code: Status.kParaError };
    const parent = await this.resolve(joinPath(parts.slice(0, -1)));
    if (parent.code === Status.kFileNotExists) return { code: Status.kDirNotExist };
    if (parent.code !== Status.kOK) return { code: parent.code };
    if (parent.value!.info.fileType !== FileType.INODE_DIRECTORY) return { code: Status.kNotDirectory };
    return { code: Status.kOK, value: { parent: parent.value!.info, name: parts[parts.length - 1] } };
  }

  private static ownerOk(info: FileInfo, owner: string): boolean {
    return owner === ROOT_USER || info.owner === owner;
  }

  /** Directories other than / are writable by their owner (and root); / by anyone. */
  private static dirWritable(dir: FileInfo, owner: string): boolean {
    return dir.id === ROOT_INODE_ID || Namespace.ownerOk(dir, owner);
  }

  async createFile(
    path: string,
    owner: string,
    fileType: number,
    length: number,
    poolset = '',
  ): Promise<NsResult> {
    if (!owner) return { code: Status.kParaError };
    if (fileType !== FileType.INODE_DIRECTORY && fileType !== FileType.INODE_PAGEFILE)
      return { code: Status.kNotSupported };
    if (fileType === FileType.INODE_PAGEFILE) {
      if (!Number.isSafeInteger(length) || length < MIN_FILE_LENGTH || length > MAX_FILE_LENGTH)
        return { code: Status.kFileLengthNotSupported };
      if (length % SEGMENT_SIZE !== 0) return { code: Status.kExtentUnitError };
    }
    const p = await this.resolveParent(path);
    if (p.code !== Status.kOK) return { code: p.code };
    const { parent, name } = p.value!;
    if (parent.id === RECYCLE_BIN_ID) return { code: Status.kParaError };
    if (!Namespace.dirWritable(parent, owner)) return { code: Status.kOwnerAuthFail };
    const key = fileKey(parent.id, name);
    if (await this.store.get(key)) return { code: Status.kFileExists };
    const isDir = fileType === FileType.INODE_DIRECTORY;
    const info: FileInfo = {
      id: await this.inodeIds.allocate(),
      fileName: name,
      parentId: parent.id,
      fileType,
      owner,
      chunkSize: isDir ? 0 : CHUNK_SIZE,
      segmentSize: isDir ? 0 : SEGMENT_SIZE,
      length: isDir ? 0 : length,
      ctime: Date.now() * 1000,
      seqNum: isDir ? 0 : 1,
      fileStatus: FileStatus.kFileCreated,
      originalFullPathName: '',
      epoch: 0,
      poolset,
      blocksize: isDir ? 0 : 4096,
    };
    const done = await this.store.txn(
      [{ key, value: null }],
      [{ type: 'put', key, value: fileCodec.encode(info) }],
    );
    return { code: done ? Status.kOK : Status.kFileExists };
  }

  async getFileInfo(path: string, owner: string): Promise<NsResult<FileInfo>> {
    const r = await this.resolve(path);
    if (r.code !== Status.kOK) return { code: r.code };
    if (!Namespace.ownerOk(r.value!.info, owner) && r.value!.info.id !== ROOT_INODE_ID)
      return { code: Status.kOwnerAuthFail };
    return { code: Status.kOK, value: r.value!.info };
  }

  async listDir(path: string, owner: string): Promise<NsResult<FileInfo[]>> {
    const r = await this.resolve(path);
    if (r.code !== Status.kOK)
      return { code: r.code === Status.kFileNotExists ? Status.kDirNotExist : r.code };
    const dir = r.value!.info;
    if (dir.fileType !== FileType.INODE_DIRECTORY) return { code: Status.kNotDirectory };
    if (dir.id !== ROOT_INODE_ID && !Namespace.ownerOk(dir, owner)) return { code: Status.kOwnerAuthFail };
    const entries = await this.store.scan(fileDirPrefix(dir.id));
    return { code: Status.kOK, value: entries.map((e) => fileCodec.decode(e.value)) };
  }

  /**
   * Removes a deleting file's segments in bounded batches (two ops each: etcd caps a transaction at 128
   * ops), each one handed to the chunk cleaner in the same transaction, then its attributes, then the
   * marker.
   */
  private async purge(fileId: number): Promise<void> {
    for (;;) {
      const batch = await this.store.scan(segmentFilePrefix(fileId), 50);
      if (batch.length === 0) break;
      await this.store.txn(
        [],
        batch.flatMap((b) => freeSegmentOps(b.key, b.value)),
      );
      this.onGarbage();
    }
    for (;;) {
      const attrs = await this.store.scan(xattrFilePrefix(fileId), 100);
      if (attrs.length === 0) break;
      await this.store.txn(
        [],
        attrs.map((a) => ({ type: 'delete' as const, key: a.key })),
      );
    }
    await this.store.delete(deletingKey(fileId));
  }

  async deleteFile(path: string, owner: string, fileId: number, force: boolean): Promise<NsResult> {
    const r = await this.resolve(path);
    if (r.code !== Status.kOK) return { code: r.code };
    const { info, key, raw } = r.value!;
    if (info.id === ROOT_INODE_ID || info.id === RECYCLE_BIN_ID) return { code: Status.kParaError };
    if (!Namespace.ownerOk(info, owner)) return { code: Status.kOwnerAuthFail };
    if (fileId && fileId !== info.id) return { code: Status.kFileIdNotMatch };
    if (info.fileType === FileType.INODE_DIRECTORY) {
      if ((await this.store.scan(fileDirPrefix(info.id), 1)).length > 0) return { code: Status.kDirNotEmpty };
      const done = await this.store.txn([{ key, value: raw }], [{ type: 'delete', key }]);
      return { code: done ? Status.kOK : Status.kFileNotExists };
    }
    if (this.sessions.liveOnFile(info.id).length > 0) return { code: Status.kFileOccupied };
    if (force || info.parentId === RECYCLE_BIN_ID) {
      // The name goes at once; a marker lets the segments be removed in batches, resumably.
      const marker: FileInfo = { ...info, fileStatus: FileStatus.kFileDeleting };
      const ops: KvOp[] = [
        { type: 'delete', key },
        { type: 'put', key: deletingKey(info.id), value: fileCodec.encode(marker) },
      ];
      if (!(await this.store.txn([{ key, value: raw }], ops))) return { code: Status.kFileNotExists };
      await this.purge(info.id);
      return { code: Status.kOK };
    }
    // To the recycle bin under a unique name; the original path is kept for RecoverFile.
    const binName = `${info.fileName}-${info.id}`;
    const binKey = fileKey(RECYCLE_BIN_ID, binName);
    const moved: FileInfo = {
      ...info,
      fileName: binName,
      parentId: RECYCLE_BIN_ID,
      originalFullPathName: path,
    };
    const done = await this.store.txn(
      [
        { key, value: raw },
        { key: binKey, value: null },
      ],
      [
        { type: 'delete', key },
        { type: 'put', key: binKey, value: fileCodec.encode(moved) },
      ],
    );
    return { code: done ? Status.kOK : Status.kFileNotExists };
  }

  async recoverFile(path: string, owner: string, fileId: number): Promise<NsResult> {
    const parts = splitPath(path);
    if (!parts || parts.length === 0) return { code: Status.kParaError };
    const candidates = (await this.store.scan(fileDirPrefix(RECYCLE_BIN_ID)))
      .map((e) => ({ key: e.key, raw: e.value, info: fileCodec.decode(e.value) }))
      .filter((c) => c.info.originalFullPathName === joinPath(parts) && (!fileId || c.info.id === fileId))
      .sort((a, b) => b.info.id - a.info.id);
    if (candidates.length === 0) return { code: Status.kFileNotExists };
    const src = candidates[0];
    if (!Namespace.ownerOk(src.info, owner)) return { code: Status.kOwnerAuthFail };
    const p = await this.resolveParent(path);
    if (p.code !== Status.kOK) return { code: Status.kRecoverFileError };
    const destKey = fileKey(p.value!.parent.id, p.value!.name);
    const restored: FileInfo = {
      ...src.info,
      fileName: p.value!.name,
      parentId: p.value!.parent.id,
      originalFullPathName: '',
    };
    const done = await this.store.txn(
      [
        { key: src.key, value: src.raw },
        { key: destKey, value: null },
      ],
      [
        { type: 'delete', key: src.key },
        { type: 'put', key: destKey, value: fileCodec.encode(restored) },
      ],
    );
    if (done) return { code: Status.kOK };
    return { code: (await this.store.get(destKey)) ? Status.kFileExists : Status.kRecoverFileError };
  }

  async renameFile(
    oldPath: string,
    newPath: string,
    owner: string,
    oldId: number,
    newId: number,
  ): Promise<NsResult> {
    const src = await this.resolve(oldPath);
    if (src.code !== Status.kOK) return { code: src.code };
    const { info, key, raw } = src.value!;
    if (info.id === ROOT_INODE_ID || info.id === RECYCLE_BIN_ID) return { code: Status.kParaError };
    if (!Namespace.ownerOk(info, owner)) return { code: Status.kOwnerAuthFail };
    if (oldId && oldId !== info.id) return { code: Status.kFileIdNotMatch };
    const oldParts = splitPath(oldPath)!;
    const newParts = splitPath(newPath);
    if (!newParts || newParts.length === 0) return { code: Status.kParaError };
    // a directory cannot move into its own subtree
    if (newParts.length > oldParts.length && oldParts.every((p, i) => newParts[i] === p))
      return { code: Status.kParaError };
    const dest = await this.resolveParent(newPath);
    if (dest.code !== Status.kOK) return { code: dest.code };
    if (dest.value!.parent.id === RECYCLE_BIN_ID) return { code: Status.kParaError };
    if (!Namespace.dirWritable(dest.value!.parent, owner)) return { code: Status.kOwnerAuthFail };
    const destKey = fileKey(dest.value!.parent.id, dest.value!.name);
    if (destKey === key) return { code: Status.kOK };
    const existing = await this.store.get(destKey);
    if (existing) return { code: newId ? Status.kFileIdNotMatch : Status.kFileExists };
    if (info.fileType === FileType.INODE_PAGEFILE && this.sessions.liveOnFile(info.id).length > 0)
      return { code: Status.kFileOccupied };
    const moved: FileInfo = { ...info, fileName: dest.value!.name, parentId: dest.value!.parent.id };
    const done = await this.store.txn(
      [
        { key, value: raw },
        { key: destKey, value: null },
      ],
      [
        { type: 'delete', key },
        { type: 'put', key: destKey, value: fileCodec.encode(moved) },
      ],
    );
    if (done) this.sessions.renameFile(info.id, newPath);
    return { code: done ? Status.kOK : Status.kFileExists };
  }

  async extendFile(path: string, owner: string, newSize: number): Promise<NsResult> {
    const r = await this.resolve(path);
    if (r.code !== Status.kOK) return { code: r.code };
    const { info, key, raw } = r.value!;
    if (info.fileType !== FileType.INODE_PAGEFILE) return { code: Status.kNotSupported };
    if (!Namespace.ownerOk(info, owner)) return { code: Status.kOwnerAuthFail };
    if (!Number.isSafeInteger(newSize) || newSize < info.length) return { code: Status.kShrinkBiggerFile };
    if (newSize === info.length) return { code: Status.kOK };
    if (newSize % info.segmentSize !== 0) return { code: Status.kExtentUnitError };
    if (newSize > MAX_FILE_LENGTH) return { code: Status.kFileLengthNotSupported };
    const grown = { ...info, length: newSize };
    const done = await this.store.txn(
      [{ key, value: raw }],
      [{ type: 'put', key, value: fileCodec.encode(grown) }],
    );
    return { code: done ? Status.kOK : Status.kStorageError };
  }

  private async pageFile(path: string, owner: string): Promise<NsResult<Resolved>> {
    const r = await this.resolve(path);
    if (r.code !== Status.kOK) return r;
    if (r.value!.info.fileType !== FileType.INODE_PAGEFILE) return { code: Status.kNotSupported };
    if (!Namespace.ownerOk(r.value!.info, owner)) return { code: Status.kOwnerAuthFail };
    return r;
  }

  /** The segment at offset; allocated on first use when asked. Concurrent callers get the same one. */
  async getOrAllocateSegment(
    path: string,
    owner: string,
    offset: number,
    allocate: boolean,
    epoch = 0,
  ): Promise<NsResult<PageFileSegment>> {
    const r = await this.pageFile(path, owner);
    if (r.code !== Status.kOK) return { code: r.code };
    const info = r.value!.info;
    if (
      !Number.isSafeInteger(offset) ||
      offset < 0 ||
      offset >= info.length ||
      offset % info.segmentSize !== 0
    )
      return { code: Status.kParaError };
    if (allocate && epoch && epoch < info.epoch) return { code: Status.kEpochTooOld };
    const key = segmentKey(info.id, offset);
    const existing = await this.store.get(key);
    if (existing) return { code: Status.kOK, value: segmentCodec.decode(existing) };
    if (!allocate) return { code: Status.kSegmentNotAllocated };
    const chunkCount = info.segmentSize / info.chunkSize;
    const placement = this.placer(chunkCount);
    if (!placement) return { code: Status.kSegmentAllocateError };
    const chunks: PageFileSegment['chunks'] = [];
    for (const copysetID of placement.copysetIds)
      chunks.push({ copysetID, chunkID: await this.chunkIds.allocate() });
    const segment: PageFileSegment = {
      logicalPoolID: placement.logicalPoolID,
      startOffset: offset,
      segmentSize: info.segmentSize,
      chunkSize: info.chunkSize,
      chunks,
    };
    // The file must still exist unchanged-in-identity; the segment must still be absent.
    const done = await this.store.txn(
      [
        { key: r.value!.key, value: r.value!.raw },
        { key, value: null },
      ],
      [{ type: 'put', key, value: segmentCodec.encode(segment) }],
    );
    if (done) return { code: Status.kOK, value: segment };
    const winner = await this.store.get(key);
    if (winner) return { code: Status.kOK, value: segmentCodec.decode(winner) };
    // the file record changed under us (extend, epoch): retry once from the top
    return this.getOrAllocateSegment(path, owner, offset, allocate, epoch);
  }

  async deAllocateSegment(path: string, owner: string, offset: number): Promise<NsResult> {
    const r = await this.pageFile(path, owner);
    if (r.code !== Status.kOK) return { code: r.code };
    const info = r.value!.info;
    if (
      !Number.isSafeInteger(offset) ||
      offset < 0 ||
      offset >= info.length ||
      offset % info.segmentSize !== 0
    )
      return { code: Status.kParaError };
    const key = segmentKey(info.id, offset);
    const raw = await this.store.get(key);
    if (!raw) return { code: Status.kSegmentNotAllocated };
    const done = await this.store.txn([{ key, value: raw }], freeSegmentOps(key, raw));
    if (done) this.onGarbage();
    return { code: done ? Status.kOK : Status.kSegmentNotAllocated };
  }

  async openFile(
    path: string,
    owner: string,
    ip: string,
    port: number,
  ): Promise<NsResult<{ session: Session; info: FileInfo }>> {
    const r = await this.pageFile(path, owner);
    if (r.code !== Status.kOK) return { code: r.code };
    const session = this.sessions.open(path, r.value!.info.id, ip, port);
    return { code: Status.kOK, value: { session, info: r.value!.info } };
  }

  async closeFile(path: string, owner: string, sessionID: string): Promise<NsResult> {
    const r = await this.pageFile(path, owner);
    if (r.code !== Status.kOK) return { code: r.code };
    const s = this.sessions.get(sessionID);
    if (!s || s.fileId !== r.value!.info.id) return { code: Status.kSessionNotExist };
    this.sessions.close(sessionID);
    return { code: Status.kOK };
  }

  async refreshSession(
    path: string,
    owner: string,
    sessionID: string,
    ip: string,
    port: number,
  ): Promise<NsResult<{ session: Session; info: FileInfo }>> {
    if (!sessionID) return { code: Status.kSessionNotExist };
    const r = await this.pageFile(path, owner);
    if (r.code !== Status.kOK) return { code: r.code };
    const session = this.sessions.refresh(sessionID, path, r.value!.info.id, ip, port);
    return { code: Status.kOK, value: { session, info: r.value!.info } };
  }

  /** Bumps the file's epoch (fencing older writers); returns the chunkservers to push it to. */
  async increaseFileEpoch(
    path: string,
    owner: string,
  ): Promise<NsResult<{ info: FileInfo; chunkServerIds: number[] }>> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const r = await this.pageFile(path, owner);
      if (r.code !== Status.kOK) return { code: r.code };
      const { info, key, raw } = r.value!;
      const next = { ...info, epoch: info.epoch + 1 };
      if (
        !(await this.store.txn([{ key, value: raw }], [{ type: 'put', key, value: fileCodec.encode(next) }]))
      )
        continue;
      const byPool = new Map<number, Set<number>>();
      for (const s of await this.store.scan(segmentFilePrefix(info.id))) {
        const seg = segmentCodec.decode(s.value);
        const set = byPool.get(seg.logicalPoolID) ?? new Set<number>();
        for (const c of seg.chunks) set.add(c.copysetID);
        byPool.set(seg.logicalPoolID, set);
      }
      const cs = new Set<number>();
      for (const [pool, copysets] of byPool)
        for (const id of this.chunkServersOfCopysets(pool, [...copysets])) cs.add(id);
      const chunkServerIds = [...cs].sort((a, b) => a - b);
      return { code: Status.kOK, value: { info: next, chunkServerIds } };
    }
    return { code: Status.kStorageError };
  }

  /** A named attribute of a volume: its value and version (0 and an empty value: never set). */
  async getXattr(path: string, owner: string, name: string): Promise<NsResult<XattrValue>> {
    if (!validXattrName(name)) return { code: Status.kParaError };
    const r = await this.pageFile(path, owner);
    if (r.code !== Status.kOK) return { code: r.code };
    const raw = await this.store.get(xattrKey(r.value!.info.id, name));
    return { code: Status.kOK, value: raw ? decodeXattr(raw) : { version: 0, value: Buffer.alloc(0) } };
  }

  /**
   * Sets a named attribute iff its version is still `expectVersion` (compare-and-set, so writers that
   * share a volume never overwrite a change they have not seen); the value is the new version, or the
   * current one with kXattrVersionMismatch.
   */
  async setXattr(
    path: string,
    owner: string,
    name: string,
    value: Buffer,
    expectVersion: number,
  ): Promise<NsResult<number>> {
    if (!validXattrName(name) || value.length > MAX_XATTR_BYTES) return { code: Status.kParaError };
    for (let attempt = 0; attempt < 10; attempt++) {
      const r = await this.pageFile(path, owner);
      if (r.code !== Status.kOK) return { code: r.code };
      const { info, key: fileKeyOf, raw: fileRaw } = r.value!;
      const key = xattrKey(info.id, name);
      const raw = (await this.store.get(key)) ?? null;
      const version = raw ? decodeXattr(raw).version : 0;
      if (version !== expectVersion) return { code: Status.kXattrVersionMismatch, value: version };
      const next = encodeXattr({ version: version + 1, value });
      // The file record is compared too: an attribute is never written for a file deleted meanwhile.
      if (
        await this.store.txn(
          [
            { key: fileKeyOf, value: fileRaw },
            { key, value: raw },
          ],
          [{ type: 'put', key, value: next }],
        )
      )
        return { code: Status.kOK, value: version + 1 };
    }
    return { code: Status.kStorageError };
  }

  /** Allocated bytes of a file, or of everything under a directory; also split by logical pool. */
  async allocatedSize(path: string): Promise<NsResult<{ total: number; byPool: Map<number, number> }>> {
    const r = await this.resolve(path);
    if (r.code !== Status.kOK) return { code: r.code };
    const byPool = new Map<number, number>();
    let total = 0;
    const visit = async (info: FileInfo): Promise<void> => {
      if (info.fileType === FileType.INODE_DIRECTORY) {
        for (const e of await this.store.scan(fileDirPrefix(info.id))) await visit(fileCodec.decode(e.value));
        return;
      }
      for (const s of await this.store.scan(segmentFilePrefix(info.id))) {
        const seg = segmentCodec.decode(s.value);
        total += seg.segmentSize;
        byPool.set(seg.logicalPoolID, (byPool.get(seg.logicalPoolID) ?? 0) + seg.segmentSize);
      }
    };
    await visit(r.value!.info);
    return { code: Status.kOK, value: { total, byPool } };
  }

  /** Length of a file, or the sum of lengths under a directory. */
  async fileSize(path: string): Promise<NsResult<number>> {
    const r = await this.resolve(path);
    if (r.code !== Status.kOK) return { code: r.code };
    const visit = async (info: FileInfo): Promise<number> => {
      if (info.fileType !== FileType.INODE_DIRECTORY) return info.length;
      let sum = 0;
      for (const e of await this.store.scan(fileDirPrefix(info.id)))
        sum += await visit(fileCodec.decode(e.value));
      return sum;
    };
    return { code: Status.kOK, value: await visit(r.value!.info) };
  }

  listClients(): { ip: string; port: number }[] {
    const seen = new Map<string, { ip: string; port: number }>();
    for (const s of this.sessions.live())
      seen.set(`${s.clientIP}:${s.clientPort}`, { ip: s.clientIP, port: s.clientPort });
    return [...seen.values()];
  }
}

export interface XattrValue {
  version: number;
  value: Buffer;
}

/** Attribute values are small records, not data. */
export const MAX_XATTR_BYTES = 64 * 1024;

function validXattrName(name: string): boolean {
  return /^[A-Za-z0-9._-]{1,64}$/.test(name);
}

function encodeXattr(x: XattrValue): Buffer {
  const out = Buffer.alloc(8 + x.value.length);
  out.writeBigUInt64BE(BigInt(x.version), 0);
  x.value.copy(out, 8);
  return out;
}

function decodeXattr(raw: Buffer): XattrValue {
  return { version: Number(raw.readBigUInt64BE(0)), value: Buffer.from(raw.subarray(8)) };
}
