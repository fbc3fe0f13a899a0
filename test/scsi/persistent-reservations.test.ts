import t, { type Test } from 'tap';
import {
  persistentReserveIn,
  persistentReserveOut,
  prConflicts,
  PrAccess,
  iscsiTransportId,
  REGISTRATIONS_PREEMPTED,
  RESERVATIONS_PREEMPTED,
  RESERVATIONS_RELEASED,
} from '../../src/scsi/persistent-reservations';
import { emptyPrState, PrType, type PrState } from '../../src/scsi/pr-state';
import type { ItNexus } from '../../src/scsi/scsi-types';
import { parseSense } from '../../src/scsi/sense';

const nexus = (n: number): ItNexus => ({
  id: n,
  initiatorPortName: `iqn.init${n},i,0x00023d000001`,
  initiatorName: `iqn.init${n}`,
  targetPortName: 'iqn.tgt,t,0x0001',
  relativeTargetPortId: 1,
  targetPortGroup: 1,
});
const A = nexus(1);
const B = nexus(2);
const C = nexus(3);

function proutCdb(action: number, type = 0, plen = 24, scope = 0): Buffer {
  const c = Buffer.alloc(10);
  c[0] = 0x5f;
  c[1] = action;
  c[2] = (scope << 4) | type;
  c.writeUInt32BE(plen, 5);
  return c;
}
function param(rk: bigint, sark: bigint, flags = 0): Buffer {
  const p = Buffer.alloc(24);
  p.writeBigUInt64BE(rk, 0);
  p.writeBigUInt64BE(sark, 8);
  p[20] = flags;
  return p;
}
function prinCdb(action: number, alloc = 4096): Buffer {
  const c = Buffer.alloc(10);
  c[0] = 0x5e;
  c[1] = action;
  c.writeUInt16BE(alloc, 7);
  return c;
}

/** Run a PROUT and return the new state, asserting the expected status. */
function out(
  t: Test,
  s: PrState,
  n: ItNexus,
  action: number,
  type: number,
  rk: bigint,
  sark: bigint,
  status = 0,
) {
  const o = persistentReserveOut(s, n, proutCdb(action, type), param(rk, sark), 'fixed');
  t.equal(o.result.status, status, `action ${action} type ${type} status`);
  return o;
}

t.test('register, read keys, unregister', async (t) => {
  let s = emptyPrState();
  s = out(t, s, A, 0, 0, 0n, 0x1111n).state;
  s = out(t, s, B, 6, 0, 0n, 0x2222n).state; // register and ignore existing key
  const keys = persistentReserveIn(s, prinCdb(0), 'fixed');
  t.same(keys.dataIn, Buffer.from('00000002' + '00000010' + '0000000000001111' + '0000000000002222', 'hex'));
  // Wrong reservation key from a registered nexus: conflict, nothing changes.
  const bad = out(t, s, A, 0, 0, 0x9999n, 0x3333n, 0x18);
  t.equal(bad.state, s);
  // Unregistered nexus with a non-zero key: conflict.
  out(t, s, C, 0, 0, 0x1n, 0x3333n, 0x18);
  s = out(t, s, A, 0, 0, 0x1111n, 0n).state;
  t.same(
    persistentReserveIn(s, prinCdb(0), 'fixed').dataIn,
    Buffer.from('00000003' + '00000008' + '0000000000002222', 'hex'),
  );
  // Truncated READ KEYS: the header tells the full length.
  t.same(persistentReserveIn(s, prinCdb(0, 4), 'fixed').dataIn, Buffer.from('00000003', 'hex'));
});

