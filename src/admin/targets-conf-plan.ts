// What `tgt-admin -e` does with a parsed targets.conf, as an ordered list of tgtadm command lines
// (and `#` comments), following tgt-admin's order: targets by name, a target's options by key name,
// LUNs numbered from 1 skipping explicitly given ones, `-I ALL` when no initiator-address is given,
// then targets that exist in the daemon but not in the file are removed. Pure: the caller says which
// targets/accounts exist and which paths exist.
import {
  TARGET_ALUA_KEYS,
  TARGET_ISCSI_KEYS,
  TargetsConfError,
  type ConfOption,
  type ConfStore,
  type ConfTarget,
  type TargetsConf,
} from './targets-conf';

export type PlanStep = { comment: string } | { args: string[] };

export interface ExistingTarget {
  tid: number;
  name: string;
  /** Has connected initiators (tgt-admin will not delete it without --force). */
  inUse: boolean;
}

export interface PlanContext {
  existingTargets: ExistingTarget[];
  existingAccounts: string[];
  /** Does a backing file/device exist (checked for rdwr stores, as tgt-admin does)? */
  pathExists: (path: string) => boolean;
  force: boolean;
}

/** Per-LUN parameters sent with `--params`, in tgt-admin's order for target-level defaults. */
const LUN_PARAM_KEYS = [
  'scsi_id',
  'sense_format',
  'removable',
  'online',
  'path',
  'readonly',
  'vendor_id',
  'product_id',
  'product_rev',
  'scsi_sn',
  'lbppbe',
  'la_lba',
  'optimal_xfer_gran',
  'optimal_xfer_len',
];

const first = (opts: ConfOption[], key: string): string | undefined => opts.find((o) => o.key === key)?.value;
const all = (opts: ConfOption[], key: string): ConfOption[] => opts.filter((o) => o.key === key);

/** Perl `sort`: plain code-unit order. */
const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function driverOf(t: ConfTarget, defaultDriver: string): string {
  const d = first(t.options, 'driver') ?? defaultDriver;
  if (d !== 'iscsi') {
    const opt = t.options.find((o) => o.key === 'driver');
    throw new TargetsConfError(
      opt?.file ?? t.file,
      opt?.line ?? t.line,
      `driver '${d}' is not supported (only iscsi)`,
    );
  }
  return d;
}

/** LUN of every store: explicit `lun` first, then the lowest free numbers from 1 in path order. */
function assignLuns(t: ConfTarget): Map<ConfStore, number> {
  const luns = new Map<ConfStore, number>();
  const targetLun = first(t.options, 'lun');
  if (targetLun !== undefined && t.stores.length !== 1) {
    const opt = t.options.find((o) => o.key === 'lun') as ConfOption;
    throw new TargetsConfError(opt.file, opt.line, "a target-level 'lun' needs exactly one backing-store");
  }
  const taken = new Set<number>();
  for (const s of t.stores) {
    const text = first(s.options, 'lun') ?? targetLun;
    if (text === undefined) continue;
    if (!/^\d+$/.test(text) || Number(text) === 0)
      throw new TargetsConfError(s.file, s.line, `invalid lun '${text}'`);
    if (taken.has(Number(text))) throw new TargetsConfError(s.file, s.line, `lun ${text} is used twice`);
    luns.set(s, Number(text));
    taken.add(Number(text));
  }
  let next = 1;
  for (const s of [...t.stores].sort((a, b) => byCodeUnit(a.path, b.path))) {
    if (luns.has(s)) continue;
    while (taken.has(next)) next++;
    luns.set(s, next);
    taken.add(next);
  }
  return luns;
}

