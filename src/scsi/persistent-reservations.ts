// PERSISTENT RESERVE IN / OUT (SPC-4 6.15, 6.16, 5.13) and the access rules a reservation imposes on
// other commands. Pure: a command maps (state, nexus, CDB, parameter list) to a result plus effects the
// disk applies (unit attentions for other nexuses, nexuses whose tasks must be aborted, persist).
import { allocationLength16At, nacaSet, truncate } from './cdb';
import {
  allRegistrantsType,
  PrType,
  validPrType,
  type PrRegistration,
  type PrReservation,
  type PrState,
} from './pr-state';
import { ScsiStatus, type ItNexus, type ScsiResult } from './scsi-types';
import {
  checkCondition,
  invalidCdbField,
  invalidParamField,
  PARAMETER_LIST_LENGTH_ERROR,
  SenseKey,
  type SenseCode,
  type SenseFormat,
} from './sense';
import {
  encodeIscsiTransportId,
  initiatorMatches,
  initiatorNameOf,
  isTransportIdError,
  parseIscsiTransportId,
  transportIdIdentity,
} from './transport-id';

export const PrOutAction = {
  Register: 0,
  Reserve: 1,
  Release: 2,
  Clear: 3,
  Preempt: 4,
  PreemptAndAbort: 5,
  RegisterAndIgnoreExistingKey: 6,
  RegisterAndMove: 7,
} as const;

export const PrInAction = {
  ReadKeys: 0,
  ReadReservation: 1,
  ReportCapabilities: 2,
  ReadFullStatus: 3,
} as const;

export const RESERVATIONS_PREEMPTED: SenseCode = Object.freeze({
  key: SenseKey.UnitAttention,
  asc: 0x2a,
  ascq: 0x03,
});
export const RESERVATIONS_RELEASED: SenseCode = Object.freeze({
  key: SenseKey.UnitAttention,
  asc: 0x2a,
  ascq: 0x04,
});
export const REGISTRATIONS_PREEMPTED: SenseCode = Object.freeze({
  key: SenseKey.UnitAttention,
  asc: 0x2a,
  ascq: 0x05,
});
export const INVALID_RELEASE_OF_PERSISTENT_RESERVATION: SenseCode = Object.freeze({
  key: SenseKey.IllegalRequest,
  asc: 0x26,
  ascq: 0x04,
});
/** ILLEGAL REQUEST / INSUFFICIENT REGISTRATION RESOURCES. */
export const INSUFFICIENT_REGISTRATION_RESOURCES: SenseCode = Object.freeze({
  key: SenseKey.IllegalRequest,
  asc: 0x55,
  ascq: 0x04,
});

/** Bound on registrations per LU (each costs a little memory and a READ FULL STATUS descriptor). */
export const MAX_REGISTRATIONS = 256;
/** The basic PROUT parameter list. */
const PROUT_BASIC_LENGTH = 24;
/** With SPEC_I_PT: the basic list plus TRANSPORTID PARAMETER DATA LENGTH. */
const PROUT_SPEC_I_PT_HEADER = 28;
/** REGISTER AND MOVE: the parameter list up to its TransportID. */
const REGISTER_AND_MOVE_HEADER = 24;

/** Resolves a RELATIVE TARGET PORT IDENTIFIER to the target port's name, or undefined if there is none. */
export type TargetPortResolver = (relativeTargetPortId: number) => string | undefined;

/** Who an I_T nexus is, for matching registrations. */
export interface PrNexus {
  initiatorPortName: string;
  targetPortName: string;
  relativeTargetPortId: number;
}

export interface PrOutcome {
  result: ScsiResult;
  /** The state changed: save it (the store decides by `aptpl` whether it persists). */
  changed: boolean;
  /** Unit attentions to queue for every session of the given I_T nexus identity. */
  unitAttentions: Array<{
    initiatorPortName: string;
    targetPortName: string;
    allTargetPorts: boolean;
    code: SenseCode;
  }>;
  /** PREEMPT AND ABORT: abort the tasks of these nexus identities. */
  abort: Array<{ initiatorPortName: string; targetPortName: string; allTargetPorts: boolean }>;
}

function outcome(result: ScsiResult): PrOutcome {
  return { result, changed: false, unitAttentions: [], abort: [] };
}

const conflict = (): PrOutcome => outcome({ status: ScsiStatus.ReservationConflict });
const goodResult = (): ScsiResult => ({ status: ScsiStatus.Good });

