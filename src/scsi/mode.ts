// MODE SENSE / MODE SELECT 6 and 10 (SPC-4 6.11-6.14) for a disk. Every page keeps its four value sets
// (current, changeable, default, saved; SPC-4 6.11 page control) as whole page bytes, so pages tgtadm adds
// with `mode_page=` and saved values work like the built-in ones: 0x01 (read-write error recovery), 0x02
// (disconnect-reconnect), 0x08 (caching; WCE changeable with a volatile cache), 0x0A (control; D_SENSE
// changeable), 0x1C (informational exceptions). Pure: the caller owns the pages and applies the updates
// MODE SELECT returns.
import { allocationLength16At, allocationLength6, nacaSet, Op, truncate } from './cdb';
import { ScsiStatus, type ScsiResult } from './scsi-types';
import {
  checkCondition,
  invalidCdbField,
  invalidParamField,
  PARAMETER_LIST_LENGTH_ERROR,
  SAVING_PARAMETERS_NOT_SUPPORTED,
  type SenseFormat,
} from './sense';

/** The mode parameters the data path reads on every command, derived from the current page values. */
export interface ModeState {
  /** Write cache enabled (caching page WCE): writes need not be durable before status. */
  wce: boolean;
  /** Descriptor-format sense (control page D_SENSE). */
  dsense: boolean;
}

/** A page set by tgtadm `mode_page=PAGE:SUBPAGE:LEN:B0:B1:...`: its default (and initial current) bytes. */
export interface ModePageOverride {
  code: number;
  subpage: number;
  /** The page parameters after the page header (LEN bytes). */
  data: Buffer;
}

/** One mode page; every buffer is the whole page including its header. */
export interface ModePage {
  readonly code: number;
  readonly subpage: number;
  current: Buffer;
  readonly defaults: Buffer;
  readonly changeable: Buffer;
  /** Saved values (MODE SELECT SP=1); undefined until something was saved (then the defaults apply). */
  saved: Buffer | undefined;
}

export interface ModePageConfig {
  /** WCE default: on when the store has a volatile cache. */
  wceDefault: boolean;
  /** WCE can be changed only when the store has a volatile cache to turn on or off. */
  wceChangeable: boolean;
  /** D_SENSE of the current values at start (the LU's sense_format). */
  dsenseCurrent: boolean;
  overrides: readonly ModePageOverride[];
}

export interface ModeContext {
  blocks: number;
  blockSize: number;
  readonly: boolean;
  pages: readonly ModePage[];
  /** Saved values are kept in non-volatile storage: pages with changeable fields are savable (PS=1). */
  canSave: boolean;
}

const enum PageControl {
  Current = 0,
  Changeable = 1,
  Default = 2,
  Saved = 3,
}

const WCE = 0x04;
const D_SENSE = 0x04;

/** Built-in pages: default bytes and changeable mask (page parameters after the 2-byte header). */
interface BuiltIn {
  code: number;
  defaults(cfg: ModePageConfig): number[];
  changeable(cfg: ModePageConfig): number[];
}

const zeros = (n: number): number[] => new Array<number>(n).fill(0);

const BUILT_IN: readonly BuiltIn[] = [
  { code: 0x01, defaults: () => zeros(10), changeable: () => zeros(10) },
  {
    // BUFFER FULL / EMPTY RATIO 0x80, BUS INACTIVITY LIMIT 10 (tgt's values). The ratios are advisory
    // hints to a target that buffers; an initiator may set them, which changes nothing in the data path.
    code: 0x02,
    defaults: () => [0x80, 0x80, 0x00, 0x0a, ...zeros(10)],
    changeable: () => [0xff, 0xff, ...zeros(12)],
  },
  {
    code: 0x08,
    defaults: (c) => [c.wceDefault ? WCE : 0, ...zeros(17)],
    changeable: (c) => [c.wceChangeable ? WCE : 0, ...zeros(17)],
  },
  {
    // GLTSD; QUEUE ALGORITHM MODIFIER 1: unrestricted reordering.
    code: 0x0a,
    defaults: () => [0x02, 0x10, ...zeros(8)],
    changeable: () => [D_SENSE, ...zeros(9)],
  },
  // DEXCPT: no informational exceptions reported.
  { code: 0x1c, defaults: () => [0x08, ...zeros(9)], changeable: () => zeros(10) },
];

