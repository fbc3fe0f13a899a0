// tgtadm's command line, parsed exactly as tgt 1.0.85's tgtadm does (getopt_long plus its per-mode
// checks, with the same messages and exit codes), into a management request. Pure: no I/O.
//
// Deliberate difference: tgt declares -F and -O as taking an argument (a bug: `-O` alone fails);
// here -F/--force and -O/--outgoing are plain flags.
import type { MgmtMode, MgmtOp, MgmtRequest } from './mgmt-protocol';

export const TGTADM_VERSION = '1.0.85';

export type TgtadmParse =
  | { kind: 'request'; request: MgmtRequest; controlPort: number }
  | { kind: 'exit'; code: number; stdout: string; stderr: string };

interface OptDef {
  long: string;
  short: string;
  arg: boolean;
}

const OPTIONS: OptDef[] = [
  { long: 'debug', short: 'd', arg: false },
  { long: 'help', short: 'h', arg: false },
  { long: 'version', short: 'V', arg: false },
  { long: 'lld', short: 'L', arg: true },
  { long: 'op', short: 'o', arg: true },
  { long: 'mode', short: 'm', arg: true },
  { long: 'tid', short: 't', arg: true },
  { long: 'sid', short: 's', arg: true },
  { long: 'cid', short: 'c', arg: true },
  { long: 'lun', short: 'l', arg: true },
  { long: 'name', short: 'n', arg: true },
  { long: 'value', short: 'v', arg: true },
  { long: 'backing-store', short: 'b', arg: true },
  { long: 'bstype', short: 'E', arg: true },
  { long: 'bsopts', short: 'S', arg: true },
  { long: 'bsoflags', short: 'f', arg: true },
  { long: 'blocksize', short: 'y', arg: true },
  { long: 'targetname', short: 'T', arg: true },
  { long: 'initiator-address', short: 'I', arg: true },
  { long: 'initiator-name', short: 'Q', arg: true },
  { long: 'user', short: 'u', arg: true },
  { long: 'password', short: 'p', arg: true },
  { long: 'host', short: 'H', arg: true },
  { long: 'force', short: 'F', arg: false },
  { long: 'params', short: 'P', arg: true },
  { long: 'bus', short: 'B', arg: true },
  { long: 'device-type', short: 'Y', arg: true },
  { long: 'outgoing', short: 'O', arg: false },
  { long: 'control-port', short: 'C', arg: true },
];

const MODES: Record<string, MgmtMode> = {
  system: 'system',
  sys: 'system',
  target: 'target',
  tgt: 'target',
  logicalunit: 'logicalunit',
  lu: 'logicalunit',
  portal: 'portal',
  pt: 'portal',
  session: 'session',
  sess: 'session',
  connection: 'connection',
  conn: 'connection',
  account: 'account',
  lld: 'lld',
};

/** In tgt's enum order (its lld-mode message prints the number). */
const OPS: MgmtOp[] = ['new', 'delete', 'show', 'bind', 'unbind', 'update', 'stat', 'start', 'stop'];
const DEVICE_TYPES = ['disk', 'tape', 'cd', 'changer', 'osd', 'ssc', 'pt'];

