// /etc/tgt/targets.conf, the Config::General dialect tgt-admin reads: `key value` (or `key = value`)
// lines, `#` comments, `\` line continuation, `<target NAME> ... </target>` blocks holding options and
// `<backing-store PATH> ... </backing-store>` / `<direct-store PATH>` sub-blocks, and `include GLOB`.
// Pure: includes are resolved by a callback. Errors name the file and line.

export interface ConfOption {
  key: string;
  value: string;
  file: string;
  line: number;
}

export interface ConfStore {
  kind: 'backing-store' | 'direct-store';
  path: string;
  /** Options of a `<backing-store PATH>` block (empty for the one-line form). */
  options: ConfOption[];
  file: string;
  line: number;
}

export interface ConfTarget {
  name: string;
  options: ConfOption[];
  stores: ConfStore[];
  file: string;
  line: number;
}

export interface TargetsConf {
  /** Top-level options other than targets and includes (default-driver, incomingdiscoveryuser, ...). */
  globals: ConfOption[];
  targets: ConfTarget[];
}

export class TargetsConfError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'TargetsConfError';
  }
}

/** Resolve `include PATTERN` (relative to the including file) to the files' contents, in order. */
export type IncludeResolver = (pattern: string, fromFile: string) => Array<{ file: string; text: string }>;

export const GLOBAL_KEYS = [
  'default-driver',
  'ignore-errors',
  'control-port',
  'incomingdiscoveryuser',
  'outgoingdiscoveryuser',
  'iSNS',
  'iSNSServerIP',
  'iSNSServerPort',
  'iSNSAccessControl',
];

/** Options valid inside `<backing-store>` blocks and (as defaults for every LUN) in `<target>`. */
export const LUN_KEYS = [
  'lun',
  'bs-type',
  'bsopts',
  'bsoflags',
  'block-size',
  'device-type',
  'write-cache',
  'params',
  'mode_page',
  'scsi_id',
  'scsi_sn',
  'vendor_id',
  'product_id',
  'product_rev',
  'sense_format',
  'removable',
  'online',
  'readonly',
  'path',
  'lbppbe',
  'la_lba',
  'optimal_xfer_gran',
  'optimal_xfer_len',
];

export const TARGET_ISCSI_KEYS = [
  'MaxRecvDataSegmentLength',
  'MaxXmitDataSegmentLength',
  'HeaderDigest',
  'DataDigest',
  'InitialR2T',
  'MaxOutstandingR2T',
  'ImmediateData',
  'FirstBurstLength',
  'MaxBurstLength',
  'DataPDUInOrder',
  'DataSequenceInOrder',
  'ErrorRecoveryLevel',
  'IFMarker',
  'OFMarker',
  'DefaultTime2Wait',
  'DefaultTime2Retain',
  'OFMarkInt',
  'IFMarkInt',
  'MaxConnections',
  'state',
];

/** Ours, not tgt's: ALUA directives and the `tgtadm --op update --mode target --name` key each sets. */
export const TARGET_ALUA_KEYS: Readonly<Record<string, string>> = {
  alua: 'alua',
  'alua-port-group': 'alua_group',
  'alua-state': 'alua_state',
};

export const TARGET_KEYS = [
  ...LUN_KEYS,
  ...TARGET_ISCSI_KEYS,
  ...Object.keys(TARGET_ALUA_KEYS),
  'backing-store',
  'direct-store',
  'initiator-address',
  'initiator-name',
  'incominguser',
  'outgoinguser',
  'driver',
  'allow-in-use',
  'controller_tid',
];

interface RawLine {
  text: string;
  file: string;
  line: number;
}

