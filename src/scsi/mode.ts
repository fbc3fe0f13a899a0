// MODE SENSE / MODE SELECT 6 and 10 (SPC-4 6.11-6.14) for a disk: pages 0x01 (read-write error recovery),
// 0x08 (caching; WCE changeable), 0x0A (control; D_SENSE changeable), 0x1C (informational exceptions).
// Pure: the caller passes the current state and gets back the result and, for SELECT, the new state.
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

export interface ModeState {
  /** Write cache enabled (caching page WCE): writes need not be durable before status. */
  wce: boolean;
  /** Descriptor-format sense (control page D_SENSE). */
  dsense: boolean;
}

export interface ModeContext {
  blocks: number;
  blockSize: number;
  readonly: boolean;
  current: ModeState;
  defaults: ModeState;
  /** WCE can be changed only when the store has a volatile cache to turn on or off. */
  wceChangeable: boolean;
}

const enum PageControl {
  Current = 0,
  Changeable = 1,
  Default = 2,
  Saved = 3,
}

interface PageDef {
  code: number;
  /** Total page length including the 2-byte header. */
  size: number;
  build(b: Buffer, pc: PageControl, ctx: ModeContext): void;
}

function valuesFor(pc: PageControl, ctx: ModeContext): ModeState {
  return pc === PageControl.Default ? ctx.defaults : ctx.current;
}

const PAGES: readonly PageDef[] = [
  { code: 0x01, size: 12, build: () => undefined },
  {
    code: 0x08,
    size: 20,
    build: (b, pc, ctx) => {
      if (pc === PageControl.Changeable) b[2] = ctx.wceChangeable ? 0x04 : 0x00;
      else b[2] = valuesFor(pc, ctx).wce ? 0x04 : 0x00;
    },
  },
  {
    code: 0x0a,
    size: 12,
    build: (b, pc, ctx) => {
      if (pc === PageControl.Changeable) {
        b[2] = 0x04;
        return;
      }
      b[2] = 0x02 | (valuesFor(pc, ctx).dsense ? 0x04 : 0x00); // GLTSD, D_SENSE
      b[3] = 0x10; // QUEUE ALGORITHM MODIFIER 1: unrestricted reordering
    },
  },
  {
    code: 0x1c,
    size: 12,
    build: (b, pc) => {
      if (pc !== PageControl.Changeable) b[2] = 0x08; // DEXCPT: no informational exceptions reported
    },
  },
];

function buildPage(def: PageDef, pc: PageControl, ctx: ModeContext): Buffer {
  const b = Buffer.alloc(def.size);
  b[0] = def.code;
  b[1] = def.size - 2;
  def.build(b, pc, ctx);
  return b;
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
  if (pc === PageControl.Saved) return checkCondition(format, SAVING_PARAMETERS_NOT_SUPPORTED);

  let pages: Buffer[];
  if (page === 0x3f) {
    if (subpage !== 0x00 && subpage !== 0xff) return invalidCdbField(format, 3);
    pages = PAGES.map((d) => buildPage(d, pc, ctx));
  } else {
    const def = PAGES.find((d) => d.code === page);
    if (!def) return invalidCdbField(format, 2, 5);
    if (subpage !== 0) return invalidCdbField(format, 3);
    pages = [buildPage(def, pc, ctx)];
  }

  const header = Buffer.alloc(ten ? 8 : 4);
  const bd = dbd ? Buffer.alloc(0) : blockDescriptor(llbaa, pc, ctx);
  const deviceSpecific = (ctx.readonly ? 0x80 : 0x00) | 0x10; // WP, DPOFUA
  const data = Buffer.concat([header, bd, ...pages]);
  if (ten) {
    data.writeUInt16BE(data.length - 2, 0);
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
  /** The new state when the command succeeded (may equal the old one). */
  state?: ModeState;
}

/** Parameter list length of MODE SELECT(6)/(10): the bytes of data-out the CDB asks for. */
export function modeSelectParameterLength(cdb: Buffer): number {
  return cdb[0] === Op.MODE_SELECT_10 ? cdb.readUInt16BE(7) : cdb[4];
}

/** Execute MODE SELECT(6)/(10) with PF=1: only WCE and D_SENSE may change; any other difference from the
 *  current values is INVALID FIELD IN PARAMETER LIST, and nothing is applied unless the whole list is valid. */
export function modeSelect(
  cdb: Buffer,
  param: Buffer | undefined,
  ctx: ModeContext,
  format: SenseFormat,
): ModeSelectOutcome {
  const ten = cdb[0] === Op.MODE_SELECT_10;
  const fail = (result: ScsiResult): ModeSelectOutcome => ({ result, state: undefined });
  if (nacaSet(cdb)) return fail(invalidCdbField(format, ten ? 9 : 5, 2));
  if (cdb[1] & 0x01) return fail(invalidCdbField(format, 1, 0)); // SP: cannot save
  if (!(cdb[1] & 0x10)) return fail(invalidCdbField(format, 1, 4)); // PF=0: vendor-specific format
  const plen = modeSelectParameterLength(cdb);
  if (plen === 0) return { result: { status: ScsiStatus.Good }, state: ctx.current };
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

  const next: ModeState = { ...ctx.current };
  let p = headerLength + bdLength;
  while (p < plen) {
    if (p + 2 > plen) return fail(checkCondition(format, PARAMETER_LIST_LENGTH_ERROR));
    if (list[p] & 0x40) return fail(invalidParamField(format, p, 6)); // SPF: no subpages supported
    const code = list[p] & 0x3f;
    const def = PAGES.find((x) => x.code === code);
    if (!def) return fail(invalidParamField(format, p, 5));
    const len = list[p + 1];
    if (len !== def.size - 2) return fail(invalidParamField(format, p + 1));
    if (p + 2 + len > plen) return fail(checkCondition(format, PARAMETER_LIST_LENGTH_ERROR));
    const cur = buildPage(def, PageControl.Current, ctx);
    const mask = buildPage(def, PageControl.Changeable, ctx);
    for (let i = 2; i < def.size; i++) {
      const diff = (list[p + i] ^ cur[i]) & ~mask[i] & 0xff;
      if (diff) return fail(invalidParamField(format, p + i, 31 - Math.clz32(diff)));
    }
    if (code === 0x08) next.wce = (list[p + 2] & 0x04) !== 0;
    if (code === 0x0a) next.dsense = (list[p + 2] & 0x04) !== 0;
    p += 2 + len;
  }
  return { result: { status: ScsiStatus.Good }, state: next };
}
