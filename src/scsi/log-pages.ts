// LOG SENSE / LOG SELECT (SPC-4 6.6, 6.7) for a disk: supported pages (0x00) and supported pages and
// subpages (0x00/0xFF), logical block provisioning (0x0C, SBC-3), temperature (0x0D) and informational
// exceptions (0x2F). We keep no counters that could be reset or saved, and no thresholds. Pure: the caller
// passes the provisioning counts it could get from the store.
import { allocationLength16At, truncate } from './cdb';
import { ScsiStatus, type ScsiResult } from './scsi-types';
import { invalidCdbField, invalidParamField, checkCondition, PARAMETER_LIST_LENGTH_ERROR } from './sense';
import type { SenseFormat } from './sense';

/** What the logical block provisioning page reports, in logical blocks (undefined: the store cannot say). */
export interface ProvisioningCounts {
  available: number;
  used: number;
}

export interface LogContext {
  provisioning: ProvisioningCounts | undefined;
}

/** Page codes we implement, ascending. */
export const LOG_PAGES = [0x00, 0x0c, 0x0d, 0x2f] as const;

const enum PageControl {
  Threshold = 0,
  Cumulative = 1,
  DefaultThreshold = 2,
  DefaultCumulative = 3,
}

/** FORMAT AND LINKING 11b: a binary list parameter; DU/TSD/ETC/TMC 0. */
const BINARY = 0x03;

interface LogParameter {
  code: number;
  value: Buffer;
}

function parameter(code: number, value: Buffer | number[]): LogParameter {
  return { code, value: Buffer.from(value) };
}

function encodeParameters(params: LogParameter[]): Buffer {
  return Buffer.concat(
    params.map((p) => {
      const b = Buffer.alloc(4 + p.value.length);
      b.writeUInt16BE(p.code, 0);
      b[2] = BINARY;
      b[3] = p.value.length;
      p.value.copy(b, 4);
      return b;
    }),
  );
}

/** Page header: DS=1 (nothing here can be saved), SPF when a subpage is named. */
function logPage(code: number, subpage: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = 0x80 | (subpage !== 0 ? 0x40 : 0) | code;
  h[1] = subpage;
  h.writeUInt16BE(body.length, 2);
  return Buffer.concat([h, body]);
}

/** LBA mapping resource count parameter (SBC-3 6.4.4): 4-byte count in blocks (saturating), SCOPE 01b
 *  (dedicated to this logical unit). The VPD B2 THRESHOLD EXPONENT is 0, so the unit is one block. */
function resourceCount(code: number, blocks: number): LogParameter {
  const v = Buffer.alloc(8);
  v.writeUInt32BE(Math.min(Math.max(0, Math.floor(blocks)), 0xffffffff), 0);
  v[4] = 0x01;
  return parameter(code, v);
}

function pageParameters(code: number, pc: PageControl, ctx: LogContext): LogParameter[] {
  const defaults = pc === PageControl.DefaultCumulative;
  switch (code) {
    case 0x0c: {
      // Counts describe the medium as it is; there are no default or reset values to report.
      const p = ctx.provisioning;
      if (!p || defaults) return [];
      return [resourceCount(0x0001, p.available), resourceCount(0x0002, p.used)];
    }
    case 0x0d:
      // No sensor: TEMPERATURE and REFERENCE TEMPERATURE FFh mean "not available".
      return [parameter(0x0000, [0x00, 0xff]), parameter(0x0001, [0x00, 0xff])];
    case 0x2f:
      // No informational exception pending (ASC/ASCQ 0), MOST RECENT TEMPERATURE READING not available.
      return [parameter(0x0000, [0x00, 0x00, 0xff, 0x00])];
    default:
      return [];
  }
}

