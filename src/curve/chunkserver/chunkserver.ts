// The chunkserver process assembled: chunk file pool, Raft host (one group per copyset), copysets, the
// data-plane RPC (ChunkService, Raft, snapshot copies) and the gRPC control plane (CopysetService,
// CliService2) all on one port, the MDS agent (registration, heartbeat) and metrics.
import * as grpc from '@grpc/grpc-js';
import type * as http from 'node:http';
import * as path from 'node:path';
import { createLogger } from '../../common/log';
import { enableDefaultMetrics, serveMetrics } from '../../common/metrics';
import { DEFAULT_CHECKPOINT_BYTES, HostJournal } from '../raft/host-journal';
import { MultiRaftHost } from '../raft/multi-raft-host';
import { unaryHandlers } from '../rpc/grpc';
import { RpcServer } from '../rpc/rpc-server';
import { ChunkFilePool } from './chunk-file-pool';
import { ChunkService } from './chunk-service';
import { bindHost, type ChunkserverConfig } from './chunkserver-config';
import { registerLiveGauges } from './chunkserver-metrics';
import { nodeIdOf } from './copyset-id';
import { CopysetManager } from './copyset-manager';
import { ControlServices } from './control-services';
import { MdsAgent } from './mds-agent';
import { PeerClients } from './peer-clients';
import { PortMux } from './port-mux';
import { RaftRpcTransport } from './raft-rpc-transport';
import { allocateWithEntryHeadroom } from './chunk-op-codec';

const log = createLogger('chunkserver');

export class Chunkserver {
  private constructor(
    readonly config: ChunkserverConfig,
    readonly endpoint: string,
    readonly pool: ChunkFilePool,
    readonly host: MultiRaftHost,
    readonly manager: CopysetManager,
    readonly chunkService: ChunkService,
    readonly control: ControlServices,
    private readonly mux: PortMux,
    private readonly rpc: RpcServer,
    private readonly grpcServer: grpc.Server,
    private readonly peers: PeerClients,
    readonly agent: MdsAgent | undefined,
    private readonly metricsServer: http.Server | undefined,
    private readonly journal: HostJournal,
  ) {}