function pageHeaderLength(subpage: number): number {
  return subpage === 0 ? 2 : 4;
}

/** Whole page bytes (page_0 or sub_page format) around `params`. */
export function pageBytes(code: number, subpage: number, params: Buffer | readonly number[]): Buffer {
  const h = pageHeaderLength(subpage);
  const b = Buffer.alloc(h + params.length);
  if (subpage === 0) {
    b[0] = code;
    b[1] = params.length;
  } else {
    b[0] = code | 0x40; // SPF
    b[1] = subpage;
    b.writeUInt16BE(params.length, 2);
  }
  for (let i = 0; i < params.length; i++) b[h + i] = params[i];
  return b;
}

function pageKey(code: number, subpage: number): number {
  return (code << 8) | subpage;
}

/** The LU's pages, sorted by page code then subpage. Overrides replace a built-in page's defaults (its
 *  changeable mask is kept as far as the new length allows) or add a page no field of which is changeable. */
export function createModePages(cfg: ModePageConfig): ModePage[] {
  const byKey = new Map<number, ModePage>();
  for (const b of BUILT_IN) {
    const defaults = pageBytes(b.code, 0, b.defaults(cfg));
    byKey.set(pageKey(b.code, 0), {
      code: b.code,
      subpage: 0,
      defaults,
      current: Buffer.from(defaults),
      changeable: pageBytes(b.code, 0, b.changeable(cfg)),
      saved: undefined,
    });
  }
  for (const o of cfg.overrides) {
    const key = pageKey(o.code, o.subpage);
    const defaults = pageBytes(o.code, o.subpage, o.data);
    const mask = Buffer.alloc(defaults.length);
    const builtIn = byKey.get(key);
    if (builtIn) builtIn.changeable.copy(mask, 2, 2, Math.min(builtIn.changeable.length, mask.length));
    pageBytes(o.code, o.subpage, mask.subarray(pageHeaderLength(o.subpage))).copy(mask);
    byKey.set(key, {
      code: o.code,
      subpage: o.subpage,
      defaults,
      current: Buffer.from(defaults),
      changeable: mask,
      saved: undefined,
    });
  }
  const pages = [...byKey.values()].sort((a, b) => pageKey(a.code, a.subpage) - pageKey(b.code, b.subpage));
  const control = pages.find((p) => p.code === 0x0a && p.subpage === 0);
  if (control && control.current.length > 2) {
    control.current[2] = (control.current[2] & ~D_SENSE) | (cfg.dsenseCurrent ? D_SENSE : 0);
  }
  return pages;
}

/** WCE and D_SENSE as the current page values say. */
export function modeStateOf(pages: readonly ModePage[]): ModeState {
  const caching = pages.find((p) => p.code === 0x08 && p.subpage === 0);
  const control = pages.find((p) => p.code === 0x0a && p.subpage === 0);
  return {
    wce: caching !== undefined && caching.current.length > 2 && (caching.current[2] & WCE) !== 0,
    dsense: control !== undefined && control.current.length > 2 && (control.current[2] & D_SENSE) !== 0,
  };
}

/** A page with a changeable field can be saved (when the LU has somewhere to save it). */
export function isSavable(p: ModePage): boolean {
  for (let i = pageHeaderLength(p.subpage); i < p.changeable.length; i++) if (p.changeable[i]) return true;
  return false;
}

function valuesOf(p: ModePage, pc: PageControl): Buffer {
  switch (pc) {
    case PageControl.Changeable:
      return p.changeable;
    case PageControl.Default:
      return p.defaults;
    case PageControl.Saved:
      return p.saved ?? p.defaults;
    default:
      return p.current;
  }
}

