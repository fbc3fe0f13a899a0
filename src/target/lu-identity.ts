// Identifiers of a logical unit: tgt's default SCSI ID / serial number and the NAA designator.
import { createHash } from 'node:crypto';

/** tgt's default `scsi_id`: "IET" padded to 8, then tid and LUN as 4 hex digits each. */
export function defaultScsiId(tid: number, lun: number): string {
  return `IET     ${tid.toString(16).padStart(4, '0')}${lun.toString(16).padStart(4, '0')}`;
}

/** tgt's default `scsi_sn`: "beaf" then tid and LUN in decimal, unseparated. */
export function defaultScsiSn(tid: number, lun: number): string {
  return `beaf${tid}${lun}`;
}

/** Company id in our NAA designators. It has the IEEE "locally administered" bit (0x02 in the first
 *  octet) set, so it can never collide with an IEEE-assigned OUI/CID of a real vendor. */
export const NAA_COMPANY_ID = 0x02c754;

/**
 * NAA IEEE Registered Extended designator (NAA type 6, 16 bytes, SPC-4 7.8.6.6.5):
 * 4 bits NAA=6, 24 bits company id, then 100 bits taken from SHA-256(target name, LUN, backing path).
 * The same target name + LUN + backing store path always give the same designator, across daemon
 * restarts and hosts; any change of the three gives a different one (with overwhelming probability).
 */
export function deriveNaa(targetName: string, lun: number, backingPath: string): Buffer {
  const digest = createHash('sha256').update(`${targetName}\0${lun}\0${backingPath}`).digest();
  const naa = Buffer.alloc(16);
  naa[0] = 0x60 | ((NAA_COMPANY_ID >> 20) & 0x0f);
  naa[1] = (NAA_COMPANY_ID >> 12) & 0xff;
  naa[2] = (NAA_COMPANY_ID >> 4) & 0xff;
  naa[3] = ((NAA_COMPANY_ID & 0x0f) << 4) | (digest[0] & 0x0f);
  digest.copy(naa, 4, 1, 13);
  return naa;
}
