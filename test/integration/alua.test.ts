// ALUA against a real tgtd: off by default (nothing in INQUIRY or `show`), turned on and moved between
// states with tgtadm (implicit transitions), SET TARGET PORT GROUPS from an initiator (explicit), and the
// unit attentions and NOT READY answers an initiator's multipath layer relies on.
import * as path from 'node:path';
import t from 'tap';
import { addTarget, makeSparseFile, startTgtd, type Daemon } from '../helpers/daemon';
import { TestInitiator } from '../helpers/iscsi-client';
import { drainUnitAttentions, senseOf } from '../helpers/pr-commands';

const IQN = 'iqn.2026-11.io.curve.test:alua';
const LUN = 1;
let d: Daemon;

t.before(async () => {
  d = await startTgtd({ impl: 'ours' });
  const file = path.join(d.dir, 'alua.img');
  makeSparseFile(file, 8 * 1024 * 1024);
  await addTarget(d, { tid: 1, iqn: IQN, lun: LUN, store: 'rdwr', path: file });
});
t.teardown(() => d?.stop());

const inquiry = async (c: TestInitiator): Promise<Buffer> =>
  (await c.command(Buffer.from('120000006000', 'hex'), { lun: LUN, read: 96 })).data;
const rtpg = (c: TestInitiator, extended = false) => {
  const cdb = Buffer.from('a30a000000000000040000000000', 'hex');
  if (extended) cdb[1] |= 0x20;
  return c.command(cdb, { lun: LUN, read: 1024 });
};
const tur = (c: TestInitiator) => c.command(Buffer.alloc(6), { lun: LUN });
const update = (name: string, value: string) =>
  d.tgtadm(['--op', 'update', '--mode', 'target', '--tid', '1', '--name', name, '--value', value]);

t.test('ALUA via tgtadm and SET TARGET PORT GROUPS', async (t) => {
  const c = await TestInitiator.connect(d.port);
  t.teardown(() => c.close());
  t.equal((await c.login({ targetName: IQN })).statusClass, 0);
  await drainUnitAttentions(c, LUN);
  t.equal((await inquiry(c))[5] & 0x30, 0, 'default: TPGS 0');
  t.same(senseOf(await rtpg(c)), { key: 5, asc: 0x24, ascq: 0 }, 'default: no REPORT TARGET PORT GROUPS');
  const params = await d.tgtadmOk(['--op', 'show', '--mode', 'target', '--tid', '1']);
  t.notMatch(params.stdout, /alua/, 'default: show has no ALUA lines');

  t.equal((await update('alua', 'both')).code, 0, 'alua=both');
  t.equal((await update('alua_group', '5')).code, 0, 'alua_group=5');
  t.not((await update('alua_state', 'sideways')).code, 0, 'a bad state is refused');
  t.not((await update('alua_group', '70000')).code, 0, 'a bad group is refused');
  t.same(await drainUnitAttentions(c, LUN), ['2a/06'], 'ASYMMETRIC ACCESS STATE CHANGED once');
  t.equal((await inquiry(c))[5] & 0x30, 0x30, 'TPGS 11b');
  const ext = await rtpg(c, true);
  t.equal(ext.status, 0);
  t.equal(ext.data[4], 0x10, 'extended header');
  t.equal(ext.data[8] & 0x0f, 0, 'active/optimized');
  t.equal(ext.data.readUInt16BE(10), 5, 'target port group 5');
  t.equal(ext.data.readUInt16BE(18), 1, 'relative target port 1');
  const shown = (await d.tgtadmOk(['--op', 'show', '--mode', 'target', '--tid', '1'])).stdout;
  t.match(shown, /^alua=both\nalua_group=5\nalua_state=active-optimized\n/m, 'show lists the ALUA keys');

  // Implicit transition to standby: media commands answer NOT READY, TARGET PORT IN STANDBY STATE.
  t.equal((await update('alua_state', 'standby')).code, 0);
  t.same(senseOf(await tur(c)), { key: 6, asc: 0x2a, ascq: 0x06 }, 'the change is announced');
  t.same(senseOf(await tur(c)), { key: 2, asc: 0x04, ascq: 0x0b }, 'TEST UNIT READY in standby');
  const read = await c.read10(0, 1, 512, LUN);
  t.same(senseOf(read), { key: 2, asc: 0x04, ascq: 0x0b }, 'READ in standby');
  t.equal((await rtpg(c)).data[4] & 0x0f, 2, 'RTPG reports standby');

  // Explicit transition back (SET TARGET PORT GROUPS): the issuer gets no unit attention.
  const p = Buffer.alloc(8);
  p[4] = 0x01; // active/non-optimized
  p.writeUInt16BE(5, 6);
  const stpgCdb = Buffer.from('a40a000000000000000800000000', 'hex');
  t.equal((await c.command(stpgCdb, { lun: LUN, write: p })).status, 0, 'SET TARGET PORT GROUPS');
  t.equal((await tur(c)).status, 0, 'active/non-optimized: TEST UNIT READY good, no unit attention');
  t.equal((await rtpg(c)).data[4] & 0x0f, 0x01, 'RTPG: active/non-optimized');
  t.equal((await update('alua', 'off')).code, 0, 'alua=off');
  await drainUnitAttentions(c, LUN);
  t.equal((await inquiry(c))[5] & 0x30, 0, 'off again: TPGS 0');
  t.notMatch((await d.tgtadmOk(['--op', 'show', '--mode', 'target', '--tid', '1'])).stdout, /alua/);
  await c.logout();
});