function planStore(
  t: ConfTarget,
  s: ConfStore,
  lun: number,
  tid: number,
  driver: string,
  ctx: PlanContext,
): PlanStep[] {
  const opt = (key: string): string | undefined => first(s.options, key) ?? first(t.options, key);
  const bstype = opt('bs-type');
  if ((bstype === undefined || bstype === 'rdwr') && !ctx.pathExists(s.path)) {
    return [
      { comment: `Skipping device: ${s.path}` },
      { comment: `${s.path} does not exist - please check the configuration file` },
    ];
  }
  const base = ['--lld', driver];
  const newLu = [
    ...base,
    '--op',
    'new',
    '--mode',
    'logicalunit',
    '--tid',
    String(tid),
    '--lun',
    String(lun),
    '-b',
    s.path,
  ];
  const flags: Array<[string, string]> = [
    ['device-type', '--device-type'],
    ['bs-type', '--bstype'],
    ['bsopts', '--bsopts'],
    ['bsoflags', '--bsoflags'],
    ['block-size', '--blocksize'],
  ];
  for (const [key, flag] of flags) {
    const v = opt(key);
    if (v !== undefined) newLu.push(flag, v);
  }
  const steps: PlanStep[] = [{ args: newLu }];
  const update = (params: string): PlanStep => ({
    args: [
      ...base,
      '--op',
      'update',
      '--mode',
      'logicalunit',
      '--tid',
      String(tid),
      '--lun',
      String(lun),
      '--params',
      params,
    ],
  });
  for (const key of LUN_PARAM_KEYS) {
    const v = opt(key);
    if (v !== undefined) steps.push(update(`${key}=${v}`));
  }
  const wc = opt('write-cache');
  if (wc === 'off')
    steps.push({ comment: `write-cache off is not supported yet: lun ${lun} keeps its write cache on` });
  else if (wc === undefined || wc === 'on')
    steps.push({ comment: `Write cache is enabled (default) for lun ${lun}.` });
  else
    steps.push({
      comment: `WARNING! Unknown value (${wc}) to write-cache! Accepted values are "on" and "off".`,
    });
  for (const o of [...all(t.options, 'mode_page'), ...all(s.options, 'mode_page')])
    steps.push(update(`mode_page=${o.value}`));
  for (const o of [...all(s.options, 'params'), ...all(t.options, 'params')]) steps.push(update(o.value));
  return steps;
}

function accountSteps(
  value: ConfOption,
  driver: string,
  tid: number | undefined,
  outgoing: boolean,
  accounts: Set<string>,
): PlanStep[] {
  const [user, password] = value.value.split(/\s+/);
  if (!user || !password)
    throw new TargetsConfError(value.file, value.line, `${value.key} needs a user and a password`);
  const steps: PlanStep[] = [];
  if (!accounts.has(user)) {
    steps.push({
      args: ['--lld', driver, '--mode', 'account', '--op', 'new', '--user', user, '--password', password],
    });
    accounts.add(user);
  }
  const bind = ['--lld', driver, '--mode', 'account', '--op', 'bind'];
  if (tid !== undefined) bind.push('--tid', String(tid));
  bind.push('--user', user);
  if (outgoing) bind.push('--outgoing');
  steps.push({ args: bind });
  return steps;
}

function planTarget(
  t: ConfTarget,
  tid: number,
  driver: string,
  ctx: PlanContext,
  accounts: Set<string>,
): PlanStep[] {
  const steps: PlanStep[] = [
    { comment: `Adding target: ${t.name}` },
    { args: ['--lld', driver, '--op', 'new', '--mode', 'target', '--tid', String(tid), '-T', t.name] },
  ];
  const luns = assignLuns(t);
  const keys = [...new Set([...t.options.map((o) => o.key), ...t.stores.map((s) => s.kind)])].sort(
    byCodeUnit,
  );
  for (const key of keys) {
    if (key === 'backing-store' || key === 'direct-store') {
      const stores = t.stores.filter((s) => s.kind === key).sort((a, b) => byCodeUnit(a.path, b.path));
      for (const s of stores) steps.push(...planStore(t, s, luns.get(s) as number, tid, driver, ctx));
    } else if (key === 'incominguser') {
      for (const o of all(t.options, key)) steps.push(...accountSteps(o, driver, tid, false, accounts));
    } else if (key === 'outgoinguser') {
      const outs = all(t.options, key);
      if (outs.length > 1)
        steps.push({ comment: `Warning: only one ${key} is allowed. Will only use the first one.` });
      steps.push(...accountSteps(outs[0], driver, tid, true, accounts));
    } else if (key === 'initiator-address' || key === 'initiator-name') {
      const flag = key === 'initiator-address' ? '-I' : '-Q';
      for (const o of all(t.options, key))
        steps.push({
          args: ['--lld', driver, '--op', 'bind', '--mode', 'target', '--tid', String(tid), flag, o.value],
        });
    } else if (TARGET_ISCSI_KEYS.includes(key) || key in TARGET_ALUA_KEYS) {
      const vals = all(t.options, key);
      if (vals.length > 1)
        steps.push({ comment: `Warning: only one ${key} is allowed. Will only use the first one.` });
      steps.push({
        args: [
          '--lld',
          driver,
          '--mode',
          'target',
          '--op',
          'update',
          '--tid',
          String(tid),
          '--name',
          TARGET_ALUA_KEYS[key] ?? key,
          '--value',
          vals[0].value,
        ],
      });
    }
  }
  if (!t.options.some((o) => o.key === 'initiator-address'))
    steps.push({
      args: ['--lld', driver, '--op', 'bind', '--mode', 'target', '--tid', String(tid), '-I', 'ALL'],
    });
  return steps;
}

