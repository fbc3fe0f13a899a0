#!/usr/bin/env node
// curve: the Curve ops CLI. Talks to the MDS (following the leader among --mds addresses).
// Exit codes: 0 success, 1 the MDS refused the operation (or the cluster is unhealthy for checks),
// 2 usage error, 3 no MDS reachable.
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import yargs, { Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { onlineStateName } from '../curve/mds/chunkserver-health';
import { MdsClient, MdsServiceName } from '../curve/mds/mds-client';
import { statusName } from '../curve/mds/namespace-types';
import { parseTopologyFile, planTopologyApply } from '../curve/mds/topology-file';

class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

interface Global {
  mds: string;
  json: boolean;
  owner: string;
}

type Rec = Record<string, unknown> & { statusCode?: number };

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 2 ** 10,
  kib: 2 ** 10,
  m: 2 ** 20,
  mib: 2 ** 20,
  g: 2 ** 30,
  gib: 2 ** 30,
  t: 2 ** 40,
  tib: 2 ** 40,
};

export function parseSize(s: string): number {
  const m = /^(\d+)\s*([a-zA-Z]*)$/.exec(s.trim());
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new CliError(`bad size '${s}' (e.g. 10GiB)`, 2);
  return Number(m[1]) * unit;
}

const human = (n: number): string => {
  for (const [u, v] of [
    ['TiB', 2 ** 40],
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
  ] as const)
    if (n >= v) return `${+(n / v).toFixed(2)} ${u}`;
  return `${n} B`;
};

