// Persistent reservations kept with the curve volume (an attribute on the MDS): a registration and a
// reservation made through the launcher's tgtd are in the volume's record, and a second gateway — a
// separate tgtd process exporting the same volume (exclusive=0) — sees both and enforces the reservation.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { MdsClient } from '../../src/curve/mds/mds-client';
import { startTgtd } from '../helpers/daemon';
import { TestInitiator } from '../helpers/iscsi-client';
import { IQN, freeBasePort, killAll, startCluster, stopCluster } from './cluster-harness';

const KEY = 0x1234_5678_9abc_def0n;
const WRITE_EXCLUSIVE = 1;
const RESERVATION_CONFLICT = 0x18;

function proutCdb(serviceAction: number, type: number): Buffer {
  const cdb = Buffer.alloc(10);
  cdb[0] = 0x5f;
  cdb[1] = serviceAction;
  cdb[2] = type;
  cdb.writeUInt32BE(24, 5);
  return cdb;
}

function proutParams(key: bigint, saKey: bigint): Buffer {
  const p = Buffer.alloc(24);
  p.writeBigUInt64BE(key, 0);
  p.writeBigUInt64BE(saKey, 8);
  return p;
}

function prinCdb(serviceAction: number): Buffer {
  const cdb = Buffer.alloc(10);
  cdb[0] = 0x5e;
  cdb[1] = serviceAction;
  cdb.writeUInt16BE(1024, 7);
  return cdb;
}

async function session(port: number, iqn: string, name: string): Promise<TestInitiator> {
  const ini = await TestInitiator.connect(port);
  const r = await ini.login({ initiatorName: `iqn.2026-11.io.curve.test:${name}`, targetName: iqn });
  if (r.statusClass !== 0) throw new Error(`login of ${name} to ${iqn}: class ${r.statusClass}`);
  for (let i = 0; ; i++) {
    const tur = await ini.command(Buffer.alloc(6), { lun: 1 });
    if (tur.status === 0) return ini;
    if (i === 4) throw new Error(`${name}: TEST UNIT READY status ${tur.status}`);
  }
}

t.test('reservations live with the volume and a second gateway enforces them', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'curve-pr-'));
  const port = await freeBasePort();
  const c = await startCluster(path.join(dir, 'data'), port);
  const mds = new MdsClient([`127.0.0.1:${port + 1}`]);
  const inis: TestInitiator[] = [];
  const gateway2 = await startTgtd({ impl: 'ours' });
  t.teardown(async () => {
    for (const i of inis) i.close();
    mds.close();
    await gateway2.stop();
    await stopCluster(c);
    killAll(c);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const a = await session(port, IQN, 'holder');
  inis.push(a);
  const reg = await a.command(proutCdb(0, 0), { lun: 1, write: proutParams(0n, KEY) });
  t.equal(reg.status, 0, 'REGISTER through gateway 1');
  const res = await a.command(proutCdb(1, WRITE_EXCLUSIVE), { lun: 1, write: proutParams(KEY, 0n) });
  t.equal(res.status, 0, 'RESERVE (write exclusive) through gateway 1');

  const rec = await mds.call<{ statusCode: number; value: Buffer; version: number }>(
    'nameserver',
    'GetFileXattr',
    {
      fileName: '/vol0',
      owner: 'root',
      name: 'scsi.pr',
    },
  );
  t.equal(rec.statusCode, 0);
  const saved = JSON.parse(Buffer.from(rec.value).toString()) as {
    registrations: Array<{ key: string }>;
    reservation: { type: number } | null;
  };
  t.same(
    [saved.registrations.map((r) => r.key), saved.reservation?.type],
    [[KEY.toString(16)], WRITE_EXCLUSIVE],
    `the volume's scsi.pr attribute holds the key and the reservation (version ${rec.version})`,
  );

  // A second gateway: another tgtd process exporting the same volume without taking it over.
  const IQN2 = 'iqn.2026-11.io.curve:vol0-gw2';
  await gateway2.tgtadmOk(['--op', 'new', '--mode', 'target', '--tid', '1', '-T', IQN2]);
  await gateway2.tgtadmOk([
    '--op', 'new', '--mode', 'logicalunit', '--tid', '1', '--lun', '1', '--bstype', 'curve',
    '--backing-store', '/vol0', '--bsopts', `mds=127.0.0.1:${port + 1};exclusive=0`,
  ]); // prettier-ignore
  await gateway2.tgtadmOk(['--op', 'bind', '--mode', 'target', '--tid', '1', '-I', 'ALL']);
  const b = await session(gateway2.port, IQN2, 'other');
  inis.push(b);

  const keys = await b.command(prinCdb(0), { lun: 1, read: 1024 });
  t.equal(keys.status, 0, 'READ KEYS through gateway 2');
  const listed = keys.data.readUInt32BE(4) / 8;
  t.same(
    Array.from({ length: listed }, (_, i) => keys.data.readBigUInt64BE(8 + i * 8)),
    [KEY],
    'gateway 2 sees the key registered through gateway 1',
  );
  const held = await b.command(prinCdb(1), { lun: 1, read: 1024 });
  t.equal(held.status, 0, 'READ RESERVATION through gateway 2');
  t.ok(held.data.readUInt32BE(4) >= 16, 'a reservation is reported');
  t.equal(held.data.readBigUInt64BE(8), KEY, 'held under the key');
  t.equal(held.data[21] & 0x0f, WRITE_EXCLUSIVE, 'of type write exclusive');

  const w = await b.write10(1000, Buffer.alloc(512, 0xee));
  t.equal(w.status, RESERVATION_CONFLICT, 'a write by a non-holder through gateway 2 is refused');
  const r = await b.read10(1000, 1);
  t.equal(r.status, 0, 'reads stay allowed under write exclusive');
});
