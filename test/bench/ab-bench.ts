// A/B a benchmark on this noisy machine: run one command alternately in two builds (or with two settings),
// A then B, N times, pick one number from each run's output and print both medians and the paired ratio.
//   node dist/test/bench/ab-bench.js (--a DIR | --rev REV) [--b DIR] [--rounds N] [--pick iops|commits|REGEX]
//     [--env-a K=V]... [--env-b K=V]... -- COMMAND [ARGS...]
// --rev REV builds REV in a temporary git worktree (node_modules linked from B's) as side A and removes it
// afterwards; B defaults to the current directory. --pick takes a preset (ab-stats.ts PICKS) or a regular
// expression whose first group is the number (the last match counts). Examples:
//   node dist/test/bench/ab-bench.js --rev HEAD~1 --pick commits -- env RAFT_BENCH_MODES=procs-local \
//     RAFT_BENCH_GROUPS=1 RAFT_BENCH_INFLIGHT=256 RAFT_BENCH_SECONDS=4 node dist/test/bench/raft-bench.js
//   node dist/test/bench/ab-bench.js --a . --env-b CS_BENCH_ARGS="--snapshot-interval-bytes 67108864" -- \
//     node dist/test/bench/chunkserver-bench.js --layout 1 --test randwrite --qd 128 --rounds 1
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatPaired, pairedStats, pickValue, PICKS } from './ab-stats';

export interface AbOptions {
  dirA?: string;
  rev?: string;
  dirB: string;
  rounds: number;
  pick: RegExp;
  envA: Record<string, string>;
  envB: Record<string, string>;
  command: string[];
}

export function parseArgs(argv: string[]): AbOptions {
  const sep = argv.indexOf('--');
  const opts = sep >= 0 ? argv.slice(0, sep) : argv;
  const command = sep >= 0 ? argv.slice(sep + 1) : [];
  const o: AbOptions = { dirB: '.', rounds: 8, pick: PICKS.iops, envA: {}, envB: {}, command };
  for (let i = 0; i < opts.length; i++) {
    const value = (): string => {
      const v = opts[++i];
      if (v === undefined) throw new Error(`ab-bench: ${opts[i - 1]} needs a value`);
      return v;
    };
    const env = (into: Record<string, string>): void => {
      const kv = value();
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new Error(`ab-bench: expected K=V, got ${kv}`);
      into[kv.slice(0, eq)] = kv.slice(eq + 1);
    };
    switch (opts[i]) {
      case '--a':
        o.dirA = value();
        break;
      case '--rev':
        o.rev = value();
        break;
      case '--b':
        o.dirB = value();
        break;
      case '--rounds':
        o.rounds = Number(value());
        if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new Error('ab-bench: --rounds must be >= 1');
        break;
      case '--pick': {
        const p = value();
        o.pick = PICKS[p] ?? new RegExp(p, 'gm');
        break;
      }
      case '--env-a':
        env(o.envA);
        break;
      case '--env-b':
        env(o.envB);
        break;
      default:
        throw new Error(`ab-bench: unknown option ${opts[i]}`);
    }
  }
  if ((o.dirA === undefined) === (o.rev === undefined))
    throw new Error('ab-bench: give exactly one of --a, --rev');
  if (command.length === 0) throw new Error('ab-bench: no command after --');
  return o;
}

function run(cmd: string[], cwd: string, env: Record<string, string>): string {
  const r = spawnSync(cmd[0], cmd.slice(1), {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.error) throw r.error;
  // Ctrl-C reaches the benchmark too: stop (and remove a temporary worktree) instead of going on.
  if (r.signal === 'SIGINT' || r.signal === 'SIGTERM') throw new Error(`ab-bench: interrupted (${r.signal})`);
  return `${r.stdout}\n${r.stderr}`;
}

/** A built checkout of `rev` in a temporary worktree of the repository at `repoDir`. */
function worktreeOf(repoDir: string, rev: string): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ab-bench-'));
  const git = (...args: string[]): void => {
    const r = spawnSync('git', args, { cwd: repoDir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ab-bench: git ${args.join(' ')}: ${r.stderr.trim()}`);
  };
  git('worktree', 'add', '--detach', dir, rev);
  const remove = (): void => {
    spawnSync('git', ['worktree', 'remove', '--force', dir], { cwd: repoDir });
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    fs.symlinkSync(path.resolve(repoDir, 'node_modules'), path.join(dir, 'node_modules'));
    const b = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`ab-bench: building ${rev} failed:\n${b.stdout}${b.stderr}`);
    // Its native addons too, as `npm ci` builds them (without, it would measure the fallbacks).
    if (fs.existsSync(path.join(dir, 'scripts', 'build-native.sh')))
      spawnSync('bash', ['scripts/build-native.sh'], { cwd: dir, stdio: 'inherit' });
  } catch (err) {
    remove();
    throw err;
  }
  return { dir, remove };
}

export function abBench(o: AbOptions, log: (line: string) => void): string {
  const tree = o.rev !== undefined ? worktreeOf(o.dirB, o.rev) : null;
  const dirA = tree ? tree.dir : o.dirA!;
  try {
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      for (const [side, dir, env, into] of [
        ['A', dirA, o.envA, a],
        ['B', o.dirB, o.envB, b],
      ] as const) {
        const out = run(o.command, dir, env);
        const v = pickValue(out, o.pick);
        into.push(v);
        log(`${side} ${Number.isFinite(v) ? v : `no value (last output: ${out.trim().split('\n').pop()})`}`);
      }
    }
    return formatPaired(pairedStats(a, b), o.rev ?? dirA, o.dirB);
  } finally {
    tree?.remove();
  }
}

if (require.main === module) {
  try {
    const o = parseArgs(process.argv.slice(2));
    process.stdout.write(abBench(o, (l) => process.stdout.write(l + '\n')) + '\n');
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