t.test('access rules for every reservation type', async (t) => {
  // [type, registered-other can read, can write, unregistered can read, can write]
  const table: Array<[number, boolean, boolean, boolean, boolean]> = [
    [PrType.WriteExclusive, true, false, true, false],
    [PrType.ExclusiveAccess, false, false, false, false],
    [PrType.WriteExclusiveRegistrantsOnly, true, true, true, false],
    [PrType.ExclusiveAccessRegistrantsOnly, true, true, false, false],
    [PrType.WriteExclusiveAllRegistrants, true, true, true, false],
    [PrType.ExclusiveAccessAllRegistrants, true, true, false, false],
  ];
  for (const [type, rr, rw, ur, uw] of table) {
    let s = emptyPrState();
    s = out(t, s, A, 0, 0, 0n, 0xan).state;
    s = out(t, s, B, 0, 0, 0n, 0xbn).state;
    s = out(t, s, A, 1, type, 0xan, 0n).state;
    t.notOk(prConflicts(s, A, PrAccess.Write), `holder writes under type ${type}`);
    t.equal(!prConflicts(s, B, PrAccess.Read), rr, `registered read, type ${type}`);
    t.equal(!prConflicts(s, B, PrAccess.Write), rw, `registered write, type ${type}`);
    t.equal(!prConflicts(s, C, PrAccess.Read), ur, `unregistered read, type ${type}`);
    t.equal(!prConflicts(s, C, PrAccess.Write), uw, `unregistered write, type ${type}`);
    t.notOk(prConflicts(s, C, PrAccess.Allowed));
    // READ RESERVATION shows the holder's key (0 for all-registrants types) and the type.
    const rr16 = persistentReserveIn(s, prinCdb(1), 'fixed').dataIn!;
    const allReg = type === 7 || type === 8;
    t.equal(rr16.readUInt32BE(4), 16);
    t.equal(rr16.readBigUInt64BE(8), allReg ? 0n : 0xan);
    t.equal(rr16[21], type);
    // Releasing with the wrong type is an error; with the right one it works.
    const wrong = persistentReserveOut(s, A, proutCdb(2, type === 1 ? 3 : 1), param(0xan, 0n), 'fixed');
    t.same(parseSense(wrong.result.sense!), { key: 5, asc: 0x26, ascq: 0x04 });
    const rel = out(t, s, A, 2, type, 0xan, 0n);
    t.equal(rel.state.reservation, undefined);
    const releasedUa = rel.unitAttentions.some((u) => u.code === RESERVATIONS_RELEASED);
    t.equal(releasedUa, type !== 1 && type !== 3, `RESERVATIONS RELEASED UA for type ${type}`);
  }
});

t.test('reserve conflicts and ownership on unregister', async (t) => {
  let s = emptyPrState();
  s = out(t, s, A, 0, 0, 0n, 1n).state;
  s = out(t, s, B, 0, 0, 0n, 2n).state;
  s = out(t, s, A, 1, PrType.WriteExclusive, 1n, 0n).state;
  out(t, s, B, 1, PrType.WriteExclusive, 2n, 0n, 0x18); // someone else holds it
  out(t, s, A, 1, PrType.ExclusiveAccess, 1n, 0n, 0x18); // holder, other type
  t.equal(out(t, s, A, 1, PrType.WriteExclusive, 1n, 0n).changed, false); // same type: GOOD, no change
  // Holder unregisters: a non-all-registrants reservation goes away.
  t.equal(out(t, s, A, 0, 0, 1n, 0n).state.reservation, undefined);
  // All-registrants: stays while anyone is registered.
  let s2 = emptyPrState();
  s2 = out(t, s2, A, 0, 0, 0n, 1n).state;
  s2 = out(t, s2, B, 0, 0, 0n, 2n).state;
  s2 = out(t, s2, A, 1, PrType.WriteExclusiveAllRegistrants, 1n, 0n).state;
  s2 = out(t, s2, A, 0, 0, 1n, 0n).state;
  t.equal(s2.reservation?.type, PrType.WriteExclusiveAllRegistrants);
  s2 = out(t, s2, B, 0, 0, 2n, 0n).state;
  t.equal(s2.reservation, undefined);
});