function blockDescriptor(long: boolean, pc: PageControl, ctx: ModeContext): Buffer {
  const b = Buffer.alloc(long ? 16 : 8);
  if (pc === PageControl.Changeable) return b; // nothing in it can be changed
  if (long) {
    b.writeUInt32BE(Math.floor(ctx.blocks / 0x100000000), 0);
    b.writeUInt32BE(ctx.blocks >>> 0, 4);
    b.writeUInt32BE(ctx.blockSize, 12);
  } else {
    b.writeUInt32BE(ctx.blocks > 0xffffffff ? 0xffffffff : ctx.blocks, 0);
    b.writeUIntBE(ctx.blockSize, 5, 3);
  }
  return b;
}

/** Execute MODE SENSE(6) or MODE SENSE(10). */
export function modeSense(cdb: Buffer, ctx: ModeContext, format: SenseFormat): ScsiResult {
  const ten = cdb[0] === Op.MODE_SENSE_10;
  const dbd = (cdb[1] & 0x08) !== 0;
  const llbaa = ten && (cdb[1] & 0x10) !== 0;
  const pc = (cdb[2] >> 6) as PageControl;
  const page = cdb[2] & 0x3f;
  const subpage = cdb[3];
  const ctl = ten ? 9 : 5;
  if (cdb[ctl] & 0x04) return invalidCdbField(format, ctl, 2);
  if (pc === PageControl.Saved && !ctx.canSave)
    return checkCondition(format, SAVING_PARAMETERS_NOT_SUPPORTED);

  let chosen: ModePage[];
  if (page === 0x3f) {
    if (subpage !== 0x00 && subpage !== 0xff) return invalidCdbField(format, 3);
    chosen = ctx.pages.filter((p) => subpage === 0xff || p.subpage === 0);
  } else {
    if (!ctx.pages.some((p) => p.code === page)) return invalidCdbField(format, 2, 5);
    chosen = ctx.pages.filter((p) => p.code === page && (subpage === 0xff || p.subpage === subpage));
    if (chosen.length === 0) return invalidCdbField(format, 3);
    // One page asked for by name whose values cannot be saved has no saved values to report.
    if (pc === PageControl.Saved && subpage !== 0xff && !isSavable(chosen[0]))
      return checkCondition(format, SAVING_PARAMETERS_NOT_SUPPORTED);
  }
  const pages = chosen.map((p) => {
    const b = Buffer.from(valuesOf(p, pc));
    if (ctx.canSave && isSavable(p)) b[0] |= 0x80; // PS
    return b;
  });

  const header = Buffer.alloc(ten ? 8 : 4);
  const bd = dbd ? Buffer.alloc(0) : blockDescriptor(llbaa, pc, ctx);
  const deviceSpecific = (ctx.readonly ? 0x80 : 0x00) | 0x10; // WP, DPOFUA
  const data = Buffer.concat([header, bd, ...pages]);
  if (ten) {
    data.writeUInt16BE(Math.min(data.length - 2, 0xffff), 0);
    data[3] = deviceSpecific;
    data[4] = llbaa && !dbd ? 0x01 : 0x00; // LONGLBA
    data.writeUInt16BE(bd.length, 6);
  } else {
    data[0] = Math.min(data.length - 1, 0xff);
    data[2] = deviceSpecific;
    data[3] = bd.length;
  }
  const alloc = ten ? allocationLength16At(cdb, 7) : allocationLength6(cdb);
  return { status: ScsiStatus.Good, dataIn: truncate(data, alloc) };
}

export interface ModeSelectOutcome {
  result: ScsiResult;
  /** New current values, one per page in the list, when the command succeeded. */
  updates?: Array<{ page: ModePage; current: Buffer }>;
  /** SP=1: the current values of every savable page are to be saved once the updates are applied. */
  save?: boolean;
}

/** Parameter list length of MODE SELECT(6)/(10): the bytes of data-out the CDB asks for. */
export function modeSelectParameterLength(cdb: Buffer): number {
  return cdb[0] === Op.MODE_SELECT_10 ? cdb.readUInt16BE(7) : cdb[4];
}

/** Execute MODE SELECT(6)/(10) with PF=1: only changeable fields may differ from the current values (anything
 *  else is INVALID FIELD IN PARAMETER LIST), and nothing is applied unless the whole list is valid. SP=1
 *  needs non-volatile storage and only savable pages in the list (else INVALID FIELD IN CDB at SP). */