export const TGTADM_USAGE = `Linux SCSI Target administration utility, version ${TGTADM_VERSION}

Usage: tgtadm [OPTION]
--lld <driver> --mode target --op new --tid <id> --targetname <name>
\tadd a new target with <id> and <name>. <id> must not be zero.
--lld <driver> --mode target --op delete [--force] --tid <id>
\tdelete the specific target with <id>.
\tWith force option, the specific target is deleted
\teven if there is an activity.
--lld <driver> --mode target --op show
\tshow all the targets.
--lld <driver> --mode target --op show --tid <id>
\tshow the specific target's parameters.
--lld <driver> --mode target --op update --tid <id> --name <param> --value <value>
\tchange the target parameters of the target with <id>.
--lld <driver> --mode target --op bind --tid <id> --initiator-address <address>
--lld <driver> --mode target --op bind --tid <id> --initiator-name <name>
\tenable the target to accept the specific initiators.
--lld <driver> --mode target --op unbind --tid <id> --initiator-address <address>
--lld <driver> --mode target --op unbind --tid <id> --initiator-name <name>
\tdisable the specific permitted initiators.
--lld <driver> --mode logicalunit --op new --tid <id> --lun <lun>
  --backing-store <path> --bstype <type> --bsopts <bs options> --bsoflags <options>
\tadd a new logical unit with <lun> to the specific
\ttarget with <id>. The logical unit is offered
\tto the initiators. <path> must be block device files
\t(including LVM and RAID devices) or regular files.
\tbstype option is optional.
\tbsopts are specific to the bstype.
\tbsoflags supported options are sync and direct
\t(sync:direct for both).
--lld <driver> --mode logicalunit --op delete --tid <id> --lun <lun>
\tdelete the specific logical unit with <lun> that
\tthe target with <id> has.
--lld <driver> --mode account --op new --user <name> --password <pass>
\tadd a new account with <name> and <pass>.
--lld <driver> --mode account --op delete --user <name>
\tdelete the specific account having <name>.
--lld <driver> --mode account --op bind --tid <id> --user <name> [--outgoing]
\tadd the specific account having <name> to
\tthe specific target with <id>.
\t<user> could be <IncomingUser> or <OutgoingUser>.
\tIf you use --outgoing option, the account will
\tbe added as an outgoing account.
--lld <driver> --mode account --op unbind --tid <id> --user <name> [--outgoing]
\tdelete the specific account having <name> from specific
\ttarget. The --outgoing option must be added if you
\tdelete an outgoing account.
--lld <driver> --mode lld --op start
\tStart the specified lld without restarting the tgtd process.
--control-port <port> use control port <port>
--help
\tdisplay this help and exit

Report bugs to <stgt@vger.kernel.org>.
`;

const TRY_HELP = "Try `tgtadm --help' for more information.\n";
const EINVAL = 22;

class Exit {
  constructor(
    readonly code: number,
    readonly stderr: string,
    readonly stdout = '',
  ) {}
}

const fail = (msg: string, code = EINVAL): Exit => new Exit(code, `tgtadm: ${msg}\n`);
const usageFail = (msg: string): Exit => new Exit(EINVAL, msg + TRY_HELP);

/** tgt's str_to_int: leading decimal digits (junk after them ignored), within [0, max]. */
function toInt(ch: string, text: string, max: number): number {
  const m = /^\s*\+?(\d+)/.exec(text);
  if (!m) throw usageFail(`-${ch} argument value '${text}' invalid\n`);
  const v = Number(m[1]);
  if (v > max) throw usageFail(`-${ch} argument value '${text}' out of range\n`);
  return v;
}

/** getopt_long with argument permutation: options in order, then the leftover operands. */
function getopt(argv: string[]): { opts: Array<[string, string | undefined]>; operands: string[] } {
  const opts: Array<[string, string | undefined]> = [];
  const operands: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      const exact = OPTIONS.find((o) => o.long === name);
      const prefixed = OPTIONS.filter((o) => o.long.startsWith(name));
      const def = exact ?? (prefixed.length === 1 ? prefixed[0] : undefined);
      if (!def) {
        if (prefixed.length > 1) throw usageFail(`tgtadm: option '${a}' is ambiguous\n`);
        throw usageFail(`tgtadm: unrecognized option '${a}'\n`);
      }
      if (!def.arg) {
        if (eq >= 0) throw usageFail(`tgtadm: option '--${def.long}' doesn't allow an argument\n`);
        opts.push([def.short, undefined]);
      } else if (eq >= 0) {
        opts.push([def.short, a.slice(eq + 1)]);
      } else {
        if (i + 1 >= argv.length) throw usageFail(`tgtadm: option '--${def.long}' requires an argument\n`);
        opts.push([def.short, argv[++i]]);
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const def = OPTIONS.find((o) => o.short === a[j]);
        if (!def) throw usageFail(`tgtadm: invalid option -- '${a[j]}'\n`);
        if (!def.arg) {
          opts.push([def.short, undefined]);
          continue;
        }
        if (j + 1 < a.length) opts.push([def.short, a.slice(j + 1)]);
        else if (i + 1 < argv.length) opts.push([def.short, argv[++i]]);
        else throw usageFail(`tgtadm: option requires an argument -- '${a[j]}'\n`);
        break;
      }
      continue;
    }
    operands.push(a);
  }
  return { opts, operands };
}