/** tgt-admin's main_delete: refuse (with a comment) while initiators are connected, unless forced. */
export function planDelete(t: ExistingTarget, force: boolean): PlanStep[] {
  if (t.inUse && !force)
    return [{ comment: `Target with tid ${t.tid} (${t.name}) is in use, it won't be deleted.` }];
  const del = ['--mode', 'target', '--op', 'delete', '--tid', String(t.tid)];
  if (t.inUse) del.push('--force');
  return [{ comment: `Removing target: ${t.name}` }, { args: del }];
}

export function planExecute(conf: TargetsConf, ctx: PlanContext): PlanStep[] {
  const steps: PlanStep[] = [];
  const accounts = new Set(ctx.existingAccounts);
  const dd = conf.globals.filter((o) => o.key === 'default-driver');
  if (dd.length > 1)
    throw new TargetsConfError(
      dd[1].file,
      dd[1].line,
      'Multiple default-driver definitions are not allowed!',
    );
  const defaultDriver = dd[0]?.value ?? 'iscsi';
  for (const o of conf.globals) {
    if (o.key === 'incomingdiscoveryuser' || o.key === 'outgoingdiscoveryuser')
      steps.push(...accountSteps(o, defaultDriver, undefined, o.key === 'outgoingdiscoveryuser', accounts));
  }
  if (dd.length === 0) steps.push({ comment: 'default-driver not defined, defaulting to iscsi.' });
  let nextTid = Math.max(0, ...ctx.existingTargets.map((t) => t.tid));
  for (const t of [...conf.targets].sort((a, b) => byCodeUnit(a.name, b.name))) {
    const driver = driverOf(t, defaultDriver);
    if (ctx.existingTargets.some((e) => e.name === t.name)) {
      steps.push({ comment: `Target ${t.name} already exists!` });
      continue;
    }
    nextTid += 1;
    steps.push(...planTarget(t, nextTid, driver, ctx, accounts));
  }
  if (conf.targets.length > 0) {
    for (const e of ctx.existingTargets) {
      if (!conf.targets.some((t) => t.name === e.name)) steps.push(...planDelete(e, ctx.force));
    }
  }
  return steps;
}

/** Which targets `--update` / `--delete` / `--offline` / `--ready` act on: ALL, tid=N or a name. */
export type TargetSelector = { all: true } | { tid: number } | { name: string };

export function parseSelector(text: string): TargetSelector {
  if (text === 'ALL') return { all: true };
  const m = /^tid=(\d+)$/.exec(text);
  return m ? { tid: Number(m[1]) } : { name: text };
}

function selects(sel: TargetSelector, tid: number | undefined, name: string): boolean {
  if ('all' in sel) return true;
  if ('tid' in sel) return tid === sel.tid;
  return name === sel.name;
}

/**
 * tgt-admin --update: every selected target of the file is (re)created from it; one that exists is
 * deleted first (keeping its tid), except while initiators are connected, which needs --force.
 * With ALL, targets running but absent from the file are deleted too (same in-use rule).
 */
export function planUpdate(conf: TargetsConf, ctx: PlanContext, sel: TargetSelector): PlanStep[] {
  const steps: PlanStep[] = [];
  const accounts = new Set(ctx.existingAccounts);
  const dd = conf.globals.find((o) => o.key === 'default-driver');
  const defaultDriver = dd?.value ?? 'iscsi';
  if ('all' in sel) {
    for (const o of conf.globals) {
      if (o.key === 'incomingdiscoveryuser' || o.key === 'outgoingdiscoveryuser')
        if (!accounts.has(o.value.split(/\s+/)[0]))
          steps.push(
            ...accountSteps(o, defaultDriver, undefined, o.key === 'outgoingdiscoveryuser', accounts),
          );
    }
  }
  let nextTid = Math.max(0, ...ctx.existingTargets.map((t) => t.tid));
  for (const t of [...conf.targets].sort((a, b) => byCodeUnit(a.name, b.name))) {
    const existing = ctx.existingTargets.find((e) => e.name === t.name);
    if (!selects(sel, existing?.tid, t.name)) continue;
    const driver = driverOf(t, defaultDriver);
    if (existing) {
      if (existing.inUse && !ctx.force) {
        steps.push({
          comment: `Target ${t.name} (tid ${existing.tid}) is in use, it won't be updated (use --force).`,
        });
        continue;
      }
      steps.push(...planDelete(existing, true).filter((s) => 'args' in s));
      steps.push(...planTarget(t, existing.tid, driver, ctx, accounts));
    } else {
      nextTid += 1;
      steps.push(...planTarget(t, nextTid, driver, ctx, accounts));
    }
  }
  for (const e of ctx.existingTargets) {
    if (conf.targets.some((t) => t.name === e.name)) continue;
    if ('all' in sel || selects(sel, e.tid, e.name)) steps.push(...planDelete(e, ctx.force));
  }
  return steps;
}
