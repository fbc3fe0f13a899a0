// PERSISTENT RESERVE IN/OUT as an initiator builds and reads them (SPC-4 6.15, 6.16), for tests that
// drive a real tgtd through TestInitiator. Independent of the target's own codec on purpose.
import type { CommandResult, TestInitiator } from './iscsi-client';

export const Prout = {
  Register: 0,
  Reserve: 1,
  Release: 2,
  Clear: 3,
  Preempt: 4,
  PreemptAndAbort: 5,
  RegisterAndIgnore: 6,
  RegisterAndMove: 7,
} as const;

export const Prin = { ReadKeys: 0, ReadReservation: 1, ReportCapabilities: 2, ReadFullStatus: 3 } as const;

export interface ProutParams {
  key?: bigint;
  sark?: bigint;
  aptpl?: boolean;
  allTgPt?: boolean;
  specIPt?: boolean;
  /** Appended after the 24 basic bytes (SPEC_I_PT: 4-byte length + transport IDs). */
  extra?: Buffer;
}

export function proutParams(p: ProutParams): Buffer {
  const b = Buffer.alloc(24);
  b.writeBigUInt64BE(p.key ?? 0n, 0);
  b.writeBigUInt64BE(p.sark ?? 0n, 8);
  b[20] = (p.specIPt ? 0x08 : 0) | (p.allTgPt ? 0x04 : 0) | (p.aptpl ? 0x01 : 0);
  return p.extra ? Buffer.concat([b, p.extra]) : b;
}

export function proutCdb(action: number, type: number, length: number): Buffer {
  const c = Buffer.alloc(10);
  c[0] = 0x5f;
  c[1] = action;
  c[2] = type & 0x0f; // scope 0: logical unit
  c.writeUInt32BE(length, 5);
  return c;
}

export function prout(
  c: TestInitiator,
  lun: number,
  action: number,
  type: number,
  params: Buffer,
): Promise<CommandResult> {
  return c.command(proutCdb(action, type, params.length), { lun, write: params });
}

export function prin(c: TestInitiator, lun: number, action: number, alloc = 8192): Promise<CommandResult> {
  const cdb = Buffer.alloc(10);
  cdb[0] = 0x5e;
  cdb[1] = action;
  cdb.writeUInt16BE(alloc, 7);
  return c.command(cdb, { lun, read: alloc });
}

export interface FullStatusEntry {
  key: bigint;
  allTgPt: boolean;
  holder: boolean;
  type: number;
  relativeTargetPortId: number;
  /** iSCSI TransportID name (with `,i,0x<isid>` for format 01b). */
  transportId: string;
}

export function parseFullStatus(d: Buffer): { generation: number; entries: FullStatusEntry[] } {
  const generation = d.readUInt32BE(0);
  const end = 8 + d.readUInt32BE(4);
  const entries: FullStatusEntry[] = [];
  for (let at = 8; at + 24 <= end;) {
    const tidLen = d.readUInt32BE(at + 20);
    const tid = d.subarray(at + 24, at + 24 + tidLen);
    const nameLen = tid.readUInt16BE(2);
    entries.push({
      key: d.readBigUInt64BE(at),
      allTgPt: (d[at + 12] & 0x02) !== 0,
      holder: (d[at + 12] & 0x01) !== 0,
      type: d[at + 13] & 0x0f,
      relativeTargetPortId: d.readUInt16BE(at + 18),
      transportId: tid
        .subarray(4, 4 + nameLen)
        .toString('utf8')
        .replace(/\0+$/, ''),
    });
    at += 24 + tidLen;
  }
  return { generation, entries };
}

export function parseKeys(d: Buffer): { generation: number; keys: bigint[] } {
  const n = d.readUInt32BE(4) / 8;
  const keys: bigint[] = [];
  for (let i = 0; i < n; i++) keys.push(d.readBigUInt64BE(8 + 8 * i));
  return { generation: d.readUInt32BE(0), keys };
}

export function parseReservation(d: Buffer): { generation: number; key?: bigint; type?: number } {
  const generation = d.readUInt32BE(0);
  if (d.readUInt32BE(4) === 0) return { generation };
  return { generation, key: d.readBigUInt64BE(8), type: d[21] & 0x0f };
}

/** iSCSI TransportID (SPC-4 7.6.4.6): format 00b (name) or 01b (name + ",i,0x" + ISID). */
export function iscsiTransportIdOf(name: string, isid?: string): Buffer {
  const text = isid === undefined ? name : `${name},i,0x${isid}`;
  const raw = Buffer.from(text, 'utf8');
  const len = (raw.length + 1 + 3) & ~3;
  const b = Buffer.alloc(4 + len);
  b[0] = (isid === undefined ? 0x00 : 0x40) | 0x05;
  b.writeUInt16BE(len, 2);
  raw.copy(b, 4);
  return b;
}

/** Sense key / ASC / ASCQ of fixed or descriptor sense data. */
export function senseOf(r: CommandResult): { key: number; asc: number; ascq: number } | undefined {
  const s = r.sense;
  if (!s || s.length < 4) return undefined;
  const code = s[0] & 0x7f;
  if (code === 0x72 || code === 0x73) return { key: s[1] & 0x0f, asc: s[2], ascq: s[3] };
  return { key: s[2] & 0x0f, asc: s[12], ascq: s[13] };
}

/** Runs TEST UNIT READY until GOOD, returning the unit attentions it consumed (ASC/ASCQ pairs). */
export async function drainUnitAttentions(c: TestInitiator, lun: number, max = 10): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < max; i++) {
    const r = await c.command(Buffer.alloc(6), { lun });
    if (r.status === 0) return seen;
    const s = senseOf(r);
    if (r.status !== 2 || !s || s.key !== 6)
      throw new Error(`TEST UNIT READY: status ${r.status} sense ${JSON.stringify(s)}`);
    seen.push(ascq(s.asc, s.ascq));
  }
  throw new Error(`more than ${max} unit attentions pending: ${seen.join(' ')}`);
}

export const ascq = (asc: number, q: number): string =>
  `${asc.toString(16).padStart(2, '0')}/${q.toString(16).padStart(2, '0')}`;
