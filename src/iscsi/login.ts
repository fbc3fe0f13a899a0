// The target's per-connection login state machine (RFC 7143 6.3, 11.12, 11.13). Pure: the connection
// code frames Login PDUs (ISID/TSIH/CID, C-bit reassembly, StatSN, version) and calls `step` once per
// complete Login Request; this decides the answer keys, the T bit and stages, and the login status.
import { ChapServer, type RandomSource } from './chap';
import {
  KeyNegotiator,
  NOT_UNDERSTOOD,
  RFC_DEFAULTS,
  isSecurityKey,
  selectFromList,
  targetSettings,
  type OperationalParams,
  type SessionType,
} from './negotiation';
import type { ChapAccount, IscsiTargetDirectory, IscsiTargetView } from './target-port';

export const STAGE_SECURITY = 0;
export const STAGE_OPERATIONAL = 1;
export const STAGE_FULL_FEATURE = 3;

/** Login status as (class << 8) | detail (RFC 7143 11.13.5). */
export const LoginStatus = Object.freeze({
  SUCCESS: 0x0000,
  INITIATOR_ERROR: 0x0200,
  AUTHENTICATION_FAILURE: 0x0201,
  AUTHORIZATION_FAILURE: 0x0202,
  NOT_FOUND: 0x0203,
  TARGET_REMOVED: 0x0204,
  UNSUPPORTED_VERSION: 0x0205,
  TOO_MANY_CONNECTIONS: 0x0206,
  MISSING_PARAMETER: 0x0207,
  CANT_INCLUDE_IN_SESSION: 0x0208,
  SESSION_TYPE_NOT_SUPPORTED: 0x0209,
  SESSION_DOES_NOT_EXIST: 0x020a,
  INVALID_REQUEST_DURING_LOGIN: 0x020b,
  TARGET_ERROR: 0x0300,
  SERVICE_UNAVAILABLE: 0x0301,
  OUT_OF_RESOURCES: 0x0302,
});

export interface LoginContext {
  directory: IscsiTargetDirectory;
  portalTpgt: number;
  initiatorAddress: string;
  /** set when this login adds a connection to an existing session (TSIH != 0): the target is fixed and session-wide keys are not renegotiated */
  existingSession?: { targetName: string; sessionType: 'Normal' | 'Discovery'; params: OperationalParams };
  randomBytes?: (n: number) => Buffer;
}

export interface LoginStepInput {
  csg: number;
  nsg: number;
  transit: boolean;
  pairs: Array<[string, string]>;
}

export interface LoginStepOutput {
  pairs: Array<[string, string]>;
  transit: boolean;
  csg: number;
  nsg: number;
  /** non-zero class => login failed: send this status and close (RFC 7143 11.13.5). */
  statusClass: number;
  statusDetail: number;
  /** true when the full feature phase is reached after this response */
  done: boolean;
}

export interface LoginResult {
  sessionType: 'Normal' | 'Discovery';
  initiatorName: string;
  initiatorAlias?: string;
  target?: IscsiTargetView;
  params: OperationalParams;
}

/** Keys that fix who is logging in to what; checked by the login itself, never "negotiated". */
const IDENTITY_KEYS = new Set(['InitiatorName', 'TargetName', 'SessionType', 'InitiatorAlias']);

/** Where authentication stands: nothing chosen yet, CHAP waiting for CHAP_A or for CHAP_N/CHAP_R, done. */
type AuthState = 'unchosen' | 'chap-wait-algorithm' | 'chap-wait-response' | 'done';

class LoginFailure {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {}
}

export class LoginNegotiator {
  /** Stage the next request must be in; undefined until the first request. */
  private expectedStage?: number;
  private over = false;
  private finished = false;
  private initiatorName?: string;
  private initiatorAlias?: string;
  private sessionType?: SessionType;
  private targetName?: string;
  private target?: IscsiTargetView;
  private keys?: KeyNegotiator;
  private accounts: readonly ChapAccount[] = [];
  private outgoing?: ChapAccount;
  private auth: AuthState = 'unchosen';
  private authMethod?: 'None' | 'CHAP';
  private chap?: ChapServer;
  /** Why the login failed, for the caller's log. */
  failureReason?: string;