function table(rows: Record<string, unknown>[], cols: string[]): string {
  const cells = rows.map((r) => cols.map((c) => String(r[c] ?? '')));
  const width = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]): string =>
    r
      .map((v, i) => v.padEnd(width[i]))
      .join('  ')
      .trimEnd();
  return [line(cols.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n') + '\n';
}

function client(g: Global): MdsClient {
  return new MdsClient(
    g.mds
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    5000,
    10000,
  );
}

async function call(c: MdsClient, service: MdsServiceName, method: string, req: unknown): Promise<Rec> {
  try {
    return await c.call<Rec>(service, method, req);
  } catch (err) {
    const e = err as grpc.ServiceError;
    if (e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED)
      throw new CliError(`MDS unreachable: ${e.details || e.message}`, 3);
    throw new CliError(`${method} failed: ${e.details || e.message}`, 1);
  }
}

/** Nameserver call that must return kOK. */
async function ns(c: MdsClient, method: string, req: Record<string, unknown>): Promise<Rec> {
  const res = await call(c, 'nameserver', method, { date: Date.now(), ...req });
  if (res.statusCode !== 0)
    throw new CliError(`${method}: ${statusName(res.statusCode ?? -1)} (${res.statusCode})`, 1);
  return res;
}

async function topo(c: MdsClient, method: string, req: Record<string, unknown>): Promise<Rec> {
  const res = await call(c, 'topology', method, req);
  if (res.statusCode !== 0) throw new CliError(`${method}: topology status ${res.statusCode}`, 1);
  return res;
}

function out(g: Global, value: unknown, text: () => string): void {
  process.stdout.write(g.json ? JSON.stringify(value, null, 2) + '\n' : text());
}

const fileRow = (f: Rec): Record<string, unknown> => ({
  name: f.fileName,
  id: f.id,
  type: f.fileType === 0 ? 'dir' : 'file',
  owner: f.owner,
  length: f.fileType === 0 ? '' : human(Number(f.length)),
  epoch: f.epoch,
});

/** online / unstable / offline, or retired / pending when taken out of service. */
function chunkserverState(cs: Rec): string {
  if (cs.status === 2) return 'retired';
  if (cs.status === 1) return 'pending';
  return onlineStateName(Number(cs.onlineState));
}

const operatorRow = (o: Rec): Record<string, unknown> => ({
  copyset: `${String(o.logicalPoolId)}.${String(o.copysetId)}`,
  scheduler: o.scheduler,
  steps: o.steps,
  step: Number(o.step ?? 0) + 1,
  age: `${(Number(o.ageMs ?? 0) / 1000).toFixed(1)}s`,
});

async function status(g: Global): Promise<void> {
  const c = client(g);
  try {
    const addrs = g.mds.split(',').map((s) => s.trim());
    const mds = await Promise.all(
      addrs.map((a) =>
        c.callAt<Rec>(a, 'status', 'GetMdsStatus', {}).then(
          (r) => ({ address: a, role: r.isLeader ? 'leader' : 'standby', leader: r.leaderAddr }),
          () => ({ address: a, role: 'unreachable', leader: '' }),
        ),
      ),
    );
    if (mds.every((m) => m.role === 'unreachable')) throw new CliError('no MDS reachable', 3);
    const cluster = await topo(c, 'GetClusterInfo', {});
    const csList = (await topo(c, 'ListChunkServer', {})).chunkServerInfos as Rec[];
    const stateOf = new Map(csList.map((cs) => [Number(cs.chunkServerID), chunkserverState(cs)]));
    const css = csList.map((cs) => ({
      id: cs.chunkServerID,
      address: `${String(cs.hostIp)}:${String(cs.port)}`,
      state: chunkserverState(cs),
      disk: cs.diskStatus === 0 ? 'ok' : 'error',
      capacity: human(Number(cs.diskCapacity)),
      used: human(Number(cs.diskUsed)),
      copysets: cs.copysetNum,
      leaders: cs.leaderNum ?? 0,
    }));
    const copysets = (await topo(c, 'ListCopySet', {})).copysets as Rec[];
    const sched = await topo(c, 'GetScheduleStatus', {});
    const operators = ((sched.operators as Rec[]) ?? []).map(operatorRow);
    const count = (h: string): number => copysets.filter((x) => x.health === h).length;
    // Not healthy: a member is not online (or missing): the recover scheduler is (or will be) at work.
    const underReplicated = copysets
      .filter((x) => x.health !== 'healthy')
      .map((x) => {
        const members = (x.chunkServerIDs as number[]) ?? [];
        return {
          copyset: `${String(x.logicalPoolId)}.${String(x.copysetId)}`,
          health: x.health,
          members: members.join(','),
          down: members.filter((m) => stateOf.get(m) !== 'online').join(','),
          pending: x.pending || '',
        };
      });
    const summary = {
      total: copysets.length,
      healthy: count('healthy'),
      degraded: count('degraded'),
      unavailable: count('unavailable'),
      changing: copysets.filter((x) => x.pending).length,
      underReplicated,
    };
    const offline = css.filter((x) => x.state !== 'online').map((x) => ({ id: x.id, state: x.state }));
    const value = {
      clusterId: cluster.clusterId,
      mds,
      chunkservers: css,
      offlineChunkservers: offline,
      copysets: summary,
      operators,
      pendingChunkDeletes: Number(sched.pendingChunkDeletes ?? 0),
    };
    out(g, value, () => {
      let s = `cluster ${String(cluster.clusterId)}\n\nMDS\n${table(mds, ['address', 'role'])}\n`;
      s += `CHUNKSERVERS\n${table(css, ['id', 'address', 'state', 'disk', 'capacity', 'used', 'copysets', 'leaders'])}\n`;
      s += `COPYSETS total ${summary.total}: healthy ${summary.healthy}, degraded ${summary.degraded}, unavailable ${summary.unavailable}\n`;
      if (underReplicated.length > 0) {
        const pct = summary.total ? Math.floor((100 * summary.healthy) / summary.total) : 100;
        s += `recovery: ${underReplicated.length} copysets under-replicated, ${pct}% healthy\n`;
        s += table(underReplicated, ['copyset', 'health', 'members', 'down', 'pending']);
      }
      if (operators.length > 0)
        s += `\nOPERATORS IN FLIGHT\n${table(operators, ['copyset', 'scheduler', 'steps', 'step', 'age'])}`;
      if (value.pendingChunkDeletes > 0)
        s += `\nfreed segments waiting for chunk deletion: ${value.pendingChunkDeletes}\n`;
      return s;
    });
  } finally {
    c.close();
  }
}

/** Copyset leaders per chunkserver (every chunkserver listed, 0 when it leads none). */
async function leaderCounts(
  c: MdsClient,
): Promise<Map<number, { address: string; state: string; leaders: number }>> {
  const css = (await topo(c, 'ListChunkServer', {})).chunkServerInfos as Rec[];
  const m = new Map(
    css.map((cs) => [
      Number(cs.chunkServerID),
      { address: `${String(cs.hostIp)}:${String(cs.port)}`, state: chunkserverState(cs), leaders: 0 },
    ]),
  );
  for (const x of (await topo(c, 'ListCopySet', {})).copysets as Rec[]) {
    const e = m.get(Number(x.leader));
    if (e) e.leaders++;
  }
  return m;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Asks the MDS for leader moves until it plans none and none is in flight (leaders are even), or the
 * timeout passes (exit 1). The MDS's leader scheduler plans the moves; copyset leaders carry them out
 * (TransferLeader) when their heartbeat is answered; the new leaders' heartbeats confirm them.
 */
async function leaderBalance(g: Global, timeoutSec: number): Promise<void> {
  await withClient(g, async (c) => {
    const before = await leaderCounts(c);
    const deadline = Date.now() + timeoutSec * 1000;
    const moves: Rec[] = [];
    let balanced = false;
    while (Date.now() < deadline) {
      const inFlight = ((await topo(c, 'GetScheduleStatus', {})).operators as Rec[]).filter(
        (o) => o.scheduler === 'leader',
      );
      if (inFlight.length > 0) {
        await sleep(300);
        continue;
      }
      const planned = (await topo(c, 'BalanceLeaders', {})).moves as Rec[];
      if (planned.length === 0) {
        balanced = true;
        break;
      }
      moves.push(...planned);
      await sleep(300);
    }
    const after = await leaderCounts(c);
    const rows = [...before.entries()].map(([id, b]) => ({
      id,
      address: b.address,
      state: after.get(id)?.state ?? b.state,
      before: b.leaders,
      after: after.get(id)?.leaders ?? 0,
    }));
    const moveRows = moves.map((m) => ({
      copyset: `${String(m.logicalPoolId)}.${String(m.copysetId)}`,
      from: m.fromChunkServer,
      to: m.toChunkServer,
    }));
    out(g, { balanced, moves: moveRows, chunkservers: rows }, () => {
      let s = table(rows, ['id', 'address', 'state', 'before', 'after']);
      s += `${moves.length} leader transfers; ${balanced ? 'leaders balanced' : 'NOT balanced'}\n`;
      return s;
    });
    if (!balanced) throw new CliError(`leaders not balanced within ${timeoutSec} s`, 1);
  });
}

async function topologyApply(g: Global, file: string, dryRun: boolean): Promise<void> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, 2);
  }
  let parsed;
  try {
    parsed = parseTopologyFile(text);
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
  const c = client(g);
  try {
    const pools = (await topo(c, 'ListPhysicalPool', {})).physicalPoolInfos as Rec[];
    const zones = (await topo(c, 'ListPoolZone', {})).zones as Rec[];
    const servers = (await topo(c, 'ListZoneServer', {})).serverInfo as Rec[];
    const lps = (await topo(c, 'ListLogicalPool', {})).logicalPoolInfos as Rec[];
    const actions = planTopologyApply(parsed, {
      physicalPools: pools.map((p) => String(p.physicalPoolName)),
      zones: zones.map((z) => `${String(z.physicalPoolName)}/${String(z.zoneName)}`),
      servers: servers.map((s) => String(s.hostName)),
      logicalPools: lps.map((l) => String(l.logicalPoolName)),
    });
    const done: string[] = [];
    for (const a of actions) {
      const name = Object.entries(a.req).find(([k]) => k.endsWith('Name'))?.[1];
      if (!dryRun) await topo(c, a.kind, a.req);
      done.push(`${a.kind} ${String(name)}`);
    }
    out(g, { applied: !dryRun, actions: done }, () =>
      done.length === 0
        ? 'topology already up to date\n'
        : done.map((d) => (dryRun ? 'would ' : '') + d + '\n').join(''),
    );
  } finally {
    c.close();
  }
}

