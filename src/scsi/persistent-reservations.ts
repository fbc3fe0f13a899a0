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

export function registrationMatches(r: PrRegistration, n: PrNexus): boolean {
  return (
    r.initiatorPortName === n.initiatorPortName && (r.allTargetPorts || r.targetPortName === n.targetPortName)
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
  return res.initiatorPortName === n.initiatorPortName && res.targetPortName === n.targetPortName;
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
): PrOutcome & { state: PrState } {
  const s: PrState = {
    generation: current.generation,
    registrations: [...current.registrations],
    reservation: current.reservation,
    aptpl: current.aptpl,
  };
  const o = proutInner(s, nexus, cdb, param, format, canPersist);
  return { ...o, state: o.changed ? s : current };
}

function proutInner(
  s: PrState,
  n: ItNexus,
  cdb: Buffer,
  param: Buffer | undefined,
  f: SenseFormat,
  canPersist: boolean,
): PrOutcome {
  if (nacaSet(cdb)) return outcome(invalidCdbField(f, 9, 2));
  const action = cdb[1] & 0x1f;
  if (cdb[1] & 0xe0) return outcome(invalidCdbField(f, 1, 7));
  if (action > PrOutAction.RegisterAndMove) return outcome(invalidCdbField(f, 1, 4));
  if (action === PrOutAction.RegisterAndMove) return outcome(invalidCdbField(f, 1, 4)); // not supported
  const scope = cdb[2] >> 4;
  const type = cdb[2] & 0x0f;
  const plen = cdb.readUInt32BE(5);
  const data = param ?? Buffer.alloc(0);
  if (plen !== PROUT_BASIC_LENGTH) {
    // SPEC_I_PT lists would be longer; we do not support SPEC_I_PT, so 24 is the only valid length.
    return outcome(checkCondition(f, PARAMETER_LIST_LENGTH_ERROR));
  }
  if (data.length < PROUT_BASIC_LENGTH) return outcome(checkCondition(f, PARAMETER_LIST_LENGTH_ERROR));
  const rk = readU64(data, 0);
  const sark = readU64(data, 8);
  const specIPt = (data[20] & 0x08) !== 0;
  const allTgPt = (data[20] & 0x04) !== 0;
  const aptpl = (data[20] & 0x01) !== 0;
  if (data[20] & 0xf2) return outcome(invalidParamField(f, 20));
  if (specIPt) return outcome(invalidParamField(f, 20, 3));
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
      if (!reg) {
        if (!ignore && rk !== 0n) return conflict();
        if (sark === 0n) return outcome(goodResult());
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

/** iSCSI TransportID (SPC-4 7.6.4.6) with the ISID form when the port name carries one. */
export function iscsiTransportId(initiatorPortName: string): Buffer {
  const withIsid = initiatorPortName.includes(',i,0x');
  const name = Buffer.from(initiatorPortName, 'utf8');
  const len = (name.length + 1 + 3) & ~3;
  const b = Buffer.alloc(4 + len);
  b[0] = (withIsid ? 0x40 : 0x00) | 0x05;
  b.writeUInt16BE(len, 2);
  name.copy(b, 4);
  return b;
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
      data[2] = 0x10 | 0x04 | (canPersist ? 0x01 : 0); // CRH, ATP_C, PTPL_C (no SIP_C)
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