/** Does registration `r` cover nexus `n`? A registration made from a format 00b TransportID carries the bare
 *  initiator name and covers every ISID; ALL_TG_PT covers every target port. */
export function registrationMatches(r: PrRegistration, n: PrNexus): boolean {
  return (
    initiatorMatches(r.initiatorPortName, n.initiatorPortName) &&
    (r.allTargetPorts || r.targetPortName === n.targetPortName)
  );
}

export function findRegistration(s: PrState, n: PrNexus): PrRegistration | undefined {
  return s.registrations.find((r) => registrationMatches(r, n));
}

/** Is the nexus a reservation holder (every registrant is one for all-registrants types)? */
export function isHolder(s: PrState, n: PrNexus): boolean {
  const res = s.reservation;
  if (!res) return false;
  if (allRegistrantsType(res.type)) return findRegistration(s, n) !== undefined;
  return (
    initiatorMatches(res.initiatorPortName, n.initiatorPortName) && res.targetPortName === n.targetPortName
  );
}

/** How a command touches the medium, for reservation conflicts (SPC-4 table 63, simplified to classes). */
export const enum PrAccess {
  /** Never conflicts (INQUIRY, REPORT LUNS, REQUEST SENSE, PR IN/OUT, TEST UNIT READY, READ CAPACITY...). */
  Allowed = 0,
  /** Reads: allowed under Write Exclusive types. */
  Read = 1,
  /** Writes and everything else. */
  Write = 2,
}

/** Does a persistent reservation forbid this command from this nexus? */
export function prConflicts(s: PrState, n: PrNexus, access: PrAccess): boolean {
  const res = s.reservation;
  if (!res || access === PrAccess.Allowed) return false;
  if (isHolder(s, n)) return false;
  const writeExclusive =
    res.type === PrType.WriteExclusive ||
    res.type === PrType.WriteExclusiveRegistrantsOnly ||
    res.type === PrType.WriteExclusiveAllRegistrants;
  if (res.type !== PrType.WriteExclusive && res.type !== PrType.ExclusiveAccess) {
    if (findRegistration(s, n)) return false; // registrants-only / all-registrants: registrants have access
  }
  return !(writeExclusive && access === PrAccess.Read);
}

function readU64(b: Buffer, at: number): bigint {
  return b.readBigUInt64BE(at);
}

function dropRegistration(s: PrState, r: PrRegistration, out: PrOutcome, ua?: SenseCode): void {
  s.registrations = s.registrations.filter((x) => x !== r);
  if (ua) out.unitAttentions.push({ ...identity(r), code: ua });
  const res = s.reservation;
  if (!res) return;
  if (allRegistrantsType(res.type)) {
    if (s.registrations.length === 0) s.reservation = undefined;
  } else if (res.initiatorPortName === r.initiatorPortName && res.targetPortName === r.targetPortName) {
    s.reservation = undefined;
    // Unregistering the holder of a registrants-only reservation releases it: tell the other registrants.
    if (
      res.type === PrType.WriteExclusiveRegistrantsOnly ||
      res.type === PrType.ExclusiveAccessRegistrantsOnly
    ) {
      for (const o of s.registrations)
        out.unitAttentions.push({ ...identity(o), code: RESERVATIONS_RELEASED });
    }
  }
}

function identity(r: PrRegistration): {
  initiatorPortName: string;
  targetPortName: string;
  allTargetPorts: boolean;
} {
  return {
    initiatorPortName: r.initiatorPortName,
    targetPortName: r.targetPortName,
    allTargetPorts: r.allTargetPorts,
  };
}

/**
 * Execute PERSISTENT RESERVE OUT. `s` is mutated only when the command succeeds (work happens on a copy).
 * Returns the new state in `state` for convenience.
 */
export function persistentReserveOut(
  current: PrState,
  nexus: ItNexus,
  cdb: Buffer,
  param: Buffer | undefined,
  format: SenseFormat,
  /** The store keeps state across restarts (PTPL_C); else APTPL=1 is refused. */
  canPersist = false,
  /** Target ports a REGISTER AND MOVE may name; default: only the port the command came through. */
  targetPortOf: TargetPortResolver = (id) =>
    id === nexus.relativeTargetPortId ? nexus.targetPortName : undefined,
): PrOutcome & { state: PrState } {
  const s: PrState = {
    generation: current.generation,
    registrations: [...current.registrations],
    reservation: current.reservation,
    aptpl: current.aptpl,
  };
  const o = proutInner(s, nexus, cdb, param, format, canPersist, targetPortOf);
  return { ...o, state: o.changed ? s : current };
}

