// The cluster topology held by the MDS leader: physical pools, zones, servers, chunkservers, logical
// pools and copysets. Loaded from the store when a leader starts; every change is written to the store
// before it is applied in memory, so a failed write leaves nothing behind.
import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { messageCodec } from '../common/protos';
import { ChunkServerAddressIndex } from './chunkserver-address-index';
import { copysetHealth } from './chunkserver-health';
import { CopysetPusher, CopysetToCreate } from './copyset-pusher';
import { placeCopysetsInSteps } from './copyset-placement';
import { BatchIdAllocator } from './id-allocator';
import { COPYSET_PREFIX, copysetKey, ID_TOPOLOGY, TOPO_PREFIX, topoKey } from './kv-keys';
import { KvOp, KvStore } from './kv-store';
import {
  AllocateStatus,
  ChunkServerInfo,
  ChunkServerStatus,
  CopySetDetail,
  copysetKeyOf,
  DiskState,
  LogicalPoolInfo,
  OnlineState,
  PhysicalPoolInfo,
  ServerInfo,
  TopoCode,
  ZoneInfo,
} from './topology-types';

const T = 'curve.mds.topology.';
const codec = {
  physicalPool: messageCodec<PhysicalPoolInfo>(T + 'PhysicalPoolInfo'),
  zone: messageCodec<ZoneInfo>(T + 'ZoneInfo'),
  server: messageCodec<ServerInfo>(T + 'ServerInfo'),
  chunkServer: messageCodec<ChunkServerInfo>(T + 'ChunkServerInfo'),
  logicalPool: messageCodec<LogicalPoolInfo>(T + 'LogicalPoolInfo'),
  copyset: messageCodec<CopySetDetail>(T + 'CopySetDetail'),
  cluster: messageCodec<{ clusterId: string }>(T + 'ClusterInfo'),
};

export type TopoResult<T> = { code: 0; value: T } | { code: number; value?: undefined; message: string };

const fail = (code: number, message: string): { code: number; message: string } => ({ code, message });
const ok = <T>(value: T): { code: 0; value: T } => ({ code: 0, value });

/** Most operations per store transaction (etcd's default limit is 128). */
export const TXN_BATCH = 100;

const NAME_RE = /^[A-Za-z0-9_.-]{1,128}$/;
const IP_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const validIp = (ip: string): boolean => {
  const m = IP_RE.exec(ip);
  return !!m && m.slice(1).every((o) => Number(o) <= 255);
};
const validPort = (p: number): boolean => Number.isInteger(p) && p > 0 && p < 65536;

export const peerAddress = (cs: { hostIp: string; port: number }): string => `${cs.hostIp}:${cs.port}:0`;

