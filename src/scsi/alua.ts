// Asymmetric logical unit access (SPC-4 5.15): one target port group per target (this daemon's ports),
// its access state, which commands each state lets through, REPORT TARGET PORT GROUPS (MAINTENANCE IN
// 0x0A) and SET TARGET PORT GROUPS (MAINTENANCE OUT 0x0A). Pure: the port group is plain state shared by
// every LU of the target; disks raise the unit attention when they see its version change.
import { allocationLength32At, nacaSet, truncate } from './cdb';
import { ScsiStatus, type ScsiResult } from './scsi-types';
import {
  checkCondition,
  invalidCdbField,
  invalidParamField,
  PARAMETER_LIST_LENGTH_ERROR,
  SenseKey,
  type SenseCode,
  type SenseFormat,
} from './sense';

/** Asymmetric access states (SPC-4 table 190) we implement. */
export const AluaState = {
  ActiveOptimized: 0x0,
  ActiveNonOptimized: 0x1,
  Standby: 0x2,
  Unavailable: 0x3,
} as const;
export type AluaStateValue = (typeof AluaState)[keyof typeof AluaState];

/** TPGS field of standard INQUIRY: off, implicit only, explicit only, both. */
export type AluaMode = 'off' | 'implicit' | 'explicit' | 'both';
const TPGS: Record<AluaMode, number> = { off: 0, implicit: 1, explicit: 2, both: 3 };

/** STATUS CODE of a target port group descriptor. */
const StatusCode = { None: 0x00, BySetTargetPortGroups: 0x01, ByImplicitTransition: 0x02 } as const;

export const LU_NOT_ACCESSIBLE_STANDBY: SenseCode = Object.freeze({
  key: SenseKey.NotReady,
  asc: 0x04,
  ascq: 0x0b,
});
export const LU_NOT_ACCESSIBLE_UNAVAILABLE: SenseCode = Object.freeze({
  key: SenseKey.NotReady,
  asc: 0x04,
  ascq: 0x0c,
});
export const ASYMMETRIC_ACCESS_STATE_CHANGED: SenseCode = Object.freeze({
  key: SenseKey.UnitAttention,
  asc: 0x2a,
  ascq: 0x06,
});

const STATE_NAMES: Record<string, AluaStateValue> = {
  'active-optimized': AluaState.ActiveOptimized,
  ao: AluaState.ActiveOptimized,
  'active-non-optimized': AluaState.ActiveNonOptimized,
  an: AluaState.ActiveNonOptimized,
  standby: AluaState.Standby,
  s: AluaState.Standby,
  unavailable: AluaState.Unavailable,
  u: AluaState.Unavailable,
};

export function parseAluaState(text: string): AluaStateValue | undefined {
  return STATE_NAMES[text.trim().toLowerCase()];
}

export function aluaStateName(s: AluaStateValue): string {
  return ['active-optimized', 'active-non-optimized', 'standby', 'unavailable'][s];
}

export function parseAluaMode(text: string): AluaMode | undefined {
  const v = text.trim().toLowerCase();
  if (v === 'off' || v === '0' || v === 'no') return 'off';
  if (v === 'implicit' || v === 'explicit' || v === 'both') return v;
  if (v === 'on' || v === '1' || v === 'yes') return 'both';
  return undefined;
}

/** The target's port group: shared by every LU of the target. */
export class AluaPortGroup {
  mode: AluaMode = 'off';
  /** TARGET PORT GROUP identifier (1..65535). */
  group = 1;
  state: AluaStateValue = AluaState.ActiveOptimized;
  /** How the state last changed (reported in REPORT TARGET PORT GROUPS). */
  statusCode: number = StatusCode.None;
  /** Bumped on every change; disks compare it to raise ASYMMETRIC ACCESS STATE CHANGED once. */
  version = 0;
  /** Nexus id that changed it with SET TARGET PORT GROUPS (it gets no unit attention). */
  changedBy: number | undefined;

  get enabled(): boolean {
    return this.mode !== 'off';
  }

  get tpgs(): number {
    return TPGS[this.mode];
  }

  get explicit(): boolean {
    return this.mode === 'explicit' || this.mode === 'both';
  }

  /** An implicit transition (the administrator, or the device server itself). */
  setState(state: AluaStateValue): void {
    if (state === this.state) return;
    this.state = state;
    this.statusCode = StatusCode.ByImplicitTransition;
    this.changedBy = undefined;
    this.version++;
  }

  setGroup(group: number): void {
    if (!Number.isInteger(group) || group < 1 || group > 0xffff) throw new RangeError('bad port group');
    if (group === this.group) return;
    this.group = group;
    this.changedBy = undefined;
    this.version++;
  }

  setMode(mode: AluaMode): void {
    if (mode === this.mode) return;
    this.mode = mode;
    this.changedBy = undefined;
    this.version++;
  }
}

/** Service actions that stay available in every state (SPC-4 5.15.2.4.4-5): RTPG/STPG and the
 *  REPORT SUPPORTED ... commands of MAINTENANCE IN/OUT. */