t.test('preempt, preempt and abort, clear', async (t) => {
  let s = emptyPrState();
  s = out(t, s, A, 0, 0, 0n, 1n).state;
  s = out(t, s, B, 0, 0, 0n, 2n).state;
  s = out(t, s, B, 1, PrType.WriteExclusiveRegistrantsOnly, 2n, 0n).state;
  const gen = s.generation;
  // A preempts B's reservation and registration (PREEMPT AND ABORT).
  const p = out(t, s, A, 5, PrType.ExclusiveAccess, 1n, 2n);
  t.same(p.abort, [
    { initiatorPortName: B.initiatorPortName, targetPortName: B.targetPortName, allTargetPorts: false },
  ]);
  t.ok(
    p.unitAttentions.some(
      (u) => u.initiatorPortName === B.initiatorPortName && u.code === REGISTRATIONS_PREEMPTED,
    ),
  );
  s = p.state;
  t.equal(s.generation, gen + 1);
  t.same(s.reservation, {
    type: PrType.ExclusiveAccess,
    initiatorPortName: A.initiatorPortName,
    targetPortName: A.targetPortName,
  });
  t.equal(s.registrations.length, 1);
  // Preempting a key nobody has: conflict.
  out(t, s, A, 4, PrType.ExclusiveAccess, 1n, 0x77n, 0x18);
  // SARK 0 against a non-all-registrants reservation: invalid field in parameter list.
  const z = persistentReserveOut(s, A, proutCdb(4, 3), param(1n, 0n), 'fixed');
  t.same(parseSense(z.result.sense!), { key: 5, asc: 0x26, ascq: 0 });
  // CLEAR by a registrant drops everything and tells the others.
  s = out(t, s, C, 0, 0, 0n, 3n).state;
  const c = out(t, s, C, 3, 0, 3n, 0n);
  t.same(c.state.registrations, []);
  t.equal(c.state.reservation, undefined);
  t.ok(c.unitAttentions.every((u) => u.code === RESERVATIONS_PREEMPTED));
  t.equal(c.unitAttentions.length, 1);
});

t.test('PROUT bad input', async (t) => {
  const s = out(t, emptyPrState(), A, 0, 0, 0n, 1n).state;
  const cases: Array<[string, Buffer, Buffer | undefined, [number, number, number]]> = [
    ['param list 0', proutCdb(0, 0, 0), undefined, [5, 0x1a, 0]],
    ['param list 23', proutCdb(0, 0, 23), param(1n, 2n).subarray(0, 23), [5, 0x1a, 0]],
    ['param list 25', proutCdb(0, 0, 25), Buffer.concat([param(1n, 2n), Buffer.alloc(1)]), [5, 0x1a, 0]],
    ['data shorter than declared', proutCdb(0, 0, 24), param(1n, 2n).subarray(0, 10), [5, 0x1a, 0]],
    ['service action 8', proutCdb(8), param(1n, 2n), [5, 0x24, 0]],
    ['register and move, no reservation to move', proutCdb(7), param(1n, 2n), [5, 0x24, 0]],
    ['reserved bits in byte 1', Buffer.from('5fe00000000000001800', 'hex'), param(1n, 2n), [5, 0x24, 0]],
    ['scope not LU', proutCdb(1, 1, 24, 1), param(1n, 0n), [5, 0x24, 0]],
    ['type 2', proutCdb(1, 2), param(1n, 0n), [5, 0x24, 0]],
    ['type 0', proutCdb(1, 0), param(1n, 0n), [5, 0x24, 0]],
    ['SPEC_I_PT without its TransportID list', proutCdb(0), param(1n, 2n, 0x08), [5, 0x1a, 0]],
    ['APTPL without persistence', proutCdb(0), param(1n, 2n, 0x01), [5, 0x26, 0]],
    ['reserved bits in byte 20', proutCdb(0), param(1n, 2n, 0x80), [5, 0x26, 0]],
    ['NACA', Buffer.from('5f000000000000001804', 'hex'), param(1n, 2n), [5, 0x24, 0]],
  ];
  for (const [name, cdb, p, [key, asc, ascq]] of cases) {
    const o = persistentReserveOut(s, A, cdb, p, 'fixed');
    t.equal(o.result.status, 2, name);
    t.same(parseSense(o.result.sense!), { key, asc, ascq }, name);
    t.equal(o.state, s, `${name}: state unchanged`);
  }
  // APTPL is accepted when the store persists.
  const ok = persistentReserveOut(s, A, proutCdb(0), param(1n, 2n, 0x01), 'fixed', true);
  t.equal(ok.result.status, 0);
  t.equal(ok.state.aptpl, true);
});