export function modeSelect(
  cdb: Buffer,
  param: Buffer | undefined,
  ctx: ModeContext,
  format: SenseFormat,
): ModeSelectOutcome {
  const ten = cdb[0] === Op.MODE_SELECT_10;
  const fail = (result: ScsiResult): ModeSelectOutcome => ({ result });
  if (nacaSet(cdb)) return fail(invalidCdbField(format, ten ? 9 : 5, 2));
  const sp = (cdb[1] & 0x01) !== 0;
  if (sp && !ctx.canSave) return fail(invalidCdbField(format, 1, 0));
  if (!(cdb[1] & 0x10)) return fail(invalidCdbField(format, 1, 4)); // PF=0: vendor-specific format
  const plen = modeSelectParameterLength(cdb);
  if (plen === 0) return { result: { status: ScsiStatus.Good }, updates: [], save: sp };
  const d = param ?? Buffer.alloc(0);
  const headerLength = ten ? 8 : 4;
  if (d.length < plen || plen < headerLength)
    return fail(checkCondition(format, PARAMETER_LIST_LENGTH_ERROR));
  const list = d.subarray(0, plen);

  const mediumType = ten ? list[2] : list[1];
  if (mediumType !== 0) return fail(invalidParamField(format, ten ? 2 : 1));
  const longLba = ten && (list[4] & 0x01) !== 0;
  const bdLength = ten ? list.readUInt16BE(6) : list[3];
  const bdSize = longLba ? 16 : 8;
  if (bdLength !== 0 && bdLength !== bdSize) return fail(invalidParamField(format, ten ? 6 : 3));
  if (headerLength + bdLength > plen) return fail(checkCondition(format, PARAMETER_LIST_LENGTH_ERROR));
  if (bdLength) {
    const at = headerLength;
    const blocks = longLba
      ? list.readUInt32BE(at) * 0x100000000 + list.readUInt32BE(at + 4)
      : list.readUInt32BE(at);
    const blockLength = longLba ? list.readUInt32BE(at + 12) : list.readUIntBE(at + 5, 3);
    const shortMax = !longLba && ctx.blocks > 0xffffffff && blocks === 0xffffffff;
    if (blocks !== 0 && blocks !== ctx.blocks && !shortMax) return fail(invalidParamField(format, at));
    if (blockLength !== ctx.blockSize) return fail(invalidParamField(format, longLba ? at + 12 : at + 5));
  }

  const updates: Array<{ page: ModePage; current: Buffer }> = [];
  let p = headerLength + bdLength;
  while (p < plen) {
    if (p + 2 > plen) return fail(checkCondition(format, PARAMETER_LIST_LENGTH_ERROR));
    const spf = (list[p] & 0x40) !== 0;
    if (spf && p + 4 > plen) return fail(checkCondition(format, PARAMETER_LIST_LENGTH_ERROR));
    const code = list[p] & 0x3f;
    const subpage = spf ? list[p + 1] : 0;
    const def = ctx.pages.find((x) => x.code === code && x.subpage === subpage);
    if (!def) return fail(invalidParamField(format, spf ? p + 1 : p, spf ? undefined : 5));
    const h = pageHeaderLength(subpage);
    const len = spf ? list.readUInt16BE(p + 2) : list[p + 1];
    if (len !== def.current.length - h) return fail(invalidParamField(format, p + 1));
    if (p + h + len > plen) return fail(checkCondition(format, PARAMETER_LIST_LENGTH_ERROR));
    if (sp && !isSavable(def)) return fail(invalidCdbField(format, 1, 0));
    const cur = def.current;
    const mask = def.changeable;
    for (let i = h; i < cur.length; i++) {
      const diff = (list[p + i] ^ cur[i]) & ~mask[i] & 0xff;
      if (diff) return fail(invalidParamField(format, p + i, 31 - Math.clz32(diff)));
    }
    const next = Buffer.from(cur);
    list.copy(next, h, p + h, p + h + len);
    updates.push({ page: def, current: next });
    p += h + len;
  }
  return { result: { status: ScsiStatus.Good }, updates, save: sp };
}
