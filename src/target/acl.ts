// Initiator access control, matched the way tgt does (usr/iscsi/target.c ip_acl / iqn_acl):
//  - address rules: `ALL`, an exact IPv4/IPv6 address, `[v6addr]`, or `addr/prefix` (CIDR);
//  - name rules: exact initiator name;
//  - a login is allowed only if SOME address rule matches (no address rule = nobody, as in tgt) AND,
//    when name rules exist, one of them matches.
// Deliberate differences from tgt (whose arithmetic has edge-case bugs): `/32` (IPv4) and `/128`
// (IPv6) match exactly that address (tgt never matches them), and `/0` matches every address of the
// family (tgt treats it as an exact match). Like tgt, an IPv4 rule with host bits set below the
// prefix (e.g. 192.168.0.1/24) matches nothing.
import { isIPv4, isIPv6 } from 'node:net';

/** Strip an IPv4-mapped IPv6 prefix so `::ffff:10.0.0.1` is compared as IPv4 (Node reports it so). */
export function normalizePeerAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1] : address;
}

function ipv4ToInt(a: string): number {
  return a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

/** 8 16-bit groups of a valid IPv6 address (an embedded IPv4 tail becomes two groups). */
export function ipv6ToGroups(a: string): number[] {
  let addr = a;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  if (v4) {
    const n = ipv4ToInt(v4[1]);
    const hex = `${Math.floor(n / 65536).toString(16)}:${(n % 65536).toString(16)}`;
    addr = addr.slice(0, addr.length - v4[1].length) + hex;
  }
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const gap = addr.indexOf('::');
  if (gap < 0) return parse(addr);
  const head = parse(addr.slice(0, gap));
  const tail = parse(addr.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

function v4Match(rule: string, peer: string, prefix: number | undefined): boolean {
  const r = ipv4ToInt(rule);
  const p = ipv4ToInt(peer);
  if (prefix === undefined) return r === p;
  if (prefix > 32) return false;
  const hostBits = 32 - prefix;
  const block = 2 ** hostBits;
  if (r % block !== 0) return false; // tgt: host bits set in the rule never match
  return Math.floor(r / block) === Math.floor(p / block);
}

function v6Match(rule: string, peer: string, prefix: number | undefined): boolean {
  const r = ipv6ToGroups(rule);
  const p = ipv6ToGroups(peer);
  const bits = prefix === undefined ? 128 : prefix;
  if (bits > 128) return false;
  for (let i = 0; i < 8; i++) {
    const take = Math.max(0, Math.min(16, bits - i * 16));
    if (take === 0) break;
    const mask = (0xffff << (16 - take)) & 0xffff;
    if ((r[i] & mask) !== (p[i] & mask)) return false;
  }
  return true;
}

/** Does one `--initiator-address` rule admit the peer address? */
export function addressRuleMatches(rule: string, peerAddress: string): boolean {
  if (rule === 'ALL') return true;
  const peer = normalizePeerAddress(peerAddress);
  let addr = rule;
  let prefixText: string | undefined;
  const bracket = /^\[([^\]]*)\](.*)$/.exec(rule);
  if (bracket) {
    addr = bracket[1];
    if (bracket[2] !== '') {
      if (!bracket[2].startsWith('/')) return false;
      prefixText = bracket[2].slice(1);
    }
  } else {
    const slash = rule.indexOf('/');
    if (slash >= 0) {
      addr = rule.slice(0, slash);
      prefixText = rule.slice(slash + 1);
    }
  }
  let prefix: number | undefined;
  if (prefixText !== undefined) {
    if (!/^\d+$/.test(prefixText)) return false;
    prefix = Number(prefixText);
  }
  if (isIPv4(addr)) return isIPv4(peer) && v4Match(addr, peer, prefix);
  if (isIPv6(addr)) return isIPv6(peer) && v6Match(addr, peer, prefix);
  return false;
}

export function isInitiatorAllowed(
  addressRules: readonly string[],
  nameRules: readonly string[],
  initiatorName: string,
  peerAddress: string,
): boolean {
  if (!addressRules.some((r) => addressRuleMatches(r, peerAddress))) return false;
  return nameRules.length === 0 || nameRules.includes(initiatorName);
}
