// The SBC-3 disk: a command table keyed by opcode (add a command in one place), per-nexus unit attentions,
// RESERVE(6)/RELEASE(6), and READ/WRITE as the hot path (fields read straight from the CDB, one await of
// the store, no allocation beyond the result object).
import type { BackingStore } from '../backing/backing-store';
import { createLogger } from '../common/log';
import {
  allocationLength32At,
  cdbLba,
  nacaSet,
  Op,
  rwInvalidField,
  rwTransferLength,
  ServiceActionIn,
  MaintenanceIn,
  transferLengthByte,
  truncate,
  cdbLength,
} from './cdb';
import type { DiskParams } from './device-params';
import {
  canUnmap,
  fmt,
  good,
  MAX_COMPARE_AND_WRITE_BLOCKS,
  MAX_TRANSFER_BYTES,
  MAX_UNMAP_BYTES,
  MAX_UNMAP_DESCRIPTORS,
  MAX_WRITE_SAME_BYTES,
  outOfRange,
  storeFailure,
  withDataOut,
  type CommandDef,
  type DiskSettings,
  type DiskState,
  type Handler,
} from './disk-state';
import {
  isHolder,
  PrAccess,
  prConflicts,
  persistentReserveIn,
  persistentReserveOut,
  proutParameterLength,
  registrationMatches,
} from './persistent-reservations';
import {
  emptyPrState,
  fileReservationStore,
  volatileReservationStore,
  VolumeReservationStore,
  type PrState,
  type ReservationStore,
} from './pr-state';
import { RangeLock } from './range-lock';
import { TaskSet } from './task-set';
import { reportSupportedOpcodes, reportSupportedTmfs, cdbUsageViolation } from './report-opcodes';
import { preventAllowMediumRemoval, startStopUnit } from './sbc-medium';
import { getLbaStatus, readDefectData } from './sbc-status';
import { formatUnit, receiveDiagnosticResults, sendDiagnostic } from './sbc-maintenance';

import {
  ASYMMETRIC_ACCESS_STATE_CHANGED,
  aluaRefuses,
  reportTargetPortGroups,
  setTargetPortGroups,
} from './alua';
import {
  CopyResults,
  extendedCopy,
  receiveCopyResults,
  thirdPartyCopyVpdBody,
  type CopyEndpoint,
} from './xcopy';
import { compareAndWrite, orWrite, preFetch, write, writeAndVerify } from './sbc-write';
import { executeInquiry, PeripheralType, VersionDescriptor, type InquiryData } from './inquiry';
import { requestSense, UnitAttentions, unitAttentionGate } from './lun-commands';
import {
  createModePages,
  isSavable,
  modeSelect,
  modeSelectParameterLength,
  modeSense,
  modeStateOf,
  type ModeContext,
  type ModePage,
  type ModePageOverride,
  type ModeState,
} from './mode';
import { logSelect, logSelectParameterLength, logSense, type ProvisioningCounts } from './log-pages';
import {
  fileModePageStore,
  volatileModePageStore,
  VolumeModePageStore,
  type ModePageStore,
  type SavedModePage,
} from './mode-store';
import { ScsiStatus, type ItNexus, type ScsiDevice, type ScsiResult, type ScsiTask } from './scsi-types';
import {
  checkCondition,
  INQUIRY_DATA_HAS_CHANGED,
  CAPACITY_DATA_HAS_CHANGED,
  INTERNAL_TARGET_FAILURE,
  INVALID_COMMAND_OPERATION_CODE,
  INVALID_FIELD_IN_INFORMATION_UNIT,
  INVALID_FIELD_IN_PARAMETER_LIST,
  invalidCdbField,
  LBA_OUT_OF_RANGE,
  MEDIUM_NOT_PRESENT,
  MISCOMPARE_DURING_VERIFY,
  MODE_PARAMETERS_CHANGED,
  NOT_READY_TO_READY_CHANGE,
  PARAMETER_LIST_LENGTH_ERROR,
  WRITE_PROTECTED,
  type SenseCode,
} from './sense';

export { MAX_TRANSFER_BYTES, MAX_UNMAP_BYTES, MAX_UNMAP_DESCRIPTORS, type DiskSettings } from './disk-state';
/** WRITE SAME writes its pattern in pieces of at most this many bytes. */
const WRITE_SAME_CHUNK = 1024 * 1024;

export interface Disk extends ScsiDevice {
  readonly store: BackingStore;
  readonly blockSize: number;
  /** Capacity in logical blocks, as last read from the store. */
  capacityBlocks(): number;
  settings(): Readonly<DiskSettings>;
  /** Current mode-page state (WCE, D_SENSE). */
  modeState(): Readonly<ModeState>;
  /** Apply runtime changes; raises the unit attentions SPC asks for (inquiry data / mode parameters changed,
   *  not ready to ready). */
  update(change: Partial<DiskSettings>): void;
  /** Queue a unit attention for every nexus except `except` (e.g. REPORTED LUNS DATA HAS CHANGED). */
  raiseUnitAttention(code: SenseCode, except?: ItNexus): void;
  /** Re-read the store's size; raises CAPACITY DATA HAS CHANGED when it changed. Returns the block count. */
  refreshCapacity(): Promise<number>;
  /** Current persistent reservation state (a snapshot; for tests and `tgtadm --op show`). */
  persistentReservations(): Readonly<PrState>;
  /** This LU as an EXTENDED COPY source or destination for copies issued through other LUs. */
  copyEndpoint(): CopyEndpoint;
}

const COMMANDS: Array<CommandDef | undefined> = new Array<CommandDef | undefined>(256);

// ---- READ / WRITE (hot path) ----

async function read(s: DiskState, task: ScsiTask): Promise<ScsiResult> {
  const cdb = task.cdb;
  const bad = rwInvalidField(cdb);
  if (bad >= 0) return invalidCdbField(fmt(s), bad >> 3, bad & 7);
  const lba = cdbLba(cdb);
  const blocks = rwTransferLength(cdb);
  if (lba + blocks > s.blocks) return checkCondition(fmt(s), LBA_OUT_OF_RANGE);
  if (blocks > s.maxTransferBlocks) return invalidCdbField(fmt(s), transferLengthByte(cdb[0]));
  if (blocks === 0) return good();
  try {
    const data = await s.store.read(lba * s.bs, blocks * s.bs);
    return { status: ScsiStatus.Good, dataIn: data };
  } catch (err) {
    return storeFailure(s, err, false);
  }
}