/** Execute LOG SENSE. */
export function logSense(cdb: Buffer, ctx: LogContext, format: SenseFormat): ScsiResult {
  if (cdb[1] & 0xfc) return invalidCdbField(format, 1, 7);
  if (cdb[1] & 0x02) return invalidCdbField(format, 1, 1); // PPC: no "changed parameters" tracking
  if (cdb[1] & 0x01) return invalidCdbField(format, 1, 0); // SP: nothing can be saved
  if (cdb[4]) return invalidCdbField(format, 4, 7);
  if (cdb[9] & 0x04) return invalidCdbField(format, 9, 2);
  const pc = (cdb[2] >> 6) as PageControl;
  const code = cdb[2] & 0x3f;
  const subpage = cdb[3];
  const pointer = cdb.readUInt16BE(5);
  const alloc = allocationLength16At(cdb, 7);
  if (!(LOG_PAGES as readonly number[]).includes(code)) return invalidCdbField(format, 2, 5);
  if (subpage !== 0x00 && subpage !== 0xff) return invalidCdbField(format, 3, 7);

  let page: Buffer;
  if (code === 0x00 || subpage === 0xff) {
    // Lists of pages: no parameters for the pointer to select.
    if (pointer !== 0) return invalidCdbField(format, 5, 7);
    if (subpage === 0x00) page = logPage(0x00, 0x00, Buffer.from(LOG_PAGES));
    else {
      const pairs =
        code === 0x00
          ? [[0x00, 0x00], [0x00, 0xff], ...LOG_PAGES.slice(1).map((p) => [p, 0x00])]
          : [[code, 0x00]];
      page = logPage(code, 0xff, Buffer.from(pairs.flat()));
    }
  } else {
    // Thresholds are not kept: threshold page controls have nothing to report.
    if (pc === PageControl.Threshold || pc === PageControl.DefaultThreshold)
      return invalidCdbField(format, 2, 7);
    const params = pageParameters(code, pc, ctx);
    if (params.length > 0 && pointer > params[params.length - 1].code) return invalidCdbField(format, 5, 7);
    page = logPage(code, 0x00, encodeParameters(params.filter((p) => p.code >= pointer)));
  }
  return { status: ScsiStatus.Good, dataIn: truncate(page, alloc) };
}

/** Parameter list length of LOG SELECT. */
export function logSelectParameterLength(cdb: Buffer): number {
  return cdb.readUInt16BE(7);
}

/** Execute LOG SELECT. With nothing resettable, reset requests (PCR=1, or an empty list naming a page) do
 *  nothing and succeed; any parameter sent to change is refused, as none of ours is changeable. */
export function logSelect(cdb: Buffer, param: Buffer | undefined, format: SenseFormat): ScsiResult {
  const plen = logSelectParameterLength(cdb);
  if (cdb[1] & 0xfc) return invalidCdbField(format, 1, 7);
  if (cdb[1] & 0x01) return invalidCdbField(format, 1, 0); // SP
  if (cdb[4] || cdb[5] || cdb[6]) return invalidCdbField(format, cdb[4] ? 4 : cdb[5] ? 5 : 6, 7);
  if (cdb[9] & 0x04) return invalidCdbField(format, 9, 2);
  const pcr = (cdb[1] & 0x02) !== 0;
  const code = cdb[2] & 0x3f;
  const subpage = cdb[3];
  if (plen === 0) {
    if (pcr) return { status: ScsiStatus.Good };
    if (code !== 0 && !(LOG_PAGES as readonly number[]).includes(code)) return invalidCdbField(format, 2, 5);
    if (subpage !== 0x00 && subpage !== 0xff) return invalidCdbField(format, 3, 7);
    return { status: ScsiStatus.Good };
  }
  // SPC-4 6.7: with a parameter list, PCR must be 0 and the CDB names no page (the list does).
  if (pcr) return invalidCdbField(format, 1, 1);
  if (code !== 0) return invalidCdbField(format, 2, 5);
  if (subpage !== 0) return invalidCdbField(format, 3, 7);
  const d = param;
  if (!d || d.length < plen || plen < 4) return checkCondition(format, PARAMETER_LIST_LENGTH_ERROR);
  const listed = d[0] & 0x3f;
  if (!(LOG_PAGES as readonly number[]).includes(listed) || listed === 0x00 || d[1] !== 0)
    return invalidParamField(format, d[1] !== 0 ? 1 : 0, d[1] !== 0 ? undefined : 5);
  if (4 + d.readUInt16BE(2) > plen) return checkCondition(format, PARAMETER_LIST_LENGTH_ERROR);
  // A page header with no parameters changes nothing; the first parameter is one we cannot change.
  if (d.readUInt16BE(2) === 0) return { status: ScsiStatus.Good };
  return invalidParamField(format, 4);
}