  constructor(private readonly ctx: LoginContext) {}

  step(input: LoginStepInput): LoginStepOutput {
    if (this.over) {
      return this.fail(
        input,
        LoginStatus.INVALID_REQUEST_DURING_LOGIN,
        'login request after the login ended',
      );
    }
    try {
      return this.process(input);
    } catch (e) {
      if (e instanceof LoginFailure) return this.fail(input, e.status, e.reason);
      throw e;
    }
  }

  result(): LoginResult {
    if (!this.finished || !this.keys) throw new Error('login has not reached the full feature phase');
    return {
      sessionType: this.sessionType as SessionType,
      initiatorName: this.initiatorName as string,
      ...(this.initiatorAlias !== undefined ? { initiatorAlias: this.initiatorAlias } : {}),
      ...(this.target ? { target: this.target } : {}),
      params: this.keys.params(),
    };
  }

  private process(input: LoginStepInput): LoginStepOutput {
    this.checkStages(input);
    const first = this.expectedStage === undefined;
    const out: Array<[string, string]> = [];
    if (first) {
      this.establishIdentity(input);
      if (input.csg === STAGE_OPERATIONAL) {
        // Skipping the security stage means no authentication (RFC 7143 6.3).
        if (this.accounts.length > 0) {
          throw new LoginFailure(
            LoginStatus.AUTHENTICATION_FAILURE,
            'authentication required, security stage skipped',
          );
        }
        this.auth = 'done';
      }
      // RFC 7143 13.9: TargetPortalGroupTag goes in the first response whenever TargetName was given.
      if (this.sessionType === 'Normal') out.push(['TargetPortalGroupTag', String(this.ctx.portalTpgt)]);
    } else {
      this.checkIdentityUnchanged(input.pairs);
    }
    const operational: Array<[string, string]> = [];
    const security: Array<[string, string]> = [];
    for (const pair of input.pairs) {
      if (pair[0] === 'InitiatorAlias') this.initiatorAlias = pair[1];
      if (IDENTITY_KEYS.has(pair[0])) continue;
      if (isSecurityKey(pair[0])) {
        if (input.csg !== STAGE_SECURITY) {
          throw new LoginFailure(
            LoginStatus.INVALID_REQUEST_DURING_LOGIN,
            `${pair[0]} outside the security stage`,
          );
        }
        security.push(pair);
      } else {
        operational.push(pair);
      }
    }
    out.push(...this.authenticate(security));
    out.push(...(this.keys as KeyNegotiator).negotiate(operational, 'login'));
    const transit = this.decideTransit(input);
    this.expectedStage = transit ? input.nsg : input.csg;
    const done = transit && input.nsg === STAGE_FULL_FEATURE;
    if (done) {
      this.over = true;
      this.finished = true;
    }
    return {
      pairs: out,
      transit,
      csg: input.csg,
      nsg: transit ? input.nsg : 0,
      statusClass: 0,
      statusDetail: 0,
      done,
    };
  }

  /** CSG/NSG/T consistency (RFC 7143 11.12.1-3) and no stage the target did not agree to. */
  private checkStages(input: LoginStepInput): void {
    const invalid = (reason: string) => new LoginFailure(LoginStatus.INVALID_REQUEST_DURING_LOGIN, reason);
    if (input.csg !== STAGE_SECURITY && input.csg !== STAGE_OPERATIONAL) throw invalid(`CSG ${input.csg}`);
    if (input.transit) {
      if (input.nsg !== STAGE_OPERATIONAL && input.nsg !== STAGE_FULL_FEATURE)
        throw invalid(`NSG ${input.nsg}`);
      if (input.nsg <= input.csg) throw invalid(`transit from stage ${input.csg} to ${input.nsg}`);
    }
    if (this.expectedStage !== undefined && input.csg !== this.expectedStage) {
      throw invalid(`request in stage ${input.csg}, expected ${this.expectedStage}`);
    }
  }

