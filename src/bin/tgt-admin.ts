#!/usr/bin/env node
// tgt-admin: configure tgtd from /etc/tgt/targets.conf (first version; see docs in the report):
//   -e/--execute, --delete <ALL|tid=N|name>, --offline/--ready <ALL|tid=N|name>, -s/--show, --dump,
//   -c/--conf, -C/--control-port, -f/--force, -p/--pretend, -v/--verbose, --ignore-errors.
// Commands are tgtadm command lines run in-process through the same parser tgtadm uses.
import * as fs from 'node:fs';
import * as path from 'node:path';
import yargs from 'yargs';
import { MgmtConnectError, sendMgmtRequest } from '../admin/mgmt-client';
import { controlSocketPath } from '../admin/mgmt-server';
import {
  dumpConfig,
  parseShowAccounts,
  parseShowTargets,
  storeOptionsKey,
  type ShownTarget,
} from '../admin/show-parse';
import { parseTargetsConf, TargetsConfError, type IncludeResolver } from '../admin/targets-conf';
import {
  parseSelector,
  planDelete,
  planExecute,
  planUpdate,
  type PlanStep,
} from '../admin/targets-conf-plan';
import { parseTgtadmArgs } from '../admin/tgtadm-args';

const DEFAULT_CONF = '/etc/tgt/targets.conf';

interface Ctx {
  controlPort: number;
  pretend: boolean;
  verbose: boolean;
  ignoreErrors: boolean;
}

class ExitError extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Run one tgtadm command line; returns its stdout. */
async function tgtadm(ctx: Ctx, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const parsed = parseTgtadmArgs(['-C', String(ctx.controlPort), ...args]);
  if (parsed.kind === 'exit') return { code: parsed.code, stdout: parsed.stdout, stderr: parsed.stderr };
  try {
    const rsp = await sendMgmtRequest(
      controlSocketPath(parsed.controlPort, { create: false }),
      parsed.request,
    );
    if (rsp.code !== 0)
      return { code: rsp.code, stdout: '', stderr: `tgtadm: ${rsp.error ?? 'unknown error'}\n` };
    return { code: 0, stdout: rsp.output ?? '', stderr: '' };
  } catch (err) {
    const code = err instanceof MgmtConnectError ? 107 : 22;
    return { code, stdout: '', stderr: `tgtadm: ${(err as Error).message}\n` };
  }
}

const commandLine = (ctx: Ctx, args: string[]): string =>
  `tgtadm -C ${ctx.controlPort} ${args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `"${a}"`)).join(' ')}`;

/** tgt-admin's execute(): print with -v/-p, run unless -p, stop on the first failure. */
async function runSteps(ctx: Ctx, steps: PlanStep[]): Promise<void> {
  for (const step of steps) {
    const text = 'comment' in step ? `# ${step.comment}` : commandLine(ctx, step.args);
    if (ctx.pretend || ctx.verbose) process.stdout.write(text + '\n');
    if (ctx.pretend || 'comment' in step) continue;
    const r = await tgtadm(ctx, step.args);
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    if (r.code !== 0 && !ctx.ignoreErrors) {
      process.stdout.write(`Command:\n\t${text}\nexited with code: ${r.code}.\n`);
      throw new ExitError(r.code);
    }
  }
}

async function showTargets(ctx: Ctx): Promise<ShownTarget[]> {
  const r = await tgtadm(ctx, ['--op', 'show', '--mode', 'target']);
  if (r.code !== 0) {
    process.stderr.write(r.stderr);
    throw new ExitError(r.code);
  }
  return parseShowTargets(r.stdout);
}

/** user -> password, so --dump writes configs that work (tgt-admin prints placeholders instead). */
async function accountPasswords(ctx: Ctx): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  try {
    const rsp = await sendMgmtRequest(controlSocketPath(ctx.controlPort, { create: false }), {
      mode: 'account',
      op: 'show',
      withPasswords: true,
    });
    for (const line of (rsp.output ?? '').split('\n')) {
      const sp = line.indexOf(' ');
      if (sp > 0) out.set(line.slice(0, sp), line.slice(sp + 1));
    }
  } catch {
    // No passwords known: --dump falls back to tgt's placeholder.
  }
  return out;
}

