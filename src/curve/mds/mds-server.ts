// The MDS process core: metadata store, leader election (etcd) or sole leadership (embedded store),
// the four gRPC services, heartbeat handling and the schedulers. Only the leader serves; a standby
// answers UNAVAILABLE naming the leader, except MdsStatusService which every MDS answers.
import * as grpc from '@grpc/grpc-js';
import { Gauge, Counter } from 'prom-client';
import { Etcd3 } from 'etcd3';
import { createLogger, Logger } from '../../common/log';
import { registry } from '../../common/metrics';
import { onlineStateName } from './chunkserver-health';
import { ChunkCleaner } from './chunk-cleaner';
import { ChunkCommander, RpcChunkCommander } from './chunk-commander';
import { CopysetPusher, GrpcCopysetPusher } from './copyset-pusher';
import { LeaderElection } from './election';
import { HeartbeatHandler, HeartbeatRequest } from './heartbeat';
import { EtcdKvStore } from './kv-etcd';
import { KvStore } from './kv-store';
import { LevelKvStore } from './kv-level';
import { isWildcardHost, MdsConfig } from './mds-config';
import { Namespace } from './namespace';
import { OperatorController } from './operator-controller';
import { ScheduleDriver } from './schedule-driver';
import { roundRobinPlacer } from './segment-allocator';
import { Topology } from './topology';
import { registerServiceHandlers } from './mds-handlers';

const metricIsLeader = new Gauge({
  name: 'curve_mds_is_leader',
  help: '1 while this MDS serves as leader',
  registers: [registry],
});
const metricChunkservers = new Gauge({
  name: 'curve_mds_chunkservers',
  help: 'chunkservers by online state',
  labelNames: ['state'],
  registers: [registry],
});
const metricCopysets = new Gauge({
  name: 'curve_mds_copysets',
  help: 'copysets by health',
  labelNames: ['health'],
  registers: [registry],
});
export const metricRpcs = new Counter({
  name: 'curve_mds_rpc_total',
  help: 'MDS RPCs by method and outcome',
  labelNames: ['method', 'outcome'],
  registers: [registry],
});

/** Everything that exists only while this MDS leads. */
export interface LeaderState {
  topology: Topology;
  namespace: Namespace;
  heartbeat: HeartbeatHandler;
  operators: OperatorController;
  driver: ScheduleDriver;
  cleaner: ChunkCleaner;
}