  private establishIdentity(input: LoginStepInput): void {
    const { directory, existingSession } = this.ctx;
    const get = (key: string) => input.pairs.find(([k]) => k === key)?.[1];
    const initiatorName = get('InitiatorName');
    if (!initiatorName) throw new LoginFailure(LoginStatus.MISSING_PARAMETER, 'InitiatorName missing');
    const sessionType = get('SessionType') ?? 'Normal';
    if (sessionType !== 'Normal' && sessionType !== 'Discovery') {
      throw new LoginFailure(LoginStatus.SESSION_TYPE_NOT_SUPPORTED, `SessionType=${sessionType}`);
    }
    if (existingSession && existingSession.sessionType !== sessionType) {
      throw new LoginFailure(LoginStatus.CANT_INCLUDE_IN_SESSION, 'SessionType differs from the session');
    }
    this.initiatorName = initiatorName;
    this.sessionType = sessionType;
    let settingsLayer: ReadonlyMap<string, string> | undefined;
    if (sessionType === 'Normal') {
      const targetName = get('TargetName');
      if (!targetName) throw new LoginFailure(LoginStatus.MISSING_PARAMETER, 'TargetName missing');
      if (existingSession && existingSession.targetName !== targetName) {
        throw new LoginFailure(LoginStatus.CANT_INCLUDE_IN_SESSION, 'TargetName differs from the session');
      }
      const target = directory.findTarget(targetName);
      if (!target) throw new LoginFailure(LoginStatus.NOT_FOUND, `no target ${targetName}`);
      if (!target.isAllowed(initiatorName, this.ctx.initiatorAddress)) {
        throw new LoginFailure(LoginStatus.AUTHORIZATION_FAILURE, `ACL refuses ${initiatorName}`);
      }
      if (target.state === 'offline')
        throw new LoginFailure(LoginStatus.SERVICE_UNAVAILABLE, 'target offline');
      this.targetName = targetName;
      this.target = target;
      this.accounts = target.incomingAccounts();
      this.outgoing = target.outgoingAccount();
      settingsLayer = target.iscsiParams();
    } else {
      this.accounts = directory.discoveryAccounts();
      // Mutual CHAP in discovery needs an outgoing discovery account; without one it is refused.
      this.outgoing = directory.discoveryOutgoingAccount?.();
    }
    this.keys = new KeyNegotiator({
      sessionType,
      leading: !existingSession,
      settings: targetSettings(directory.globalIscsiParams(), settingsLayer),
      initial: existingSession ? connectionDefaults(existingSession.params) : RFC_DEFAULTS,
    });
  }

  private checkIdentityUnchanged(pairs: Array<[string, string]>): void {
    for (const [key, value] of pairs) {
      const fixed =
        key === 'InitiatorName'
          ? this.initiatorName
          : key === 'SessionType'
            ? this.sessionType
            : key === 'TargetName' && this.sessionType === 'Normal'
              ? this.targetName
              : undefined;
      if (fixed !== undefined && fixed !== value) {
        throw new LoginFailure(LoginStatus.INVALID_REQUEST_DURING_LOGIN, `${key} changed during login`);
      }
    }
  }

