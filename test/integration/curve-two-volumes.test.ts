// Two curve volumes on two targets of one tgtd, written at the same time by 8 iSCSI sessions (4 per
// target), each writing its own region in 64 KiB commands, 4 in flight, in a shuffled order. Every
// 512-byte sector carries (volume, writer, LBA) and pseudo-random bytes derived from them, and both
// volumes use the same LBA ranges, so a write that lands on the wrong volume, the wrong LBA or in the
// wrong region is seen when each volume is read back through a fresh session.
import { createCipheriv } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { MdsClient } from '../../src/curve/mds/mds-client';
import { run } from '../helpers/daemon';
import { TestInitiator } from '../helpers/iscsi-client';
import { IQN, freeBasePort, killAll, startCluster, stopCluster } from './cluster-harness';

const MiB = 1024 * 1024;
const SECTOR = 512;
const WRITERS_PER_VOLUME = 4;
/** Each writer's region: 6 MiB from 13 MiB on, so regions straddle the 16 and 32 MiB chunk boundaries. */
const REGION_BASE = 13 * MiB;
const REGION_BYTES = 6 * MiB;
const IO_BYTES = 64 * 1024;
const QUEUE_DEPTH = 4;
const IQN2 = 'iqn.2026-11.io.curve:vol1';

/** The bytes writer `w` of volume `v` puts at `lba`: a stamped header per sector, then AES-CTR keystream. */
export function expectedSectors(v: number, w: number, lba: number, sectors: number): Buffer {
  const key = Buffer.alloc(16);
  key.write('curve-e2e');
  key[14] = v;
  key[15] = w;
  // The CTR counter of a sector is lba * 32 (32 AES blocks per sector): the bytes of an LBA do not
  // depend on the size of the I/O that carries it.
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(lba) * 32n, 8);
  const out = createCipheriv('aes-128-ctr', key, iv).update(Buffer.alloc(sectors * SECTOR));
  for (let i = 0; i < sectors; i++) {
    const o = i * SECTOR;
    out.write('CRVT', o);
    out[o + 4] = v;
    out[o + 5] = w;
    out.writeUInt32BE(lba + i, o + 8);
  }
  return out;
}

/** Deterministic Fisher-Yates with a small LCG, so the interleaving is the same on every run. */
function shuffled<T>(xs: T[], seed: number): T[] {
  const a = [...xs];
  let s = seed >>> 0;
  for (let i = a.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function describeSector(buf: Buffer, at: number): string {
  const s = buf.subarray(at, at + SECTOR);
  if (s.every((b) => b === 0)) return 'zeros';
  if (s.toString('latin1', 0, 4) !== 'CRVT') return 'unstamped bytes';
  return `volume ${s[4]} writer ${s[5]} LBA ${s.readUInt32BE(8)}`;
}

async function session(port: number, iqn: string, name: string): Promise<TestInitiator> {
  const ini = await TestInitiator.connect(port);
  const r = await ini.login({ initiatorName: `iqn.2026-11.io.curve.test:${name}`, targetName: iqn });
  if (r.statusClass !== 0) throw new Error(`login of ${name} to ${iqn}: class ${r.statusClass}`);
  // A new I_T nexus starts with a unit attention (power on / reset): TEST UNIT READY takes it.
  for (let i = 0; ; i++) {
    const tur = await ini.command(Buffer.alloc(6), { lun: 1 });
    if (tur.status === 0) break;
    if (i === 4)
      throw new Error(`${name}: TEST UNIT READY status ${tur.status} sense ${tur.sense?.toString('hex')}`);
  }
  return ini;
}

async function writer(ini: TestInitiator, v: number, w: number): Promise<number> {
  const first = (REGION_BASE + w * REGION_BYTES) / SECTOR;
  const perIo = IO_BYTES / SECTOR;
  const lbas = shuffled(
    Array.from({ length: REGION_BYTES / IO_BYTES }, (_, i) => first + i * perIo),
    v * 16 + w + 1,
  );
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < lbas.length) {
      const lba = lbas[next++];
      const r = await ini.write10(lba, expectedSectors(v, w, lba, perIo));
      if (r.status !== 0)
        throw new Error(
          `volume ${v} writer ${w}: WRITE(10) at LBA ${lba} status ${r.status} sense ${r.sense?.toString('hex')}`,
        );
    }
  };
  await Promise.all(Array.from({ length: QUEUE_DEPTH }, lane));
  return lbas.length;
}

