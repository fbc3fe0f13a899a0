// Small JSON state files guarded by a CRC32C (copyset metadata, the chunkserver's id and token): written
// atomically (temp file, fsync, rename, fsync directory) so a crash leaves the old or the new version,
// and read back only when the checksum matches, so a corrupt file is reported instead of trusted.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32c } from '../../iscsi/crc32c';
import { writeFileDurably } from '../raft/file-storage';
import { fsyncDirAsync } from '../raft/host-journal';

export class CorruptFileError extends Error {
  constructor(readonly file: string) {
    super(`${file}: checksum mismatch or malformed`);
    this.name = 'CorruptFileError';
  }
}

/** File layout: `{"crc":<u32>,"body":<json text>}` where crc covers the body text. */
export function writeChecksummedJson(file: string, value: unknown): void {
  const body = JSON.stringify(value);
  const text = JSON.stringify({ crc: crc32c(Buffer.from(body, 'utf8')), body });
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  const dfd = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

/** writeChecksummedJson with the writes and fsyncs on the thread pool. */
export async function writeChecksummedJsonAsync(file: string, value: unknown): Promise<void> {
  const body = JSON.stringify(value);
  const text = JSON.stringify({ crc: crc32c(Buffer.from(body, 'utf8')), body });
  const tmp = `${file}.tmp-async`;
  await writeFileDurably(tmp, Buffer.from(text, 'utf8'));
  await fs.promises.rename(tmp, file);
  await fsyncDirAsync(path.dirname(file));
}

/** The stored value; undefined when the file does not exist; CorruptFileError when it fails its check. */
export function readChecksummedJson<T>(file: string): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const outer = JSON.parse(text) as { crc: number; body: string };
    if (typeof outer.body !== 'string' || crc32c(Buffer.from(outer.body, 'utf8')) !== outer.crc) {
      throw new CorruptFileError(file);
    }
    return JSON.parse(outer.body) as T;
  } catch (err) {
    if (err instanceof CorruptFileError) throw err;
    throw new CorruptFileError(file);
  }
}