const INQUIRY = 0x12;
const REQUEST_SENSE = 0x03;
const REPORT_LUNS = 0xa0;
const MAINTENANCE_IN = 0xa3;
const MAINTENANCE_OUT = 0xa4;
const READ_BUFFER = 0x3c;
const WRITE_BUFFER = 0x3b;
const ECHO_BUFFER_MODE = 0x0a;
/** Standby also allows these (SPC-4 5.15.2.4.4). */
const STANDBY_EXTRA = new Set([
  0x4c, // LOG SELECT
  0x4d, // LOG SENSE
  0x15, // MODE SELECT(6)
  0x55, // MODE SELECT(10)
  0x1a, // MODE SENSE(6)
  0x5a, // MODE SENSE(10)
  0x1c, // RECEIVE DIAGNOSTIC RESULTS
  0x1d, // SEND DIAGNOSTIC
  0x5e, // PERSISTENT RESERVE IN
  0x5f, // PERSISTENT RESERVE OUT
]);

/** Is the command refused in this state? Returns the NOT READY sense to answer with, or undefined. */
export function aluaRefuses(g: AluaPortGroup, cdb: Buffer): SenseCode | undefined {
  if (!g.enabled) return undefined;
  const state = g.state;
  if (state === AluaState.ActiveOptimized || state === AluaState.ActiveNonOptimized) return undefined;
  const op = cdb[0];
  if (op === INQUIRY || op === REQUEST_SENSE || op === REPORT_LUNS) return undefined;
  if (op === MAINTENANCE_IN || op === MAINTENANCE_OUT) return undefined;
  if ((op === READ_BUFFER || op === WRITE_BUFFER) && (cdb[1] & 0x1f) === ECHO_BUFFER_MODE) return undefined;
  if (state === AluaState.Standby) return STANDBY_EXTRA.has(op) ? undefined : LU_NOT_ACCESSIBLE_STANDBY;
  return LU_NOT_ACCESSIBLE_UNAVAILABLE;
}

/** REPORT TARGET PORT GROUPS: one group holding the given relative target ports. */
export function reportTargetPortGroups(
  cdb: Buffer,
  g: AluaPortGroup,
  relativeTargetPorts: number[],
  f: SenseFormat,
): ScsiResult {
  if (!g.enabled) return invalidCdbField(f, 1, 4);
  if (nacaSet(cdb)) return invalidCdbField(f, 11, 2);
  const format = cdb[1] >> 5;
  if (format > 1) return invalidCdbField(f, 1, 7);
  const ports = [...new Set(relativeTargetPorts)].sort((a, b) => a - b);
  const desc = Buffer.alloc(8 + 4 * ports.length);
  desc[0] = 0x80 | g.state; // PREF: this is the group to prefer
  desc[1] = 0x08 | 0x04 | 0x02 | 0x01; // U_SUP, S_SUP, AN_SUP, AO_SUP
  desc.writeUInt16BE(g.group, 2);
  desc[5] = g.statusCode;
  desc[7] = ports.length;
  ports.forEach((p, i) => desc.writeUInt16BE(p & 0xffff, 8 + 4 * i + 2));
  const header = Buffer.alloc(format === 1 ? 8 : 4);
  if (format === 1) header[4] = 0x10; // FORMAT TYPE 001b; IMPLICIT TRANSITION TIME 0: immediate
  header.writeUInt32BE(desc.length, 0); // RETURN DATA LENGTH: the descriptor list, either header format
  const data = Buffer.concat([header, desc]);
  return { status: ScsiStatus.Good, dataIn: truncate(data, allocationLength32At(cdb, 6)) };
}

/** SET TARGET PORT GROUPS: explicit transitions of our group; `nexusId` is spared the unit attention. */
export function setTargetPortGroups(
  cdb: Buffer,
  data: Buffer | undefined,
  g: AluaPortGroup,
  nexusId: number,
  f: SenseFormat,
): ScsiResult {
  const plen = cdb.readUInt32BE(6);
  const withOut = (r: ScsiResult): ScsiResult => {
    if (plen) r.dataOutLength = plen;
    return r;
  };
  if (nacaSet(cdb)) return withOut(invalidCdbField(f, 11, 2));
  if (plen === 0) return withOut({ status: ScsiStatus.Good });
  const p = data ?? Buffer.alloc(0);
  if (plen < 4 || plen % 4 !== 0 || p.length < plen)
    return withOut(checkCondition(f, PARAMETER_LIST_LENGTH_ERROR));
  let next: AluaStateValue | undefined;
  for (let at = 4; at < plen; at += 4) {
    const state = p[at] & 0x0f;
    if (p[at] & 0xf0 || state > AluaState.Unavailable) return withOut(invalidParamField(f, at));
    if (p.readUInt16BE(at + 2) !== g.group) return withOut(invalidParamField(f, at + 2));
    next = state as AluaStateValue;
  }
  if (next !== undefined && next !== g.state) {
    g.state = next;
    g.version++;
    g.changedBy = nexusId;
  }
  if (next !== undefined) g.statusCode = StatusCode.BySetTargetPortGroups;
  return withOut({ status: ScsiStatus.Good });
}