interface Parsed {
  given: Set<string>;
  op?: MgmtOp;
  mode?: MgmtMode;
  tid?: number;
  lun?: number;
  controlPort: number;
  v: Record<string, string>;
  force: boolean;
  outgoing: boolean;
}

function collect(argv: string[]): Parsed | Exit {
  const { opts, operands } = getopt(argv);
  const p: Parsed = { given: new Set(), controlPort: 0, v: {}, force: false, outgoing: false };
  for (const [ch, arg] of opts) {
    p.given.add(ch);
    const val = arg ?? '';
    switch (ch) {
      case 'h':
        return new Exit(0, '', TGTADM_USAGE);
      case 'V':
        return new Exit(0, '', `${TGTADM_VERSION}\n`);
      case 'o':
        if (!OPS.includes(val as MgmtOp)) return fail(`unknown operation: ${val}`, 1);
        p.op = val as MgmtOp;
        break;
      case 'm':
        if (!MODES[val]) return fail(`unknown mode: ${val}`, 1);
        p.mode = MODES[val];
        break;
      case 't':
        p.tid = toInt(ch, val, 2147483647);
        break;
      case 'l':
        p.lun = toInt(ch, val, Number.MAX_SAFE_INTEGER);
        break;
      case 's':
      case 'c':
      case 'H':
        p.v[ch] = String(toInt(ch, val, 4294967295));
        break;
      case 'C':
        p.controlPort = toInt(ch, val, 32767);
        break;
      case 'Y':
        if (!DEVICE_TYPES.includes(val)) return fail(`unknown target type: ${val}`);
        p.v[ch] = val;
        break;
      case 'F':
        p.force = true;
        break;
      case 'O':
        p.outgoing = true;
        break;
      case 'd':
        break;
      default:
        p.v[ch] = val;
    }
  }
  if (operands.length > 0) return usageFail(`tgtadm: unrecognized option '${operands[0]}'\n`);
  return p;
}

/** tgt's verify_mode_params: the first given option not in `allowed` (debug is always allowed). */
function disallowed(p: Parsed, allowed: string): string | undefined {
  return [...p.given].find((ch) => !allowed.includes(ch) && ch !== 'd');
}