// ---- other SBC commands ----

function readCapacity10(s: DiskState, task: ScsiTask): ScsiResult {
  const cdb = task.cdb;
  if (nacaSet(cdb)) return invalidCdbField(fmt(s), 9, 2);
  if (!(cdb[8] & 0x01) && cdb.readUInt32BE(2) !== 0) return invalidCdbField(fmt(s), 2);
  const data = Buffer.alloc(8);
  const last = s.blocks - 1;
  data.writeUInt32BE(last > 0xfffffffe ? 0xffffffff : Math.max(last, 0), 0);
  data.writeUInt32BE(s.bs, 4);
  return { status: ScsiStatus.Good, dataIn: data };
}

function readCapacity16(s: DiskState, task: ScsiTask): ScsiResult {
  const cdb = task.cdb;
  // SBC-2 (obsolete in SBC-3, as for READ CAPACITY(10)): PMI=0 with a nonzero LBA is an invalid field.
  if (!(cdb[14] & 0x01) && (cdb.readUInt32BE(2) !== 0 || cdb.readUInt32BE(6) !== 0))
    return invalidCdbField(fmt(s), 2);
  const data = Buffer.alloc(32);
  const last = Math.max(s.blocks - 1, 0);
  data.writeUInt32BE(Math.floor(last / 0x100000000), 0);
  data.writeUInt32BE(last >>> 0, 4);
  data.writeUInt32BE(s.bs, 8);
  // LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT and LOWEST ALIGNED LBA: what tgtadm's lbppbe/la_lba say
  // (0 by default: provisioning and alignment are per logical block).
  data[13] = s.settings.lbppbe & 0x0f;
  data.writeUInt16BE(s.settings.lowestAlignedLba & 0x3fff, 14);
  if (canUnmap(s)) data[14] |= 0x80 | 0x40; // LBPME, LBPRZ
  return { status: ScsiStatus.Good, dataIn: truncate(data, allocationLength32At(cdb, 10)) };
}

function serviceActionIn16(s: DiskState, task: ScsiTask): ScsiResult | Promise<ScsiResult> {
  const cdb = task.cdb;
  if (nacaSet(cdb)) return invalidCdbField(fmt(s), 15, 2);
  if ((cdb[1] & 0x1f) === ServiceActionIn.READ_CAPACITY_16) return readCapacity16(s, task);
  if ((cdb[1] & 0x1f) === ServiceActionIn.GET_LBA_STATUS) return getLbaStatus(s, task);
  return invalidCdbField(fmt(s), 1, 4);
}

async function synchronizeCache(s: DiskState, task: ScsiTask): Promise<ScsiResult> {
  const cdb = task.cdb;
  if (nacaSet(cdb)) return invalidCdbField(fmt(s), cdb[0] === Op.SYNCHRONIZE_CACHE_10 ? 9 : 15, 2);
  const lba = cdbLba(cdb);
  const blocks = cdb[0] === Op.SYNCHRONIZE_CACHE_10 ? cdb.readUInt16BE(7) : cdb.readUInt32BE(10);
  const oor = outOfRange(s, lba, blocks);
  if (oor) return oor;
  // IMMED may return early; we always wait, which is also correct and keeps "GOOD means durable".
  try {
    await s.store.flush();
    return good();
  } catch (err) {
    return storeFailure(s, err, true);
  }
}

async function verify(s: DiskState, task: ScsiTask): Promise<ScsiResult> {
  const cdb = task.cdb;
  const f = fmt(s);
  if (cdb[1] & 0xe0) return invalidCdbField(f, 1, 7); // VRPROTECT
  const ctl = cdbLength(cdb[0]) - 1;
  if (cdb[ctl] & 0x04) return invalidCdbField(f, ctl, 2);
  const bytchk = (cdb[1] >> 1) & 0x03;
  if (bytchk === 2) return invalidCdbField(f, 1, 2);
  const lba = cdbLba(cdb);
  const blocks = rwTransferLength(cdb);
  const want = bytchk === 1 ? blocks * s.bs : bytchk === 3 ? s.bs : 0;
  const withOut = (r: ScsiResult): ScsiResult => {
    if (want) r.dataOutLength = want;
    return r;
  };
  const oor = outOfRange(s, lba, blocks);
  if (oor) return withOut(oor);
  if (blocks > s.maxTransferBlocks) return withOut(invalidCdbField(f, transferLengthByte(cdb[0])));
  if (bytchk === 0 || blocks === 0) return withOut(good());
  const data = task.dataOut;
  if (!data || data.length < want) return withOut(checkCondition(f, INVALID_FIELD_IN_INFORMATION_UNIT));
  let stored: Buffer;
  try {
    stored = await s.store.read(lba * s.bs, blocks * s.bs);
  } catch (err) {
    return withOut(storeFailure(s, err, false));
  }
  for (let i = 0; i < stored.length; i++) {
    const expected = bytchk === 1 ? data[i] : data[i % s.bs];
    if (stored[i] !== expected)
      return withOut(checkCondition(f, MISCOMPARE_DURING_VERIFY, { information: i }));
  }
  return withOut(good());
}

