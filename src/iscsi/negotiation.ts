// RFC 7143 operational text keys (sections 6.2 and 13): the key table, the target's own acceptable values
// and the per-key result functions. Pure: the login state machine and the Text request handler feed it
// the initiator's offers and send back what it answers.

export type SessionType = 'Normal' | 'Discovery';

export interface OperationalParams {
  headerDigest: boolean;
  dataDigest: boolean;
  maxConnections: number;
  initialR2T: boolean;
  immediateData: boolean;
  maxBurstLength: number;
  firstBurstLength: number;
  maxOutstandingR2T: number;
  defaultTime2Wait: number;
  defaultTime2Retain: number;
  errorRecoveryLevel: number;
  dataPDUInOrder: boolean;
  dataSequenceInOrder: boolean;
  /** what WE accept in one PDU (our declared MaxRecvDataSegmentLength) */
  targetMaxRecvDataSegmentLength: number;
  /** what the initiator accepts (its declared value; default 8192 if it never declared) */
  initiatorMaxRecvDataSegmentLength: number;
}

/** RFC 7143 defaults: the value of every key that is never negotiated. */
export const RFC_DEFAULTS: OperationalParams = Object.freeze({
  headerDigest: false,
  dataDigest: false,
  maxConnections: 1,
  initialR2T: true,
  immediateData: true,
  maxBurstLength: 262144,
  firstBurstLength: 65536,
  maxOutstandingR2T: 1,
  defaultTime2Wait: 2,
  defaultTime2Retain: 20,
  errorRecoveryLevel: 0,
  dataPDUInOrder: true,
  dataSequenceInOrder: true,
  targetMaxRecvDataSegmentLength: 8192,
  initiatorMaxRecvDataSegmentLength: 8192,
});

export const NOT_UNDERSTOOD = 'NotUnderstood';
export const REJECT = 'Reject';
export const IRRELEVANT = 'Irrelevant';

/** 2^24 - 1: the top of the RFC range of every length key. */
export const MAX_LENGTH_VALUE = 0xffffff;

/** The iSCSIProtocolLevel this target implements (RFC 7143 = 1; 2 would promise RFC 7144 features). */
export const PROTOCOL_LEVEL = 1;

/** What the target accepts: its side of each negotiation. Built from defaults plus tgt-style overrides. */
export interface TargetSettings {
  /** Acceptable digests, any of 'None' and 'CRC32C' (the initiator's order decides among them). */
  headerDigest: string[];
  dataDigest: string[];
  maxConnections: number;
  initialR2T: boolean;
  immediateData: boolean;
  maxBurstLength: number;
  firstBurstLength: number;
  maxOutstandingR2T: number;
  defaultTime2Wait: number;
  defaultTime2Retain: number;
  errorRecoveryLevel: number;
  dataPDUInOrder: boolean;
  dataSequenceInOrder: boolean;
  /** Our declared MaxRecvDataSegmentLength. */
  maxRecvDataSegmentLength: number;
}

export const TARGET_DEFAULTS: Readonly<TargetSettings> = Object.freeze({
  headerDigest: ['None', 'CRC32C'],
  dataDigest: ['None', 'CRC32C'],
  maxConnections: 8,
  // OR functions: our "No" lets the initiator's value decide; an override of Yes forces Yes.
  initialR2T: false,
  dataPDUInOrder: false,
  dataSequenceInOrder: false,
  // AND function: our "Yes" lets the initiator's value decide.
  immediateData: true,
  maxBurstLength: MAX_LENGTH_VALUE,
  firstBurstLength: MAX_LENGTH_VALUE,
  maxOutstandingR2T: 16,
  defaultTime2Wait: 2,
  defaultTime2Retain: 20,
  errorRecoveryLevel: 0,
  maxRecvDataSegmentLength: 262144,
});

type NumericSetting =
  | 'maxConnections'
  | 'maxBurstLength'
  | 'firstBurstLength'
  | 'maxOutstandingR2T'
  | 'defaultTime2Wait'
  | 'defaultTime2Retain'
  | 'errorRecoveryLevel'
  | 'maxRecvDataSegmentLength';
