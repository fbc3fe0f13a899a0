// Reading tgtadm's `--op show --mode target` / `--mode account` text back (what tgt-admin does to learn
// the daemon's state), and tgt-admin's `--dump` rendering of it. Pure.

import { isIP } from 'node:net';

/** An `--initiator-address` rule (address, [v6], address/prefix, ALL) rather than an initiator name. */
export function isAddressRule(rule: string): boolean {
  if (rule === 'ALL') return true;
  const m = /^\[?([^\]/]+)\]?(\/\d+)?$/.exec(rule);
  return m !== null && isIP(m[1]) !== 0;
}

/** One LUN's lines of `--op show`. */
export interface ShownLun {
  lun: number;
  blockSize: number;
  bstype: string;
  /** undefined for "None" (LUN 0, a removable LU without medium). */
  path: string | undefined;
  /** `--bsoflags` as shown, '' when none. */
  oflags: string;
}

export interface ShownTarget {
  tid: number;
  name: string;
  driver: string;
  /** Backing store paths of the LUNs that have one (LUN 0's "None" excluded). */
  backingStores: string[];
  luns: ShownLun[];
  /** Account lines: "user" or "user (outgoing)". */
  accounts: string[];
  acls: string[];
  /** An initiator is connected. */
  inUse: boolean;
}

export function parseShowTargets(text: string): ShownTarget[] {
  const out: ShownTarget[] = [];
  let cur: ShownTarget | undefined;
  let section = '';
  for (const line of text.split('\n')) {
    const head = /^Target (\d+): (.+)$/.exec(line);
    if (head) {
      cur = {
        tid: Number(head[1]),
        name: head[2],
        driver: '',
        backingStores: [],
        luns: [],
        accounts: [],
        acls: [],
        inUse: false,
      };
      out.push(cur);
      section = '';
      continue;
    }
    if (!cur) continue;
    const sec = /^ {4}(\S.*):$/.exec(line);
    if (sec) {
      section = sec[1];
      continue;
    }
    const item = line.trim();
    if (item === '') continue;
    if (section === 'System information' && item.startsWith('Driver: ')) cur.driver = item.slice(8);
    else if (section === 'I_T nexus information' && item.startsWith('Connection:')) cur.inUse = true;
    else if (section === 'LUN information') {
      const lun = /^LUN: (\d+)$/.exec(item);
      const last = cur.luns[cur.luns.length - 1];
      if (lun)
        cur.luns.push({ lun: Number(lun[1]), blockSize: 512, bstype: '', path: undefined, oflags: '' });
      else if (!last) continue;
      else if (item.startsWith('Backing store path: ')) {
        const p = item.slice('Backing store path: '.length);
        if (p !== 'None') {
          cur.backingStores.push(p);
          last.path = p;
        }
      } else if (item.startsWith('Backing store type: '))
        last.bstype = item.slice('Backing store type: '.length);
      else if (item.startsWith('Backing store flags:'))
        last.oflags = item.slice('Backing store flags:'.length).trim();
      else {
        const bs = /Block size: (\d+)$/.exec(item);
        if (bs) last.blockSize = Number(bs[1]);
      }
    } else if (section === 'Account information') cur.accounts.push(item);
    else if (section === 'ACL information') cur.acls.push(item);
  }
  return out;
}

export function parseShowAccounts(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => /^\s+\S/.test(l))
    .map((l) => l.trim());
}

/** Key of `storeOptions` in dumpConfig: the LU's `--bsopts` by target and LUN. */
export const storeOptionsKey = (tid: number, lun: number): string => `${tid}:${lun}`;

/** One LUN as a `<backing-store>` block that recreates it as it is: LUN number, store type and its
 *  options and flags, block size (tgt's tgt-admin prints only the path, losing all of them). */
function dumpLun(tid: number, l: ShownLun, storeOptions: ReadonlyMap<string, string>): string {
  let out = `\t<backing-store ${l.path}>\n\t\tlun ${l.lun}\n`;
  if (l.bstype) out += `\t\tbs-type ${l.bstype}\n`;
  const opts = storeOptions.get(storeOptionsKey(tid, l.lun));
  if (opts) out += `\t\tbsopts ${opts}\n`;
  if (l.oflags) out += `\t\tbsoflags ${l.oflags}\n`;
  if (l.blockSize !== 512) out += `\t\tblock-size ${l.blockSize}\n`;
  return out + '\t</backing-store>\n';
}

/** tgt-admin --dump: the running configuration as targets.conf text, with the accounts' passwords when
 *  known (tgt's tgt-admin cannot read them back and prints a placeholder). */
export function dumpConfig(
  targets: ShownTarget[],
  passwords: ReadonlyMap<string, string> = new Map(),
  storeOptions: ReadonlyMap<string, string> = new Map(),
): string {
  const drivers = [...new Set(targets.map((t) => t.driver))].sort();
  let out = drivers.length === 1 ? `default-driver ${drivers[0]}\n\n` : '';
  for (const t of targets) {
    out += `<target ${t.name}>\n`;
    if (drivers.length > 1) out += `\tdriver ${t.driver}\n`;
    for (const l of t.luns) if (l.path !== undefined) out += dumpLun(t.tid, l, storeOptions);
    for (const a of t.accounts) {
      const m = /^(.+) \(outgoing\)$/.exec(a);
      const user = m ? m[1] : a;
      const password = passwords.get(user) ?? 'PLEASE_CORRECT_THE_PASSWORD';
      out += m ? `\toutgoinguser ${user} ${password}\n` : `\tincominguser ${user} ${password}\n`;
    }
    if (!(t.acls.length === 1 && t.acls[0] === 'ALL')) {
      for (const acl of t.acls) {
        // tgt-admin tests /^[0-9,.E]+$/, which files CIDR and IPv6 rules as names; we test for an address.
        out += isAddressRule(acl) ? `\tinitiator-address ${acl}\n` : `\tinitiator-name ${acl}\n`;
      }
    }
    out += '</target>\n\n';
  }
  return out;
}