function proutInner(
  s: PrState,
  n: ItNexus,
  cdb: Buffer,
  param: Buffer | undefined,
  f: SenseFormat,
  canPersist: boolean,
  targetPortOf: TargetPortResolver,
): PrOutcome {
  if (nacaSet(cdb)) return outcome(invalidCdbField(f, 9, 2));
  const action = cdb[1] & 0x1f;
  if (cdb[1] & 0xe0) return outcome(invalidCdbField(f, 1, 7));
  if (action > PrOutAction.RegisterAndMove) return outcome(invalidCdbField(f, 1, 4));
  const scope = cdb[2] >> 4;
  const type = cdb[2] & 0x0f;
  const plen = cdb.readUInt32BE(5);
  const data = param ?? Buffer.alloc(0);
  if (plen < PROUT_BASIC_LENGTH || data.length < plen)
    return outcome(checkCondition(f, PARAMETER_LIST_LENGTH_ERROR));
  if (action === PrOutAction.RegisterAndMove)
    return registerAndMove(s, n, data.subarray(0, plen), f, canPersist, targetPortOf);
  const rk = readU64(data, 0);
  const sark = readU64(data, 8);
  const specIPt = (data[20] & 0x08) !== 0;
  const allTgPt = (data[20] & 0x04) !== 0;
  const aptpl = (data[20] & 0x01) !== 0;
  if (data[20] & 0xf2) return outcome(invalidParamField(f, 20));
  // SPEC_I_PT is for REGISTER only; its TransportID list follows the basic 24 bytes.
  if (specIPt && action !== PrOutAction.Register) return outcome(invalidParamField(f, 20, 3));
  if (!specIPt && plen !== PROUT_BASIC_LENGTH) return outcome(checkCondition(f, PARAMETER_LIST_LENGTH_ERROR));
  if (specIPt && (plen < PROUT_SPEC_I_PT_HEADER || PROUT_SPEC_I_PT_HEADER + data.readUInt32BE(24) !== plen))
    return outcome(checkCondition(f, PARAMETER_LIST_LENGTH_ERROR));
  if (aptpl && !canPersist) return outcome(invalidParamField(f, 20, 0));
  const reg = findRegistration(s, n);

  const needsTypeScope =
    action === PrOutAction.Reserve ||
    action === PrOutAction.Release ||
    action === PrOutAction.Preempt ||
    action === PrOutAction.PreemptAndAbort;
  if (needsTypeScope) {
    if (scope !== 0) return outcome(invalidCdbField(f, 2, 7));
    if (!validPrType(type)) return outcome(invalidCdbField(f, 2, 3));
  }

  switch (action) {
    case PrOutAction.Register:
    case PrOutAction.RegisterAndIgnoreExistingKey: {
      const ignore = action === PrOutAction.RegisterAndIgnoreExistingKey;
      if (reg && specIPt) return outcome(invalidParamField(f, 20, 3));
      if (!reg) {
        if (!ignore && rk !== 0n) return conflict();
        if (sark === 0n) return outcome(goodResult());
        if (specIPt) {
          const failed = registerSpecifiedPorts(s, n, data.subarray(0, plen), sark, allTgPt, f);
          if (failed) return failed;
        }
        if (s.registrations.length >= MAX_REGISTRATIONS)
          return outcome(checkCondition(f, INSUFFICIENT_REGISTRATION_RESOURCES));
        s.registrations.push({
          key: sark,
          initiatorPortName: n.initiatorPortName,
          targetPortName: n.targetPortName,
          relativeTargetPortId: n.relativeTargetPortId,
          allTargetPorts: allTgPt,
        });
      } else {
        if (!ignore && rk !== reg.key) return conflict();
        if (sark === 0n) {
          const out = outcome(goodResult());
          dropRegistration(s, reg, out);
          s.generation = (s.generation + 1) >>> 0;
          s.aptpl = aptpl;
          out.changed = true;
          return out;
        }
        s.registrations = s.registrations.map((r) => (r === reg ? { ...r, key: sark } : r));
      }
      s.generation = (s.generation + 1) >>> 0;
      s.aptpl = aptpl;
      return { ...outcome(goodResult()), changed: true };
    }
    case PrOutAction.Reserve: {
      if (!reg || reg.key !== rk) return conflict();
      const res = s.reservation;
      if (res) {
        if (isHolder(s, n) && res.type === type) return outcome(goodResult());
        return conflict();
      }
      s.reservation = { type, initiatorPortName: n.initiatorPortName, targetPortName: n.targetPortName };
      return { ...outcome(goodResult()), changed: true };
    }
    case PrOutAction.Release: {
      if (!reg || reg.key !== rk) return conflict();
      const res = s.reservation;
      if (!res || !isHolder(s, n)) return outcome(goodResult());
      if (res.type !== type) return outcome(checkCondition(f, INVALID_RELEASE_OF_PERSISTENT_RESERVATION));
      s.reservation = undefined;
      const out = { ...outcome(goodResult()), changed: true };
      if (res.type !== PrType.WriteExclusive && res.type !== PrType.ExclusiveAccess) {
        for (const r of s.registrations)
          if (!registrationMatches(r, n))
            out.unitAttentions.push({ ...identity(r), code: RESERVATIONS_RELEASED });
      }
      return out;
    }
    case PrOutAction.Clear: {
      if (!reg || reg.key !== rk) return conflict();
      const out = { ...outcome(goodResult()), changed: true };
      for (const r of s.registrations)
        if (r !== reg) out.unitAttentions.push({ ...identity(r), code: RESERVATIONS_PREEMPTED });
      s.registrations = [];
      s.reservation = undefined;
      s.generation = (s.generation + 1) >>> 0;
      return out;
    }
    default:
      return preempt(s, n, reg, rk, sark, type, action === PrOutAction.PreemptAndAbort, f);
  }
}

