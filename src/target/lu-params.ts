// `tgtadm --op update --mode logicalunit -P key=value,...`: the keys we support, tgt's parsing (atoi
// for flags, silent truncation of identity strings to tgt's field sizes), validated as a whole before
// anything is applied.
import type { ModePageOverride } from '../scsi/mode';
import { atoi } from './iscsi-target-params';
import { TgtErrno, TgtError } from './tgt-error';

export interface LuAttrs {
  scsiId: string;
  scsiSn: string;
  vendorId: string;
  productId: string;
  productRev: string;
  readonly: boolean;
  removable: boolean;
  online: boolean;
  thinProvisioning: boolean;
  senseFormat: 'fixed' | 'descriptor';
  /** VPD 0xB1 MEDIUM ROTATION RATE (0 = not reported, 1 = non-rotating). */
  rotationRate: number;
  /** READ CAPACITY(16) LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT and LOWEST ALIGNED LBA. */
  lbppbe: number;
  laLba: number;
  /** VPD 0xB0 OPTIMAL TRANSFER LENGTH GRANULARITY / OPTIMAL TRANSFER LENGTH (blocks); unset: our defaults. */
  optimalXferGran?: number;
  optimalXferLen?: number;
  /** `mode_page=` values as given, in order; a later one for the same page replaces an earlier one. */
  modePages: string[];
}

/** Requests in `-P` that are actions rather than attributes: the registry carries them out. */
export interface LuParamActions {
  /** `path=FILE`: load a new medium (removable LUs only, as in tgt). */
  path?: string;
  /** `disksize=auto`: re-read the backing store's size (a grown file or volume). */
  refreshSize?: boolean;
}

const stringKeys: Record<
  string,
  { field: 'scsiId' | 'scsiSn' | 'vendorId' | 'productId' | 'productRev'; max: number }
> = {
  scsi_id: { field: 'scsiId', max: 36 },
  scsi_sn: { field: 'scsiSn', max: 36 },
  vendor_id: { field: 'vendorId', max: 8 },
  product_id: { field: 'productId', max: 16 },
  product_rev: { field: 'productRev', max: 4 },
};

const flagKeys: Record<string, 'readonly' | 'removable' | 'online' | 'thinProvisioning'> = {
  readonly: 'readonly',
  removable: 'removable',
  online: 'online',
  thin_provisioning: 'thinProvisioning',
};

/** Numeric keys and the largest value their SCSI field holds (larger values are refused, not truncated). */
const numberKeys: Record<
  string,
  { field: 'rotationRate' | 'lbppbe' | 'laLba' | 'optimalXferGran' | 'optimalXferLen'; max: number }
> = {
  rotation_rate: { field: 'rotationRate', max: 0xffff },
  lbppbe: { field: 'lbppbe', max: 0x0f },
  la_lba: { field: 'laLba', max: 0x3fff },
  optimal_xfer_gran: { field: 'optimalXferGran', max: 0xffff },
  optimal_xfer_len: { field: 'optimalXferLen', max: 0xffffffff },
};

/** A C strtol(s, NULL, 0) number as tgt reads mode_page items: 0x hex, leading-0 octal, else decimal. */
function strtol0(text: string): number | undefined {
  const t = text.trim();
  if (/^0x[0-9a-f]+$/i.test(t)) return parseInt(t.slice(2), 16);
  if (/^0[0-7]*$/.test(t)) return parseInt(t, 8);
  if (/^[1-9][0-9]*$/.test(t)) return parseInt(t, 10);
  return undefined;
}

/** tgt's `mode_page=PAGE:SUBPAGE:LEN:B0:B1:...` (spc.c add_mode_page): the page's parameter bytes after the
 *  header, LEN of them; bytes not given are 0, more than LEN is an error. */
export function parseModePage(text: string): ModePageOverride {
  const bad = (why: string): never => {
    throw new TgtError(TgtErrno.InvalidRequest, `mode_page ${text}: ${why}`);
  };
  const items = text.split(':').map(strtol0);
  if (items.length < 3) bad('expected PAGE:SUBPAGE:LEN[:BYTE...]');
  if (items.some((v) => v === undefined)) bad('not a number');
  const [code, subpage, len, ...bytes] = items as number[];
  if (code < 0x01 || code > 0x3e) bad('page code must be 1-0x3e');
  if (subpage > 0xfe) bad('subpage must be 0-0xfe');
  if (len > (subpage === 0 ? 0xff : 0x3ff)) bad('length too large');
  if (bytes.length > len) bad(`${bytes.length} bytes given for a ${len}-byte page`);
  if (bytes.some((b) => b > 0xff)) bad('byte value above 255');
  const data = Buffer.alloc(len);
  bytes.forEach((b, i) => (data[i] = b));
  return { code, subpage, data };
}

/** The pages `mode_page=` values define, a later value for a page replacing an earlier one. */
export function modePageOverrides(values: readonly string[]): ModePageOverride[] {
  const byKey = new Map<number, ModePageOverride>();
  for (const v of values) {
    const o = parseModePage(v);
    byKey.delete((o.code << 8) | o.subpage);
    byKey.set((o.code << 8) | o.subpage, o);
  }
  return [...byKey.values()];
}

export const LU_PARAM_KEYS = [
  ...Object.keys(stringKeys),
  ...Object.keys(flagKeys),
  ...Object.keys(numberKeys),
  'sense_format',
  'mode_page',
  'path',
  'disksize',
];

/** Split "k=v,k=v" (tgt also tolerates a trailing comma and empty items). */
export function splitParams(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const item of text.split(',')) {
    if (item.trim() === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new TgtError(TgtErrno.InvalidRequest, `malformed parameter '${item}'`);
    out.push([item.slice(0, eq).trim(), item.slice(eq + 1)]);
  }
  return out;
}

/** The attributes after applying `params`, plus the actions asked for; throws (changing nothing) if
 *  any key is unknown or any value refused. */
export function applyLuParams(current: LuAttrs, params: string): { attrs: LuAttrs; actions: LuParamActions } {
  const next: LuAttrs = { ...current, modePages: [...current.modePages] };
  const actions: LuParamActions = {};
  for (const [key, value] of splitParams(params)) {
    const s = stringKeys[key];
    const f = flagKeys[key];
    const n = numberKeys[key];
    if (s) next[s.field] = value.slice(0, s.max);
    else if (f) next[f] = atoi(value) !== 0;
    else if (n) {
      const v = Math.max(0, atoi(value));
      if (v > n.max) throw new TgtError(TgtErrno.InvalidRequest, `${key}=${value} is out of range`);
      next[n.field] = v;
    } else if (key === 'sense_format') next.senseFormat = atoi(value) !== 0 ? 'descriptor' : 'fixed';
    else if (key === 'mode_page') {
      parseModePage(value);
      next.modePages.push(value);
    } else if (key === 'path') actions.path = value;
    else if (key === 'disksize' && value === 'auto') actions.refreshSize = true;
    else throw new TgtError(TgtErrno.InvalidRequest, `unknown logical unit parameter '${key}=${value}'`);
  }
  return { attrs: next, actions };
}
