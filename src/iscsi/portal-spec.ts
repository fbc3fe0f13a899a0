// tgt's `--iscsi portal=ADDR[:PORT][,portal=...],nop_interval=S,nop_count=N` option, parsed (pure).

export interface IscsiOptions {
  portals: Array<{ address: string; port: number }>;
  nopInterval?: number;
  nopCount?: number;
}

export const DEFAULT_ISCSI_PORT = 3260;

/** Parse one `ADDR[:PORT]` (IPv6 in brackets: `[::1]:3260`; a bare IPv6 address without a port is allowed). */
export function parsePortal(spec: string): { address: string; port: number } {
  let address: string;
  let port = DEFAULT_ISCSI_PORT;
  const s = spec.trim();
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) throw new Error(`bad portal '${spec}': missing ']'`);
    address = s.slice(1, end);
    const rest = s.slice(end + 1);
    if (rest.length > 0) {
      if (!rest.startsWith(':')) throw new Error(`bad portal '${spec}'`);
      port = parsePort(rest.slice(1), spec);
    }
  } else if ((s.match(/:/g) ?? []).length > 1) {
    address = s; // bare IPv6
  } else {
    const i = s.indexOf(':');
    address = i < 0 ? s : s.slice(0, i);
    if (i >= 0) port = parsePort(s.slice(i + 1), spec);
  }
  if (address === '' || address === '*') address = '0.0.0.0';
  return { address, port };
}

function parsePort(p: string, spec: string): number {
  if (!/^\d+$/.test(p)) throw new Error(`bad portal '${spec}': port must be a number`);
  const n = Number(p);
  if (n < 1 || n > 65535) throw new Error(`bad portal '${spec}': port out of range`);
  return n;
}

/** Parse every `--iscsi` argument (each may hold several comma-separated settings). */
export function parseIscsiOptions(args: string[]): IscsiOptions {
  const out: IscsiOptions = { portals: [] };
  for (const arg of args) {
    for (const item of splitItems(arg)) {
      const eq = item.indexOf('=');
      if (eq < 0) throw new Error(`bad --iscsi option '${item}': expected key=value`);
      const key = item.slice(0, eq).trim();
      const value = item.slice(eq + 1).trim();
      switch (key) {
        case 'portal':
          out.portals.push(parsePortal(value));
          break;
        case 'nop_interval':
          out.nopInterval = parseNonNegative(key, value);
          break;
        case 'nop_count':
          out.nopCount = parseNonNegative(key, value);
          break;
        default:
          throw new Error(`unknown --iscsi option '${key}'`);
      }
    }
  }
  return out;
}

/** Split on commas that are not inside [...] (IPv6 literals have none, but be safe). */
function splitItems(arg: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of arg) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (ch === ',' && depth === 0) {
      if (cur.trim()) items.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) items.push(cur);
  return items;
}

function parseNonNegative(key: string, v: string): number {
  if (!/^\d+$/.test(v)) throw new Error(`bad ${key} '${v}': expected a non-negative integer`);
  return Number(v);
}
