// Test harness: a real cluster of processes on 127.0.0.1: curve-mds (embedded store or etcd) and N
// curve-chunkserver processes, one per zone, on free ports in a temp dir; topology and a logical pool
// created through the MDS. Every process is stopped by its PID; every wait is bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MdsClient } from '../../../src/curve/mds/mds-client';
import { freePort } from './etcd-harness';
import { DAEMON_NODE_FLAGS } from '../../../src/common/daemon-node-flags';

const DIST_BIN = path.resolve(__dirname, '../../../src/bin');
export const MDS_BIN = path.join(DIST_BIN, 'curve-mds.js');
export const CS_BIN = path.join(DIST_BIN, 'curve-chunkserver.js');
export const CLI_BIN = path.join(DIST_BIN, 'curve.js');

type Rec = Record<string, unknown> & { statusCode?: number };

export interface Proc {
  name: string;
  args: string[];
  child: ChildProcess;
  logs: string[];
  exited: Promise<number | null>;
}

export function spawnDaemon(name: string, bin: string, args: string[], readyText: string): Promise<Proc> {
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, bin, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn' },
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.stderr!.on('data', (d: Buffer) => {
    logs.push(...d.toString().split('\n').filter(Boolean));
    if (logs.length > 400) logs.splice(0, logs.length - 400);
  });
  const p: Proc = { name, args, child, logs, exited };
  return new Promise<Proc>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${name} not ready within 30 s`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(readyText)) {
        clearTimeout(timer);
        resolve(p);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before ready: ${logs.slice(-5).join('\n')}`));
    });
  });
}

export async function killProc(p: Proc | undefined, sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(sig);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 15_000);
  await p.exited;
  clearTimeout(timer);
}

export async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ProcClusterOptions {
  chunkservers: number;
  copysets: number;
  /** extra curve-mds flags (e.g. shortened health timeouts) */
  mdsArgs?: string[];
  /** etcd endpoint: MDS on etcd instead of the embedded store */
  etcd?: string;
  /** MDS processes (etcd only; default 1) */
  mdsCount?: number;
}

export class ProcCluster {
  dir = '';
  mdsPorts: number[] = [];
  mds: (Proc | undefined)[] = [];
  csPorts: number[] = [];
  cs: (Proc | undefined)[] = [];
  client!: MdsClient;

  constructor(readonly opts: ProcClusterOptions) {}

  get mdsAddrs(): string[] {
    return this.mdsPorts.map((p) => `127.0.0.1:${p}`);
  }

  mdsArgs(i: number): string[] {
    const store = this.opts.etcd
      ? ['--store', 'etcd', '--etcd', this.opts.etcd, '--lease-ttl', '2', '--lease-margin-ms', '700']
      : ['--store', 'level'];
    return [
      '--listen',
      this.mdsAddrs[i],
      ...store,
      '--data-dir',
      path.join(this.dir, `mds${i}`),
      '--metrics',
      'off',
      ...(this.opts.mdsArgs ?? []),
    ];
  }

  csArgs(i: number): string[] {
    return [
      '--ip',
      '127.0.0.1',
      '--port',
      String(this.csPorts[i]),
      '--data-dir',
      path.join(this.dir, `cs${i + 1}`),
      '--mds',
      this.mdsAddrs.join(','),
      '--server-name',
      `server${i + 1}`,
      '--pool-target-count',
      '2',
      '--heartbeat-interval-ms',
      '300',
      '--tick-ms',
      '50',
      '--election-ticks',
      '10',
      '--metrics',
      'off',
    ];
  }

  async startMds(i: number): Promise<Proc> {
    const p = await spawnDaemon(`mds${i}`, MDS_BIN, this.mdsArgs(i), 'listening on');
    this.mds[i] = p;
    return p;
  }

  async startCs(i: number): Promise<Proc> {
    const p = await spawnDaemon(`cs${i + 1}`, CS_BIN, this.csArgs(i), 'listening on');
    this.cs[i] = p;
    return p;
  }

  csEndpoint(i: number): string {
    return `127.0.0.1:${this.csPorts[i]}`;
  }

  async topo(method: string, req: Record<string, unknown>): Promise<Rec> {
    const r = await this.client.call<Rec>('topology', method, req);
    if (r.statusCode !== 0) throw new Error(`${method}: topology status ${String(r.statusCode)}`);
    return r;
  }