t.test('PRIN: capabilities, full status, bad input', async (t) => {
  let s = emptyPrState();
  s = out(t, s, A, 0, 0, 0n, 0xaan).state;
  s = out(t, s, A, 1, PrType.WriteExclusive, 0xaan, 0n).state;
  t.same(persistentReserveIn(s, prinCdb(2), 'fixed').dataIn, Buffer.from('00081c90ea010000', 'hex'));
  t.same(persistentReserveIn(s, prinCdb(2), 'fixed', true).dataIn, Buffer.from('00081d90ea010000', 'hex'));
  const fs = persistentReserveIn(s, prinCdb(3), 'fixed').dataIn!;
  const tid = iscsiTransportId(A.initiatorPortName);
  t.equal(tid[0], 0x45);
  t.equal(tid.length % 4, 0);
  t.equal(fs.readUInt32BE(4), 24 + tid.length);
  t.equal(fs.readBigUInt64BE(8), 0xaan);
  t.equal(fs[8 + 12], 0x01); // R_HOLDER
  t.equal(fs[8 + 13], PrType.WriteExclusive);
  t.equal(fs.readUInt16BE(8 + 18), 1);
  t.same(fs.subarray(8 + 24), tid);
  for (const [name, cdb] of [
    ['service action 4', prinCdb(4)],
    ['service action 0x1f', prinCdb(0x1f)],
    ['reserved bits', Buffer.from('5e200000000000100000', 'hex')],
    ['NACA', Buffer.from('5e000000000000100004', 'hex')],
  ] as Array<[string, Buffer]>) {
    const r = persistentReserveIn(s, cdb, 'fixed');
    t.same(parseSense(r.sense!), { key: 5, asc: 0x24, ascq: 0 }, name);
  }
  // Allocation lengths 0..past the data truncate without error.
  const full = persistentReserveIn(s, prinCdb(1), 'fixed').dataIn!;
  for (let n = 0; n <= full.length + 4; n++)
    t.same(persistentReserveIn(s, prinCdb(1, n), 'fixed').dataIn, full.subarray(0, n));
});

/** An iSCSI TransportID for tests: format 01b when `isid` is given, else 00b. */
function tid(name: string, isid?: string): Buffer {
  return iscsiTransportId(isid === undefined ? name : `${name},i,0x${isid}`);
}
const isidOf = (n: ItNexus): string => n.initiatorPortName.split(',i,0x')[1];

/** REGISTER AND MOVE parameter list. */
function moveParam(
  rk: bigint,
  sark: bigint,
  id: Buffer,
  o: { unreg?: boolean; aptpl?: boolean; rtpi?: number } = {},
) {
  const p = Buffer.alloc(24);
  p.writeBigUInt64BE(rk, 0);
  p.writeBigUInt64BE(sark, 8);
  p[17] = (o.unreg ? 0x02 : 0) | (o.aptpl ? 0x01 : 0);
  p.writeUInt16BE(o.rtpi ?? 1, 18);
  p.writeUInt32BE(id.length, 20);
  return Buffer.concat([p, id]);
}
function move(s: PrState, n: ItNexus, p: Buffer, canPersist = false) {
  return persistentReserveOut(s, n, proutCdb(7, 0, p.length), p, 'fixed', canPersist);
}