type BooleanSetting = 'initialR2T' | 'immediateData' | 'dataPDUInOrder' | 'dataSequenceInOrder';

/** RFC range of each numeric key and the most this implementation supports (overrides are capped there). */
const NUMERIC_KEYS: Record<string, { setting: NumericSetting; min: number; max: number; ceiling: number }> = {
  MaxConnections: { setting: 'maxConnections', min: 1, max: 65535, ceiling: 8 },
  MaxBurstLength: { setting: 'maxBurstLength', min: 512, max: MAX_LENGTH_VALUE, ceiling: MAX_LENGTH_VALUE },
  FirstBurstLength: {
    setting: 'firstBurstLength',
    min: 512,
    max: MAX_LENGTH_VALUE,
    ceiling: MAX_LENGTH_VALUE,
  },
  MaxOutstandingR2T: { setting: 'maxOutstandingR2T', min: 1, max: 65535, ceiling: 16 },
  DefaultTime2Wait: { setting: 'defaultTime2Wait', min: 0, max: 3600, ceiling: 3600 },
  DefaultTime2Retain: { setting: 'defaultTime2Retain', min: 0, max: 3600, ceiling: 3600 },
  ErrorRecoveryLevel: { setting: 'errorRecoveryLevel', min: 0, max: 2, ceiling: 0 },
  MaxRecvDataSegmentLength: {
    setting: 'maxRecvDataSegmentLength',
    min: 512,
    max: MAX_LENGTH_VALUE,
    ceiling: MAX_LENGTH_VALUE,
  },
};

const BOOLEAN_KEYS: Record<string, BooleanSetting> = {
  InitialR2T: 'initialR2T',
  ImmediateData: 'immediateData',
  DataPDUInOrder: 'dataPDUInOrder',
  DataSequenceInOrder: 'dataSequenceInOrder',
};

const DIGESTS = ['None', 'CRC32C'];

/**
 * Target settings: TARGET_DEFAULTS overlaid by each map in turn (e.g. the daemon's global parameters,
 * then the target's). Keys are RFC key names; values that do not parse or lie outside the RFC range are
 * ignored, values beyond what this implementation supports are capped (ErrorRecoveryLevel is always 0).
 */
export function targetSettings(...layers: Array<ReadonlyMap<string, string> | undefined>): TargetSettings {
  const settings: TargetSettings = {
    ...TARGET_DEFAULTS,
    headerDigest: [...TARGET_DEFAULTS.headerDigest],
    dataDigest: [...TARGET_DEFAULTS.dataDigest],
  };
  for (const layer of layers) {
    if (!layer) continue;
    for (const [key, raw] of layer) applyOverride(settings, key, raw.trim());
  }
  return settings;
}

function applyOverride(settings: TargetSettings, key: string, raw: string): void {
  if (key === 'HeaderDigest' || key === 'DataDigest') {
    const values = raw
      .split(',')
      .map((v) => DIGESTS.find((d) => d.toLowerCase() === v.trim().toLowerCase()))
      .filter((v): v is string => v !== undefined);
    if (values.length > 0) settings[key === 'HeaderDigest' ? 'headerDigest' : 'dataDigest'] = values;
    return;
  }
  const numeric = NUMERIC_KEYS[key];
  if (numeric) {
    const value = parseNumericValue(raw);
    if (value === undefined || value < numeric.min || value > numeric.max) return;
    settings[numeric.setting] = Math.min(value, numeric.ceiling);
    return;
  }
  const bool = BOOLEAN_KEYS[key];
  if (bool) {
    const lower = raw.toLowerCase();
    if (lower === 'yes') settings[bool] = true;
    else if (lower === 'no') settings[bool] = false;
  }
}

/** Where a key may be used (RFC 7143 13): IO login only, LO login of the leading connection only,
 *  ALL login and full feature phase, FFP full feature phase only, SEC security stage only. */
export type KeyUse = 'IO' | 'LO' | 'ALL' | 'FFP' | 'SEC';

