// The chunkserver's side of the MDS: registration (RegistChunkServer once; the id and token are kept in
// <dataDir>/chunkserver.dat with a checksum, and a corrupt file stops the start instead of registering a
// second identity) and a heartbeat every few seconds with disk capacity/usage and every copyset's
// members, leader, epoch, term, applied index and any config change in progress. The MDS answers with
// config changes for copysets this server leads; they are started here and their progress reported in
// the following heartbeats.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createLogger } from '../../common/log';
import { MdsClient } from '../mds/mds-client';
import { readChecksummedJson, writeChecksummedJson } from './checksummed-file';
import { endpointOf, peerIdOf, splitEndpoint } from './copyset-id';
import type { CopysetManager } from './copyset-manager';
import type { ControlServices } from './control-services';

const log = createLogger('mds-agent');

export interface Identity {
  chunkServerId: number;
  token: string;
  endpoint: string;
}

export interface MdsAgentOptions {
  mdsAddresses: string[];
  dataDir: string;
  self: string;
  serverName: string;
  diskType: string;
  heartbeatIntervalMs: number;
  manager: CopysetManager;
  control: ControlServices;
  electionTimeoutMs: number;
}

const enum ChangeType {
  NONE = 0,
  ADD_PEER = 1,
  REMOVE_PEER = 2,
  TRANSFER_LEADER = 3,
  CHANGE_PEER = 4,
}

interface PeerMsg {
  id: number;
  address: string;
}

interface CopySetConf {
  logicalPoolID: number;
  copysetID: number;
  peers: PeerMsg[];
  epoch: number;
  type: number;
  configchangeItem: PeerMsg | null;
  oldPeer: PeerMsg | null;
}

const TYPE_NAMES: Record<string, ChangeType> = {
  add: ChangeType.ADD_PEER,
  remove: ChangeType.REMOVE_PEER,
  transfer: ChangeType.TRANSFER_LEADER,
  change: ChangeType.CHANGE_PEER,
};

export class MdsAgent {
  private readonly client: MdsClient;
  private timer: NodeJS.Timeout | undefined;
  private identity: Identity | undefined;
  private readonly startTime = Math.floor(Date.now() / 1000);
  private beating = false;
  readonly counters = { heartbeats: 0, failures: 0, changesStarted: 0 };

  constructor(private readonly opts: MdsAgentOptions) {
    this.client = new MdsClient(opts.mdsAddresses, 3000, 10_000);
  }

  get id(): Identity | undefined {
    return this.identity;
  }