export class Topology {
  readonly physicalPools = new Map<number, PhysicalPoolInfo>();
  readonly zones = new Map<number, ZoneInfo>();
  readonly servers = new Map<number, ServerInfo>();
  readonly chunkservers = new Map<number, ChunkServerInfo>();
  readonly logicalPools = new Map<number, LogicalPoolInfo>();
  readonly copysets = new Map<string, CopySetDetail>();
  /** chunkservers by address, kept in step with `chunkservers` (see putChunkServer) */
  private readonly byAddress = new ChunkServerAddressIndex();
  clusterId = '';
  private readonly ids: BatchIdAllocator;
  private lock: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly store: KvStore,
    private readonly pusher: CopysetPusher,
  ) {
    this.ids = new BatchIdAllocator(store, ID_TOPOLOGY, 20);
  }

  /** Reads the whole topology; chunkservers count as freshly heard from (a grace period after failover). */
  static async load(store: KvStore, pusher: CopysetPusher, nowMs = Date.now()): Promise<Topology> {
    const t = new Topology(store, pusher);
    for (const { value } of await store.scan(TOPO_PREFIX.physicalpool)) {
      const v = codec.physicalPool.decode(value);
      t.physicalPools.set(v.physicalPoolID, v);
    }
    for (const { value } of await store.scan(TOPO_PREFIX.zone)) {
      const v = codec.zone.decode(value);
      t.zones.set(v.zoneID, v);
    }
    for (const { value } of await store.scan(TOPO_PREFIX.server)) {
      const v = codec.server.decode(value);
      t.servers.set(v.serverID, v);
    }
    for (const { value } of await store.scan(TOPO_PREFIX.chunkserver)) {
      const v = codec.chunkServer.decode(value);
      v.lastHeartbeatMs = nowMs;
      v.onlineState = OnlineState.ONLINE;
      t.putChunkServer(v);
    }
    for (const { value } of await store.scan(TOPO_PREFIX.logicalpool)) {
      const v = codec.logicalPool.decode(value);
      t.logicalPools.set(v.logicalPoolID, v);
    }
    for (const { value } of await store.scan(COPYSET_PREFIX)) {
      const v = codec.copyset.decode(value);
      if (t.logicalPools.has(v.logicalPoolId)) t.copysets.set(copysetKeyOf(v.logicalPoolId, v.copysetId), v);
    }
    const cluster = await store.get(topoKey('cluster', 0));
    if (cluster) t.clusterId = codec.cluster.decode(cluster).clusterId;
    else {
      const clusterId = randomBytes(16).toString('hex');
      const ok = await store.txn(
        [{ key: topoKey('cluster', 0), value: null }],
        [{ type: 'put', key: topoKey('cluster', 0), value: codec.cluster.encode({ clusterId }) }],
      );
      const stored = ok ? undefined : await store.get(topoKey('cluster', 0));
      t.clusterId = stored ? codec.cluster.decode(stored).clusterId : clusterId;
    }
    return t;
  }

  /** Topology changes run one at a time (name uniqueness checks, then writes). */
  private serialize<R>(fn: () => Promise<R>): Promise<R> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async write(ops: KvOp[]): Promise<void> {
    if (!(await this.store.txn([], ops))) throw new Error('topology write failed');
  }

  findPhysicalPool(idOrName: number | string): PhysicalPoolInfo | undefined {
    for (const p of this.physicalPools.values())
      if (p.physicalPoolID === idOrName || p.physicalPoolName === idOrName) return p;
    return undefined;
  }

  findZone(name: string, poolName: string): ZoneInfo | undefined {
    for (const z of this.zones.values()) if (z.zoneName === name && z.physicalPoolName === poolName) return z;
    return undefined;
  }

  createPhysicalPool(name: string, desc = ''): Promise<TopoResult<PhysicalPoolInfo>> {
    return this.serialize(async () => {
      if (!NAME_RE.test(name)) return fail(TopoCode.InvalidParam, `invalid physical pool name '${name}'`);
      if (this.findPhysicalPool(name)) return fail(TopoCode.NameDuplicated, `physical pool '${name}' exists`);
      const info: PhysicalPoolInfo = {
        physicalPoolID: await this.ids.allocate(),
        physicalPoolName: name,
        desc,
      };
      await this.write([
        {
          type: 'put',
          key: topoKey('physicalpool', info.physicalPoolID),
          value: codec.physicalPool.encode(info),
        },
      ]);
      this.physicalPools.set(info.physicalPoolID, info);
      return ok(info);
    });
  }

  createZone(name: string, poolName: string, desc = ''): Promise<TopoResult<ZoneInfo>> {
    return this.serialize(async () => {
      if (!NAME_RE.test(name)) return fail(TopoCode.InvalidParam, `invalid zone name '${name}'`);
      const pool = this.findPhysicalPool(poolName);
      if (!pool) return fail(TopoCode.PhysicalPoolNotFound, `physical pool '${poolName}' not found`);
      if (this.findZone(name, poolName)) return fail(TopoCode.NameDuplicated, `zone '${name}' exists`);
      const info: ZoneInfo = {
        zoneID: await this.ids.allocate(),
        zoneName: name,
        physicalPoolID: pool.physicalPoolID,
        physicalPoolName: pool.physicalPoolName,
        desc,
      };
      await this.write([{ type: 'put', key: topoKey('zone', info.zoneID), value: codec.zone.encode(info) }]);
      this.zones.set(info.zoneID, info);
      return ok(info);
    });
  }

  registerServer(req: {
    hostName: string;
    internalIp: string;
    internalPort: number;
    externalIp: string;
    externalPort: number;
    zoneName: string;
    physicalPoolName: string;
    desc: string;
  }): Promise<TopoResult<ServerInfo>> {
    return this.serialize(async () => {
      if (!NAME_RE.test(req.hostName))
        return fail(TopoCode.InvalidParam, `invalid host name '${req.hostName}'`);
      if (!validIp(req.internalIp))
        return fail(TopoCode.InvalidParam, `invalid internal ip '${req.internalIp}'`);
      const externalIp = req.externalIp || req.internalIp;
      if (!validIp(externalIp)) return fail(TopoCode.InvalidParam, `invalid external ip '${externalIp}'`);
      const zone = this.findZone(req.zoneName, req.physicalPoolName);
      if (!zone)
        return fail(TopoCode.ZoneNotFound, `zone '${req.zoneName}' in '${req.physicalPoolName}' not found`);
      for (const s of this.servers.values()) {
        if (s.hostName === req.hostName)
          return fail(TopoCode.NameDuplicated, `server '${req.hostName}' exists`);
        if (s.internalIp === req.internalIp && s.internalPort === req.internalPort)
          return fail(
            TopoCode.IpPortDuplicated,
            `a server with ${req.internalIp}:${req.internalPort} exists`,
          );
      }
      const info: ServerInfo = {
        serverID: await this.ids.allocate(),
        hostName: req.hostName,
        internalIp: req.internalIp,
        internalPort: req.internalPort,
        externalIp,
        externalPort: req.externalPort,
        zoneID: zone.zoneID,
        zoneName: zone.zoneName,
        physicalPoolID: zone.physicalPoolID,
        physicalPoolName: zone.physicalPoolName,
        desc: req.desc,
      };
      await this.write([
        { type: 'put', key: topoKey('server', info.serverID), value: codec.server.encode(info) },
      ]);
      this.servers.set(info.serverID, info);
      return ok(info);
    });
  }

  /** A disk's registration; the same ip:port with the same disk path gets its old id and token back. */
  registerChunkServer(req: {
    diskType: string;
    diskPath: string;
    hostIp: string;
    port: number;
    externalIp: string;
    diskCapacity: number;
    serverName?: string;
  }): Promise<TopoResult<ChunkServerInfo>> {
    return this.serialize(async () => {
      if (!validIp(req.hostIp) || !validPort(req.port))
        return fail(TopoCode.InvalidParam, `invalid chunkserver address ${req.hostIp}:${req.port}`);
      if (!req.diskPath) return fail(TopoCode.InvalidParam, 'diskPath is required');
      const onIp = [...this.servers.values()].filter(
        (s) => s.internalIp === req.hostIp && (!req.serverName || s.hostName === req.serverName),
      );
      if (onIp.length === 0)
        return fail(
          TopoCode.ServerNotFound,
          `no server ${req.serverName ?? ''} registered with ip ${req.hostIp}`,
        );
      if (onIp.length > 1)
        return fail(TopoCode.InvalidParam, `several servers use ip ${req.hostIp}: serverName is required`);
      const server = onIp[0];
      const existing = this.byAddress.at(req.hostIp, req.port);
      if (existing?.mountPoint === req.diskPath) return ok(existing);
      if (existing)
        return fail(TopoCode.IpPortDuplicated, `${req.hostIp}:${req.port} is registered with another disk`);
      const now = Date.now();
      const info: ChunkServerInfo = {
        chunkServerID: await this.ids.allocate(),
        diskType: req.diskType || 'nvme',
        hostIp: req.hostIp,
        port: req.port,
        status: ChunkServerStatus.READWRITE,
        diskStatus: DiskState.NORMAL,
        onlineState: OnlineState.ONLINE,
        mountPoint: req.diskPath,
        diskCapacity: req.diskCapacity,
        diskUsed: 0,
        externalIp: req.externalIp || server.externalIp,
        serverID: server.serverID,
        zoneID: server.zoneID,
        token: randomBytes(8).toString('hex'),
        copysetNum: 0,
        leaderNum: 0,
        lastHeartbeatMs: now,
      };
      await this.write([
        {
          type: 'put',
          key: topoKey('chunkserver', info.chunkServerID),
          value: codec.chunkServer.encode(info),
        },
      ]);
      this.putChunkServer(info);
      return ok(info);
    });
  }

  /** The only way a chunkserver record enters memory, so the address index always matches the map. */
  private putChunkServer(cs: ChunkServerInfo): void {
    this.chunkservers.set(cs.chunkServerID, cs);
    this.byAddress.put(cs);
  }

  /** The chunkserver serving at ip:port that is not retired. */
  chunkServerAt(ip: string, port: number): ChunkServerInfo | undefined {
    return this.byAddress.at(ip, port);
  }

  /** Chunkserver id of a copyset peer address "ip:port[:index]" (0 when unknown). */
  chunkServerIdOf(peerAddress: string): number {
    return this.byAddress.idOf(peerAddress);
  }

  /**
   * Retires a chunkserver or moves it to a new address (a disk now served on another port or host).
   * The new record is written first; the address must not belong to another chunkserver in service.
   */
  updateChunkServer(
    id: number,
    change: { status?: number; hostIp?: string; port?: number },
  ): Promise<TopoResult<ChunkServerInfo>> {
    return this.serialize(async () => {
      const cs = this.chunkservers.get(id);
      if (!cs) return fail(TopoCode.ChunkServerNotFound, `chunkserver ${id} not found`);
      const next: ChunkServerInfo = { ...cs, ...change };
      if (!Object.values(ChunkServerStatus).includes(next.status as 0))
        return fail(TopoCode.InvalidParam, `invalid chunkserver status ${next.status}`);
      if (!validIp(next.hostIp) || !validPort(next.port))
        return fail(TopoCode.InvalidParam, `invalid chunkserver address ${next.hostIp}:${next.port}`);
      if (cs.status === ChunkServerStatus.RETIRED && next.status !== ChunkServerStatus.RETIRED)
        return fail(TopoCode.InvalidParam, `chunkserver ${id} is retired`);
      const holder = this.byAddress.at(next.hostIp, next.port);
      if (next.status !== ChunkServerStatus.RETIRED && holder && holder.chunkServerID !== id)
        return fail(
          TopoCode.IpPortDuplicated,
          `${next.hostIp}:${next.port} is chunkserver ${holder.chunkServerID}`,
        );
      await this.write([
        { type: 'put', key: topoKey('chunkserver', id), value: codec.chunkServer.encode(next) },
      ]);
      Object.assign(cs, change); // in place: soft state (liveness) and holders of the record stay valid
      this.byAddress.put(cs);
      return ok(cs);
    });
  }

  /** Chunkservers of a physical pool that may take new replicas. */
  placeableChunkServers(physicalPoolID: number): ChunkServerInfo[] {
    return [...this.chunkservers.values()].filter((cs) => {
      const zone = this.zones.get(cs.zoneID);
      return (
        zone?.physicalPoolID === physicalPoolID &&
        cs.status === ChunkServerStatus.READWRITE &&
        cs.diskStatus === DiskState.NORMAL &&
        cs.onlineState === OnlineState.ONLINE
      );
    });
  }

  copysetCountByChunkServer(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const c of this.copysets.values())
      for (const id of c.chunkServerIDs) counts.set(id, (counts.get(id) ?? 0) + 1);
    return counts;
  }

  /** Places the copysets, creates them on their chunkservers, and only then records the pool. */
  createLogicalPool(req: {
    logicalPoolName: string;
    physicalPoolName: string;
    physicalPoolID: number;
    replicaNum: number;
    copysetNum: number;
    zoneNum: number;
    scatterWidth: number;
    type: number;
  }): Promise<TopoResult<LogicalPoolInfo>> {
    return this.serialize(async () => {
      if (!NAME_RE.test(req.logicalPoolName))
        return fail(TopoCode.InvalidParam, `invalid logical pool name '${req.logicalPoolName}'`);
      const replicaNum = req.replicaNum || 3;
      const zoneNum = req.zoneNum || replicaNum;
      if (
        req.copysetNum < 1 ||
        req.copysetNum > 100000 ||
        replicaNum < 1 ||
        replicaNum > 7 ||
        zoneNum < replicaNum
      )
        return fail(TopoCode.InvalidParam, 'invalid copysetNum/replicaNum/zoneNum');
      const pool = this.findPhysicalPool(req.physicalPoolName || req.physicalPoolID);
      if (!pool)
        return fail(TopoCode.PhysicalPoolNotFound, `physical pool '${req.physicalPoolName}' not found`);
      for (const lp of this.logicalPools.values())
        if (lp.logicalPoolName === req.logicalPoolName)
          return fail(TopoCode.LogicalPoolExist, `logical pool '${req.logicalPoolName}' exists`);
      const nodes = this.placeableChunkServers(pool.physicalPoolID);
      const zonesWithNodes = new Set(nodes.map((n) => n.zoneID));
      if (zonesWithNodes.size < zoneNum)
        return fail(
          TopoCode.GenCopysetErr,
          `need ${zoneNum} zones with online chunkservers, have ${zonesWithNodes.size}`,
        );
      const steps = placeCopysetsInSteps(
        nodes.map((n) => ({ id: n.chunkServerID, zoneId: n.zoneID })),
        req.copysetNum,
        replicaNum,
        this.copysetCountByChunkServer(),
      );
      let step = steps.next();
      while (!step.done) {
        await yieldToLoop(); // keep timers (the lease keep-alive) and other requests going
        step = steps.next();
      }
      const placed = step.value;
      if (!placed.ok) return fail(TopoCode.GenCopysetErr, placed.reason);
      const logicalPoolID = await this.ids.allocate();
      const details: CopySetDetail[] = placed.copysets.map((members, i) => ({
        logicalPoolId: logicalPoolID,
        copysetId: i + 1,
        chunkServerIDs: members,
        leader: 0,
        epoch: 0,
        health: '',
        pending: '',
      }));
      const perChunkServer = new Map<number, CopysetToCreate[]>();
      for (const d of details) {
        const peers = d.chunkServerIDs.map((id) => ({
          id,
          address: peerAddress(this.chunkservers.get(id)!),
        }));
        for (const id of d.chunkServerIDs) {
          const list = perChunkServer.get(id) ?? [];
          list.push({ logicalPoolId: d.logicalPoolId, copysetId: d.copysetId, peers });
          perChunkServer.set(id, list);
        }
      }
      try {
        await Promise.all(
          [...perChunkServer].map(([id, list]) => {
            const cs = this.chunkservers.get(id)!;
            return this.pusher.createCopysets(`${cs.hostIp}:${cs.port}`, list);
          }),
        );
      } catch (err) {
        return fail(
          TopoCode.CreateCopysetNodeOnChunkServerFail,
          `creating copysets failed: ${(err as Error).message}`,
        );
      }
      const info: LogicalPoolInfo = {
        logicalPoolID,
        logicalPoolName: req.logicalPoolName,
        physicalPoolID: pool.physicalPoolID,
        type: req.type,
        createTime: Math.floor(Date.now() / 1000),
        replicaNum,
        copysetNum: req.copysetNum,
        zoneNum,
        allocateStatus: AllocateStatus.ALLOW,
        scatterWidth: req.scatterWidth,
      };
      // etcd caps operations per transaction (128 by default): copysets go in batches first, and the
      // pool record last is the commit point (copysets of a pool that has no record are ignored on load).
      for (let i = 0; i < details.length; i += TXN_BATCH)
        await this.write(
          details.slice(i, i + TXN_BATCH).map((d) => ({
            type: 'put' as const,
            key: copysetKey(d.logicalPoolId, d.copysetId),
            value: codec.copyset.encode(d),
          })),
        );
      await this.write([
        { type: 'put', key: topoKey('logicalpool', logicalPoolID), value: codec.logicalPool.encode(info) },
      ]);
      this.logicalPools.set(logicalPoolID, info);
      for (const d of details) this.copysets.set(copysetKeyOf(d.logicalPoolId, d.copysetId), d);
      return ok(info);
    });
  }

  copysetsOfPool(logicalPoolId: number): CopySetDetail[] {
    return [...this.copysets.values()]
      .filter((c) => c.logicalPoolId === logicalPoolId)
      .sort((a, b) => a.copysetId - b.copysetId);
  }

  copysetsOnChunkServer(id: number): CopySetDetail[] {
    return [...this.copysets.values()].filter((c) => c.chunkServerIDs.includes(id));
  }

  /** Health of a copyset from the current chunkserver states. */
  healthOf(c: CopySetDetail): 'healthy' | 'degraded' | 'unavailable' {
    const replicaNum = this.logicalPools.get(c.logicalPoolId)?.replicaNum ?? 3;
    const states = c.chunkServerIDs.map(
      (id) => this.chunkservers.get(id)?.onlineState ?? OnlineState.OFFLINE,
    );
    return copysetHealth(states, replicaNum);
  }

  /** Records a newer copyset configuration (from its leader's heartbeat). */
  async updateCopyset(c: CopySetDetail): Promise<void> {
    const stored: CopySetDetail = { ...c, health: '', pending: '' };
    await this.write([
      { type: 'put', key: copysetKey(c.logicalPoolId, c.copysetId), value: codec.copyset.encode(stored) },
    ]);
    this.copysets.set(copysetKeyOf(c.logicalPoolId, c.copysetId), stored);
  }

  /** Persists the durable part of a chunkserver record (disk state, capacity). */
  async saveChunkServer(cs: ChunkServerInfo): Promise<void> {
    await this.write([
      { type: 'put', key: topoKey('chunkserver', cs.chunkServerID), value: codec.chunkServer.encode(cs) },
    ]);
  }
}
