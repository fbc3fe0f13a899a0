// A Windows-failover-cluster-style persistent reservation sequence against a real tgtd, over sessions of
// our own test initiator: two nodes register, node A reserves Write Exclusive - Registrants Only, node B
// (the challenger) preempts and aborts while A has a write in flight, then releases and clears. Every
// step checks status, sense and the resulting reservation state.
import * as path from 'node:path';
import t from 'tap';
import { Opcode, type Pdu, type R2T } from '../../src/iscsi/pdu-types';
import { addTarget, makeSparseFile, startTgtd, type Daemon } from '../helpers/daemon';
import { TestInitiator } from '../helpers/iscsi-client';
import {
  ascq,
  drainUnitAttentions,
  iscsiTransportIdOf,
  parseFullStatus,
  parseKeys,
  parseReservation,
  prin,
  Prin,
  prout,
  Prout,
  proutParams,
  senseOf,
} from '../helpers/pr-commands';

const IQN = 'iqn.2026-11.io.curve.test:cluster-disk';
const LUN = 1;
const BS = 512;
const WERO = 5; // Write Exclusive - Registrants Only
const KEY_A = 0xa0a0a0a0a0a0a0a0n;
const KEY_B = 0xb0b0b0b0b0b0b0b0n;
const KEY_A2 = 0xa2n;
const NODE_A = { name: 'iqn.1991-05.com.microsoft:node-a', isid: '400001370000' };
const NODE_B = { name: 'iqn.1991-05.com.microsoft:node-b', isid: '400001370001' };
const OUTSIDER = { name: 'iqn.2026-11.test:outsider', isid: '400001370002' };

let d: Daemon;

t.before(async () => {
  d = await startTgtd({ impl: 'ours' });
  const file = path.join(d.dir, 'quorum.img');
  makeSparseFile(file, 16 * 1024 * 1024);
  await addTarget(d, { tid: 1, iqn: IQN, lun: LUN, store: 'rdwr', path: file });
});
t.teardown(() => d?.stop());

async function session(who: { name: string; isid: string }): Promise<TestInitiator> {
  const c = await TestInitiator.connect(d.port);
  t.teardown(() => c.close());
  const r = await c.login({ initiatorName: who.name, targetName: IQN, isid: Buffer.from(who.isid, 'hex') });
  if (r.statusClass !== 0) throw new Error(`login of ${who.name} failed: ${r.statusClass}/${r.statusDetail}`);
  await drainUnitAttentions(c, LUN); // POWER ON / RESET after login
  return c;
}

const block = (fill: number): Buffer => Buffer.alloc(BS, fill);
const portName = (who: { name: string; isid: string }): string => `${who.name},i,0x${who.isid}`;