function preempt(
  s: PrState,
  n: ItNexus,
  reg: PrRegistration | undefined,
  rk: bigint,
  sark: bigint,
  type: number,
  abort: boolean,
  f: SenseFormat,
): PrOutcome {
  if (!reg || reg.key !== rk) return conflict();
  const out = { ...outcome(goodResult()), changed: true };
  const res = s.reservation;
  const remove = (match: (r: PrRegistration) => boolean): number => {
    const victims = s.registrations.filter((r) => r !== reg && match(r));
    for (const v of victims) {
      s.registrations = s.registrations.filter((x) => x !== v);
      out.unitAttentions.push({ ...identity(v), code: REGISTRATIONS_PREEMPTED });
      if (abort) out.abort.push(identity(v));
    }
    return victims.length;
  };
  const takeOver = (): void => {
    const before: PrReservation | undefined = s.reservation;
    s.reservation = { type, initiatorPortName: n.initiatorPortName, targetPortName: n.targetPortName };
    if (before && before.type !== type) {
      for (const r of s.registrations)
        if (r !== reg) out.unitAttentions.push({ ...identity(r), code: RESERVATIONS_RELEASED });
    }
  };
  if (!res) {
    if (sark === 0n) return outcome(invalidParamField(f, 8));
    if (remove((r) => r.key === sark) === 0) return conflict();
  } else if (allRegistrantsType(res.type)) {
    if (sark === 0n) {
      remove(() => true);
      takeOver();
    } else if (remove((r) => r.key === sark) === 0) {
      return conflict();
    }
  } else {
    const holder = s.registrations.find(
      (r) => r.initiatorPortName === res.initiatorPortName && r.targetPortName === res.targetPortName,
    );
    if (holder && holder.key === sark) {
      remove((r) => r.key === sark);
      takeOver();
    } else {
      if (sark === 0n) return outcome(invalidParamField(f, 8));
      if (remove((r) => r.key === sark) === 0) return conflict();
    }
  }
  s.generation = (s.generation + 1) >>> 0;
  return out;
}

/**
 * SPEC_I_PT (SPC-4 5.13.7): also register every I_T nexus the TransportID list names, through the
 * issuing target port (or every port with ALL_TG_PT), all with the same key. All or nothing: any bad or
 * already registered TransportID fails the command before anything changes. Adds to `s.registrations`
 * (the caller's copy) and returns undefined on success.
 */
