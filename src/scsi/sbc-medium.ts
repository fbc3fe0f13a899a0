// Removable-medium commands (SBC-3 5.25, SPC-4 6.17): START STOP UNIT loads and ejects the medium of a
// removable LU, PREVENT ALLOW MEDIUM REMOVAL blocks ejection per I_T nexus. A non-removable LU accepts both
// and stays as it is.
import { fmt, good, type DiskState } from './disk-state';
import type { ScsiResult, ScsiTask } from './scsi-types';
import { checkCondition, invalidCdbField, SenseKey, type SenseCode } from './sense';

export const MEDIUM_REMOVAL_PREVENTED: SenseCode = Object.freeze({
  key: SenseKey.IllegalRequest,
  asc: 0x53,
  ascq: 0x02,
});

export function startStopUnit(s: DiskState, task: ScsiTask): ScsiResult {
  const cdb = task.cdb;
  const f = fmt(s);
  if (cdb[1] & 0xfe) return invalidCdbField(f, 1, 7);
  if (cdb[2]) return invalidCdbField(f, 2, 7);
  if (cdb[3] & 0xf0) return invalidCdbField(f, 3, 7);
  if (cdb[4] & 0x08) return invalidCdbField(f, 4, 3);
  if (cdb[5] & 0x04) return invalidCdbField(f, 5, 2);
  const powerCondition = cdb[4] >> 4;
  if (powerCondition !== 0) return good(); // power conditions: accepted, nothing to change
  const loej = (cdb[4] & 0x02) !== 0;
  const start = (cdb[4] & 0x01) !== 0;
  if (!loej || !s.settings.removable) return good();
  // While removal is prevented the medium stays as it is, loaded or not (libiscsi PreventAllow.Eject).
  if (s.preventRemoval.size > 0) return checkCondition(f, MEDIUM_REMOVAL_PREVENTED);
  s.ejected = !start;
  return good();
}

export function preventAllowMediumRemoval(s: DiskState, task: ScsiTask): ScsiResult {
  const cdb = task.cdb;
  const f = fmt(s);
  if (cdb[1] || cdb[2] || cdb[3]) return invalidCdbField(f, cdb[1] ? 1 : cdb[2] ? 2 : 3, 7);
  if (cdb[4] & 0xfc) return invalidCdbField(f, 4, 7);
  if (cdb[5] & 0x04) return invalidCdbField(f, 5, 2);
  const prevent = cdb[4] & 0x03;
  if (prevent === 0) s.preventRemoval.delete(task.nexus.id);
  else if (prevent === 1) {
    if (s.settings.removable) s.preventRemoval.add(task.nexus.id);
  } else return invalidCdbField(f, 4, 1); // medium changer element prevention: obsolete here
  return good();
}