  async start(): Promise<void> {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mds-proc-'));
    const n = this.opts.mdsCount ?? 1;
    for (let i = 0; i < n; i++) this.mdsPorts.push(await freePort());
    for (let i = 0; i < this.opts.chunkservers; i++) this.csPorts.push(await freePort());
    this.client = new MdsClient(this.mdsAddrs, 2000, 20_000);
    for (let i = 0; i < n; i++) await this.startMds(i);
    await this.topo('CreatePhysicalPool', { physicalPoolName: 'pool1' });
    for (let i = 0; i < this.opts.chunkservers; i++) {
      await this.topo('CreateZone', { zoneName: `zone${i + 1}`, physicalPoolName: 'pool1' });
      await this.topo('RegistServer', {
        hostName: `server${i + 1}`,
        internalIp: '127.0.0.1',
        internalPort: this.csPorts[i],
        zoneName: `zone${i + 1}`,
        physicalPoolName: 'pool1',
      });
    }
    await Promise.all(this.csPorts.map((_, i) => this.startCs(i)));
    await waitFor('chunkservers registered', 30_000, async () => {
      const r = await this.topo('ListChunkServer', {});
      return (r.chunkServerInfos as unknown[]).length === this.opts.chunkservers ? true : undefined;
    });
    await this.topo('CreateLogicalPool', {
      logicalPoolName: 'lp1',
      physicalPoolName: 'pool1',
      copysetNum: this.opts.copysets,
      replicaNum: 3,
    });
    await this.waitHealthy(60_000);
  }

  async copysets(): Promise<Rec[]> {
    return (await this.topo('ListCopySet', {})).copysets as Rec[];
  }

  /** Every copyset healthy (3 online members) with a leader known to the MDS. */
  async waitHealthy(ms: number): Promise<Rec[]> {
    return waitFor('all copysets healthy with a leader', ms, async () => {
      const list = await this.copysets();
      return list.every((c) => c.health === 'healthy' && c.leader) ? list : undefined;
    });
  }

  /** Chunk file of `chunkId` in a chunkserver's copyset directory. */
  chunkFile(csIndex: number, pool: number, copyset: number, chunkId: number): string {
    return path.join(
      this.dir,
      `cs${csIndex + 1}`,
      'copysets',
      `${pool}_${copyset}`,
      'data',
      `chunk_${chunkId}`,
    );
  }

  async stop(): Promise<void> {
    this.client?.close();
    await Promise.all(this.cs.map((p) => killProc(p)));
    await Promise.all(this.mds.map((p) => killProc(p)));
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Everything the MDS must keep across restarts and failovers, soft state (health, leaders) left out. */
export async function metadataSnapshot(client: MdsClient, files: string[]): Promise<Rec> {
  const topo = async (m: string): Promise<Rec> => {
    const r = await client.call<Rec>('topology', m, {});
    if (r.statusCode !== 0) throw new Error(`${m}: ${String(r.statusCode)}`);
    return r;
  };
  const chunkservers = ((await topo('ListChunkServer')).chunkServerInfos as Rec[]).map((cs) => ({
    id: cs.chunkServerID,
    addr: `${String(cs.hostIp)}:${String(cs.port)}`,
    server: cs.serverID,
    disk: cs.mountPoint,
    status: cs.status,
  }));
  const copysets = ((await topo('ListCopySet')).copysets as Rec[]).map((c) => ({
    id: `${String(c.logicalPoolId)}.${String(c.copysetId)}`,
    members: [...(c.chunkServerIDs as number[])].sort((a, b) => a - b),
    epoch: c.epoch,
  }));
  const ns = (m: string, req: Rec): Promise<Rec> =>
    client.call<Rec>('nameserver', m, { owner: 'root', ...req });
  const fileInfo: Rec[] = [];
  const segments: Rec = {};
  for (const f of files) {
    const info = (await ns('GetFileInfo', { fileName: f })).fileInfo as Rec;
    fileInfo.push(info);
    for (let off = 0; off < Number(info.length); off += Number(info.segmentSize)) {
      const s = await ns('GetOrAllocateSegment', { fileName: f, offset: off, allocateIfNotExist: false });
      if (s.statusCode === 0) segments[`${f}@${off}`] = s.pageFileSegment;
    }
  }
  return {
    clusterId: (await topo('GetClusterInfo')).clusterId,
    physicalPools: (await topo('ListPhysicalPool')).physicalPoolInfos,
    zones: (await topo('ListPoolZone')).zones,
    servers: (await topo('ListZoneServer')).serverInfo,
    logicalPools: ((await topo('ListLogicalPool')).logicalPoolInfos as Rec[]).map((p) => ({
      ...p,
      allocateStatus: undefined,
    })),
    chunkservers,
    copysets,
    root: (await ns('ListDir', { fileName: '/' })).fileInfo,
    fileInfo,
    segments,
  };
}