function registerSpecifiedPorts(
  s: PrState,
  n: ItNexus,
  data: Buffer,
  key: bigint,
  allTgPt: boolean,
  f: SenseFormat,
): PrOutcome | undefined {
  const added: PrRegistration[] = [];
  for (let at = PROUT_SPEC_I_PT_HEADER; at < data.length;) {
    const id = parseIscsiTransportId(data, at, data.length);
    if (isTransportIdError(id)) return outcome(invalidParamField(f, id.byte, id.bit));
    const identity = transportIdIdentity(id);
    // The issuing nexus is registered by the command itself (a name-only ID covering it counts as it).
    const isIssuer = initiatorMatches(identity, n.initiatorPortName);
    if (!isIssuer) {
      const r: PrRegistration = {
        key,
        initiatorPortName: identity,
        targetPortName: n.targetPortName,
        relativeTargetPortId: n.relativeTargetPortId,
        allTargetPorts: allTgPt,
      };
      const overlaps = (o: PrRegistration): boolean =>
        (initiatorMatches(o.initiatorPortName, identity) ||
          initiatorMatches(identity, o.initiatorPortName)) &&
        (o.allTargetPorts || r.allTargetPorts || o.targetPortName === r.targetPortName);
      if (s.registrations.some(overlaps) || added.some(overlaps)) return outcome(invalidParamField(f, at));
      added.push(r);
    }
    at += id.length;
  }
  if (s.registrations.length + added.length + 1 > MAX_REGISTRATIONS)
    return outcome(checkCondition(f, INSUFFICIENT_REGISTRATION_RESOURCES));
  s.registrations.push(...added);
  return undefined;
}

/**
 * REGISTER AND MOVE (SPC-4 5.13.8): the reservation holder registers another I_T nexus (TransportID +
 * RELATIVE TARGET PORT IDENTIFIER) with the service action key, hands it the reservation with the same
 * type and scope, and with UNREG drops its own registration.
 */
function registerAndMove(
  s: PrState,
  n: ItNexus,
  data: Buffer,
  f: SenseFormat,
  canPersist: boolean,
  targetPortOf: TargetPortResolver,
): PrOutcome {
  const rk = readU64(data, 0);
  const sark = readU64(data, 8);
  if (data[16] !== 0) return outcome(invalidParamField(f, 16));
  if (data[17] & 0xfc) return outcome(invalidParamField(f, 17));
  const unreg = (data[17] & 0x02) !== 0;
  const aptpl = (data[17] & 0x01) !== 0;
  const rtpi = data.readUInt16BE(18);
  const tidLength = data.readUInt32BE(20);
  if (REGISTER_AND_MOVE_HEADER + tidLength !== data.length)
    return outcome(checkCondition(f, PARAMETER_LIST_LENGTH_ERROR));
  const reg = findRegistration(s, n);
  if (!reg || reg.key !== rk) return conflict();
  if (sark === 0n) return outcome(invalidParamField(f, 8));
  if (aptpl && !canPersist) return outcome(invalidParamField(f, 17, 0));
  const res = s.reservation;
  if (!res) return outcome(invalidCdbField(f, 1, 4)); // nothing to move
  if (!isHolder(s, n)) return conflict();
  // An all-registrants reservation has no single holder to move.
  if (allRegistrantsType(res.type)) return conflict();
  const id = parseIscsiTransportId(data, REGISTER_AND_MOVE_HEADER, data.length);
  if (isTransportIdError(id)) return outcome(invalidParamField(f, id.byte, id.bit));
  if (REGISTER_AND_MOVE_HEADER + id.length !== data.length)
    return outcome(invalidParamField(f, REGISTER_AND_MOVE_HEADER + id.length));
  const targetPortName = targetPortOf(rtpi);
  if (targetPortName === undefined) return outcome(invalidParamField(f, 18));
  const identity = transportIdIdentity(id);
  // The destination must be another initiator port than the one the command came through (and not one
  // the issuer's name-only registration already covers).
  if (
    id.name === initiatorNameOf(n.initiatorPortName) &&
    (id.isid === undefined || identity === n.initiatorPortName || !reg.initiatorPortName.includes(',i,0x'))
  )
    return outcome(invalidParamField(f, REGISTER_AND_MOVE_HEADER + 4));
  const dest = { initiatorPortName: identity, targetPortName, relativeTargetPortId: rtpi };
  const existing = s.registrations.find(
    (r) => r.initiatorPortName === identity && (r.allTargetPorts || r.targetPortName === targetPortName),
  );
  if (existing) {
    s.registrations = s.registrations.map((r) => (r === existing ? { ...r, key: sark } : r));
  } else {
    if (s.registrations.length >= MAX_REGISTRATIONS)
      return outcome(checkCondition(f, INSUFFICIENT_REGISTRATION_RESOURCES));
    s.registrations.push({ key: sark, ...dest, allTargetPorts: false });
  }
  s.reservation = { type: res.type, initiatorPortName: identity, targetPortName };
  if (unreg) s.registrations = s.registrations.filter((r) => r !== reg);
  s.generation = (s.generation + 1) >>> 0;
  s.aptpl = aptpl;
  return { ...outcome(goodResult()), changed: true };
}