export class MdsServer {
  readonly log: Logger;
  private server: grpc.Server | undefined;
  store!: KvStore;
  private election: LeaderElection | undefined;
  private etcd: Etcd3 | undefined;
  state: LeaderState | undefined;
  boundPort = 0;
  private readonly pusher: CopysetPusher;
  readonly commander: ChunkCommander;
  private transition: Promise<void> = Promise.resolve();
  private gaugeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly config: MdsConfig,
    pusher?: CopysetPusher,
    commander?: ChunkCommander,
  ) {
    this.log = createLogger('mds', { addr: config.listen });
    this.pusher = pusher ?? new GrpcCopysetPusher({ retries: config.copysetPushRetries });
    this.commander = commander ?? new RpcChunkCommander();
  }

  /** The address others use for this MDS: `advertise`, else the listen host with the bound port. */
  address(): string {
    if (this.config.advertise) return this.config.advertise;
    const host = this.config.listen.slice(0, this.config.listen.lastIndexOf(':'));
    return `${isWildcardHost(host) ? '127.0.0.1' : host}:${this.boundPort}`;
  }

  isLeader(): boolean {
    return this.state !== undefined && (this.election ? this.election.isLeader() : true);
  }

  async leaderAddress(): Promise<string | undefined> {
    if (!this.election) return this.address();
    return this.election.currentLeader().catch(() => undefined);
  }

  async start(): Promise<void> {
    if (this.config.store === 'etcd') {
      this.etcd = new Etcd3({ hosts: this.config.etcdEndpoints, dialTimeout: 3000 });
      this.store = new EtcdKvStore(this.etcd);
    } else {
      this.store = await LevelKvStore.open(this.config.dataDir);
    }
    this.server = new grpc.Server();
    registerServiceHandlers(this.server, this);
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server!.bindAsync(this.config.listen, grpc.ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    this.log.info('listening', { port: this.boundPort, store: this.config.store });
    if (this.etcd) {
      this.election = new LeaderElection(
        this.etcd,
        {
          key: this.config.electionKey,
          address: this.address(),
          ttlSec: this.config.leaseTtlSec,
          marginMs: this.config.leaseMarginMs,
          pollMs: Math.max(100, Math.floor((this.config.leaseTtlSec * 1000) / 10)),
        },
        this.log,
      );
      this.election.on('elected', () => this.enqueue(() => this.becomeLeader()));
      this.election.on('lost', () => this.enqueue(async () => this.resign()));
      this.election.start();
    } else {
      await this.becomeLeader();
    }
    this.gaugeTimer = setInterval(() => this.updateGauges(), 1000);
    this.gaugeTimer.unref();
  }

  private enqueue(fn: () => Promise<void>): void {
    this.transition = this.transition
      .then(fn)
      .catch((err: Error) => this.log.error('leadership transition failed', { err }));
  }

  private async becomeLeader(): Promise<void> {
    if (this.election) {
      if (!this.election.isLeader()) return;
      (this.store as EtcdKvStore).setFence({
        key: this.config.electionKey,
        value: this.election.fenceValue(),
      });
    }
    const topology = await Topology.load(this.store, this.pusher);
    const namespace = new Namespace(
      this.store,
      roundRobinPlacer(() => topology),
      (pool, copysets) => {
        const ids = new Set<number>();
        for (const id of copysets)
          for (const cs of topology.copysets.get(`${pool}.${id}`)?.chunkServerIDs ?? []) ids.add(cs);
        return [...ids];
      },
      this.config.sessionLeaseMs,
    );
    await namespace.init();
    const operators = new OperatorController(
      this.config.operatorsPerChunkServer,
      this.config.operatorTimeoutMs,
    );
    const heartbeat = new HeartbeatHandler(() => topology, operators, {
      unstableAfterMs: this.config.unstableAfterMs,
      offlineAfterMs: this.config.offlineAfterMs,
    });
    const driver = new ScheduleDriver(
      () => topology,
      heartbeat,
      operators,
      {
        recoverMs: this.config.recoverIntervalMs,
        replicaMs: this.config.replicaIntervalMs,
        leaderMs: this.config.leaderIntervalMs,
        copysetMs: this.config.copysetIntervalMs,
      },
      this.log,
    );
    driver.start();
    const cleaner = new ChunkCleaner(
      this.store,
      () => topology,
      this.commander,
      { intervalMs: this.config.chunkCleanIntervalMs, batch: 20, parallel: 8 },
      this.log,
    );
    namespace.onGarbage = () => cleaner.kick();
    cleaner.start();
    this.state = { topology, namespace, heartbeat, operators, driver, cleaner };
    metricIsLeader.set(1);
    this.log.info('serving as leader', { clusterId: topology.clusterId });
  }

  private resign(): void {
    if (this.state) {
      this.state.driver.stop();
      void this.state.cleaner.stop();
    }
    this.state = undefined;
    if (this.store instanceof EtcdKvStore)
      this.store.setFence({ key: this.config.electionKey, value: Buffer.from('\u0000not-leader') });
    metricIsLeader.set(0);
    this.log.warn('not leader any more; stopped serving');
  }

  private updateGauges(): void {
    const s = this.state;
    metricChunkservers.reset();
    metricCopysets.reset();
    if (!s || !this.isLeader()) return;
    s.heartbeat.refreshStates();
    for (const cs of s.topology.chunkservers.values())
      metricChunkservers.inc({ state: onlineStateName(cs.onlineState) });
    for (const c of s.topology.copysets.values()) metricCopysets.inc({ health: s.topology.healthOf(c) });
  }

  /** For handlers: the leader state, or undefined when this MDS must not serve. */
  leaderState(): LeaderState | undefined {
    return this.isLeader() ? this.state : undefined;
  }

  handleHeartbeat(req: HeartbeatRequest): ReturnType<HeartbeatHandler['handle']> | undefined {
    return this.leaderState()?.heartbeat.handle(req);
  }

  async stop(): Promise<void> {
    if (this.gaugeTimer) clearInterval(this.gaugeTimer);
    this.state?.driver.stop();
    await this.state?.cleaner.stop();
    this.state = undefined;
    if (this.election) await this.election.stop();
    if (this.server) {
      const srv = this.server;
      await new Promise<void>((resolve) => srv.tryShutdown(() => resolve()));
    }
    await this.transition;
    await this.store?.close();
    if (this.pusher instanceof GrpcCopysetPusher) this.pusher.close();
    await this.commander.close();
  }
}