async function unmap(s: DiskState, task: ScsiTask): Promise<ScsiResult> {
  const cdb = task.cdb;
  const f = fmt(s);
  const plen = cdb.readUInt16BE(7);
  const withOut = (r: ScsiResult): ScsiResult => {
    r.dataOutLength = plen;
    return r;
  };
  if (cdb[1] & 0x01) return withOut(invalidCdbField(f, 1, 0)); // ANCHOR: not supported
  if (cdb[9] & 0x04) return withOut(invalidCdbField(f, 9, 2));
  if (s.settings.readonly) return withOut(checkCondition(f, WRITE_PROTECTED));
  if (plen === 0) return withOut(good());
  const data = task.dataOut;
  if (plen < 8 || !data || data.length < plen) return withOut(checkCondition(f, PARAMETER_LIST_LENGTH_ERROR));
  const count = Math.floor(Math.min(data.readUInt16BE(2), plen - 8) / 16);
  if (count > MAX_UNMAP_DESCRIPTORS) return withOut(checkCondition(f, INVALID_FIELD_IN_PARAMETER_LIST));
  const maxBlocks = MAX_UNMAP_BYTES / s.bs;
  for (let i = 0, p = 8; i < count; i++, p += 16) {
    const lba = data.readUInt32BE(p) * 0x100000000 + data.readUInt32BE(p + 4);
    const n = data.readUInt32BE(p + 8);
    if (lba + n > s.blocks) return withOut(checkCondition(f, LBA_OUT_OF_RANGE));
    if (n > maxBlocks) return withOut(checkCondition(f, INVALID_FIELD_IN_PARAMETER_LIST));
  }
  try {
    for (let i = 0, p = 8; i < count; i++, p += 16) {
      const lba = data.readUInt32BE(p) * 0x100000000 + data.readUInt32BE(p + 4);
      const n = data.readUInt32BE(p + 8);
      if (n) await s.store.unmap(lba * s.bs, n * s.bs);
    }
  } catch (err) {
    return withOut(storeFailure(s, err, true));
  }
  return withOut(good());
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

async function writeSame(s: DiskState, task: ScsiTask): Promise<ScsiResult> {
  const cdb = task.cdb;
  const f = fmt(s);
  const sixteen = cdb[0] === Op.WRITE_SAME_16;
  const ndob = sixteen && (cdb[1] & 0x01) !== 0;
  const want = ndob ? 0 : s.bs;
  const withOut = (r: ScsiResult): ScsiResult => {
    if (want) r.dataOutLength = want;
    return r;
  };
  if (cdb[1] & 0xe0) return withOut(invalidCdbField(f, 1, 7)); // WRPROTECT
  if (cdb[1] & 0x10) return withOut(invalidCdbField(f, 1, 4)); // ANCHOR
  if (cdb[1] & 0x06) return withOut(invalidCdbField(f, 1, 2)); // PBDATA / LBDATA
  const ctl = sixteen ? 15 : 9;
  if (cdb[ctl] & 0x04) return withOut(invalidCdbField(f, ctl, 2));
  // A write-protected LU answers DATA PROTECT before judging the UNMAP bit (libiscsi ReadOnlySBC).
  if (s.settings.readonly) return withOut(checkCondition(f, WRITE_PROTECTED));
  const unmapBit = (cdb[1] & 0x08) !== 0;
  if (unmapBit && !canUnmap(s)) return withOut(invalidCdbField(f, 1, 3));
  const lba = cdbLba(cdb);
  const blocks = sixteen ? cdb.readUInt32BE(10) : cdb.readUInt16BE(7);
  const oor = outOfRange(s, lba, blocks);
  if (oor) return withOut(oor);
  // WSNZ=1: zero blocks ("to the end") is rejected, as is anything beyond MAXIMUM WRITE SAME LENGTH.
  if (blocks === 0 || blocks > MAX_WRITE_SAME_BYTES / s.bs)
    return withOut(invalidCdbField(f, sixteen ? 10 : 7));
  if (s.settings.readonly) return withOut(checkCondition(f, WRITE_PROTECTED));
  const data = task.dataOut;
  // Exactly one block of data-out (none with NDOB): more or less is an error, not a residual.
  if (
    ndob
      ? task.expectedDataTransferLength !== 0
      : !data || data.length < s.bs || task.expectedDataTransferLength > s.bs
  )
    return withOut(checkCondition(f, INVALID_FIELD_IN_INFORMATION_UNIT));
  const block = ndob ? undefined : data!.subarray(0, s.bs);
  const zero = block === undefined || isZero(block);
  const offset = lba * s.bs;
  const length = blocks * s.bs;
  const durable = !s.mode.wce;
  try {
    if (zero && unmapBit) await s.store.unmap(offset, length);
    else if (zero) await s.store.writeZeroes(offset, length);
    else {
      const chunkBlocks = Math.max(1, Math.min(blocks, Math.floor(WRITE_SAME_CHUNK / s.bs)));
      const chunk = Buffer.alloc(chunkBlocks * s.bs);
      for (let i = 0; i < chunkBlocks; i++) block!.copy(chunk, i * s.bs);
      for (let done = 0; done < length; done += chunk.length) {
        const n = Math.min(chunk.length, length - done);
        await s.store.write(offset + done, n === chunk.length ? chunk : chunk.subarray(0, n), durable);
      }
    }
    if (durable && (zero || unmapBit) && s.store.capabilities.volatileCache) await s.store.flush();
  } catch (err) {
    return withOut(storeFailure(s, err, true));
  }
  return withOut(good());
}

// ---- SPC commands ----

function modeContext(s: DiskState): ModeContext {
  return {
    blocks: s.blocks,
    blockSize: s.bs,
    readonly: s.settings.readonly,
    pages: s.modePages,
    canSave: s.modeStore.persistent,
  };
}

/** Take the data path's view (WCE, D_SENSE) from the current page values. */
function syncModeState(s: DiskState): void {
  s.mode = modeStateOf(s.modePages);
  s.settings.senseFormat = s.mode.dsense ? 'descriptor' : 'fixed';
}

function savedPages(s: DiskState): SavedModePage[] {
  return s.modePages
    .filter((p) => p.saved !== undefined)
    .map((p) => ({ code: p.code, subpage: p.subpage, data: p.saved! }));
}

/** MODE SELECT: apply the new current values; with SP=1 also save every savable page (SPC-4 6.13) and
 *  only then report GOOD. Other I_T nexuses get MODE PARAMETERS CHANGED when a current value changed. */
function doModeSelect(s: DiskState, task: ScsiTask): ScsiResult | Promise<ScsiResult> {
  const out = modeSelect(task.cdb, task.dataOut, modeContext(s), fmt(s));
  const plen = modeSelectParameterLength(task.cdb);
  out.result.dataOutLength = plen;
  if (!out.updates) return out.result;
  let changed = false;
  const before = s.modePages.map((p) => ({ page: p, current: p.current, saved: p.saved }));
  for (const u of out.updates) {
    if (!u.current.equals(u.page.current)) changed = true;
    u.page.current = u.current;
  }
  const finish = (): ScsiResult => {
    syncModeState(s);
    if (changed) s.ua.raise(MODE_PARAMETERS_CHANGED, task.nexus.id);
    return out.result;
  };
  if (!out.save) return finish();
  for (const p of s.modePages) if (isSavable(p)) p.saved = Buffer.from(p.current);
  return s.modeStore.save(savedPages(s)).then(finish, (err: unknown) => {
    s.log.error('saving mode pages failed', { err });
    for (const b of before) {
      b.page.current = b.current;
      b.page.saved = b.saved;
    }
    return { ...checkCondition(fmt(s), INTERNAL_TARGET_FAILURE), dataOutLength: plen };
  });
}

/** Power-on values: saved pages become the current values. A saved page that no longer fits (another
 *  length, or a difference outside the changeable fields after a mode_page change) is ignored. */
function applySavedPages(s: DiskState, saved: SavedModePage[]): void {
  for (const sp of saved) {
    const p = s.modePages.find((x) => x.code === sp.code && x.subpage === sp.subpage);
    if (!p || !isSavable(p) || !fitsChangeable(p, sp.data)) {
      s.log.warn('ignoring a saved mode page that does not fit the LU', {
        page: sp.code,
        subpage: sp.subpage,
      });
      continue;
    }
    p.saved = Buffer.from(sp.data);
    p.current = Buffer.from(sp.data);
  }
  syncModeState(s);
}

function fitsChangeable(p: ModePage, data: Buffer): boolean {
  if (data.length !== p.defaults.length) return false;
  for (let i = 0; i < data.length; i++) if ((data[i] ^ p.defaults[i]) & ~p.changeable[i] & 0xff) return false;
  return true;
}

/** Mapped and unmapped blocks, when the LU is thin and the store can tell (LOG SENSE page 0x0C). */
async function provisioningCounts(s: DiskState): Promise<ProvisioningCounts | undefined> {
  if (!canUnmap(s) || !s.store.capabilities.lbaStatus || !s.store.allocationStatus) return undefined;
  const runs = await s.store.allocationStatus(0, s.blocks * s.bs);
  let mapped = 0;
  for (const r of runs) if (r.mapped) mapped += r.length;
  const used = Math.ceil(mapped / s.bs);
  return { used, available: Math.max(0, s.blocks - used) };
}

async function doLogSense(s: DiskState, task: ScsiTask): Promise<ScsiResult> {
  const wantsProvisioning = (task.cdb[2] & 0x3f) === 0x0c && task.cdb[3] === 0;
  let provisioning: ProvisioningCounts | undefined;
  if (wantsProvisioning) {
    try {
      provisioning = await provisioningCounts(s);
    } catch (err) {
      // The page is still answered, without the counts the store could not give.
      s.log.warn('allocation status for LOG SENSE failed', { err });
    }
  }
  return logSense(task.cdb, { provisioning }, fmt(s));
}

function doLogSelect(s: DiskState, task: ScsiTask): ScsiResult {
  return withDataOut(logSelect(task.cdb, task.dataOut, fmt(s)), logSelectParameterLength(task.cdb));
}

function simpleGood(cdbControl: number): Handler {
  return (s, task) => (task.cdb[cdbControl] & 0x04 ? invalidCdbField(fmt(s), cdbControl, 2) : good());
}

function reserve(s: DiskState, task: ScsiTask): ScsiResult {
  if (task.cdb[1] & 0x01) return invalidCdbField(fmt(s), 1, 0); // extent reservations: obsolete
  // SPC-4 5.13.3: RESERVE(6) conflicts with persistent reservations held by anyone else.
  if (s.pr.reservation && !isHolder(s.pr, task.nexus)) return { status: ScsiStatus.ReservationConflict };
  s.reservedBy = task.nexus.id; // a conflicting holder was already turned away by execute()
  return good();
}

function release(s: DiskState, task: ScsiTask): ScsiResult {
  if (s.reservedBy === task.nexus.id) s.reservedBy = undefined;
  return good(); // releasing someone else's reservation is a no-op, not an error (SPC-2 7.17)
}

/** RESERVE(10)/RELEASE(10) (SPC-2 7.21, 7.17) share the RESERVE(6) reservation. Third-party reservations
 *  (3RDPTY, LONGID) are not implemented and are refused, as tgt and LIO do; with 3RDPTY=0 the third-party
 *  id and the parameter list length must be zero. */
function reservation10Invalid(s: DiskState, cdb: Buffer): ScsiResult | undefined {
  const f = fmt(s);
  if (cdb[1] & 0xec) return invalidCdbField(f, 1, 7);
  if (cdb[1] & 0x10) return invalidCdbField(f, 1, 4); // 3RDPTY
  if (cdb[1] & 0x02) return invalidCdbField(f, 1, 1); // LONGID needs 3RDPTY
  if (cdb[1] & 0x01) return invalidCdbField(f, 1, 0); // extent reservations: obsolete
  if (cdb[3]) return invalidCdbField(f, 3, 7); // THIRD PARTY DEVICE ID
  if (cdb.readUInt16BE(7)) return invalidCdbField(f, 7, 7);
  if (cdb[9] & 0x04) return invalidCdbField(f, 9, 2);
  return undefined;
}

function reserve10(s: DiskState, task: ScsiTask): ScsiResult {
  const bad = reservation10Invalid(s, task.cdb);
  return withDataOut(bad ?? reserve(s, task), task.cdb.readUInt16BE(7));
}

function release10(s: DiskState, task: ScsiTask): ScsiResult {
  const bad = reservation10Invalid(s, task.cdb);
  return withDataOut(bad ?? release(s, task), task.cdb.readUInt16BE(7));
}

function persistentReserveInCmd(s: DiskState, task: ScsiTask): ScsiResult {
  return persistentReserveIn(s.pr, task.cdb, fmt(s), canPersist(s));
}

function canPersist(s: DiskState): boolean {
  return s.prStore !== volatileReservationStore;
}

/** Nexus ids (sessions seen by this LU) whose I_T nexus identity matches. */
function nexusIdsOf(
  s: DiskState,
  who: { initiatorPortName: string; targetPortName: string; allTargetPorts: boolean },
): number[] {
  const ids: number[] = [];
  const asReg = { key: 0n, relativeTargetPortId: 0, ...who };
  for (const [id, n] of s.nexuses) if (registrationMatches(asReg, n)) ids.push(id);
  return ids;
}

/** PERSISTENT RESERVE OUT, serialized per LU (each one reads, changes and saves the whole state). */
function persistentReserveOutCmd(s: DiskState, task: ScsiTask): Promise<ScsiResult> {
  const run = s.prTail.then(() => proutLocked(s, task));
  s.prTail = run.then(
    () => undefined,
    () => undefined,
  );
  return run;
}

async function proutLocked(s: DiskState, task: ScsiTask): Promise<ScsiResult> {
  const plen = proutParameterLength(task.cdb);
  const before = s.pr;
  // Target ports REGISTER AND MOVE may name: those this LU has seen nexuses through (iSCSI: one per TPGT).
  const targetPortOf = (rtpi: number): string | undefined => {
    if (rtpi === task.nexus.relativeTargetPortId) return task.nexus.targetPortName;
    for (const n of s.nexuses.values()) if (n.relativeTargetPortId === rtpi) return n.targetPortName;
    return undefined;
  };
  const o = persistentReserveOut(
    before,
    task.nexus,
    task.cdb,
    task.dataOut,
    fmt(s),
    canPersist(s),
    targetPortOf,
  );
  o.result.dataOutLength = plen;
  if (!o.changed) return o.result;
  s.pr = o.state;
  try {
    await s.prStore.save(s.pr);
  } catch (err) {
    s.log.error('saving persistent reservations failed', { err });
    s.pr = before;
    return { ...checkCondition(fmt(s), INTERNAL_TARGET_FAILURE), dataOutLength: plen };
  }
  for (const u of o.unitAttentions)
    for (const id of nexusIdsOf(s, u)) if (id !== task.nexus.id) s.ua.raiseFor(id, u.code);
  if (o.abort.length && task.abortTasks) {
    const ids = [...new Set(o.abort.flatMap((a) => nexusIdsOf(s, a)))].filter((id) => id !== task.nexus.id);
    if (ids.length) await task.abortTasks(ids, task.lun);
  }
  return o.result;
}

/** MAINTENANCE IN/OUT service action of REPORT/SET TARGET PORT GROUPS. */
const TARGET_PORT_GROUPS = 0x0a;

/** Relative target ports this LU is reached through (iSCSI: one per TPGT seen). */
function relativeTargetPorts(s: DiskState, task: ScsiTask): number[] {
  return [task.nexus.relativeTargetPortId, ...[...s.nexuses.values()].map((n) => n.relativeTargetPortId)];
}

function maintenanceIn(s: DiskState, task: ScsiTask): ScsiResult {
  const cdb = task.cdb;
  switch (cdb[1] & 0x1f) {
    case TARGET_PORT_GROUPS:
      if (!s.params.alua) return invalidCdbField(fmt(s), 1, 4);
      return reportTargetPortGroups(cdb, s.params.alua, relativeTargetPorts(s, task), fmt(s));
    case MaintenanceIn.REPORT_SUPPORTED_OPCODES:
      return reportSupportedOpcodes(cdb, (op, sa) => lists(s, op, sa), fmt(s));
    case MaintenanceIn.REPORT_SUPPORTED_TMFS:
      return reportSupportedTmfs(cdb, fmt(s));
    default:
      return invalidCdbField(fmt(s), 1, 4);
  }
}

function implemented(s: DiskState, def: CommandDef | undefined): def is CommandDef {
  return def !== undefined && (def.available === undefined || def.available(s));
}

/** Does this LU list the command (and service action) in REPORT SUPPORTED OPERATION CODES? The generic CDB
 *  check asks the same question, so what we list and what we accept never disagree. REPORT/SET TARGET PORT
 *  GROUPS exist only while ALUA is on (SET only with explicit ALUA). */
function lists(s: DiskState, op: number, sa?: number): boolean {
  if (op === Op.REPORT_LUNS) return true;
  if (!implemented(s, COMMANDS[op])) return false;
  if (sa === TARGET_PORT_GROUPS && op === Op.MAINTENANCE_IN) return s.params.alua?.enabled === true;
  return true;
}

function maintenanceOut(s: DiskState, task: ScsiTask): ScsiResult {
  const g = s.params.alua;
  // Not reached otherwise: implemented()/cdbUsageViolation answer first (kept so the handler stands alone).
  if (!g?.explicit) return checkCondition(fmt(s), INVALID_COMMAND_OPERATION_CODE);
  if ((task.cdb[1] & 0x1f) !== TARGET_PORT_GROUPS) return invalidCdbField(fmt(s), 1, 4);
  return setTargetPortGroups(task.cdb, task.dataOut, g, task.nexus.id, fmt(s));
}

function define(op: number, def: CommandDef): void {
  COMMANDS[op] = def;
}

const A = PrAccess.Allowed;
const R = PrAccess.Read;
const W = PrAccess.Write;
define(Op.TEST_UNIT_READY, { run: simpleGood(5), medium: true, pr: A });
define(Op.REQUEST_SENSE, {
  run: (s, task) =>
    s.busy
      ? requestSense(task, s.ua, s.busy.code, s.busy.progress())
      : requestSense(task, s.ua, s.settings.online && !s.ejected ? undefined : MEDIUM_NOT_PRESENT),
  reservationExempt: true,
  pr: A,
});
define(Op.INQUIRY, {
  run: (s, task) => {
    const g = s.params.alua;
    if (!g?.enabled) return executeInquiry(task.cdb, task.nexus, s.inquiry, fmt(s));
    // ALUA: TPGS in the standard data, our port group in the VPD 0x83 target port group designator.
    const nexus = { ...task.nexus, targetPortGroup: g.group };
    return executeInquiry(task.cdb, nexus, { ...s.inquiry, tpgs: g.tpgs }, fmt(s));
  },
  reservationExempt: true,
  pr: A,
});
for (const op of [Op.READ_6, Op.READ_10, Op.READ_12, Op.READ_16])
  define(op, { run: read, medium: true, pr: R });
for (const op of [Op.WRITE_6, Op.WRITE_10, Op.WRITE_12, Op.WRITE_16])
  define(op, { run: write, medium: true, pr: W });
for (const op of [Op.WRITE_VERIFY_10, Op.WRITE_VERIFY_12, Op.WRITE_VERIFY_16])
  define(op, { run: writeAndVerify, medium: true, pr: W });
define(Op.ORWRITE_16, { run: orWrite, medium: true, pr: W });
define(Op.COMPARE_AND_WRITE, { run: compareAndWrite, medium: true, pr: W });
define(Op.PRE_FETCH_10, { run: preFetch, medium: true, pr: R });
define(Op.PRE_FETCH_16, { run: preFetch, medium: true, pr: R });
define(Op.READ_CAPACITY_10, { run: readCapacity10, medium: true, pr: A });
define(Op.SERVICE_ACTION_IN_16, { run: serviceActionIn16, medium: true, pr: A });
define(Op.SYNCHRONIZE_CACHE_10, { run: synchronizeCache, medium: true, pr: W });
define(Op.SYNCHRONIZE_CACHE_16, { run: synchronizeCache, medium: true, pr: W });
define(Op.VERIFY_10, { run: verify, medium: true, pr: R });
define(Op.VERIFY_12, { run: verify, medium: true, pr: R });
define(Op.VERIFY_16, { run: verify, medium: true, pr: R });
define(Op.UNMAP, { run: unmap, medium: true, pr: W, available: canUnmap });
define(Op.WRITE_SAME_10, { run: writeSame, medium: true, pr: W });
define(Op.WRITE_SAME_16, { run: writeSame, medium: true, pr: W });
define(Op.READ_DEFECT_DATA_10, { run: readDefectData, medium: true, pr: R });
define(Op.READ_DEFECT_DATA_12, { run: readDefectData, medium: true, pr: R });
define(Op.MODE_SENSE_6, { run: (s, task) => modeSense(task.cdb, modeContext(s), fmt(s)), pr: R });
define(Op.MODE_SENSE_10, { run: (s, task) => modeSense(task.cdb, modeContext(s), fmt(s)), pr: R });
define(Op.MODE_SELECT_6, { run: doModeSelect, pr: W });
define(Op.MODE_SELECT_10, { run: doModeSelect, pr: W });
define(Op.LOG_SENSE, { run: doLogSense, pr: A });
define(Op.LOG_SELECT, { run: doLogSelect, pr: W });
define(Op.FORMAT_UNIT, { run: formatUnit, medium: true, pr: W });
define(Op.SEND_DIAGNOSTIC, { run: sendDiagnostic, medium: true, pr: W });
define(Op.RECEIVE_DIAGNOSTIC_RESULTS, { run: receiveDiagnosticResults, pr: R });
define(Op.START_STOP_UNIT, { run: startStopUnit, pr: W });
define(Op.PREVENT_ALLOW_MEDIUM_REMOVAL, { run: preventAllowMediumRemoval, pr: R });
define(Op.RESERVE_6, { run: reserve, pr: A });
define(Op.RELEASE_6, { run: release, reservationExempt: true, pr: A });
define(Op.RESERVE_10, { run: reserve10, pr: A });
define(Op.RELEASE_10, { run: release10, reservationExempt: true, pr: A });
define(Op.PERSISTENT_RESERVE_IN, { run: persistentReserveInCmd, pr: A });
define(Op.PERSISTENT_RESERVE_OUT, { run: persistentReserveOutCmd, pr: A });
define(Op.EXTENDED_COPY, {
  run: (s, task) => extendedCopy(s, task, s.copies, copyEndpointOf(s), s.params.copyTargets),
  medium: true,
  pr: W,
});
define(Op.RECEIVE_COPY_RESULTS, { run: (s, task) => receiveCopyResults(s, task, s.copies), pr: R });
define(Op.MAINTENANCE_IN, { run: maintenanceIn, reservationExempt: true, pr: A });
// Without explicit ALUA there is no MAINTENANCE OUT service action at all: the opcode is unsupported.
define(Op.MAINTENANCE_OUT, {
  run: maintenanceOut,
  reservationExempt: true,
  pr: A,
  available: (s) => s.params.alua?.explicit === true,
});

// ---- the device ----

function inquiryData(p: DiskParams, st: DiskSettings, store: BackingStore, bs: number): InquiryData {
  const unmapOk = st.thinProvisioning && store.capabilities.unmap;
  return {
    peripheralType: PeripheralType.Disk,
    removable: st.removable,
    vendorId: p.vendorId,
    productId: p.productId,
    productRev: p.productRev,
    versionDescriptors: [
      VersionDescriptor.SAM5,
      VersionDescriptor.ISCSI,
      VersionDescriptor.SPC4,
      VersionDescriptor.SBC3,
    ],
    scsiSn: p.scsiSn,
    scsiId: p.scsiId,
    naa: p.naa,
    blockLimits: {
      maxTransferLength: MAX_TRANSFER_BYTES / bs,
      optimalTransferLengthGranularity: st.optimalTransferLengthGranularity ?? Math.max(1, 4096 / bs),
      optimalTransferLength: st.optimalTransferLength ?? (1024 * 1024) / bs,
      maxUnmapLbaCount: unmapOk ? MAX_UNMAP_BYTES / bs : 0,
      maxUnmapBlockDescriptorCount: unmapOk ? MAX_UNMAP_DESCRIPTORS : 0,
      maxWriteSameLength: MAX_WRITE_SAME_BYTES / bs,
      writeSameNonZero: true,
      maxCompareAndWriteLength: MAX_COMPARE_AND_WRITE_BLOCKS,
    },
    rotationRate: st.rotationRate,
    provisioning: { thin: unmapOk, lbprz: unmapOk },
    thirdPartyCopy: thirdPartyCopyVpdBody(),
  };
}

function sameOverrides(a: readonly ModePageOverride[], b: readonly ModePageOverride[]): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) => x.code === b[i].code && x.subpage === b[i].subpage && x.data.equals(b[i].data))
  );
}