export interface KeyInfo {
  use: KeyUse;
  /** Who may send it: 'I' initiator only, 'T' target only, 'IT' both. */
  senders: 'I' | 'T' | 'IT';
  /** Irrelevant when SessionType=Discovery. */
  discoveryIrrelevant?: boolean;
}

/** Every key this target knows. Anything else (including X- and X# extensions) is NotUnderstood. */
export const KEY_TABLE: Readonly<Record<string, KeyInfo>> = Object.freeze({
  HeaderDigest: { use: 'IO', senders: 'IT' },
  DataDigest: { use: 'IO', senders: 'IT' },
  MaxConnections: { use: 'LO', senders: 'IT', discoveryIrrelevant: true },
  SendTargets: { use: 'FFP', senders: 'I' },
  TargetName: { use: 'IO', senders: 'IT' },
  InitiatorName: { use: 'IO', senders: 'I' },
  TargetAlias: { use: 'ALL', senders: 'T' },
  InitiatorAlias: { use: 'ALL', senders: 'I' },
  TargetAddress: { use: 'ALL', senders: 'T' },
  TargetPortalGroupTag: { use: 'IO', senders: 'T' },
  InitialR2T: { use: 'LO', senders: 'IT', discoveryIrrelevant: true },
  ImmediateData: { use: 'LO', senders: 'IT', discoveryIrrelevant: true },
  MaxRecvDataSegmentLength: { use: 'ALL', senders: 'IT' },
  MaxBurstLength: { use: 'LO', senders: 'IT', discoveryIrrelevant: true },
  FirstBurstLength: { use: 'LO', senders: 'IT', discoveryIrrelevant: true },
  DefaultTime2Wait: { use: 'LO', senders: 'IT' },
  DefaultTime2Retain: { use: 'LO', senders: 'IT' },
  MaxOutstandingR2T: { use: 'LO', senders: 'IT', discoveryIrrelevant: true },
  DataPDUInOrder: { use: 'LO', senders: 'IT', discoveryIrrelevant: true },
  DataSequenceInOrder: { use: 'LO', senders: 'IT', discoveryIrrelevant: true },
  ErrorRecoveryLevel: { use: 'LO', senders: 'IT' },
  SessionType: { use: 'LO', senders: 'I' },
  TaskReporting: { use: 'LO', senders: 'IT', discoveryIrrelevant: true },
  iSCSIProtocolLevel: { use: 'LO', senders: 'IT', discoveryIrrelevant: true },
  // RFC 3720 markers, obsoleted by RFC 7143 13.26 (still answered, never NotUnderstood).
  IFMarker: { use: 'IO', senders: 'IT' },
  OFMarker: { use: 'IO', senders: 'IT' },
  IFMarkInt: { use: 'IO', senders: 'IT' },
  OFMarkInt: { use: 'IO', senders: 'IT' },
  // iSER (RFC 7145): this is a TCP target, so RDMAExtensions is always No and the rest irrelevant.
  RDMAExtensions: { use: 'LO', senders: 'IT' },
  TargetRecvDataSegmentLength: { use: 'IO', senders: 'IT' },
  InitiatorRecvDataSegmentLength: { use: 'IO', senders: 'IT' },
  MaxOutstandingUnexpectedPDUs: { use: 'LO', senders: 'IT' },
  // Security keys: only meaningful in the login security stage (handled by login.ts / chap.ts).
  AuthMethod: { use: 'SEC', senders: 'IT' },
  CHAP_A: { use: 'SEC', senders: 'IT' },
  CHAP_I: { use: 'SEC', senders: 'IT' },
  CHAP_C: { use: 'SEC', senders: 'IT' },
  CHAP_N: { use: 'SEC', senders: 'IT' },
  CHAP_R: { use: 'SEC', senders: 'IT' },
});

/** Keys of the security stage: AuthMethod and every authentication method's keys (RFC 7143 12). */
export function isSecurityKey(key: string): boolean {
  return key === 'AuthMethod' || /^(CHAP|SRP|KRB|SPKM\d?)_/.test(key);
}

/**
 * RFC 7143 6.1 numerical-value: a decimal-constant (no leading zeros) or a hex-constant (0x / 0X).
 * Returns undefined when malformed or beyond what a JS number represents exactly.
 */
