// iSCSI TransportIDs (SPC-4 7.6.4.6): how PERSISTENT RESERVE OUT names other initiator ports (SPEC_I_PT
// lists, REGISTER AND MOVE destinations) and how READ FULL STATUS reports registrants. Pure codec.
//
// Format 00b carries the iSCSI name alone and stands for every initiator port of that initiator device;
// format 01b carries "<name>,i,0x<ISID>" and names one initiator port. Registrations keep the same text
// as their initiator identity: a bare name (format 00b) matches any ISID.

/** SCSI protocol identifier for iSCSI. */
export const ISCSI_PROTOCOL_ID = 0x5;
const ISID_SEPARATOR = ',i,0x';

export interface IscsiTransportId {
  /** The iSCSI name of the initiator device. */
  name: string;
  /** Lower-case 12 hex digits for format 01b; undefined for format 00b. */
  isid?: string;
  /** Bytes the TransportID takes (4 + ADDITIONAL LENGTH). */
  length: number;
}

/** Where a malformed TransportID went wrong (byte offset in the buffer handed in, optional bit). */
export interface TransportIdError {
  byte: number;
  bit?: number;
}

/** The initiator identity a TransportID stands for: `name,i,0x<isid>` or the bare name. */
export function transportIdIdentity(t: Pick<IscsiTransportId, 'name' | 'isid'>): string {
  return t.isid === undefined ? t.name : `${t.name}${ISID_SEPARATOR}${t.isid}`;
}

/** The iSCSI name part of an initiator identity (port name or bare name). */
export function initiatorNameOf(identity: string): string {
  const at = identity.indexOf(ISID_SEPARATOR);
  return at < 0 ? identity : identity.slice(0, at);
}

/** Does a registration's initiator identity (a port name, or a bare name for every port) cover this
 *  initiator port? */
export function initiatorMatches(identity: string, initiatorPortName: string): boolean {
  if (identity === initiatorPortName) return true;
  return !identity.includes(ISID_SEPARATOR) && identity === initiatorNameOf(initiatorPortName);
}

const VALID_NAME = /^(iqn\.|eui\.|naa\.)/i;

/** Parse the TransportID that starts at `at` (its end must lie within `end`). */
export function parseIscsiTransportId(
  b: Buffer,
  at: number,
  end = b.length,
): IscsiTransportId | TransportIdError {
  if (at + 4 > end) return { byte: at };
  if ((b[at] & 0x0f) !== ISCSI_PROTOCOL_ID) return { byte: at, bit: 3 };
  const format = b[at] >> 6;
  if (format > 1 || b[at] & 0x30) return { byte: at, bit: 7 };
  const additional = b.readUInt16BE(at + 2);
  if (additional === 0 || additional % 4 !== 0 || at + 4 + additional > end) return { byte: at + 2 };
  const body = b.subarray(at + 4, at + 4 + additional);
  const nul = body.indexOf(0);
  if (nul <= 0) return { byte: at + 4 };
  // Everything after the terminating null is padding.
  for (let i = nul; i < body.length; i++) if (body[i] !== 0) return { byte: at + 4 + i };
  const text = body.subarray(0, nul).toString('utf8');
  let name = text;
  let isid: string | undefined;
  const sep = text.toLowerCase().indexOf(ISID_SEPARATOR);
  if (format === 1) {
    if (sep < 0) return { byte: at + 4 };
    name = text.slice(0, sep);
    isid = text.slice(sep + ISID_SEPARATOR.length).toLowerCase();
    if (!/^[0-9a-f]{12}$/.test(isid)) return { byte: at + 4 + sep + ISID_SEPARATOR.length };
  } else if (sep >= 0) {
    return { byte: at + 4 + sep };
  }
  if (!VALID_NAME.test(name) || name.length > 223) return { byte: at + 4 };
  return { name, isid, length: 4 + additional };
}

export function isTransportIdError(x: IscsiTransportId | TransportIdError): x is TransportIdError {
  return (x as IscsiTransportId).name === undefined;
}

/** Encode an initiator identity as an iSCSI TransportID (format 01b when it carries an ISID), padded
 *  to a multiple of 4 and at least 20 bytes of name as SPC-4 asks. */
export function encodeIscsiTransportId(identity: string): Buffer {
  const withIsid = identity.includes(ISID_SEPARATOR);
  const name = Buffer.from(identity, 'utf8');
  const len = Math.max(20, (name.length + 1 + 3) & ~3);
  const b = Buffer.alloc(4 + len);
  b[0] = (withIsid ? 0x40 : 0x00) | ISCSI_PROTOCOL_ID;
  b.writeUInt16BE(len, 2);
  name.copy(b, 4);
  return b;
}