t.test('8 sessions on 2 curve volumes write concurrently without cross-talk', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curve-2vol-'));
  const dataDir = path.join(dir, 'data');
  const port = await freeBasePort();
  const c = await startCluster(dataDir, port);
  const inis: TestInitiator[] = [];
  const mds = new MdsClient([`127.0.0.1:${port + 1}`]);
  t.teardown(async () => {
    for (const i of inis) i.close();
    mds.close();
    await stopCluster(c);
    killAll(c);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // A second volume and a second target on the launcher's tgtd, as an administrator would add them.
  const created = await mds.call<Record<string, unknown>>('nameserver', 'CreateFile', {
    fileName: '/vol1',
    owner: 'root',
    fileType: 1,
    fileLength: 10 * 1024 * MiB,
    date: Date.now(),
  });
  t.equal(created.statusCode, 0, 'volume /vol1 created');
  const tgtadm = async (...args: string[]): Promise<void> => {
    const r = await run(
      process.execPath,
      [path.resolve(__dirname, '../../src/bin/tgtadm.js'), '-C', '0', '--lld', 'iscsi', ...args],
      { env: { TGT_IPC_SOCKET: path.join(dataDir, 'tgtd', 'socket') }, timeoutMs: 30_000 },
    );
    if (r.code !== 0) throw new Error(`tgtadm ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  };
  await tgtadm('--op', 'new', '--mode', 'target', '--tid', '2', '-T', IQN2);
  await tgtadm(
    '--op', 'new', '--mode', 'logicalunit', '--tid', '2', '--lun', '1',
    '--bstype', 'curve', '--backing-store', '/vol1', '--bsopts', `mds=127.0.0.1:${port + 1}`,
  ); // prettier-ignore
  await tgtadm('--op', 'bind', '--mode', 'target', '--tid', '2', '-I', 'ALL');

  const targets = [IQN, IQN2];
  const writers: Array<{ v: number; w: number; ini: TestInitiator }> = [];
  for (let v = 0; v < 2; v++)
    for (let w = 0; w < WRITERS_PER_VOLUME; w++) {
      const ini = await session(port, targets[v], `vol${v}-writer${w}`);
      inis.push(ini);
      writers.push({ v, w, ini });
    }
  const started = Date.now();
  const counts = await Promise.all(writers.map(({ v, w, ini }) => writer(ini, v, w)));
  const total = counts.reduce((a, b) => a + b, 0);
  t.equal(
    total,
    (2 * WRITERS_PER_VOLUME * REGION_BYTES) / IO_BYTES,
    'every write of every session succeeded',
  );
  t.comment(`${total} writes of 64 KiB by 8 sessions in ${Date.now() - started} ms`);
  for (const { ini } of writers) await ini.logout();

  // Read both volumes back through fresh sessions: the span of all regions plus 1 MiB either side.
  const spanStart = REGION_BASE - MiB;
  const spanEnd = REGION_BASE + WRITERS_PER_VOLUME * REGION_BYTES + MiB;
  for (let v = 0; v < 2; v++) {
    const reader = await session(port, targets[v], `vol${v}-reader`);
    inis.push(reader);
    const mismatches: string[] = [];
    for (let off = spanStart; off < spanEnd; off += MiB) {
      const lba = off / SECTOR;
      const r = await reader.read10(lba, MiB / SECTOR);
      if (r.status !== 0 || r.data.length !== MiB) {
        mismatches.push(`READ(10) at LBA ${lba}: status ${r.status}, ${r.data.length} bytes`);
        continue;
      }
      const w = Math.floor((off - REGION_BASE) / REGION_BYTES);
      const want =
        off < REGION_BASE || w >= WRITERS_PER_VOLUME
          ? Buffer.alloc(MiB)
          : expectedSectors(v, w, lba, MiB / SECTOR);
      if (!r.data.equals(want)) {
        let at = 0;
        while (r.data.subarray(at, at + SECTOR).equals(want.subarray(at, at + SECTOR))) at += SECTOR;
        mismatches.push(
          `LBA ${lba + at / SECTOR}: holds ${describeSector(r.data, at)}, wants ${describeSector(want, at)}`,
        );
      }
    }
    t.same(mismatches, [], `volume ${v} (${targets[v]}): every region holds exactly its writer's data`);
    await reader.logout();
  }
});
