// The copysets of one chunkserver: created on request (idempotent: asking again for an existing copyset
// answers EXIST), loaded from <dataDir>/copysets/<pool>_<copyset> on restart, deleted on request (the
// directory moves to <dataDir>/recycled so nothing is lost by mistake). A copyset whose metadata or log
// fails to load is kept aside as broken and reported, never served.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createLogger } from '../../common/log';
import type { HostJournal } from '../raft/host-journal';
import type { MultiRaftHost } from '../raft/multi-raft-host';
import type { ChunkFilePool } from './chunk-file-pool';
import { copysetName, groupIdOf, validCopysetKey } from './copyset-id';
import { CopysetNode, type SnapshotBudget } from './copyset-node';
import { LogMemoryBudget } from './log-memory-budget';
import type { PeerClients } from './peer-clients';
import type { RaftRpcTransport } from './raft-rpc-transport';

const log = createLogger('copyset-manager');
const DIR_RE = /^(\d+)_(\d+)$/;

export interface CopysetManagerOptions {
  dataDir: string;
  pool: ChunkFilePool;
  host: MultiRaftHost;
  transport: RaftRpcTransport;
  peers: PeerClients;
  self: string;
  snapshotIntervalEntries: number;
  snapshotRetainEntries: number;
  snapshotIntervalBytes: number;
  snapshotRetainBytes: number;
  raftSegmentBytes: number;
  snapshotThrottleBytesPerSec: number;
  /** Shared Raft journal of this chunkserver (one fdatasync per flush for all copysets). */
  journal?: HostJournal;
  /**
   * Bytes of log all copysets together may hold since their last snapshots before the largest holder is
   * asked for a snapshot (0: no bound; each copyset then only keeps to snapshotIntervalBytes).
   */
  logBudgetBytes?: number;
}

/** A copyset is asked for a budget snapshot only if it holds at least this much (a snapshot costs fsyncs). */
const BUDGET_MIN_SNAPSHOT_BYTES = 256 << 10;
/** Budget snapshots running at once. */
const BUDGET_MAX_CONCURRENT = 2;

export type CreateOutcome = 'created' | 'exists' | 'conflict';

export class CopysetManager implements SnapshotBudget {
  private readonly nodes = new Map<number, CopysetNode>();
  private readonly budget: LogMemoryBudget<CopysetNode>;
  /** Budget snapshots running. */
  private forcing = 0;
  /** The budget's total when a scan last found no copyset to ask: don't rescan before it grows more. */
  private quietUntil = 0;
  readonly budgetCounters = { snapshotsAsked: 0 };
  private readonly creating = new Map<number, Promise<CopysetNode>>();
  readonly broken = new Map<string, string>();
  private readonly root: string;

  constructor(private readonly opts: CopysetManagerOptions) {
    this.root = path.join(opts.dataDir, 'copysets');
    this.budget = new LogMemoryBudget(opts.logBudgetBytes ?? 0, BUDGET_MIN_SNAPSHOT_BYTES);
  }

  /** Unsnapshotted log bytes of all copysets (a gauge). */
  get unsnapshottedLogBytes(): number {
    return this.budget.totalBytes;
  }

  grew(node: CopysetNode, bytes: number): void {
    this.budget.add(node, bytes);
    this.enforceBudget();
  }

  released(node: CopysetNode, bytes: number, done: boolean): void {
    this.budget.release(node, bytes);
    if (done) {
      this.forcing--;
      this.quietUntil = 0;
      this.enforceBudget();
    }
  }

  removed(node: CopysetNode): void {
    this.budget.remove(node);
  }

  /** Over budget: ask the copyset holding the most for a snapshot (a scan of all copysets, so not per apply). */
  private enforceBudget(): void {
    const b = this.budget;
    if (b.budgetBytes <= 0 || b.totalBytes <= b.budgetBytes || this.forcing >= BUDGET_MAX_CONCURRENT) return;
    if (b.totalBytes < this.quietUntil) return;
    const node = b.pick((n) => !n.canSnapshotNow());
    if (!node || !node.snapshotNow()) {
      this.quietUntil = b.totalBytes + b.minBytes;
      return;
    }
    this.quietUntil = 0;
    this.forcing++;
    this.budgetCounters.snapshotsAsked++;
  }

