// `tgtadm --op update --mode logicalunit -P key=value,...`: the keys we support, tgt's parsing (atoi
// for flags, silent truncation of identity strings to tgt's field sizes), validated as a whole before
// anything is applied.
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
  /** Block limits / thin provisioning hints tgt accepts (`lbppbe`, `la_lba`, `optimal_xfer_*`). */
  lbppbe: number;
  laLba: number;
  optimalXferGran: number;
  optimalXferLen: number;
  /** `mode_page=` values as given, in order (tgt keeps them as page overrides). */
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

const numberKeys: Record<string, 'rotationRate' | 'lbppbe' | 'laLba' | 'optimalXferGran' | 'optimalXferLen'> =
  {
    rotation_rate: 'rotationRate',
    lbppbe: 'lbppbe',
    la_lba: 'laLba',
    optimal_xfer_gran: 'optimalXferGran',
    optimal_xfer_len: 'optimalXferLen',
  };

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
    else if (n) next[n] = Math.max(0, atoi(value));
    else if (key === 'sense_format') next.senseFormat = atoi(value) !== 0 ? 'descriptor' : 'fixed';
    else if (key === 'mode_page') next.modePages.push(value);
    else if (key === 'path') actions.path = value;
    else if (key === 'disksize' && value === 'auto') actions.refreshSize = true;
    else throw new TgtError(TgtErrno.InvalidRequest, `unknown logical unit parameter '${key}=${value}'`);
  }
  return { attrs: next, actions };
}
