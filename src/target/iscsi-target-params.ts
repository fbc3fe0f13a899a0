// Per-target iSCSI operational keys settable by `tgtadm --op update --mode target -n K -v V`, with
// tgt 1.0.85's defaults, ranges, parsing and display (`--op show --mode target --tid N`). Values are
// checked like tgt (strtol-style numbers, exact "Yes"/"No", digest lists) and kept as the canonical
// strings the iSCSI transport negotiates with.

type Kind = 'number' | 'bool' | 'digest' | 'marker';

interface KeyDef {
  name: string;
  kind: Kind;
  def: string;
  min?: number;
  max?: number;
  /** Values allowed outside [min, max] (MaxOutstandingUnexpectedPDUs: 0 = unlimited). */
  also?: number[];
}

/** In tgt's display order. */
export const ISCSI_TARGET_KEYS: readonly KeyDef[] = [
  { name: 'MaxRecvDataSegmentLength', kind: 'number', def: '8192', min: 512, max: 16777215 },
  { name: 'HeaderDigest', kind: 'digest', def: 'None' },
  { name: 'DataDigest', kind: 'digest', def: 'None' },
  { name: 'InitialR2T', kind: 'bool', def: 'Yes' },
  { name: 'MaxOutstandingR2T', kind: 'number', def: '1', min: 1, max: 65535 },
  { name: 'ImmediateData', kind: 'bool', def: 'Yes' },
  { name: 'FirstBurstLength', kind: 'number', def: '65536', min: 512, max: 16777215 },
  { name: 'MaxBurstLength', kind: 'number', def: '262144', min: 512, max: 16777215 },
  { name: 'DataPDUInOrder', kind: 'bool', def: 'Yes' },
  { name: 'DataSequenceInOrder', kind: 'bool', def: 'Yes' },
  { name: 'ErrorRecoveryLevel', kind: 'number', def: '0', min: 0, max: 2 },
  { name: 'IFMarker', kind: 'bool', def: 'No' },
  { name: 'OFMarker', kind: 'bool', def: 'No' },
  { name: 'DefaultTime2Wait', kind: 'number', def: '2', min: 0, max: 3600 },
  { name: 'DefaultTime2Retain', kind: 'number', def: '20', min: 0, max: 3600 },
  { name: 'OFMarkInt', kind: 'marker', def: '2048' },
  { name: 'IFMarkInt', kind: 'marker', def: '2048' },
  { name: 'MaxConnections', kind: 'number', def: '1', min: 1, max: 65535 },
  { name: 'RDMAExtensions', kind: 'bool', def: 'Yes' },
  { name: 'TargetRecvDataSegmentLength', kind: 'number', def: '262144', min: 512, max: 16777215 },
  { name: 'InitiatorRecvDataSegmentLength', kind: 'number', def: '262144', min: 512, max: 16777215 },
  { name: 'MaxOutstandingUnexpectedPDUs', kind: 'number', def: '0', min: 2, max: 4294967295, also: [0] },
  { name: 'MaxXmitDataSegmentLength', kind: 'number', def: '8192', min: 512, max: 16777215 },
  { name: 'MaxQueueCmd', kind: 'number', def: '128', min: 1, max: 512 },
];

/** C strtol(str, NULL, 0): optional sign, 0x hex / leading-0 octal / decimal prefix; junk stops it. */
export function strtol(text: string): number {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(text);
  if (!m) return 0;
  const body = m[2];
  let v: number;
  if (/^0[xX]/.test(body)) v = parseInt(body.slice(2), 16);
  else if (body.length > 1 && body.startsWith('0')) v = parseInt(body, 8);
  else v = parseInt(body, 10);
  return m[1] === '-' ? -v : v;
}

/** C atoi. */
export function atoi(text: string): number {
  const m = /^\s*([+-]?\d+)/.exec(text);
  return m ? parseInt(m[1], 10) : 0;
}

export function findIscsiKey(name: string): KeyDef | undefined {
  const lower = name.toLowerCase();
  return ISCSI_TARGET_KEYS.find((k) => k.name.toLowerCase() === lower);
}

/** Parse a tgt digest list ("None", "CRC32C", "None,CRC32C"; tgt compares each item by prefix). */
function parseDigest(value: string): string | undefined {
  const items = value.split(',');
  let none = false;
  let crc = false;
  for (const item of items) {
    if (item.startsWith('None')) none = true;
    else if (item.startsWith('CRC32C')) crc = true;
    else return undefined;
  }
  if (crc && none) return items[0].startsWith('CRC32C') ? 'CRC32C,None' : 'None,CRC32C';
  return crc ? 'CRC32C' : 'None';
}

/** Validate a value for a key; returns the canonical stored value, or undefined if tgt refuses it. */
export function canonicalIscsiValue(key: KeyDef, value: string): string | undefined {
  switch (key.kind) {
    case 'bool':
      return value === 'Yes' || value === 'No' ? value : undefined;
    case 'digest':
      return parseDigest(value);
    case 'marker':
      return String(strtol(value));
    case 'number': {
      const v = strtol(value);
      const ok = (v >= (key.min ?? 0) && v <= (key.max ?? Infinity)) || (key.also ?? []).includes(v);
      return ok ? String(v) : undefined;
    }
  }
}

/** How tgt shows a stored value. */
export function displayIscsiValue(key: KeyDef, stored: string): string {
  if (key.kind === 'digest') return stored.includes('CRC32C') ? 'CRC32C' : 'None';
  if (key.kind === 'marker') return stored === '0' ? 'Irrelevant' : 'Reject';
  return stored;
}