  /** Loads every copyset found on disk. */
  async loadAll(): Promise<number> {
    fs.mkdirSync(this.root, { recursive: true });
    let n = 0;
    for (const name of fs.readdirSync(this.root).sort()) {
      const m = DIR_RE.exec(name);
      if (!m) continue;
      const pool = Number(m[1]);
      const cs = Number(m[2]);
      try {
        await this.openNode(pool, cs, []);
        n++;
      } catch (err) {
        this.broken.set(name, (err as Error).message);
        log.error('copyset failed to load', { copyset: name, err: err as Error });
      }
    }
    return n;
  }

  get(logicPoolId: number, copysetId: number): CopysetNode | undefined {
    if (!validCopysetKey(logicPoolId, copysetId)) return undefined;
    const n = this.nodes.get(groupIdOf(logicPoolId, copysetId));
    return n && !n.deleted ? n : undefined;
  }

  byGroup(group: number): CopysetNode | undefined {
    const n = this.nodes.get(group);
    return n && !n.deleted ? n : undefined;
  }

  all(): CopysetNode[] {
    return [...this.nodes.values()].filter((n) => !n.deleted);
  }

  /** Creates the copyset with these founding peers ("ip:port"), or reports that it exists. */
  async create(logicPoolId: number, copysetId: number, peers: string[]): Promise<CreateOutcome> {
    if (!validCopysetKey(logicPoolId, copysetId)) throw new RangeError('copyset id out of range');
    const group = groupIdOf(logicPoolId, copysetId);
    const existing = this.nodes.get(group);
    if (existing && !existing.deleted) return 'exists';
    if (existing?.deleted) return 'conflict'; // the Raft group of a deleted copyset lives until restart
    const pending = this.creating.get(group);
    if (pending) {
      await pending;
      return 'exists';
    }
    const p = this.openNode(logicPoolId, copysetId, peers);
    this.creating.set(group, p);
    try {
      await p;
    } finally {
      this.creating.delete(group);
    }
    log.info('copyset created', { copyset: copysetName(logicPoolId, copysetId), peers });
    return 'created';
  }

  private async openNode(logicPoolId: number, copysetId: number, peers: string[]): Promise<CopysetNode> {
    const o = this.opts;
    const node = await CopysetNode.open({
      logicPoolId,
      copysetId,
      dir: path.join(this.root, copysetName(logicPoolId, copysetId)),
      pool: o.pool,
      host: o.host,
      transport: o.transport,
      peers: o.peers,
      self: o.self,
      initialPeers: peers,
      snapshotIntervalEntries: o.snapshotIntervalEntries,
      snapshotRetainEntries: o.snapshotRetainEntries,
      snapshotIntervalBytes: o.snapshotIntervalBytes,
      snapshotRetainBytes: o.snapshotRetainBytes,
      raftSegmentBytes: o.raftSegmentBytes,
      snapshotThrottleBytesPerSec: o.snapshotThrottleBytesPerSec,
      journal: o.journal,
      logBudget: this,
    });
    this.nodes.set(node.group, node);
    return node;
  }

  /** Stops serving the copyset and moves its directory to <dataDir>/recycled. */
  async delete(logicPoolId: number, copysetId: number): Promise<boolean> {
    const node = this.get(logicPoolId, copysetId);
    if (!node) {
      const name = copysetName(logicPoolId, copysetId);
      if (!this.broken.has(name)) return false;
      this.recycleDir(path.join(this.root, name), name);
      this.broken.delete(name);
      return true;
    }
    node.deleted = true;
    await node.close();
    this.recycleDir(node.storageDir(), node.name);
    log.info('copyset deleted', { copyset: node.name });
    return true;
  }

  private recycleDir(dir: string, name: string): void {
    const bin = path.join(this.opts.dataDir, 'recycled');
    fs.mkdirSync(bin, { recursive: true });
    fs.renameSync(dir, path.join(bin, `${name}.${Date.now()}`));
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled(this.all().map((n) => n.close()));
  }
}