/** Join continuation lines, drop comments and blank lines. */
function rawLines(text: string, file: string): RawLine[] {
  const out: RawLine[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let l = lines[i];
    while (l.endsWith('\\') && i + 1 < lines.length) l = l.slice(0, -1) + lines[++i];
    const hash = l.search(/(^|\s)#/);
    if (hash >= 0) l = l.slice(0, hash);
    l = l.trim();
    if (l !== '') out.push({ text: l, file, line: start });
  }
  return out;
}

function unquote(v: string): string {
  const t = v.trim();
  return t.length >= 2 && ((t[0] === '"' && t.endsWith('"')) || (t[0] === "'" && t.endsWith("'")))
    ? t.slice(1, -1)
    : t;
}

function splitKeyValue(r: RawLine): { key: string; value: string } {
  const m = /^([^\s=]+)\s*(?:=\s*|\s+)(.*)$/.exec(r.text) ?? /^([^\s=]+)$/.exec(r.text);
  if (!m) throw new TargetsConfError(r.file, r.line, `cannot parse '${r.text}'`);
  return { key: m[1], value: unquote(m[2] ?? '') };
}

/** Parse one file (and, through `resolve`, what it includes). */
export function parseTargetsConf(text: string, file: string, resolve?: IncludeResolver): TargetsConf {
  const conf: TargetsConf = { globals: [], targets: [] };
  parseInto(conf, text, file, resolve, 0);
  return conf;
}

function parseInto(
  conf: TargetsConf,
  text: string,
  file: string,
  resolve: IncludeResolver | undefined,
  depth: number,
): void {
  if (depth > 16) throw new TargetsConfError(file, 1, 'includes nested too deeply');
  let target: ConfTarget | undefined;
  let store: ConfStore | undefined;
  for (const r of rawLines(text, file)) {
    const open = /^<\s*([A-Za-z-]+)(?:\s+(.*?))?\s*>$/.exec(r.text);
    const close = /^<\/\s*([A-Za-z-]+)\s*>$/.exec(r.text);
    if (close) {
      const name = close[1];
      if (store && name === store.kind) store = undefined;
      else if (!store && target && name === 'target') target = undefined;
      else throw new TargetsConfError(r.file, r.line, `unexpected </${name}>`);
      continue;
    }
    if (open) {
      const kind = open[1];
      const arg = unquote(open[2] ?? '');
      if (kind === 'target') {
        if (target) throw new TargetsConfError(r.file, r.line, '<target> blocks cannot be nested');
        if (arg === '') throw new TargetsConfError(r.file, r.line, '<target> needs a target name');
        if (conf.targets.some((t) => t.name === arg))
          throw new TargetsConfError(r.file, r.line, `target ${arg} is defined twice`);
        target = { name: arg, options: [], stores: [], file: r.file, line: r.line };
        conf.targets.push(target);
      } else if (kind === 'backing-store' || kind === 'direct-store') {
        if (!target || store)
          throw new TargetsConfError(r.file, r.line, `<${kind}> must be directly inside <target>`);
        if (arg === '') throw new TargetsConfError(r.file, r.line, `<${kind}> needs a path`);
        store = { kind, path: arg, options: [], file: r.file, line: r.line };
        target.stores.push(store);
      } else {
        throw new TargetsConfError(r.file, r.line, `unknown block <${kind}>`);
      }
      continue;
    }
    const { key, value } = splitKeyValue(r);
    const opt: ConfOption = { key, value, file: r.file, line: r.line };
    if (store) {
      if (!LUN_KEYS.includes(key))
        throw new TargetsConfError(r.file, r.line, `unknown option '${key}' in <${store.kind}>`);
      store.options.push(opt);
    } else if (target) {
      if (!TARGET_KEYS.includes(key))
        throw new TargetsConfError(r.file, r.line, `unknown option '${key}' in <target>`);
      if (value === '') throw new TargetsConfError(r.file, r.line, `option '${key}' needs a value`);
      if (key === 'backing-store' || key === 'direct-store')
        target.stores.push({ kind: key, path: value, options: [], file: r.file, line: r.line });
      else target.options.push(opt);
    } else if (key === 'include') {
      if (!resolve) throw new TargetsConfError(r.file, r.line, 'include is not allowed here');
      for (const inc of resolve(value, file)) parseInto(conf, inc.text, inc.file, resolve, depth + 1);
    } else {
      if (!GLOBAL_KEYS.includes(key)) throw new TargetsConfError(r.file, r.line, `unknown option '${key}'`);
      conf.globals.push(opt);
    }
  }
  if (store) throw new TargetsConfError(store.file, store.line, `<${store.kind}> is not closed`);
  if (target) throw new TargetsConfError(target.file, target.line, `<target ${target.name}> is not closed`);
}