async function topologyShow(g: Global): Promise<void> {
  const c = client(g);
  try {
    const value = {
      physicalPools: (await topo(c, 'ListPhysicalPool', {})).physicalPoolInfos as Rec[],
      zones: (await topo(c, 'ListPoolZone', {})).zones as Rec[],
      servers: (await topo(c, 'ListZoneServer', {})).serverInfo as Rec[],
      logicalPools: (await topo(c, 'ListLogicalPool', {})).logicalPoolInfos as Rec[],
    };
    out(g, value, () =>
      [
        'PHYSICAL POOLS\n' + table(value.physicalPools, ['physicalPoolID', 'physicalPoolName']),
        'ZONES\n' + table(value.zones, ['zoneID', 'zoneName', 'physicalPoolName']),
        'SERVERS\n' +
          table(value.servers, ['serverID', 'hostName', 'internalIp', 'internalPort', 'zoneName']),
        'LOGICAL POOLS\n' +
          table(value.logicalPools, ['logicalPoolID', 'logicalPoolName', 'replicaNum', 'copysetNum']),
      ].join('\n'),
    );
  } finally {
    c.close();
  }
}

async function withClient(g: Global, fn: (c: MdsClient) => Promise<void>): Promise<void> {
  const c = client(g);
  try {
    await fn(c);
  } finally {
    c.close();
  }
}