t.test('REGISTER AND MOVE hands the reservation to another I_T nexus', async (t) => {
  let s = emptyPrState();
  s = out(t, s, A, 0, 0, 0n, 0xan).state;
  s = out(t, s, A, 1, PrType.ExclusiveAccess, 0xan, 0n).state;
  const gen = s.generation;
  // Move to B (not registered yet), keeping A registered.
  const m = move(s, A, moveParam(0xan, 0xbn, tid(B.initiatorName, isidOf(B))));
  t.equal(m.result.status, 0, 'GOOD');
  s = m.state;
  t.equal(s.generation, gen + 1);
  t.same(s.reservation, {
    type: PrType.ExclusiveAccess,
    initiatorPortName: B.initiatorPortName,
    targetPortName: B.targetPortName,
  });
  t.same(
    s.registrations.map((r) => [r.initiatorPortName, r.key]),
    [
      [A.initiatorPortName, 0xan],
      [B.initiatorPortName, 0xbn],
    ],
  );
  t.notOk(prConflicts(s, B, PrAccess.Write), 'B holds it now');
  t.ok(prConflicts(s, A, PrAccess.Read), 'A is locked out of an exclusive-access reservation');
  // B moves it back to A with UNREG: B's registration goes, A's existing one gets the new key.
  const back = move(s, B, moveParam(0xbn, 0xa2n, tid(A.initiatorName, isidOf(A)), { unreg: true }));
  t.equal(back.result.status, 0);
  t.same(
    back.state.registrations.map((r) => [r.initiatorPortName, r.key]),
    [[A.initiatorPortName, 0xa2n]],
  );
  t.equal(back.state.reservation?.initiatorPortName, A.initiatorPortName);
  t.equal(back.state.reservation?.type, PrType.ExclusiveAccess, 'type and scope kept');
  // A name-only TransportID moves the reservation to every port of that initiator.
  const any = move(back.state, A, moveParam(0xa2n, 0xcn, tid(C.initiatorName)));
  t.equal(any.result.status, 0);
  const otherC = { ...C, id: 9, initiatorPortName: `${C.initiatorName},i,0x000000000009` };
  t.notOk(prConflicts(any.state, otherC, PrAccess.Write), 'any ISID of C holds it');
  // APTPL travels with the move when the store can persist.
  const ap = move(s, B, moveParam(0xbn, 0xa3n, tid(A.initiatorName, isidOf(A)), { aptpl: true }), true);
  t.equal(ap.result.status, 0);
  t.equal(ap.state.aptpl, true);
});

t.test('REGISTER AND MOVE error rules', async (t) => {
  let s = emptyPrState();
  s = out(t, s, A, 0, 0, 0n, 0xan).state;
  s = out(t, s, B, 0, 0, 0n, 0xbn).state;
  const toB = tid(B.initiatorName, isidOf(B));
  const toC = tid(C.initiatorName, isidOf(C));
  // No reservation to move.
  let r = move(s, A, moveParam(0xan, 0x1n, toC));
  t.same(parseSense(r.result.sense!), { key: 5, asc: 0x24, ascq: 0 }, 'no reservation: INVALID FIELD IN CDB');
  s = out(t, s, A, 1, PrType.WriteExclusiveRegistrantsOnly, 0xan, 0n).state;
  const cases: Array<[string, ItNexus, Buffer, number | [number, number, number]]> = [
    ['unregistered issuer', C, moveParam(0n, 0x1n, toB), 0x18],
    ['wrong reservation key', A, moveParam(0x99n, 0x1n, toC), 0x18],
    ['registrant but not the holder', B, moveParam(0xbn, 0x1n, toC), 0x18],
    ['service action key 0', A, moveParam(0xan, 0n, toC), [5, 0x26, 0]],
    ['destination is the issuer', A, moveParam(0xan, 0x1n, tid(A.initiatorName, isidOf(A))), [5, 0x26, 0]],
    ['destination is the issuer by name', A, moveParam(0xan, 0x1n, tid(A.initiatorName)), [5, 0x26, 0]],
    ['unknown relative target port', A, moveParam(0xan, 0x1n, toC, { rtpi: 7 }), [5, 0x26, 0]],
    ['Fibre Channel TransportID', A, moveParam(0xan, 0x1n, Buffer.from(toC).fill(0x40, 0, 1)), [5, 0x26, 0]],
    [
      'TransportID without a name',
      A,
      moveParam(0xan, 0x1n, Buffer.from('0500000400000000', 'hex')),
      [5, 0x26, 0],
    ],
    ['reserved byte 16', A, ((p) => ((p[16] = 1), p))(moveParam(0xan, 0x1n, toC)), [5, 0x26, 0]],
    ['reserved bits byte 17', A, ((p) => ((p[17] = 0x80), p))(moveParam(0xan, 0x1n, toC)), [5, 0x26, 0]],
    ['APTPL without persistence', A, moveParam(0xan, 0x1n, toC, { aptpl: true }), [5, 0x26, 0]],
    [
      'TransportID length past the list',
      A,
      ((p) => (p.writeUInt32BE(999, 20), p))(moveParam(0xan, 1n, toC)),
      [5, 0x1a, 0],
    ],
    ['short list', A, moveParam(0xan, 0x1n, toC).subarray(0, 20), [5, 0x1a, 0]],
  ];
  for (const [name, n, p, want] of cases) {
    r = move(s, n, p);
    if (typeof want === 'number') t.equal(r.result.status, want, name);
    else t.same(parseSense(r.result.sense!), { key: want[0], asc: want[1], ascq: want[2] }, name);
    t.equal(r.state, s, `${name}: nothing changed`);
  }
  // All-registrants reservations have no single holder to move.
  let ar = emptyPrState();
  ar = out(t, ar, A, 0, 0, 0n, 0xan).state;
  ar = out(t, ar, A, 1, PrType.WriteExclusiveAllRegistrants, 0xan, 0n).state;
  t.equal(move(ar, A, moveParam(0xan, 0x1n, toC)).result.status, 0x18, 'WR_EX_AR: RESERVATION CONFLICT');
  // A TransportID naming some other port of the issuer's own initiator is a different nexus: allowed.
  const sibling = tid(A.initiatorName, '000000000042');
  t.equal(move(s, A, moveParam(0xan, 0x1n, sibling)).result.status, 0, 'another ISID of the same host');
  // Moving to another target port the LU knows.
  const p2 = persistentReserveOut(
    s,
    A,
    proutCdb(7, 0, moveParam(0xan, 1n, toC, { rtpi: 2 }).length),
    moveParam(0xan, 1n, toC, { rtpi: 2 }),
    'fixed',
    false,
    (id) => (id === 2 ? 'iqn.tgt,t,0x0002' : undefined),
  );
  t.equal(p2.result.status, 0, 'RTPI 2 resolves');
  t.same(p2.state.reservation?.targetPortName, 'iqn.tgt,t,0x0002');
  t.equal(p2.state.registrations.at(-1)?.relativeTargetPortId, 2);
});

