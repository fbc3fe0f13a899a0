// The management protocol between tgtadm / tgt-admin and tgtd: over the daemon's Unix stream socket
// (see mgmt-server.ts), the client writes ONE JSON request line, the daemon answers ONE JSON response
// line and closes. Fields mirror tgtadm's options; `code` is 0 on success or 22 (EINVAL) with tgt's
// error text in `error`.

export const MGMT_MODES = [
  'system',
  'target',
  'logicalunit',
  'portal',
  'session',
  'connection',
  'account',
  'lld',
] as const;
export type MgmtMode = (typeof MGMT_MODES)[number];

export const MGMT_OPS = [
  'new',
  'delete',
  'bind',
  'unbind',
  'show',
  'update',
  'stat',
  'start',
  'stop',
] as const;
export type MgmtOp = (typeof MGMT_OPS)[number];

export interface MgmtRequest {
  mode: MgmtMode;
  op: MgmtOp;
  /** `--lld`; default iscsi (the only driver). */
  lld?: string;
  tid?: number;
  lun?: number;
  sid?: number;
  cid?: number;
  targetName?: string;
  backingStore?: string;
  bstype?: string;
  bsoflags?: string;
  bsopts?: string;
  blockSize?: number;
  deviceType?: string;
  /** `-P key=value,...`. */
  params?: string;
  /** `-n` / `-v`. */
  name?: string;
  value?: string;
  user?: string;
  password?: string;
  outgoing?: boolean;
  initiatorAddress?: string;
  initiatorName?: string;
  force?: boolean;
  /** Ours, not tgt's: `--mode account --op show` with passwords (tgt-admin --dump keeps them). */
  withPasswords?: boolean;
  /** Ours: `--mode target --op show` answers JSON `[{tid, lun, bsopts}]` (tgt-admin --dump keeps them). */
  withStoreOptions?: boolean;
}

export interface MgmtResponse {
  code: number;
  output?: string;
  error?: string;
}

export const MGMT_OK = 0;
/** EINVAL: every daemon-side failure, as tgtadm exits with it. */
export const MGMT_EINVAL = 22;

/** Longest request line the daemon accepts (tgt's request buffer is a few KiB too). */
export const MGMT_MAX_REQUEST_BYTES = 64 * 1024;

const numberFields = ['tid', 'lun', 'sid', 'cid', 'blockSize'] as const;
const stringFields = [
  'lld',
  'targetName',
  'backingStore',
  'bstype',
  'bsoflags',
  'bsopts',
  'deviceType',
  'params',
  'name',
  'value',
  'user',
  'password',
  'initiatorAddress',
  'initiatorName',
] as const;
const booleanFields = ['outgoing', 'force', 'withPasswords', 'withStoreOptions'] as const;

/** Check a decoded JSON value is a well-formed request (unknown fields are refused too). */
export function parseMgmtRequest(v: unknown): MgmtRequest | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (!MGMT_MODES.includes(o.mode as MgmtMode) || !MGMT_OPS.includes(o.op as MgmtOp)) return undefined;
  const known = new Set<string>(['mode', 'op', ...numberFields, ...stringFields, ...booleanFields]);
  for (const [k, val] of Object.entries(o)) {
    if (!known.has(k)) return undefined;
    if (val === undefined) continue;
    if (
      (numberFields as readonly string[]).includes(k) &&
      !(Number.isSafeInteger(val) && (val as number) >= 0)
    )
      return undefined;
    if ((stringFields as readonly string[]).includes(k) && typeof val !== 'string') return undefined;
    if ((booleanFields as readonly string[]).includes(k) && typeof val !== 'boolean') return undefined;
  }
  return o as unknown as MgmtRequest;
}
