// qemu-img (libiscsi inside) writes one 256 MiB random image into a single rdwr LUN through four
// concurrent sessions (one per quarter, each its own random ISID), reads it back through the target
// and compares hashes with the source and with the backing file itself.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, openSync, writeSync, closeSync } from 'node:fs';
import * as path from 'node:path';
import { addTarget, makeSparseFile, requireTool, run, startTgtd, Daemon } from '../helpers/daemon';

const qemuImg = requireTool('qemu-img');

const MiB = 1024 * 1024;
const IMAGE_BYTES = 256 * MiB;
const WRITERS = 4;
const IQN = 'iqn.2026-11.io.curve.test:qemu';

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (b) => h.update(b))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

function writeRandomFile(file: string, bytes: number): string {
  const h = createHash('sha256');
  const fd = openSync(file, 'w');
  try {
    for (let done = 0; done < bytes; done += 4 * MiB) {
      const chunk = randomBytes(Math.min(4 * MiB, bytes - done));
      h.update(chunk);
      writeSync(fd, chunk);
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

let d: Daemon;
t.before(async () => {
  d = await startTgtd({});
});
t.teardown(async () => {
  if (d) await d.stop();
});

t.test('4 concurrent qemu-img sessions fill one LUN; read back bit-identical', async (t) => {
  const source = path.join(d.dir, 'source.img');
  const backing = path.join(d.dir, 'lun.img');
  const readBack = path.join(d.dir, 'readback.img');
  const sourceHash = writeRandomFile(source, IMAGE_BYTES);
  makeSparseFile(backing, IMAGE_BYTES);
  await addTarget(d, { tid: 1, iqn: IQN, store: 'rdwr', path: backing });

  const quarter = IMAGE_BYTES / WRITERS;
  const writers = Array.from({ length: WRITERS }, (_, i) => {
    const slice = `driver=raw,offset=${i * quarter},size=${quarter}`;
    const src = `${slice},file.driver=file,file.filename=${source}`;
    const dst =
      `${slice},file.driver=iscsi,file.transport=tcp,file.portal=127.0.0.1:${d.port},` +
      `file.target=${IQN},file.lun=1`;
    return run(qemuImg, ['convert', '-n', '--image-opts', src, '--target-image-opts', dst], {
      timeoutMs: 180_000,
    });
  });
  const results = await Promise.all(writers);
  results.forEach((r, i) => t.equal(r.code, 0, `writer ${i} (quarter ${i}) finished: ${r.stderr.trim()}`));

  const back = await run(qemuImg, ['convert', '-f', 'raw', '-O', 'raw', d.url(IQN, 1), readBack], {
    timeoutMs: 180_000,
  });
  t.equal(back.code, 0, `read back: ${back.stderr.trim()}`);
  t.equal(await sha256File(readBack), sourceHash, 'image read back through the target is bit-identical');
  t.equal(await sha256File(backing), sourceHash, 'the backing file holds exactly the image');
});
