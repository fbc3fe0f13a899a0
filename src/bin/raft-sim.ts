// Run the deterministic Raft simulator over a range of seeds:
//   raft-sim --seeds N [--from S] [--trace]   (--trace prints every event of each seed run)
// Ends with "raft sim: N/N seeds passed", or names the failing seeds and exits 1.
import { runSimulation } from '../curve/raft/simulator';

function main(argv: string[]): number {
  let seeds = 100;
  let from = 1;
  let trace = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seeds') seeds = Number(argv[++i]);
    else if (a === '--from') from = Number(argv[++i]);
    else if (a === '--trace') trace = true;
    else {
      process.stderr.write(
        `raft-sim: unknown argument ${a}\nusage: raft-sim --seeds N [--from S] [--trace]\n`,
      );
      return 2;
    }
  }
  if (!Number.isInteger(seeds) || seeds < 1 || !Number.isInteger(from)) {
    process.stderr.write('raft-sim: --seeds and --from take integers\n');
    return 2;
  }
  const failed: number[] = [];
  const totals: Record<string, number> = {};
  const started = Date.now();
  for (let s = from; s < from + seeds; s++) {
    const r = runSimulation({
      seed: s,
      trace: trace ? (l) => process.stdout.write(`[${s}] ${l}\n`) : undefined,
    });
    for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
    if (!r.ok) {
      failed.push(s);
      process.stdout.write(`seed ${s} FAILED: ${r.error}\n`);
    }
    if ((s - from + 1) % 1000 === 0) {
      process.stderr.write(`raft sim: ${s - from + 1}/${seeds} seeds run, ${failed.length} failed\n`);
    }
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  const summary = Object.entries(totals)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  process.stderr.write(`raft sim: ${secs}s; totals: ${summary}\n`);
  if (failed.length) {
    process.stdout.write(
      `raft sim: ${seeds - failed.length}/${seeds} seeds passed; failing seeds: ${failed.join(' ')}\n`,
    );
    return 1;
  }
  process.stdout.write(`raft sim: ${seeds}/${seeds} seeds passed\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