/** iSCSI TransportID (SPC-4 7.6.4.6) with the ISID form when the port name carries one. */
export function iscsiTransportId(initiatorPortName: string): Buffer {
  return encodeIscsiTransportId(initiatorPortName);
}

function writeKey(b: Buffer, at: number, key: bigint): void {
  b.writeBigUInt64BE(key, at);
}

/** Execute PERSISTENT RESERVE IN. */
export function persistentReserveIn(s: PrState, cdb: Buffer, f: SenseFormat, canPersist = false): ScsiResult {
  if (nacaSet(cdb)) return invalidCdbField(f, 9, 2);
  if (cdb[1] & 0xe0) return invalidCdbField(f, 1, 7);
  const action = cdb[1] & 0x1f;
  const alloc = allocationLength16At(cdb, 7);
  let data: Buffer;
  switch (action) {
    case PrInAction.ReadKeys: {
      data = Buffer.alloc(8 + 8 * s.registrations.length);
      data.writeUInt32BE(s.generation, 0);
      data.writeUInt32BE(8 * s.registrations.length, 4);
      s.registrations.forEach((r, i) => writeKey(data, 8 + 8 * i, r.key));
      break;
    }
    case PrInAction.ReadReservation: {
      const res = s.reservation;
      data = Buffer.alloc(res ? 24 : 8);
      data.writeUInt32BE(s.generation, 0);
      if (res) {
        data.writeUInt32BE(16, 4);
        const holder = allRegistrantsType(res.type)
          ? undefined
          : s.registrations.find(
              (r) => r.initiatorPortName === res.initiatorPortName && r.targetPortName === res.targetPortName,
            );
        writeKey(data, 8, holder ? holder.key : 0n);
        data[21] = res.type & 0x0f; // scope 0: logical unit
      }
      break;
    }
    case PrInAction.ReportCapabilities: {
      data = Buffer.alloc(8);
      data.writeUInt16BE(8, 0);
      data[2] = 0x10 | 0x08 | 0x04 | (canPersist ? 0x01 : 0); // CRH, SIP_C, ATP_C, PTPL_C
      data[3] = 0x80 | (1 << 4) | (s.aptpl ? 0x01 : 0x00); // TMV, ALLOW COMMANDS 001b, PTPL_A
      data[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
      data[5] = 0x01; // EX_AC_AR
      break;
    }
    case PrInAction.ReadFullStatus: {
      const parts: Buffer[] = [];
      for (const r of s.registrations) {
        const tid = iscsiTransportId(r.initiatorPortName);
        const d = Buffer.alloc(24 + tid.length);
        writeKey(d, 0, r.key);
        const res = s.reservation;
        const holder =
          res !== undefined &&
          (allRegistrantsType(res.type) ||
            (res.initiatorPortName === r.initiatorPortName && res.targetPortName === r.targetPortName));
        d[12] = (r.allTargetPorts ? 0x02 : 0) | (holder ? 0x01 : 0);
        if (holder) d[13] = res!.type & 0x0f;
        d.writeUInt16BE(r.relativeTargetPortId & 0xffff, 18);
        d.writeUInt32BE(tid.length, 20);
        tid.copy(d, 24);
        parts.push(d);
      }
      const body = Buffer.concat(parts);
      data = Buffer.alloc(8 + body.length);
      data.writeUInt32BE(s.generation, 0);
      data.writeUInt32BE(body.length, 4);
      body.copy(data, 8);
      break;
    }
    default:
      return invalidCdbField(f, 1, 4);
  }
  return { status: ScsiStatus.Good, dataIn: truncate(data, alloc) };
}

/** PARAMETER LIST LENGTH of PERSISTENT RESERVE OUT (for over/underflow reporting). */
export function proutParameterLength(cdb: Buffer): number {
  return cdb.readUInt32BE(5);
}