// Parsed arguments: the globals plus each command's own options (checked by yargs' strict mode).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Args = Global & Record<string, any>;

function build(argv: string[]): Argv<Global> {
  // yargs' handler typing does not follow builder callbacks well: handlers take the loose Args.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const run = (fn: (a: Args) => Promise<void>): any => fn;
  return yargs(argv)
    .scriptName('curve')
    .option('mds', {
      type: 'string',
      default: process.env.CURVE_MDS ?? '127.0.0.1:6700',
      describe: 'MDS addresses, comma separated',
    })
    .option('json', { type: 'boolean', default: false, describe: 'machine-readable output' })
    .option('owner', { type: 'string', default: process.env.CURVE_USER ?? 'root', describe: 'file owner' })
    .command('status', 'cluster, MDS, chunkserver and copyset status', {}, run(status))
    .command('topology', 'cluster topology', (y) =>
      y
        .command(
          'apply <file>',
          'create the pools, zones, servers and logical pools of a JSON topology file',
          (y2) =>
            y2
              .positional('file', { type: 'string', demandOption: true })
              .option('dry-run', { type: 'boolean', default: false }),
          run((a: Args) => topologyApply(a, a.file, a['dry-run'])),
        )
        .command(['show', 'list'], 'show the topology', {}, run(topologyShow))
        .demandCommand(1),
    )
    .command(
      'create <path>',
      'create a volume (or --dir a directory)',
      (y) =>
        y
          .positional('path', { type: 'string', demandOption: true })
          .option('size', { type: 'string', describe: 'e.g. 10GiB' })
          .option('dir', { type: 'boolean', default: false }),
      run(async (a: Args) => {
        if (!a.dir && !a.size) throw new CliError('--size is required for a volume', 2);
        const fileLength = a.dir ? 0 : parseSize(a.size!);
        await withClient(a, async (c) => {
          await ns(c, 'CreateFile', {
            fileName: a.path,
            owner: a.owner,
            fileType: a.dir ? 0 : 1,
            fileLength,
          });
          out(a, { created: a.path }, () => `created ${a.path}\n`);
        });
      }),
    )
    .command(
      'delete <path>',
      'delete (to the recycle bin unless --force)',
      (y) =>
        y
          .positional('path', { type: 'string', demandOption: true })
          .option('force', { type: 'boolean', default: false }),
      run(async (a: Args) =>
        withClient(a, async (c) => {
          await ns(c, 'DeleteFile', { fileName: a.path, owner: a.owner, forceDelete: a.force });
          out(a, { deleted: a.path }, () => `deleted ${a.path}\n`);
        }),
      ),
    )
    .command(
      'recover <path>',
      'restore a deleted volume from the recycle bin',
      (y) => y.positional('path', { type: 'string', demandOption: true }),
      run(async (a: Args) =>
        withClient(a, async (c) => {
          await ns(c, 'RecoverFile', { fileName: a.path, owner: a.owner });
          out(a, { recovered: a.path }, () => `recovered ${a.path}\n`);
        }),
      ),
    )
    .command(
      'rename <from> <to>',
      'rename a volume or directory',
      (y) =>
        y
          .positional('from', { type: 'string', demandOption: true })
          .positional('to', { type: 'string', demandOption: true }),
      run(async (a: Args) =>
        withClient(a, async (c) => {
          await ns(c, 'RenameFile', { oldFileName: a.from, newFileName: a.to, owner: a.owner });
          out(a, { renamed: a.from, to: a.to }, () => `renamed ${a.from} -> ${a.to}\n`);
        }),
      ),
    )
    .command(
      'extend <path>',
      'grow a volume',
      (y) =>
        y
          .positional('path', { type: 'string', demandOption: true })
          .option('size', { type: 'string', demandOption: true }),
      run(async (a: Args) =>
        withClient(a, async (c) => {
          await ns(c, 'ExtendFile', { fileName: a.path, owner: a.owner, newSize: parseSize(a.size) });
          out(a, { extended: a.path }, () => `extended ${a.path} to ${a.size}\n`);
        }),
      ),
    )
    .command(
      'stat <path>',
      'show a volume or directory',
      (y) => y.positional('path', { type: 'string', demandOption: true }),
      run(async (a: Args) =>
        withClient(a, async (c) => {
          const info = (await ns(c, 'GetFileInfo', { fileName: a.path, owner: a.owner })).fileInfo as Rec;
          const alloc = await call(c, 'nameserver', 'GetAllocatedSize', { fileName: a.path });
          const value = { ...info, allocatedSize: alloc.allocatedSize };
          out(a, value, () =>
            Object.entries({
              ...fileRow(info),
              ctime: new Date(Number(info.ctime) / 1000).toISOString(),
              allocated: human(Number(alloc.allocatedSize ?? 0)),
            })
              .map(([k, v]) => `${k.padEnd(10)} ${String(v)}\n`)
              .join(''),
          );
        }),
      ),
    )
    .command(
      ['list [path]', 'ls [path]'],
      'list a directory',
      (y) => y.positional('path', { type: 'string', default: '/' }),
      run(async (a: Args) =>
        withClient(a, async (c) => {
          const files = (await ns(c, 'ListDir', { fileName: a.path, owner: a.owner })).fileInfo as Rec[];
          out(a, files, () => table(files.map(fileRow), ['name', 'id', 'type', 'owner', 'length']));
        }),
      ),
    )
    .command('copyset', 'copysets', (y) =>
      y
        .command(
          ['check', 'status'],
          'copyset health; exit 1 unless all healthy',
          (y2) => y2.option('pool', { type: 'number', describe: 'logical pool id' }),
          run(async (a: Args) =>
            withClient(a, async (c) => {
              const list = (await topo(c, 'ListCopySet', { logicalPoolId: a.pool ?? 0 })).copysets as Rec[];
              const rows = list.map((x) => ({
                copyset: `${String(x.logicalPoolId)}.${String(x.copysetId)}`,
                members: (x.chunkServerIDs as number[]).join(','),
                leader: x.leader || '-',
                epoch: x.epoch,
                health: x.health,
                pending: x.pending || '',
              }));
              out(a, rows, () => table(rows, ['copyset', 'members', 'leader', 'epoch', 'health', 'pending']));
              if (list.some((x) => x.health !== 'healthy')) process.exitCode = 1;
            }),
          ),
        )
        .demandCommand(1),
    )
    .command('leader', 'copyset leaders', (y) =>
      y
        .command(
          'balance',
          'even out copyset leaders across chunkservers; before/after table; exit 1 if not balanced in time',
          (y2) => y2.option('timeout', { type: 'number', default: 60, describe: 'seconds' }),
          run((a: Args) => leaderBalance(a, a.timeout)),
        )
        .demandCommand(1),
    )
    .command('chunkserver', 'chunkservers', (y) =>
      y
        .command(
          ['list', 'ls'],
          'list chunkservers',
          {},
          run(async (a) =>
            withClient(a, async (c) => {
              const list = (await topo(c, 'ListChunkServer', {})).chunkServerInfos as Rec[];
              const rows = list.map((cs) => ({
                id: cs.chunkServerID,
                address: `${cs.hostIp}:${cs.port}`,
                disk: cs.mountPoint,
                state: chunkserverState(cs),
                capacity: human(Number(cs.diskCapacity)),
                used: human(Number(cs.diskUsed)),
                copysets: cs.copysetNum,
              }));
              out(a, rows, () =>
                table(rows, ['id', 'address', 'disk', 'state', 'capacity', 'used', 'copysets']),
              );
            }),
          ),
        )
        .demandCommand(1),
    )
    .demandCommand(1)
    .strict()
    .help()
    .exitProcess(false) as unknown as Argv<Global>;
}

async function main(): Promise<void> {
  let usageError: string | undefined;
  const parser = build(hideBin(process.argv)).fail((msg, err) => {
    if (err instanceof CliError) throw err;
    usageError = msg ?? err?.message ?? 'usage error';
  });
  try {
    await parser.parseAsync();
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`curve: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    if (!usageError) {
      process.stderr.write(`curve: ${(err as Error).message}\n`);
      process.exit(1);
    }
  }
  if (usageError) {
    process.stderr.write(`curve: ${usageError}\n`);
    process.exit(2);
  }
}

void main();