/** REGISTER with SPEC_I_PT: the basic list, TRANSPORTID PARAMETER DATA LENGTH, the IDs. */
function specParam(sark: bigint, ids: Buffer[], flags = 0x08, rk = 0n): Buffer {
  const list = Buffer.concat(ids);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(list.length);
  return Buffer.concat([param(rk, sark, flags), len, list]);
}
function specRegister(s: PrState, n: ItNexus, p: Buffer, action = 0) {
  return persistentReserveOut(s, n, proutCdb(action, 0, p.length), p, 'fixed');
}

t.test('REGISTER with SPEC_I_PT registers the listed I_T nexuses, all or nothing', async (t) => {
  const s0 = emptyPrState();
  const ok = specRegister(s0, A, specParam(0x5n, [tid(B.initiatorName, isidOf(B)), tid(C.initiatorName)]));
  t.equal(ok.result.status, 0);
  const s = ok.state;
  t.same(
    s.registrations.map((r) => [r.initiatorPortName, r.key, r.allTargetPorts, r.targetPortName]),
    [
      [B.initiatorPortName, 0x5n, false, A.targetPortName],
      [C.initiatorName, 0x5n, false, A.targetPortName],
      [A.initiatorPortName, 0x5n, false, A.targetPortName],
    ],
  );
  t.equal(s.generation, 1, 'one generation step for the whole command');
  // The name-only registration covers any ISID of C; READ FULL STATUS reports it as format 00b.
  const otherC = { ...C, id: 9, initiatorPortName: `${C.initiatorName},i,0x000000000009` };
  t.ok(findRegistrationOf(s, otherC), 'C registered through any ISID');
  const fs = persistentReserveIn(s, prinCdb(3), 'fixed').dataIn!;
  const second = 8 + 24 + fs.readUInt32BE(8 + 20);
  t.equal(fs[second + 24], 0x05, 'format 00b TransportID for the name-only registration');
  // B can use the key it was given.
  t.equal(out(t, s, B, 1, PrType.WriteExclusive, 0x5n, 0n).result.status, 0, 'B reserves with the key');
  // ALL_TG_PT with SPEC_I_PT: registrations through every target port.
  const all = specRegister(s0, A, specParam(0x6n, [tid(B.initiatorName, isidOf(B))], 0x0c));
  t.equal(all.result.status, 0);
  t.ok(all.state.registrations.every((r) => r.allTargetPorts));
  const elsewhere = { ...B, targetPortName: 'iqn.tgt,t,0x0002', relativeTargetPortId: 2 };
  t.notOk(prConflicts({ ...all.state, reservation: undefined }, elsewhere, PrAccess.Write));
  t.ok(findRegistrationOf(all.state, elsewhere), 'B registered through another target port too');
  // Listing the issuer itself is harmless, with or without ALL_TG_PT.
  const self = specRegister(s0, A, specParam(0x7n, [tid(A.initiatorName, isidOf(A))]));
  t.equal(self.result.status, 0);
  t.equal(self.state.registrations.length, 1);
  const selfAll = specRegister(s0, A, specParam(0x7n, [tid(A.initiatorName, isidOf(A))], 0x0c));
  t.equal(selfAll.result.status, 0);
  t.same(
    selfAll.state.registrations.map((r) => [r.initiatorPortName, r.allTargetPorts]),
    [[A.initiatorPortName, true]],
  );
});