  /** The stored identity, or a new one from the MDS. Throws when the stored file is corrupt. */
  async register(): Promise<Identity> {
    const file = path.join(this.opts.dataDir, 'chunkserver.dat');
    const stored = readChecksummedJson<Identity>(file);
    if (stored) {
      if (stored.endpoint !== this.opts.self) {
        throw new Error(`${file} belongs to ${stored.endpoint}, this server is ${this.opts.self}`);
      }
      this.identity = stored;
      return stored;
    }
    const { host, port } = splitEndpoint(this.opts.self);
    const res = await this.client.call<{ statusCode: number; chunkServerID: number; token: string }>(
      'topology',
      'RegistChunkServer',
      {
        diskType: this.opts.diskType,
        diskPath: this.opts.dataDir,
        hostIp: host,
        port,
        externalIp: host,
        diskCapacity: this.capacity().total,
        serverName: this.opts.serverName,
      },
    );
    if (res.statusCode !== 0) throw new Error(`RegistChunkServer refused: statusCode ${res.statusCode}`);
    const id: Identity = { chunkServerId: res.chunkServerID, token: res.token, endpoint: this.opts.self };
    writeChecksummedJson(file, id);
    this.identity = id;
    log.info('registered with the MDS', { chunkServerId: id.chunkServerId });
    return id;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.beat(), this.opts.heartbeatIntervalMs);
    void this.beat();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.client.close();
  }

  private capacity(): { total: number; used: number } {
    try {
      const st = fs.statfsSync(this.opts.dataDir);
      const total = st.blocks * st.bsize;
      return { total, used: total - st.bavail * st.bsize };
    } catch {
      return { total: 0, used: 0 };
    }
  }

  /** The heartbeat request as it would be sent now. */
  buildRequest(): Record<string, unknown> {
    const id = this.identity!;
    const { host, port } = splitEndpoint(this.opts.self);
    const cap = this.capacity();
    const nodes = this.opts.manager.all();
    const copysetInfos = nodes.map((n) => {
      const [pool, cs] = n.name.split('_').map(Number);
      const leader = n.leaderEndpoint();
      const info: Record<string, unknown> = {
        logicalPoolID: pool,
        copysetID: cs,
        peers: n.peerEndpoints().map((e) => ({ id: 0, address: peerIdOf(e) })),
        epoch: n.epoch,
        leaderPeer: leader ? { id: 0, address: peerIdOf(leader) } : undefined,
      };
      if (n.change) {
        info.configChangeInfo = {
          peer: { id: 0, address: peerIdOf(n.change.peer) },
          type: TYPE_NAMES[n.change.type],
          finished: n.change.finished,
        };
      }
      return info;
    });
    return {
      chunkServerID: id.chunkServerId,
      token: id.token,
      ip: host,
      port,
      diskState: { errType: 0, errMsg: '' },
      diskCapacity: cap.total,
      diskUsed: cap.used,
      leaderCount: nodes.filter((n) => n.isLeader()).length,
      copysetCount: nodes.length,
      copysetInfos,
      startTime: this.startTime,
    };
  }

  private async beat(): Promise<void> {
    if (this.beating || !this.identity) return;
    this.beating = true;
    try {
      const res = await this.client.call<{ statusCode: number; needUpdateCopysets: CopySetConf[] }>(
        'heartbeat',
        'ChunkServerHeartbeat',
        this.buildRequest(),
      );
      this.counters.heartbeats++;
      if (res.statusCode !== 0) log.warn('heartbeat refused', { statusCode: res.statusCode });
      for (const conf of res.needUpdateCopysets ?? []) this.execute(conf);
    } catch (err) {
      this.counters.failures++;
      log.warn('heartbeat failed', { err: err as Error });
    } finally {
      this.beating = false;
    }
  }

  /** Starts one config change the MDS asked for (only on the leader; one at a time per copyset). */
  execute(conf: CopySetConf): void {
    const node = this.opts.manager.get(conf.logicalPoolID, conf.copysetID);
    if (!node || !node.isLeader()) return;
    if (node.change && !node.change.finished && !node.change.failed) return;
    const target = conf.configchangeItem ? endpointOf(conf.configchangeItem.address) : undefined;
    if (!target) return;
    let run: () => Promise<unknown>;
    let type: 'add' | 'remove' | 'transfer' | 'change';
    switch (conf.type) {
      case ChangeType.ADD_PEER:
        type = 'add';
        run = () => this.opts.control.addPeer(node, target);
        break;
      case ChangeType.REMOVE_PEER:
        type = 'remove';
        run = () => node.removePeer(target);
        break;
      case ChangeType.TRANSFER_LEADER:
        type = 'transfer';
        run = () => node.transferLeader(target, 2 * this.opts.electionTimeoutMs);
        break;
      case ChangeType.CHANGE_PEER: {
        type = 'change';
        const old = conf.oldPeer ? endpointOf(conf.oldPeer.address) : undefined;
        const next = node.peerEndpoints().filter((p) => p !== old);
        next.push(target);
        run = () => this.opts.control.changePeers(node, next);
        break;
      }
      default:
        return;
    }
    const change = { type, peer: target, finished: false, failed: false };
    node.change = change;
    this.counters.changesStarted++;
    log.info('config change from the MDS', { copyset: node.name, type, peer: target });
    run().then(
      () => (change.finished = true),
      (err: unknown) => {
        change.failed = true;
        log.warn('config change failed', { copyset: node.name, type, peer: target, err: err as Error });
      },
    );
  }
}