/** tid:lun -> --bsopts, which `--op show` does not print (a daemon without the request: none known). */
async function storeOptions(ctx: Ctx): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  try {
    const rsp = await sendMgmtRequest(controlSocketPath(ctx.controlPort, { create: false }), {
      mode: 'target',
      op: 'show',
      withStoreOptions: true,
    });
    if (rsp.code !== 0) return out;
    const rows = JSON.parse(rsp.output ?? '[]') as Array<{ tid: number; lun: number; bsopts: string }>;
    for (const r of rows) out.set(storeOptionsKey(r.tid, r.lun), r.bsopts);
  } catch {
    // Dump without them rather than not at all.
  }
  return out;
}

/** `include` with a trailing-`*` glob or a directory (Config::General -IncludeGlob/-IncludeDirectories). */
const resolveInclude: IncludeResolver = (pattern, fromFile) => {
  const full = path.resolve(path.dirname(fromFile), pattern);
  let files: string[];
  if (/[*?]/.test(path.basename(full))) {
    const dir = path.dirname(full);
    const re = new RegExp(
      '^' +
        path
          .basename(full)
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.') +
        '$',
    );
    files = fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .filter((f) => re.test(f))
          .sort()
          .map((f) => path.join(dir, f))
      : [];
  } else if (fs.existsSync(full) && fs.statSync(full).isDirectory()) {
    files = fs
      .readdirSync(full)
      .sort()
      .map((f) => path.join(full, f));
  } else {
    files = [full];
  }
  return files.map((file) => ({ file, text: fs.readFileSync(file, 'utf8') }));
};

/** Select targets by `ALL`, `tid=N` or name (tgt-admin's --delete/--offline/--ready values). */
function select(targets: ShownTarget[], which: string): ShownTarget[] | undefined {
  if (which === 'ALL') return targets;
  const m = /^tid=(.+)$/.exec(which);
  const found = m ? targets.filter((t) => String(t.tid) === m[1]) : targets.filter((t) => t.name === which);
  return found.length > 0 ? found : undefined;
}