function checkMode(p: Parsed, mode: MgmtMode, op: MgmtOp): Exit | undefined {
  const check = (allowed: string, msg: (c: string) => string): Exit | undefined => {
    const c = disallowed(p, allowed);
    return c ? fail(msg(c)) : undefined;
  };
  const notAllowed = (prefix: string) => (c: string) =>
    `${prefix} mode: option '-${c}' is not allowed/supported`;
  const nameValue = (): Exit | undefined =>
    p.v.n === undefined || p.v.v === undefined
      ? fail("update operation requires 'name' and 'value' options")
      : undefined;
  switch (mode) {
    case 'system':
      if (op === 'update') return check('LmonvC', notAllowed('system')) ?? nameValue();
      if (op === 'show' || op === 'delete' || op === 'stat') return undefined;
      return fail(`operation ${op} not supported in system mode`);
    case 'target': {
      if (op !== 'show') {
        if (p.tid === undefined) return fail("'tid' option is necessary");
        if (p.tid === 0) return fail("'tid' cannot be 0");
      }
      const t = notAllowed('target');
      switch (op) {
        case 'new':
          return (
            check('LmotTC', t) ??
            (p.v.T === undefined ? fail('creating new target requires a name, use --targetname') : undefined)
          );
        case 'delete':
          return check('LmotCF', t);
        case 'show':
        case 'stat':
          return check('LmotC', t);
        case 'bind':
        case 'unbind':
          return (
            check('LmotIQBHC', t) ??
            (p.v.I === undefined && p.v.Q === undefined && p.v.B === undefined && p.v.H === undefined
              ? fail(`${op} operation requires initiator-address, initiator-nameor bus`)
              : undefined)
          );
        case 'update':
          return check('LmotnvC', t) ?? nameValue();
        default:
          return fail(`operation ${op} not supported in target mode`);
      }
    }
    case 'account': {
      const a = notAllowed('account');
      switch (op) {
        case 'new':
          return (
            check('LmoupC', a) ??
            (p.v.u === undefined || p.v.p === undefined
              ? fail("'user' and 'password' options are required")
              : undefined)
          );
        case 'show':
          return check('LmoC', a);
        case 'delete':
          return check('LmouC', a);
        case 'bind':
        case 'unbind':
          return (
            check('LmotuOC', a) ?? (p.v.u === undefined ? fail("'user' option is necessary") : undefined)
          );
        default:
          return fail(`operation ${op} not supported in account mode`);
      }
    }
    case 'logicalunit': {
      if (p.tid === undefined) return fail("'tid' option is necessary");
      if (p.tid === 0) return fail("'tid' must not be 0");
      if (p.lun === undefined) return fail("'lun' option is necessary");
      const l = notAllowed('logicalunit');
      switch (op) {
        case 'new':
          return check('LmofytlbEYCS', l);
        case 'delete':
        case 'stat':
          return check('LmotlC', l);
        case 'update':
          return check('LmofytlPC', (c) => `option '-${c}' not supported in logicalunit mode`);
        default:
          return fail(`operation ${op} not supported in logicalunit mode`);
      }
    }
    case 'portal':
      if (op === 'new' || op === 'delete')
        return (
          check('LmoCP', notAllowed('portal')) ??
          (p.v.P === undefined ? fail('you must specify --param portal=<portal>') : undefined)
        );
      if (op === 'show') return check('LmoC', (c) => `option '-${c}' not supported in portal mode`);
      return fail(`operation ${op} not supported in portal mode`);
    case 'lld':
      if (op === 'start' || op === 'stop' || op === 'show') return check('LmoC', notAllowed('lld'));
      return fail(`option ${OPS.indexOf(op)} not supported in lld mode`);
    default:
      // session and connection requests are checked by the daemon only, as in tgt.
      return undefined;
  }
}

function toRequest(p: Parsed, mode: MgmtMode, op: MgmtOp): MgmtRequest {
  const r: MgmtRequest = { mode, op };
  const set = <K extends keyof MgmtRequest>(k: K, v: MgmtRequest[K] | undefined): void => {
    if (v !== undefined) r[k] = v;
  };
  set('lld', p.v.L);
  set('tid', p.tid);
  set('lun', p.lun);
  set('sid', p.v.s === undefined ? undefined : Number(p.v.s));
  set('cid', p.v.c === undefined ? undefined : Number(p.v.c));
  set('targetName', p.v.T);
  set('backingStore', p.v.b);
  set('bstype', p.v.E);
  set('bsoflags', p.v.f);
  set('bsopts', p.v.S);
  set('deviceType', p.v.Y);
  set('params', p.v.P);
  set('name', p.v.n);
  set('value', p.v.v);
  set('user', p.v.u);
  set('password', p.v.p);
  set('initiatorAddress', p.v.I);
  set('initiatorName', p.v.Q);
  if (p.v.y !== undefined) {
    // tgt passes the text to the daemon; an unparsable size there is an invalid request.
    const n = /^\d+$/.test(p.v.y) ? Number(p.v.y) : 0;
    r.blockSize = n;
  }
  if (p.force) r.force = true;
  if (p.outgoing) r.outgoing = true;
  return r;
}

export function parseTgtadmArgs(argv: string[]): TgtadmParse {
  try {
    const p = collect(argv);
    if (p instanceof Exit) return { kind: 'exit', code: p.code, stdout: p.stdout, stderr: p.stderr };
    if (p.op === undefined) throw fail('specify the operation type');
    if (p.mode === undefined) throw fail('specify the mode');
    const bad = checkMode(p, p.mode, p.op);
    if (bad) throw bad;
    return { kind: 'request', request: toRequest(p, p.mode, p.op), controlPort: p.controlPort };
  } catch (e) {
    if (e instanceof Exit) return { kind: 'exit', code: e.code, stdout: e.stdout, stderr: e.stderr };
    throw e;
  }
}