t.test('cluster reservation sequence over two nodes and an outsider', async (t) => {
  const a = await session(NODE_A);
  const b = await session(NODE_B);
  const c = await session(OUTSIDER);

  // 1. Both nodes register: A with REGISTER, B with REGISTER AND IGNORE EXISTING KEY (what Windows sends).
  t.equal((await prout(a, LUN, Prout.Register, 0, proutParams({ sark: KEY_A }))).status, 0, 'A registers');
  t.equal(
    (await prout(b, LUN, Prout.RegisterAndIgnore, 0, proutParams({ sark: KEY_B }))).status,
    0,
    'B registers (ignore existing key)',
  );
  // A second REGISTER from A with a wrong key conflicts and changes nothing.
  const wrong = await prout(a, LUN, Prout.Register, 0, proutParams({ key: 0x1234n, sark: 0x5678n }));
  t.equal(wrong.status, 0x18, 'REGISTER with a wrong key: RESERVATION CONFLICT');
  let keys = parseKeys((await prin(c, LUN, Prin.ReadKeys)).data);
  t.same(keys.keys, [KEY_A, KEY_B], 'READ KEYS (from the outsider) lists both nodes');
  t.equal(keys.generation, 2, 'generation counts the two registrations');

  // 2. Node A reserves WERO.
  t.equal(
    (await prout(a, LUN, Prout.Reserve, WERO, proutParams({ key: KEY_A }))).status,
    0,
    'A reserves WERO',
  );
  const cReserve = await prout(c, LUN, Prout.Reserve, WERO, proutParams({ key: 0x99n }));
  t.equal(cReserve.status, 0x18, 'an unregistered RESERVE is a conflict');
  const bReserve = await prout(b, LUN, Prout.Reserve, 1, proutParams({ key: KEY_B }));
  t.equal(bReserve.status, 0x18, 'B cannot take another type while A holds it');

  // 3. READ FULL STATUS from both nodes: same picture.
  for (const [who, c0] of [
    ['A', a],
    ['B', b],
  ] as const) {
    const fs = parseFullStatus((await prin(c0, LUN, Prin.ReadFullStatus)).data);
    t.equal(fs.generation, 2, `${who}: generation`);
    t.same(
      fs.entries.map((e) => [e.key, e.holder, e.type, e.transportId, e.relativeTargetPortId, e.allTgPt]),
      [
        [KEY_A, true, WERO, portName(NODE_A), 1, false],
        [KEY_B, false, 0, portName(NODE_B), 1, false],
      ],
      `${who}: READ FULL STATUS shows A holding WERO and B registered`,
    );
  }
  const res = parseReservation((await prin(b, LUN, Prin.ReadReservation)).data);
  t.same(res, { generation: 2, key: KEY_A, type: WERO }, 'READ RESERVATION');

  // 4. Access under WERO: registrants write, an outsider reads but does not write.
  t.equal((await a.write10(0, block(0xaa), BS, LUN)).status, 0, 'holder A writes');
  t.equal((await b.write10(1, block(0xbb), BS, LUN)).status, 0, 'registrant B writes');
  const cw = await c.write10(2, block(0xcc), BS, LUN);
  t.equal(cw.status, 0x18, 'outsider write: RESERVATION CONFLICT');
  t.equal(cw.sense, undefined, 'a conflict carries no sense');
  const cr = await c.read10(0, 2, BS, LUN);
  t.equal(cr.status, 0, 'outsider read allowed');
  t.same(cr.data, Buffer.concat([block(0xaa), block(0xbb)]), 'outsider reads what the nodes wrote');

  // 5. Node A starts a 1 MiB write and sends only its first piece: the task waits for Data-Out.
  const inflightItt = a.nextItt();
  const payload = Buffer.alloc(1024 * 1024, 0xee);
  const cdb = Buffer.alloc(16);
  cdb[0] = 0x2a;
  cdb.writeUInt32BE(8, 2);
  cdb.writeUInt16BE(payload.length / BS, 7);
  const lunField = BigInt(LUN) << 48n;
  a.sendScsiCommand({
    itt: inflightItt,
    cdb,
    lun: LUN,
    edtl: payload.length,
    write: true,
    data: payload.subarray(0, 4096),
  });
  const r2t = await a.waitFor<R2T>((p: Pdu) => p.opcode === Opcode.R2T && p.itt === inflightItt, 10_000);
  t.ok(r2t, 'the target asked for the rest of A’s write: the task is in flight');

  // 6. Node B preempts A (PREEMPT AND ABORT, service action reservation key = A's key).
  const pa = await prout(b, LUN, Prout.PreemptAndAbort, WERO, proutParams({ key: KEY_B, sark: KEY_A }));
  t.equal(pa.status, 0, 'PREEMPT AND ABORT by B');
  const fs = parseFullStatus((await prin(b, LUN, Prin.ReadFullStatus)).data);
  t.equal(fs.generation, 3, 'preempting bumps the generation');
  t.same(
    fs.entries.map((e) => [e.key, e.holder, e.type, e.transportId]),
    [[KEY_B, true, WERO, portName(NODE_B)]],
    'only B is left, holding WERO',
  );
  // A's in-flight write was aborted: no response, and late Data-Out for it is dropped.
  await new Promise((r) => setTimeout(r, 300));
  t.notOk(
    a.drainInbox().some((p) => p.itt === inflightItt && p.opcode === Opcode.ScsiResponse),
    'the aborted write got no response',
  );
  a.sendDataOut(inflightItt, lunField, r2t.ttt, payload, 4096, payload.length - 4096);
  // A learns about it through a unit attention, then is an outsider: reads yes, writes no.
  const ua = await a.command(Buffer.alloc(6), { lun: LUN });
  t.equal(ua.status, 2, 'A: CHECK CONDITION');
  t.same(senseOf(ua), { key: 6, asc: 0x2a, ascq: 0x05 }, 'A: UNIT ATTENTION, REGISTRATIONS PREEMPTED');
  t.same(await drainUnitAttentions(a, LUN), [], 'only that one unit attention');
  t.same(await drainUnitAttentions(b, LUN), [], 'B got none');
  t.equal((await a.write10(3, block(0xa1), BS, LUN)).status, 0x18, 'preempted A cannot write');
  const ar = await a.read10(8, 8, BS, LUN);
  t.equal(ar.status, 0, 'A can still read');
  t.ok(ar.data.equals(Buffer.alloc(8 * BS)), 'nothing of the aborted write reached the disk');
  t.equal((await b.write10(3, block(0xb1), BS, LUN)).status, 0, 'new holder B writes');
  // A's old key no longer works for anything.
  const stale = await prout(a, LUN, Prout.Reserve, WERO, proutParams({ key: KEY_A }));
  t.equal(stale.status, 0x18, 'A’s old key: RESERVATION CONFLICT');

  // 7. A rejoins (REGISTER AND IGNORE): a registrant again, it may write under WERO.
  t.equal(
    (await prout(a, LUN, Prout.RegisterAndIgnore, 0, proutParams({ sark: KEY_A2 }))).status,
    0,
    'A re-registers',
  );
  t.equal((await a.write10(4, block(0xa2), BS, LUN)).status, 0, 're-registered A writes');
  keys = parseKeys((await prin(a, LUN, Prin.ReadKeys)).data);
  t.same(keys, { generation: 4, keys: [KEY_B, KEY_A2] }, 'keys after A rejoined');

  // 8. B releases: registrants are told the reservation was released.
  const badRelease = await prout(b, LUN, Prout.Release, 1, proutParams({ key: KEY_B }));
  t.equal(badRelease.status, 2, 'RELEASE with the wrong type fails');
  t.same(senseOf(badRelease), { key: 5, asc: 0x26, ascq: 0x04 }, 'INVALID RELEASE OF PERSISTENT RESERVATION');
  t.equal((await prout(b, LUN, Prout.Release, WERO, proutParams({ key: KEY_B }))).status, 0, 'B releases');
  t.same(await drainUnitAttentions(a, LUN), [ascq(0x2a, 0x04)], 'A: RESERVATIONS RELEASED');
  t.same(await drainUnitAttentions(b, LUN), [], 'the releasing node gets no unit attention');
  t.same(parseReservation((await prin(c, LUN, Prin.ReadReservation)).data), { generation: 4 }, 'no holder');
  t.equal((await c.write10(5, block(0xc5), BS, LUN)).status, 0, 'no reservation: the outsider writes');

  // 9. B clears everything: other registrants get RESERVATIONS PREEMPTED.
  t.equal((await prout(b, LUN, Prout.Reserve, WERO, proutParams({ key: KEY_B }))).status, 0, 'B reserves');
  t.equal((await c.write10(5, block(0xc6), BS, LUN)).status, 0x18, 'outsider blocked again');
  t.equal((await prout(b, LUN, Prout.Clear, 0, proutParams({ key: KEY_B }))).status, 0, 'B clears');
  t.same(await drainUnitAttentions(a, LUN), [ascq(0x2a, 0x03)], 'A: RESERVATIONS PREEMPTED');
  t.same(await drainUnitAttentions(c, LUN), [], 'the outsider was not registered: no unit attention');
  keys = parseKeys((await prin(c, LUN, Prin.ReadKeys)).data);
  t.same(keys, { generation: 5, keys: [] }, 'no keys left');
  t.same(parseReservation((await prin(c, LUN, Prin.ReadReservation)).data), { generation: 5 }, 'no holder');
  t.equal((await c.write10(5, block(0xc7), BS, LUN)).status, 0, 'cleared: the outsider writes');
  const clearAgain = await prout(b, LUN, Prout.Clear, 0, proutParams({ key: KEY_B }));
  t.equal(clearAgain.status, 0x18, 'CLEAR from a no-longer-registered node conflicts');

  for (const s of [a, b, c]) await s.logout();
});