async function main(): Promise<number> {
  const parser = yargs(process.argv.slice(2))
    .scriptName('tgt-admin')
    .usage('Usage:\ntgt-admin [OPTION]...\nThis tool configures tgt targets.')
    .option('execute', {
      alias: 'e',
      type: 'boolean',
      describe: `read ${DEFAULT_CONF} and execute tgtadm commands`,
    })
    .option('delete', { type: 'string', describe: 'delete all (ALL) or selected (tid=N, name) targets' })
    .option('offline', { type: 'string', describe: 'put all or selected targets in offline state' })
    .option('ready', { type: 'string', describe: 'put all or selected targets in ready state' })
    .option('update', {
      type: 'string',
      describe: 'update all (ALL) or selected (tid=N, name) targets from the configuration',
    })
    .option('show', { alias: 's', type: 'boolean', describe: 'show all the targets' })
    .option('control-port', {
      alias: 'C',
      type: 'number',
      default: 0,
      describe: 'specify the control port to connect to',
    })
    .option('conf', { alias: 'c', type: 'string', describe: 'specify an alternative configuration file' })
    .option('ignore-errors', {
      type: 'boolean',
      default: false,
      describe: 'continue even if tgtadm exits with non-zero code',
    })
    .option('force', {
      alias: 'f',
      type: 'boolean',
      default: false,
      describe: 'force some operations even if the target is in use',
    })
    .option('pretend', { alias: 'p', type: 'boolean', default: false, describe: 'only print tgtadm options' })
    .option('dump', { type: 'boolean', describe: 'dump current tgtd configuration' })
    .option('verbose', {
      alias: 'v',
      type: 'boolean',
      default: false,
      describe: 'increase verbosity (show tgtadm commands)',
    })
    .help('help')
    .alias('help', 'h')
    .version(false)
    .strict()
    .parserConfiguration({ 'boolean-negation': false })
    .fail((msg) => {
      process.stderr.write(`tgt-admin: ${msg}\n`);
      process.exit(1);
    });
  const argv = parser.parseSync();
  if (process.argv.length <= 2) {
    // Like tgt-admin: no option at all prints the usage.
    parser.showHelp((s) => process.stdout.write(s + '\n'));
    return 0;
  }

  const ctx: Ctx = {
    controlPort: argv['control-port'],
    pretend: argv.pretend,
    verbose: argv.verbose,
    ignoreErrors: argv['ignore-errors'],
  };
  if (!Number.isInteger(ctx.controlPort) || ctx.controlPort < 0 || ctx.controlPort > 32767) {
    process.stderr.write(`tgt-admin: invalid control port\n`);
    return 1;
  }

  if (argv.show) {
    const r = await tgtadm(ctx, ['--op', 'show', '--mode', 'target']);
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    return r.code;
  }
  if (argv.execute || argv.update !== undefined) {
    const file = argv.conf ?? DEFAULT_CONF;
    if (!fs.existsSync(file)) {
      process.stderr.write(`Config file ${file} not found. Exiting...\n`);
      return 2;
    }
    // The whole file is parsed (and checked) before anything is sent to tgtd.
    const conf = parseTargetsConf(fs.readFileSync(file, 'utf8'), file, resolveInclude);
    const cp = conf.globals.find((o) => o.key === 'control-port');
    if (cp && ctx.controlPort === 0) ctx.controlPort = Number(cp.value);
    if (conf.globals.some((o) => o.key === 'ignore-errors' && o.value === 'yes')) ctx.ignoreErrors = true;
    const existing = await showTargets(ctx);
    const acc = await tgtadm(ctx, ['--op', 'show', '--mode', 'account']);
    const planCtx = {
      existingTargets: existing,
      existingAccounts: parseShowAccounts(acc.stdout),
      pathExists: (p: string) => fs.existsSync(p) && !fs.statSync(p).isDirectory(),
      force: argv.force,
    };
    const steps = argv.execute
      ? planExecute(conf, planCtx)
      : planUpdate(conf, planCtx, parseSelector(argv.update as string));
    if (argv.conf) steps.unshift({ comment: `Using ${file} as configuration file` });
    await runSteps(ctx, steps);
    return 0;
  }
  if (argv.delete !== undefined || argv.offline !== undefined || argv.ready !== undefined) {
    const which = (argv.delete ?? argv.offline ?? argv.ready) as string;
    const targets = await showTargets(ctx);
    const chosen = select(targets, which);
    if (!chosen) {
      const m = /^tid=(.+)$/.exec(which);
      process.stdout.write(
        m ? `# Target with tid ${m[1]} does not exist!\n` : `# Target with name ${which} does not exist!\n`,
      );
      return argv.delete !== undefined ? 0 : 1;
    }
    const steps: PlanStep[] = [];
    for (const t of chosen) {
      if (argv.delete !== undefined) steps.push(...planDelete(t, argv.force));
      else {
        const state = argv.offline !== undefined ? 'offline' : 'ready';
        steps.push({
          args: ['--op', 'update', '--mode', 'target', '--tid', String(t.tid), '-n', 'state', '-v', state],
        });
      }
    }
    await runSteps(ctx, steps);
    return 0;
  }
  if (argv.dump) {
    process.stdout.write(
      dumpConfig(await showTargets(ctx), await accountPasswords(ctx), await storeOptions(ctx)),
    );
    return 0;
  }
  process.stdout.write('No action specified.\n');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    if (err instanceof ExitError) {
      process.exitCode = err.code;
      return;
    }
    if (err instanceof TargetsConfError) {
      process.stderr.write(`tgt-admin: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    process.stderr.write(`tgt-admin: ${err.message}\n`);
    process.exitCode = 1;
  },
);