const endpoints = new WeakMap<DiskState, CopyEndpoint>();

/** The LU as a copy endpoint: reads and writes go to its store, writes under its range lock. */
function copyEndpointOf(s: DiskState): CopyEndpoint {
  let e = endpoints.get(s);
  if (e) return e;
  e = {
    naa: s.params.naa,
    blockSize: s.bs,
    blocks: () => s.blocks,
    readonly: () => s.settings.readonly,
    available: () => s.settings.online && !s.ejected,
    reservationConflict: (nexus, writing) =>
      (s.reservedBy !== undefined && s.reservedBy !== nexus.id) ||
      (s.pr.reservation !== undefined && prConflicts(s.pr, nexus, writing ? PrAccess.Write : PrAccess.Read)),
    read: (offset, length) => s.store.read(offset, length),
    async write(offset, data): Promise<void> {
      const end = offset + data.length;
      const lock = s.writes.tryLock(offset, end, false) ?? (await s.writes.lock(offset, end, false));
      try {
        await s.store.write(offset, data, !s.mode.wce);
      } finally {
        s.writes.unlock(lock);
      }
    },
  };
  endpoints.set(s, e);
  return e;
}

/** Short CDBs (a transport that passes exactly the CDB bytes) are zero-extended so field reads stay in
 *  bounds; the iSCSI BHS always carries 16. */
