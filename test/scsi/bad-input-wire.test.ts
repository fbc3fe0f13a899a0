// A handful of the bad-input cases sent through a real tgtd (ours, an rdwr LUN on a sparse file) with the
// test initiator: each gets the same sense as at the engine level, a rejected WRITE writes nothing, a
// short allocation length is the prefix of the full answer, and the session stays healthy (NOP-Out
// answered, I/O works, clean logout).
import * as path from 'node:path';
import t from 'tap';
import { addTarget, makeSparseFile, startTgtd, type Daemon } from '../helpers/daemon';
import { TestInitiator } from '../helpers/iscsi-client';
import { Opcode } from '../../src/iscsi/pdu-types';
import { parseSense } from '../../src/scsi/sense';
import { BS, cdb10, cdb16, code, makeLu } from './bad-input-harness';

const IQN = 'iqn.2026-11.io.curve.test:badinput';
const SIZE = 64 * 1024 * 1024;

interface WireCase {
  name: string;
  cdb: Buffer;
  read?: number;
  write?: Buffer;
  want: string;
  /** Field pointer byte expected in the sense data. */
  byte?: number;
}

const wireCode = (status: number, sense: Buffer | undefined): string => {
  if (!sense || sense.length === 0) return status === 0 ? 'GOOD' : `status 0x${status.toString(16)}`;
  const s = parseSense(sense);
  const h = (n: number): string => n.toString(16).padStart(2, '0').toUpperCase();
  return `${h(s.key)}/${h(s.asc)}/${h(s.ascq)}`;
};

const readReserved = cdb10(0x28, 0, 1);
readReserved[6] |= 0x80;
const writeLink = cdb10(0x2a, 16, 1);
writeLink[9] |= 0x01;
const maintenanceBadSa = Buffer.from([0xa3, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0]);
const unmapShort = Buffer.from([0x42, 0, 0, 0, 0, 0, 0, 0, 4, 0]);

const CASES: WireCase[] = [
  { name: 'READ(10) reserved bit in byte 6', cdb: readReserved, read: BS, want: '05/24/00', byte: 6 },
  { name: 'WRITE(10) LINK bit', cdb: writeLink, write: Buffer.alloc(BS, 0xee), want: '05/24/00', byte: 9 },
  { name: 'vendor-specific opcode 0xC0', cdb: Buffer.from([0xc0, 0, 0, 0, 0, 0]), want: '05/20/00' },
  {
    name: 'unlisted opcode 0x3C (READ BUFFER(10))',
    cdb: Buffer.from([0x3c, 0x02, 0, 0, 0, 0, 0, 0, 0xff, 0]),
    read: 255,
    want: '05/20/00',
  },
  {
    name: 'MAINTENANCE IN unknown service action',
    cdb: maintenanceBadSa,
    read: 255,
    want: '05/24/00',
    byte: 1,
  },
  { name: 'READ(16) at LBA 2^64-1', cdb: cdb16(0x88, 2n ** 64n - 1n, 1), read: BS, want: '05/21/00' },
  { name: 'UNMAP with a 4-byte parameter list', cdb: unmapShort, write: Buffer.alloc(4), want: '05/1A/00' },
];

let d: Daemon;
let c: TestInitiator;

t.before(async () => {
  d = await startTgtd({ impl: 'ours' });
  const file = path.join(d.dir, 'lun1.img');
  makeSparseFile(file, SIZE);
  await addTarget(d, { tid: 1, iqn: IQN, store: 'rdwr', path: file });
  const lu = ['--op', 'update', '--mode', 'logicalunit', '--tid', '1', '--lun', '1'];
  await d.tgtadmOk([...lu, '-P', 'thin_provisioning=1']); // so UNMAP is supported and its list is judged
  c = await TestInitiator.connect(d.port);
  const r = await c.login({ targetName: IQN });
  if (r.statusClass !== 0) throw new Error(`login failed: class ${r.statusClass} detail ${r.statusDetail}`);
  // The first command on the LU reports the power-on unit attention.
  for (let i = 0; i < 3; i++)
    if ((await c.command(Buffer.from([0, 0, 0, 0, 0, 0]), { lun: 1 })).status === 0) break;
});

t.teardown(async () => {
  c?.close();
  await d?.stop();
});

t.test('bad CDBs over iSCSI get the engine-level sense', async (t) => {
  const engine = await makeLu();
  for (const k of CASES) {
    const local = await engine.run(k.cdb, k.write ? { dataOut: k.write } : {});
    t.equal(code(local), k.want, `${k.name}: engine answers ${k.want}`);
    const r = await c.command(k.cdb, { lun: 1, read: k.read, write: k.write });
    t.equal(wireCode(r.status, r.sense), k.want, `${k.name}: same over the wire`);
    if (k.byte !== undefined)
      t.equal(r.sense!.readUInt16BE(16), k.byte, `${k.name}: field pointer byte ${k.byte}`);
  }
  const back = await c.read10(16, 1);
  t.same(back.data, Buffer.alloc(BS), 'the rejected WRITE wrote nothing');
});

t.test('INQUIRY allocation lengths over the wire are prefixes of the full answer', async (t) => {
  const full = await c.command(Buffer.from([0x12, 0, 0, 0, 0xff, 0]), { lun: 1, read: 255 });
  t.equal(full.status, 0);
  for (let alloc = 0; alloc <= full.data.length + 2; alloc++) {
    const r = await c.command(Buffer.from([0x12, 0, 0, 0, alloc, 0]), { lun: 1, read: alloc });
    t.equal(r.status, 0, `alloc ${alloc}: GOOD`);
    t.same(r.data, full.data.subarray(0, Math.min(alloc, full.data.length)), `alloc ${alloc}: prefix`);
  }
});

t.test('the session stays healthy', async (t) => {
  const nop = await c.nop(Buffer.from('still here'));
  t.equal(nop.opcode, Opcode.NopIn, 'NOP-Out answered');
  const w = await c.write10(32, Buffer.alloc(BS, 0x42));
  t.equal(w.status, 0, 'WRITE GOOD');
  const r = await c.read10(32, 1);
  t.same(r.data, Buffer.alloc(BS, 0x42), 'READ returns it');
  const out = await c.logout();
  t.equal(out.opcode, Opcode.LogoutResponse, 'clean logout');
});