t.test('SPEC_I_PT registration and REGISTER AND MOVE between sessions', async (t) => {
  const a = await session(NODE_A);
  const b = await session(NODE_B);
  const c = await session(OUTSIDER);
  const cap = (await prin(a, LUN, Prin.ReportCapabilities)).data;
  t.equal(cap[2] & 0x08, 0x08, 'SIP_C reported');
  // A registers itself, B (one port, format 01b) and the outsider's host (every port, format 00b).
  const ids = Buffer.concat([
    iscsiTransportIdOf(NODE_B.name, NODE_B.isid),
    iscsiTransportIdOf(OUTSIDER.name),
  ]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(ids.length);
  const reg = await prout(
    a,
    LUN,
    Prout.Register,
    0,
    proutParams({ sark: 0x51n, specIPt: true, extra: Buffer.concat([len, ids]) }),
  );
  t.equal(reg.status, 0, 'REGISTER with SPEC_I_PT');
  const fs = parseFullStatus((await prin(c, LUN, Prin.ReadFullStatus)).data);
  t.same(
    fs.entries.map((e) => [e.key, e.transportId]),
    [
      [0x51n, portName(NODE_B)],
      [0x51n, OUTSIDER.name],
      [0x51n, portName(NODE_A)],
    ],
    'three registrations, the outsider by name only',
  );
  // B uses the key it was given: it is registered without having sent a REGISTER.
  t.equal((await prout(b, LUN, Prout.Reserve, WERO, proutParams({ key: 0x51n }))).status, 0, 'B reserves');
  t.equal((await c.write10(0, block(1), BS, LUN)).status, 0, 'the outsider is a registrant now: writes');
  // B hands the reservation to A's port and drops its own registration.
  const move = Buffer.alloc(24);
  move.writeBigUInt64BE(0x51n, 0);
  move.writeBigUInt64BE(0x52n, 8);
  move[17] = 0x02; // UNREG
  move.writeUInt16BE(1, 18); // relative target port 1: the only portal group
  const dest = iscsiTransportIdOf(NODE_A.name, NODE_A.isid);
  move.writeUInt32BE(dest.length, 20);
  const moved = await prout(b, LUN, Prout.RegisterAndMove, 0, Buffer.concat([move, dest]));
  t.equal(moved.status, 0, 'REGISTER AND MOVE');
  const after = parseFullStatus((await prin(a, LUN, Prin.ReadFullStatus)).data);
  t.same(
    after.entries.map((e) => [e.key, e.transportId, e.holder, e.type]),
    [
      [0x51n, OUTSIDER.name, false, 0],
      [0x52n, portName(NODE_A), true, WERO],
    ],
    'A holds WERO with the new key; B is gone',
  );
  t.equal((await b.write10(0, block(2), BS, LUN)).status, 0x18, 'B, unregistered, cannot write');
  const self = Buffer.concat([move, iscsiTransportIdOf(NODE_A.name, NODE_A.isid)]);
  self.writeBigUInt64BE(0x52n, 0);
  const bad = await prout(a, LUN, Prout.RegisterAndMove, 0, self);
  t.same(senseOf(bad), { key: 5, asc: 0x26, ascq: 0 }, 'moving to itself: INVALID FIELD IN PARAMETER LIST');
  t.equal((await prout(a, LUN, Prout.Clear, 0, proutParams({ key: 0x52n }))).status, 0, 'clean up');
  for (const s of [a, b, c]) await s.logout();
});