  static async start(cfg: ChunkserverConfig): Promise<Chunkserver> {
    const pool = await ChunkFilePool.open({
      dir: path.join(cfg.dataDir, 'chunkfilepool'),
      chunkSize: cfg.chunkSize,
      metaPageSize: cfg.pageSize,
      targetCount: cfg.poolTargetCount,
      trashDelayMs: cfg.trashDelayMs,
      allowCreateWhenEmpty: cfg.poolAllowCreate,
    });
    void pool
      .fill()
      .catch((err: unknown) => log.warn('chunk file pool formatting stopped', { err: err as Error }));

    // WriteChunk data lands with room for its log entry header in front: the entry is built in place.
    const rpc = new RpcServer({
      maxInFlightPerConnection: 1024,
      allocateAttachment: allocateWithEntryHeadroom,
    });
    const grpcServer = new grpc.Server();
    const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    // Held until the services below are registered (the port must be known before they exist).
    const mux = new PortMux(
      {
        rpc: (s, first) => rpc.accept(s, first),
        grpc: (s) => injector.injectConnection(s),
      },
      10_000,
      true,
    );
    const addr = await mux.listen(cfg.port, bindHost(cfg));
    const endpoint = `${cfg.ip}:${addr.port}`;

    const peers = new PeerClients();
    const transport = new RaftRpcTransport(nodeIdOf(endpoint), endpoint, peers, rpc);
    const host = new MultiRaftHost({
      transport,
      tickMs: cfg.tickMs,
      electionTicks: cfg.electionTicks,
      seed: nodeIdOf(endpoint) ^ Date.now(),
    });
    // One Raft journal for every copyset: a flush that touched many groups costs one fdatasync. Ended
    // journal files are kept while the log budget lets copysets hold their entries in memory, so that
    // snapshots, not a copy into segment files, retire most entries (docs/chunkserver.md).
    const journal = HostJournal.open(path.join(cfg.dataDir, 'raft-journal'), {
      retainFiles: 1 + Math.ceil(cfg.logBudgetBytes / DEFAULT_CHECKPOINT_BYTES),
    });
    const manager = new CopysetManager({
      dataDir: cfg.dataDir,
      pool,
      host,
      transport,
      peers,
      self: endpoint,
      snapshotIntervalEntries: cfg.snapshotIntervalEntries,
      snapshotRetainEntries: cfg.snapshotRetainEntries,
      snapshotIntervalBytes: cfg.snapshotIntervalBytes,
      snapshotRetainBytes: cfg.snapshotRetainBytes,
      logBudgetBytes: cfg.logBudgetBytes,
      raftSegmentBytes: cfg.raftSegmentBytes,
      snapshotThrottleBytesPerSec: cfg.snapshotThrottleBytesPerSec,
      journal,
    });
    const loaded = await manager.loadAll();
    journal.recoveryDone();

    const chunkService = new ChunkService({
      manager,
      pool,
      maxInflight: cfg.maxInflightRequests,
      poolAllowCreate: cfg.poolAllowCreate,
      maxChunks: cfg.maxChunks,
    });
    chunkService.register(rpc);
    const electionTimeoutMs = cfg.tickMs * cfg.electionTicks;
    const control = new ControlServices(manager, endpoint, electionTimeoutMs);
    for (const s of control.services()) grpcServer.addService(s.service.service, unaryHandlers(s.impl));
    host.start();
    mux.open();

    let agent: MdsAgent | undefined;
    if (cfg.mdsAddresses.length) {
      agent = new MdsAgent({
        mdsAddresses: cfg.mdsAddresses,
        dataDir: cfg.dataDir,
        self: endpoint,
        serverName: cfg.serverName,
        diskType: cfg.diskType,
        heartbeatIntervalMs: cfg.heartbeatIntervalMs,
        manager,
        control,
        electionTimeoutMs,
      });
      await agent.register();
      agent.start();
    }

    registerLiveGauges({
      copysets: () =>
        manager.all().map((n) => {
          const st = n.raft.status();
          return {
            name: n.name,
            role: st.role,
            term: st.term,
            applied: n.appliedIndex,
            commit: st.commit,
            epoch: n.epoch,
          };
        }),
      pool: () => pool.stats(),
      logBudget: () => ({
        held: manager.unsnapshottedLogBytes,
        budget: cfg.logBudgetBytes,
        snapshotsAsked: manager.budgetCounters.snapshotsAsked,
      }),
      corruptChunks: () => manager.all().reduce((s, n) => s + n.datastore.corruptChunks().size, 0),
    });
    let metricsServer: http.Server | undefined;
    if (cfg.metrics !== 'off') {
      enableDefaultMetrics('curve_chunkserver_');
      const i = cfg.metrics.lastIndexOf(':');
      metricsServer = await serveMetrics(cfg.metrics.slice(0, i), Number(cfg.metrics.slice(i + 1)));
    }
    log.info('chunkserver started', { endpoint, copysets: loaded, broken: manager.broken.size });
    return new Chunkserver(
      cfg,
      endpoint,
      pool,
      host,
      manager,
      chunkService,
      control,
      mux,
      rpc,
      grpcServer,
      peers,
      agent,
      metricsServer,
      journal,
    );
  }

  /** Clean stop: no new connections, Raft stopped, chunk files and logs closed. */
  async stop(): Promise<void> {
    this.agent?.stop();
    // The mux's close waits for every connection it accepted, the framed-RPC ones (owned by the RPC
    // server) included.
    const muxClosed = this.mux.close();
    this.rpc.dropConnections();
    await muxClosed;
    await this.host.stop();
    this.grpcServer.forceShutdown();
    await this.rpc.close();
    await this.peers.close();
    this.control.close();
    await this.manager.closeAll();
    this.journal.syncSync();
    this.journal.close();
    await this.journal.settled();
    await this.pool.close();
    if (this.metricsServer) await new Promise((r) => this.metricsServer!.close(() => r(undefined)));
    log.info('chunkserver stopped', { endpoint: this.endpoint });
  }
}