function findRegistrationOf(s: PrState, n: ItNexus): boolean {
  return s.registrations.some(
    (r) =>
      (r.initiatorPortName === n.initiatorPortName || r.initiatorPortName === n.initiatorName) &&
      (r.allTargetPorts || r.targetPortName === n.targetPortName),
  );
}

t.test('SPEC_I_PT error rules', async (t) => {
  const s0 = emptyPrState();
  const registeredB = out(t, s0, B, 0, 0, 0n, 0xbn).state;
  const toB = tid(B.initiatorName, isidOf(B));
  const toC = tid(C.initiatorName, isidOf(C));
  const cases: Array<[string, PrState, ItNexus, Buffer, number, number | [number, number, number]]> = [
    ['issuer already registered', registeredB, B, specParam(0x1n, [toC], 0x08, 0xbn), 0, [5, 0x26, 0]],
    ['listed nexus already registered', registeredB, A, specParam(0x1n, [toC, toB]), 0, [5, 0x26, 0]],
    [
      'name-only ID covering a registered port',
      registeredB,
      A,
      specParam(1n, [tid(B.initiatorName)]),
      0,
      [5, 0x26, 0],
    ],
    ['duplicate in the list', s0, A, specParam(0x1n, [toC, toC]), 0, [5, 0x26, 0]],
    ['bad TransportID', s0, A, specParam(0x1n, [toC, Buffer.from(toB).fill(0x06, 0, 1)]), 0, [5, 0x26, 0]],
    ['trailing bytes', s0, A, specParam(0x1n, [toC, Buffer.alloc(4)]), 0, [5, 0x26, 0]],
    ['REGISTER AND IGNORE with SPEC_I_PT', s0, A, specParam(0x1n, [toC]), 6, [5, 0x26, 0]],
    [
      'data length disagrees with the list length',
      s0,
      A,
      ((p) => (p.writeUInt32BE(p.readUInt32BE(24) + 4, 24), p))(specParam(0x1n, [toC])),
      0,
      [5, 0x1a, 0],
    ],
    ['unregistered issuer with a key', s0, A, specParam(0x1n, [toC], 0x08, 0x9n), 0, 0x18],
  ];
  for (const [name, s, n, p, action, want] of cases) {
    const r = specRegister(s, n, p, action);
    if (typeof want === 'number') t.equal(r.result.status, want, name);
    else t.same(parseSense(r.result.sense!), { key: want[0], asc: want[1], ascq: want[2] }, name);
    t.equal(r.state, s, `${name}: nothing registered`);
  }
  // Too many: INSUFFICIENT REGISTRATION RESOURCES, nothing registered.
  const many = Array.from({ length: 300 }, (_, i) => tid(`iqn.many:${i}`));
  const r = specRegister(s0, A, specParam(0x1n, many));
  t.same(parseSense(r.result.sense!), { key: 5, asc: 0x55, ascq: 0x04 });
  t.equal(r.state, s0);
  // SARK 0 from an unregistered nexus: nothing to do, GOOD.
  const z = specRegister(s0, A, specParam(0n, [toC]));
  t.equal(z.result.status, 0);
  t.equal(z.changed, false);
});