export function parseNumericValue(value: string): number | undefined {
  let n: number;
  if (/^(0|[1-9][0-9]{0,19})$/.test(value)) n = Number(value);
  else if (/^0[xX][0-9a-fA-F]{1,16}$/.test(value)) n = Number.parseInt(value.slice(2), 16);
  else return undefined;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** RFC 7143 6.1 boolean-value: exactly "Yes" or "No". */
export function parseBooleanValue(value: string): boolean | undefined {
  if (value === 'Yes') return true;
  if (value === 'No') return false;
  return undefined;
}

/** A list-of-values offer; undefined when malformed (empty value or empty item). */
export function parseListValue(value: string): string[] | undefined {
  const items = value.split(',');
  return items.every((item) => item.length > 0) ? items : undefined;
}

export type NegotiationPhase = 'login' | 'ffp';

export interface NegotiatorOptions {
  sessionType: SessionType;
  /** false when this connection joins an existing session: leading-only keys are then rejected. */
  leading: boolean;
  settings: TargetSettings;
  /** Starting values (RFC_DEFAULTS for a new session; the session's values for a joining connection). */
  initial?: OperationalParams;
}

/** Evaluated first so the keys whose relevance or bounds depend on them see this request's results. */
const EVALUATION_PRIORITY: Record<string, number> = { InitialR2T: 0, ImmediateData: 0, MaxBurstLength: 0 };

/**
 * One side (the target's) of operational key negotiation for one connection. `negotiate` answers a
 * request's offers and updates the agreed values; keys it leaves unanswered (declarations that need no
 * reply, SendTargets in full feature phase) are simply absent from the answer.
 */
export class KeyNegotiator {
  private readonly current: OperationalParams;
  private readonly sessionType: SessionType;
  private readonly leading: boolean;
  private readonly settings: TargetSettings;

  constructor(options: NegotiatorOptions) {
    this.sessionType = options.sessionType;
    this.leading = options.leading;
    this.settings = options.settings;
    this.current = { ...(options.initial ?? RFC_DEFAULTS) };
  }

  /** Answers in the order the keys were offered. */
  negotiate(
    pairs: ReadonlyArray<readonly [string, string]>,
    phase: NegotiationPhase,
  ): Array<[string, string]> {
    const order = pairs.map((_, i) => i);
    order.sort((a, b) => (EVALUATION_PRIORITY[pairs[a][0]] ?? 1) - (EVALUATION_PRIORITY[pairs[b][0]] ?? 1));
    const answers: Array<string | undefined> = [];
    for (const i of order) answers[i] = this.answer(pairs[i][0], pairs[i][1], phase);
    const out: Array<[string, string]> = [];
    pairs.forEach(([key], i) => {
      const answer = answers[i];
      if (answer !== undefined) out.push([key, answer]);
    });
    return out;
  }

  /** The agreed values so far. FirstBurstLength never exceeds MaxBurstLength (RFC 7143 13.14). */
  params(): OperationalParams {
    const p = { ...this.current };
    p.firstBurstLength = Math.min(p.firstBurstLength, p.maxBurstLength);
    return p;
  }

  private answer(key: string, value: string, phase: NegotiationPhase): string | undefined {
    const info = KEY_TABLE[key];
    if (!info) return NOT_UNDERSTOOD;
    if (info.senders === 'T') return REJECT;
    if (phase === 'ffp') {
      if (info.use === 'FFP') return undefined; // SendTargets: the Text request handler answers it
      if (info.use !== 'ALL') return REJECT;
    } else {
      if (info.use === 'FFP' || info.use === 'SEC') return REJECT;
      if (info.use === 'LO' && !this.leading) return REJECT;
    }
    if (info.discoveryIrrelevant && this.sessionType === 'Discovery') return IRRELEVANT;
    return this.evaluate(key, value);
  }

  private evaluate(key: string, value: string): string | undefined {
    const s = this.settings;
    const p = this.current;
    switch (key) {
      case 'HeaderDigest':
      case 'DataDigest': {
        const chosen = selectFromList(value, key === 'HeaderDigest' ? s.headerDigest : s.dataDigest);
        if (chosen === undefined) return REJECT;
        p[key === 'HeaderDigest' ? 'headerDigest' : 'dataDigest'] = chosen === 'CRC32C';
        return chosen;
      }
      case 'TaskReporting': {
        // Only the RFC 3720 task reporting semantics are implemented.
        return selectFromList(value, ['RFC3720']) ?? REJECT;
      }
      case 'MaxConnections':
      case 'MaxBurstLength':
      case 'MaxOutstandingR2T':
      case 'DefaultTime2Retain':
      case 'ErrorRecoveryLevel': {
        const def = NUMERIC_KEYS[key];
        const offered = numericInRange(value, def.min, def.max);
        if (offered === undefined) return REJECT;
        const field = def.setting as NumericSetting & keyof OperationalParams;
        p[field] = Math.min(offered, s[field]);
        return String(p[field]);
      }
      case 'FirstBurstLength': {
        if (p.initialR2T && !p.immediateData) return IRRELEVANT;
        const offered = numericInRange(value, 512, MAX_LENGTH_VALUE);
        if (offered === undefined) return REJECT;
        p.firstBurstLength = Math.min(offered, s.firstBurstLength, p.maxBurstLength);
        return String(p.firstBurstLength);
      }
      case 'DefaultTime2Wait': {
        const offered = numericInRange(value, 0, 3600);
        if (offered === undefined) return REJECT;
        p.defaultTime2Wait = Math.max(offered, s.defaultTime2Wait);
        return String(p.defaultTime2Wait);
      }
      case 'iSCSIProtocolLevel': {
        const offered = numericInRange(value, 0, 31);
        if (offered === undefined) return REJECT;
        return String(Math.min(offered, PROTOCOL_LEVEL));
      }
      case 'InitialR2T':
      case 'DataPDUInOrder':
      case 'DataSequenceInOrder': {
        const offered = parseBooleanValue(value);
        if (offered === undefined) return REJECT;
        const setting = BOOLEAN_KEYS[key];
        p[setting] = offered || s[setting];
        return yesNo(p[setting]);
      }
      case 'ImmediateData': {
        const offered = parseBooleanValue(value);
        if (offered === undefined) return REJECT;
        p.immediateData = offered && s.immediateData;
        return yesNo(p.immediateData);
      }
      case 'MaxRecvDataSegmentLength': {
        // Declarative: the initiator states its limit, we answer with ours.
        const offered = numericInRange(value, 512, MAX_LENGTH_VALUE);
        if (offered === undefined) return REJECT;
        p.initiatorMaxRecvDataSegmentLength = offered;
        p.targetMaxRecvDataSegmentLength = s.maxRecvDataSegmentLength;
        return String(s.maxRecvDataSegmentLength);
      }
      case 'IFMarker':
      case 'OFMarker':
        // RFC 7143 13.26 allows "No" instead of "Reject"; "No" is also what RFC 3720 initiators expect.
        return parseBooleanValue(value) === undefined ? REJECT : 'No';
      case 'IFMarkInt':
      case 'OFMarkInt':
        return REJECT;
      case 'RDMAExtensions':
        return parseBooleanValue(value) === undefined ? REJECT : 'No';
      case 'TargetRecvDataSegmentLength':
      case 'InitiatorRecvDataSegmentLength':
      case 'MaxOutstandingUnexpectedPDUs':
        return IRRELEVANT;
      default:
        // Declarations needing no answer (InitiatorName, InitiatorAlias, TargetName, SessionType).
        return undefined;
    }
  }
}

function numericInRange(value: string, min: number, max: number): number | undefined {
  const n = parseNumericValue(value);
  return n !== undefined && n >= min && n <= max ? n : undefined;
}

/** RFC 7143 6.2.1 list negotiation: the first offered value the responder supports. */
export function selectFromList(offer: string, supported: readonly string[]): string | undefined {
  const items = parseListValue(offer);
  return items?.find((item) => supported.includes(item));
}

function yesNo(b: boolean): string {
  return b ? 'Yes' : 'No';
}