function fullCdb(cdb: Buffer): Buffer {
  const need = cdbLength(cdb[0]) || 16;
  if (cdb.length >= need) return cdb;
  const b = Buffer.alloc(16);
  cdb.copy(b);
  return b;
}

/** Where saved mode pages live: as for reservations, an explicit store, else the volume's metadata, else
 *  the daemon's state dir, else nowhere (no page is savable). */
function modePageStoreFor(params: DiskParams): ModePageStore {
  if (params.modePageStore) return params.modePageStore;
  if (params.store.metadata) return new VolumeModePageStore(params.store.metadata);
  if (params.stateDir) return fileModePageStore(params.stateDir, params.naa);
  return volatileModePageStore;
}

/** Where reservation state lives: an explicit store, else with the volume when the backing store keeps
 *  metadata (shared by every gateway; kept whatever APTPL says), else a file in the daemon's state dir
 *  (APTPL state only), else nowhere. */
function reservationStoreFor(params: DiskParams): ReservationStore {
  if (params.reservationStore) return params.reservationStore;
  if (params.store.metadata) return new VolumeReservationStore(params.store.metadata);
  if (params.stateDir) return fileReservationStore(params.stateDir, params.naa);
  return volatileReservationStore;
}

export function createDisk(params: DiskParams): Disk {
  const store = params.store;
  const bs = params.blockSize;
  if (bs !== 512 && bs !== 4096 && bs !== 1024 && bs !== 2048) throw new Error(`invalid block size ${bs}`);
  const settings: DiskSettings = {
    readonly: params.readonly,
    thinProvisioning: params.thinProvisioning,
    online: params.online,
    senseFormat: params.senseFormat,
    removable: params.removable,
    rotationRate: params.rotationRate,
    lbppbe: params.lbppbe ?? 0,
    lowestAlignedLba: params.lowestAlignedLba ?? 0,
    optimalTransferLengthGranularity: params.optimalTransferLengthGranularity,
    optimalTransferLength: params.optimalTransferLength,
    modePages: params.modePages ?? [],
  };
  const pagesFor = (st: DiskSettings, dsense: boolean): ModePage[] =>
    createModePages({
      wceDefault: store.capabilities.volatileCache,
      wceChangeable: store.capabilities.volatileCache,
      dsenseCurrent: dsense,
      overrides: st.modePages,
    });
  const modePages = pagesFor(settings, params.senseFormat === 'descriptor');
  const s: DiskState = {
    store,
    bs,
    log: createLogger('scsi.disk', { tid: params.tid, lun: params.lun }),
    params,
    ua: new UnitAttentions(),
    settings,
    blocks: Math.floor(store.size() / bs),
    maxTransferBlocks: MAX_TRANSFER_BYTES / bs,
    mode: modeStateOf(modePages),
    modePages,
    modeStore: modePageStoreFor(params),
    inquiry: inquiryData(params, settings, store, bs),
    reservedBy: undefined,
    pr: emptyPrState(),
    prStore: reservationStoreFor(params),
    prTail: Promise.resolve(),
    nexuses: new Map(),
    writes: new RangeLock(),
    preventRemoval: new Set(),
    ejected: false,
    copies: new CopyResults(),
    busy: undefined,
    selfTest: undefined,
  };
  const taskSet = new TaskSet();
  /** ALUA port group version this LU has raised unit attentions for. */
  let aluaSeen = params.alua?.version ?? 0;
  // Saved (APTPL) reservations and saved mode pages are loaded before the first command runs; a corrupt
  // file is logged and ignored rather than inventing or silently dropping access rules mid-flight.
  const loadPr = s.prStore.load().then(
    (saved) => {
      if (saved) s.pr = saved;
    },
    (err: unknown) => {
      s.log.error('loading persistent reservations failed; starting with none', { err });
    },
  );
  const loadMode = s.modeStore.load().then(
    (saved) => {
      if (saved) applySavedPages(s, saved);
    },
    (err: unknown) => {
      s.log.error('loading saved mode pages failed; starting with the defaults', { err });
    },
  );
  let ready: Promise<void> | undefined = Promise.all([loadPr, loadMode]).then(() => {
    ready = undefined;
  });

  function execute(task: ScsiTask): Promise<ScsiResult> {
    if (ready) return ready.then(() => execute(task));
    return taskSet.run(task.attr, () => executeNow(task));
  }

  function executeNow(task: ScsiTask): Promise<ScsiResult> {
    try {
      if (task.cdb.length < 16) task.cdb = fullCdb(task.cdb);
      const cdb = task.cdb;
      if (!s.nexuses.has(task.nexus.id)) s.nexuses.set(task.nexus.id, task.nexus);
      const alua = params.alua;
      if (alua !== undefined && alua.version !== aluaSeen) {
        // The port group changed since this LU last looked: every other nexus hears about it once.
        aluaSeen = alua.version;
        s.ua.raise(ASYMMETRIC_ACCESS_STATE_CHANGED, alua.changedBy);
      }
      const uaResult = unitAttentionGate(s.ua, task, fmt(s));
      if (uaResult) return Promise.resolve(uaResult);
      const def = COMMANDS[cdb[0]];
      if (!implemented(s, def))
        return Promise.resolve(checkCondition(fmt(s), INVALID_COMMAND_OPERATION_CODE));
      // The CDB is judged before the access state, reservations and the medium: its service action must be
      // one we list and every bit REPORT SUPPORTED OPERATION CODES says we do not evaluate must be zero.
      // A malformed CDB is wrong through every port, so it is ILLEGAL REQUEST even on a standby port.
      const bad = cdbUsageViolation(cdb, (op, sa) => lists(s, op, sa));
      if (bad) return Promise.resolve(invalidCdbField(fmt(s), bad.byte, bad.bit));
      // ALUA: a standby/unavailable port group only lets the state-independent commands through.
      const refused = alua !== undefined ? aluaRefuses(alua, cdb) : undefined;
      if (refused) return Promise.resolve(checkCondition(fmt(s), refused));
      // FORMAT UNIT / SANITIZE in progress: only INQUIRY, REPORT LUNS and REQUEST SENSE get through.
      if (s.busy && cdb[0] !== Op.INQUIRY && cdb[0] !== Op.REQUEST_SENSE && cdb[0] !== Op.REPORT_LUNS)
        return Promise.resolve(checkCondition(fmt(s), s.busy.code, { progress: s.busy.progress() }));
      if (s.reservedBy !== undefined && s.reservedBy !== task.nexus.id && !def.reservationExempt) {
        return Promise.resolve({ status: ScsiStatus.ReservationConflict });
      }
      if (s.pr.reservation !== undefined && prConflicts(s.pr, task.nexus, def.pr ?? PrAccess.Write)) {
        return Promise.resolve({ status: ScsiStatus.ReservationConflict });
      }
      if (def.medium && (!s.settings.online || s.ejected))
        return Promise.resolve(checkCondition(fmt(s), MEDIUM_NOT_PRESENT));
      const r = def.run(s, task);
      return r instanceof Promise ? r : Promise.resolve(r);
    } catch (err) {
      s.log.error('command failed', { err, opcode: task.cdb[0] });
      return Promise.resolve(checkCondition(fmt(s), INTERNAL_TARGET_FAILURE));
    }
  }

  function update(change: Partial<DiskSettings>): void {
    const before = { ...s.settings };
    Object.assign(s.settings, change);
    if (change.modePages !== undefined && !sameOverrides(before.modePages, change.modePages)) {
      // New page defaults: keep what initiators changed or saved where the page still has room for it.
      const old = s.modePages;
      s.modePages = createModePages({
        wceDefault: store.capabilities.volatileCache,
        wceChangeable: store.capabilities.volatileCache,
        dsenseCurrent: s.mode.dsense,
        overrides: s.settings.modePages,
      });
      for (const p of s.modePages) {
        const o = old.find((x) => x.code === p.code && x.subpage === p.subpage);
        if (!o || !isSavable(p)) continue;
        if (o.saved && fitsChangeable(p, o.saved)) p.saved = o.saved;
        if (fitsChangeable(p, o.current)) p.current = o.current;
      }
      syncModeState(s);
      s.ua.raise(MODE_PARAMETERS_CHANGED);
    }
    if (change.senseFormat !== undefined && change.senseFormat !== (s.mode.dsense ? 'descriptor' : 'fixed')) {
      const control = s.modePages.find((p) => p.code === 0x0a && p.subpage === 0);
      if (control) {
        control.current = Buffer.from(control.current);
        control.current[2] = (control.current[2] & ~0x04) | (change.senseFormat === 'descriptor' ? 0x04 : 0);
      }
      syncModeState(s);
      s.settings.senseFormat = change.senseFormat;
      s.ua.raise(MODE_PARAMETERS_CHANGED);
    }
    if (before.readonly !== s.settings.readonly) s.ua.raise(MODE_PARAMETERS_CHANGED); // WP bit
    if (
      before.thinProvisioning !== s.settings.thinProvisioning ||
      before.removable !== s.settings.removable ||
      before.optimalTransferLengthGranularity !== s.settings.optimalTransferLengthGranularity ||
      before.optimalTransferLength !== s.settings.optimalTransferLength
    ) {
      s.ua.raise(INQUIRY_DATA_HAS_CHANGED);
    }
    // READ CAPACITY(16) data changed (SBC-3 4.6: CAPACITY DATA HAS CHANGED covers the whole parameter data).
    if (before.lbppbe !== s.settings.lbppbe || before.lowestAlignedLba !== s.settings.lowestAlignedLba)
      s.ua.raise(CAPACITY_DATA_HAS_CHANGED);
    if (!before.online && s.settings.online) s.ua.raise(NOT_READY_TO_READY_CHANGE);
    s.inquiry = inquiryData(params, s.settings, store, bs);
  }

  return {
    store,
    blockSize: bs,
    execute,
    reset(): void {
      s.reservedBy = undefined;
      s.preventRemoval.clear();
      s.ua.reset();
    },
    nexusGone(nexus: ItNexus): void {
      // Persistent reservations belong to the I_T nexus identity and outlive the session.
      s.ua.forget(nexus.id);
      s.nexuses.delete(nexus.id);
      s.preventRemoval.delete(nexus.id);
      if (s.reservedBy === nexus.id) s.reservedBy = undefined;
    },
    persistentReservations: () => s.pr,
    copyEndpoint: () => copyEndpointOf(s),
    capacityBlocks: () => s.blocks,
    settings: () => s.settings,
    modeState: () => s.mode,
    update,
    raiseUnitAttention(code: SenseCode, except?: ItNexus): void {
      s.ua.raise(code, except?.id);
    },
    async refreshCapacity(): Promise<number> {
      const blocks = Math.floor((await store.refreshSize()) / bs);
      if (blocks !== s.blocks) {
        s.blocks = blocks;
        s.ua.raise(CAPACITY_DATA_HAS_CHANGED);
      }
      return blocks;
    },
  };
}
