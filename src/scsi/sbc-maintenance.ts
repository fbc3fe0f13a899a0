// Medium maintenance commands: SEND DIAGNOSTIC / RECEIVE DIAGNOSTIC RESULTS (SPC-4 6.32, 6.27) and FORMAT
// UNIT (SBC-3 5.3). The self-test is a read check of the store; FORMAT UNIT unmaps the whole medium when the
// LU is thin (so every block reads as zeros afterwards) and otherwise leaves the data as it is, which SBC-3
// allows when no initialization pattern is given (writing a whole volume of zeros would take hours).
import { canUnmap, fmt, good, storeFailure, withDataOut, type DiskState } from './disk-state';
import type { ScsiResult, ScsiTask } from './scsi-types';
import { ScsiStatus } from './scsi-types';
import { allocationLength16At, truncate } from './cdb';
import {
  checkCondition,
  FORMAT_IN_PROGRESS,
  invalidCdbField,
  invalidParamField,
  LOGICAL_UNIT_FAILED_SELF_TEST,
  PARAMETER_LIST_LENGTH_ERROR,
  WRITE_PROTECTED,
} from './sense';

const SelfTest = {
  Default: 0,
  BackgroundShort: 1,
  BackgroundExtended: 2,
  AbortBackground: 4,
  ForegroundShort: 5,
  ForegroundExtended: 6,
} as const;

/** Blocks a self-test reads: the first and last block (short), plus evenly spread ones (extended). */
function selfTestLbas(blocks: number, extended: boolean): number[] {
  if (blocks === 0) return [];
  const n = extended ? 64 : 2;
  const lbas = new Set<number>([0, blocks - 1]);
  for (let i = 1; i < n - 1; i++) lbas.add(Math.floor((blocks * i) / (n - 1)));
  return [...lbas].sort((a, b) => a - b);
}

/** Read the self-test's blocks; false when the store failed (or the test was aborted: undefined). */
async function readCheck(s: DiskState, extended: boolean, abort?: { aborted: boolean }): Promise<boolean> {
  for (const lba of selfTestLbas(s.blocks, extended)) {
    if (abort?.aborted) return true;
    try {
      await s.store.read(lba * s.bs, s.bs);
    } catch (err) {
      s.log.warn('self-test read failed', { err, lba });
      return false;
    }
  }
  return true;
}

/** SEND DIAGNOSTIC. */
export async function sendDiagnostic(s: DiskState, task: ScsiTask): Promise<ScsiResult> {
  const cdb = task.cdb;
  const f = fmt(s);
  const plen = cdb.readUInt16BE(3);
  const out = (r: ScsiResult): ScsiResult => withDataOut(r, plen);
  const code = cdb[1] >> 5;
  const pf = (cdb[1] & 0x10) !== 0;
  const selftest = (cdb[1] & 0x04) !== 0;
  if (cdb[1] & 0x08) return out(invalidCdbField(f, 1, 3));
  if (cdb[2]) return out(invalidCdbField(f, 2, 7));
  if (cdb[5] & 0x04) return out(invalidCdbField(f, 5, 2));
  if (selftest || code !== SelfTest.Default) {
    // SPC-4 6.32: a self-test takes no parameter list, and SELFTEST=1 goes with SELF-TEST CODE 000b.
    if (selftest && code !== SelfTest.Default) return out(invalidCdbField(f, 1, 7));
    if (pf && code !== SelfTest.Default) return out(invalidCdbField(f, 1, 4));
    if (plen !== 0) return out(invalidCdbField(f, 3, 7));
  }
  if (selftest || code === SelfTest.ForegroundShort || code === SelfTest.ForegroundExtended) {
    const ok = await readCheck(s, code === SelfTest.ForegroundExtended);
    return out(ok ? good() : checkCondition(f, LOGICAL_UNIT_FAILED_SELF_TEST));
  }
  switch (code) {
    case SelfTest.BackgroundShort:
    case SelfTest.BackgroundExtended: {
      if (s.selfTest) return out(invalidCdbField(f, 1, 7)); // one at a time
      const run = { aborted: false, done: Promise.resolve() };
      run.done = readCheck(s, code === SelfTest.BackgroundExtended, run).then((ok) => {
        if (!ok) s.log.error('background self-test failed');
        s.selfTest = undefined;
      });
      s.selfTest = run;
      return out(good());
    }
    case SelfTest.AbortBackground:
      if (!s.selfTest) return out(invalidCdbField(f, 1, 7)); // nothing to abort
      s.selfTest.aborted = true;
      await s.selfTest.done;
      return out(good());
    case SelfTest.Default:
      break;
    default:
      return out(invalidCdbField(f, 1, 7)); // reserved self-test codes
  }
  // SELFTEST=0, code 0: a diagnostic described by the parameter list. Without PF it would be vendor-specific.
  if (plen === 0) return out(good());
  if (!pf) return out(invalidCdbField(f, 1, 4));
  const d = task.dataOut;
  if (!d || d.length < plen || plen < 4) return out(checkCondition(f, PARAMETER_LIST_LENGTH_ERROR));
  // The only diagnostic page we know is "supported diagnostic pages" (0x00), which has no parameters.
  if (d[0] !== 0x00) return out(invalidParamField(f, 0));
  if (d.readUInt16BE(2) !== 0) return out(invalidParamField(f, 2));
  return out(good());
}