  /** Security-stage keys: AuthMethod selection, then the CHAP exchange. */
  private authenticate(pairs: Array<[string, string]>): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    const authFailure = (reason: string) => new LoginFailure(LoginStatus.AUTHENTICATION_FAILURE, reason);
    const method = pairs.find(([k]) => k === 'AuthMethod');
    if (method) {
      const acceptable = this.accounts.length > 0 ? ['CHAP'] : ['None'];
      const chosen = selectFromList(method[1], acceptable) as 'None' | 'CHAP' | undefined;
      if (chosen === undefined) throw authFailure(`AuthMethod=${method[1]} not acceptable`);
      if (this.authMethod === undefined) {
        this.authMethod = chosen;
        this.auth = chosen === 'CHAP' ? 'chap-wait-algorithm' : 'done';
        if (chosen === 'CHAP') {
          this.chap = new ChapServer({
            incoming: this.accounts,
            outgoing: this.outgoing,
            ...(this.ctx.randomBytes ? { randomBytes: this.ctx.randomBytes as RandomSource } : {}),
          });
        }
      } else if (chosen !== this.authMethod) {
        throw authFailure('AuthMethod renegotiated to a different method');
      }
      out.push(['AuthMethod', chosen]);
    }
    const chapKeys = pairs.filter(([k]) => k.startsWith('CHAP_'));
    if (chapKeys.length > 0) {
      if (this.authMethod !== 'CHAP' || !this.chap) throw authFailure('CHAP keys without AuthMethod=CHAP');
      const value = (key: string) => chapKeys.find(([k]) => k === key)?.[1];
      const algorithm = value('CHAP_A');
      let result;
      if (this.auth === 'chap-wait-algorithm' && algorithm !== undefined && chapKeys.length === 1) {
        result = this.chap.challenge(algorithm);
        if (result.ok) this.auth = 'chap-wait-response';
      } else if (this.auth === 'chap-wait-response' && algorithm === undefined) {
        result = this.chap.verify({
          CHAP_N: value('CHAP_N'),
          CHAP_R: value('CHAP_R'),
          CHAP_I: value('CHAP_I'),
          CHAP_C: value('CHAP_C'),
        });
        if (result.ok) this.auth = 'done';
      } else {
        throw authFailure(`unexpected CHAP keys ${chapKeys.map(([k]) => k).join(',')}`);
      }
      if (!result.ok) throw authFailure(result.reason);
      out.push(...result.pairs);
    }
    // Other methods' keys (SRP_*, KRB_*, ...) are not ours to understand.
    for (const [key] of pairs) {
      if (key !== 'AuthMethod' && !key.startsWith('CHAP_')) out.push([key, NOT_UNDERSTOOD]);
    }
    return out;
  }

  /** The target transits only when asked to, and only once authentication is complete. */
  private decideTransit(input: LoginStepInput): boolean {
    if (!input.transit) return false;
    if (input.csg === STAGE_OPERATIONAL) return true;
    if (this.auth === 'done') return true;
    if (this.auth === 'unchosen') {
      if (this.accounts.length > 0) {
        throw new LoginFailure(
          LoginStatus.AUTHENTICATION_FAILURE,
          'leaving the security stage without authenticating',
        );
      }
      this.auth = 'done'; // nothing to authenticate: AuthMethod=None implied
      return true;
    }
    return false; // CHAP still in progress
  }

  private fail(input: LoginStepInput, status: number, reason: string): LoginStepOutput {
    this.over = true;
    this.failureReason = reason;
    return {
      pairs: [],
      transit: false,
      csg: input.csg,
      nsg: 0,
      statusClass: status >> 8,
      statusDetail: status & 0xff,
      done: false,
    };
  }
}

/** A connection joining a session starts with the session's values and fresh connection-only keys. */
function connectionDefaults(session: OperationalParams): OperationalParams {
  return {
    ...session,
    headerDigest: RFC_DEFAULTS.headerDigest,
    dataDigest: RFC_DEFAULTS.dataDigest,
    targetMaxRecvDataSegmentLength: RFC_DEFAULTS.targetMaxRecvDataSegmentLength,
    initiatorMaxRecvDataSegmentLength: RFC_DEFAULTS.initiatorMaxRecvDataSegmentLength,
  };
}
