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
    ['register and move', proutCdb(7), param(1n, 2n), [5, 0x24, 0]],
    ['reserved bits in byte 1', Buffer.from('5fe00000000000001800', 'hex'), param(1n, 2n), [5, 0x24, 0]],
    ['scope not LU', proutCdb(1, 1, 24, 1), param(1n, 0n), [5, 0x24, 0]],
    ['type 2', proutCdb(1, 2), param(1n, 0n), [5, 0x24, 0]],
    ['type 0', proutCdb(1, 0), param(1n, 0n), [5, 0x24, 0]],
    ['SPEC_I_PT', proutCdb(0), param(1n, 2n, 0x08), [5, 0x26, 0]],
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
  t.same(persistentReserveIn(s, prinCdb(2), 'fixed').dataIn, Buffer.from('00081490ea010000', 'hex'));
  t.same(persistentReserveIn(s, prinCdb(2), 'fixed', true).dataIn, Buffer.from('00081590ea010000', 'hex'));
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