/** RECEIVE DIAGNOSTIC RESULTS: the supported diagnostic pages page (0x00), the only one we have. */
export function receiveDiagnosticResults(s: DiskState, task: ScsiTask): ScsiResult {
  const cdb = task.cdb;
  const f = fmt(s);
  if (cdb[1] & 0xfe) return invalidCdbField(f, 1, 7);
  const pcv = (cdb[1] & 0x01) !== 0;
  if (cdb[5] & 0x04) return invalidCdbField(f, 5, 2);
  if (pcv && cdb[2] !== 0x00) return invalidCdbField(f, 2, 7);
  if (!pcv && cdb[2] !== 0x00) return invalidCdbField(f, 2, 7);
  const page = Buffer.from([0x00, 0x00, 0x00, 0x01, 0x00]);
  return { status: ScsiStatus.Good, dataIn: truncate(page, allocationLength16At(cdb, 3)) };
}

/** FORMAT UNIT. */
export async function formatUnit(s: DiskState, task: ScsiTask): Promise<ScsiResult> {
  const cdb = task.cdb;
  const f = fmt(s);
  const fmtdata = (cdb[1] & 0x10) !== 0;
  const longList = (cdb[1] & 0x20) !== 0;
  const headerLength = longList ? 8 : 4;
  const d = task.dataOut;
  // The parameter list's length is in its own header: the header plus the defect list it announces.
  let plen = 0;
  if (fmtdata) {
    plen = headerLength;
    if (d && d.length >= headerLength) plen += longList ? d.readUInt32BE(4) : d.readUInt16BE(2);
  }
  const out = (r: ScsiResult): ScsiResult => withDataOut(r, plen);
  if (cdb[1] & 0xc0) return out(invalidCdbField(f, 1, 7)); // FMTPINFO: no protection information
  if (!fmtdata && cdb[1] & 0x2f) return out(invalidCdbField(f, 1, cdb[1] & 0x20 ? 5 : 3));
  if (cdb[3] || cdb[4]) return out(invalidCdbField(f, cdb[3] ? 3 : 4, 7));
  if (cdb[5] & 0x04) return out(invalidCdbField(f, 5, 2));
  if (fmtdata) {
    if (!d || d.length < headerLength) return out(checkCondition(f, PARAMETER_LIST_LENGTH_ERROR));
    if (d[0] & 0x07) return out(invalidParamField(f, 0, 2)); // PROTECTION FIELD USAGE
    if (d[0] & 0xf8) return out(invalidParamField(f, 0, 7));
    // DPRY, DCRT, STPF, IP: with FOV=0 they must be zero, and with FOV=1 we honour none of them.
    if (d[1] & 0x78) return out(invalidParamField(f, 1, 31 - Math.clz32(d[1] & 0x78)));
    if (longList && (d[2] || d[3])) return out(invalidParamField(f, d[2] ? 2 : 3, 7)); // P_I_INFORMATION
    // No defect management: an empty defect list is all we take.
    if ((longList ? d.readUInt32BE(4) : d.readUInt16BE(2)) !== 0)
      return out(invalidParamField(f, longList ? 4 : 2));
  }
  if (s.settings.readonly) return out(checkCondition(f, WRITE_PROTECTED));
  const thin = canUnmap(s);
  let done = 0;
  s.busy = { code: FORMAT_IN_PROGRESS, progress: () => done };
  try {
    if (thin && s.blocks > 0) await s.store.unmap(0, s.blocks * s.bs);
    if (s.store.capabilities.volatileCache) await s.store.flush();
    done = 0xffff;
  } catch (err) {
    return out(storeFailure(s, err, true));
  } finally {
    s.busy = undefined;
  }
  return out(good());
}
