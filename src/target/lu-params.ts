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

export const LU_PARAM_KEYS = [...Object.keys(stringKeys), ...Object.keys(flagKeys), 'sense_format'];

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

/** The attributes after applying `params`; throws (changing nothing) if any key is unknown. */
export function applyLuParams(current: LuAttrs, params: string): LuAttrs {
  const next: LuAttrs = { ...current };
  for (const [key, value] of splitParams(params)) {
    const s = stringKeys[key];
    const f = flagKeys[key];
    if (s) next[s.field] = value.slice(0, s.max);
    else if (f) next[f] = atoi(value) !== 0;
    else if (key === 'sense_format') next.senseFormat = atoi(value) !== 0 ? 'descriptor' : 'fixed';
    else throw new TgtError(TgtErrno.InvalidRequest, `unknown logical unit parameter '${key}'`);
  }
  return next;
}
