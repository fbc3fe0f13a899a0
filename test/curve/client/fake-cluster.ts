// Fake chunkservers for client tests: each one serves, on one port like the real chunkserver, the
// data-plane ChunkService (Read/Write/DeleteChunk over an in-memory page map shared by the cluster, as if
// replicated), gRPC CliService2.GetLeader and CopysetService.CreateCopysetNode2 (so the real MDS can create
// a logical pool on them). Behaviours switch per server: down (port closed), timeout, overload,
// copyset-not-exist, redirect without hint, GetLeader not knowing, and a delay per request.
import * as grpc from '@grpc/grpc-js';
import { PortMux } from '../../../src/curve/chunkserver/port-mux';
import { grpcService } from '../../../src/curve/common/protos';
import { unaryHandlers } from '../../../src/curve/rpc/grpc';
import { chunkServiceMethods } from '../../../src/curve/rpc/chunk-methods';
import type { RpcCallContext } from '../../../src/curve/rpc/rpc-server';
import { RpcServer } from '../../../src/curve/rpc/rpc-server';
import type { MdsClient } from '../../../src/curve/mds/mds-client';

export const S = {
  SUCCESS: 0,
  REDIRECTED: 1,
  INVALID_REQUEST: 4,
  COPYSET_NOTEXIST: 6,
  CHUNK_NOTEXIST: 7,
  OVERLOAD: 9,
  EPOCH_TOO_OLD: 12,
} as const;

export type FakeMode = 'normal' | 'down' | 'timeout' | 'overload' | 'copyset-notexist' | 'redirect-nohint';

interface ChunkReq {
  logicPoolId: number;
  copysetId: number;
  chunkId: number;
  offset: number;
  size: number;
  fileId: number;
  epoch: number;
}

export class FakeChunkserver {
  mode: FakeMode = 'normal';
  /** GetLeader answers "unknown" instead of the leader. */
  leaderUnknown = false;
  delayMs = 0;
  port = 0;
  id = 0;
  token = '';
  requests = 0;
  private mux: PortMux | undefined;
  private readonly rpc = new RpcServer({ maxInFlightPerConnection: 1024 });
  private readonly grpcServer = new grpc.Server();
  private readonly injector = this.grpcServer.createConnectionInjector(
    grpc.ServerCredentials.createInsecure(),
  );

  constructor(
    readonly cluster: FakeCluster,
    readonly index: number,
  ) {
    const m = chunkServiceMethods();
    this.rpc.handle(m.WriteChunk, (r, ctx) => this.serve('write', r as unknown as ChunkReq, ctx));
    this.rpc.handle(m.ReadChunk, (r, ctx) => this.serve('read', r as unknown as ChunkReq, ctx));
    this.rpc.handle(m.DeleteChunk, (r, ctx) => this.serve('delete', r as unknown as ChunkReq, ctx));
    // The MDS pushes a raised epoch (IncreaseFileEpoch) to every chunkserver of the file before answering;
    // without an answer it waits its push timeout on every exclusive open.
    this.rpc.handle(m.UpdateEpoch, async (r) => {
      if (cluster.updateEpochDelayMs) await new Promise((res) => setTimeout(res, cluster.updateEpochDelayMs));
      const { fileId, epoch } = r as unknown as { fileId: number; epoch: number };
      const cur = cluster.epochs.get(fileId) ?? 0;
      if (epoch < cur) return { response: { status: S.EPOCH_TOO_OLD } };
      cluster.epochs.set(fileId, epoch);
      return { response: { status: S.SUCCESS } };
    });
    this.grpcServer.addService(
      grpcService('cli.proto', 'curve.chunkserver.CliService2').service,
      unaryHandlers({
        GetLeader: (req: { logicPoolId: number; copysetId: number }) => {
          cluster.getLeaderCalls++;
          const leader = cluster.leaders.get(`${req.logicPoolId}:${req.copysetId}`);
          if (this.leaderUnknown || leader === undefined) return { leader: null };
          return { leader: { id: 0, address: `127.0.0.1:${cluster.servers[leader].port}:0` } };
        },
      }),
    );
    this.grpcServer.addService(
      grpcService('copyset.proto', 'curve.chunkserver.CopysetService').service,
      unaryHandlers({
        CreateCopysetNode2: (req: {
          copysets: { logicPoolId: number; copysetId: number; peers: { address: string }[] }[];
        }) => {
          for (const c of req.copysets) {
            const members = c.peers.map((p) =>
              cluster.servers.findIndex((s) => p.address.startsWith(`127.0.0.1:${s.port}`)),
            );
            cluster.members.set(`${c.logicPoolId}:${c.copysetId}`, members);
            if (!cluster.leaders.has(`${c.logicPoolId}:${c.copysetId}`))
              cluster.leaders.set(`${c.logicPoolId}:${c.copysetId}`, members[0]);
          }
          return { status: 0 };
        },
      }),
    );
  }

  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<void> {
    this.mux = new PortMux({
      rpc: (s, first) => this.rpc.accept(s, first),
      grpc: (s) => this.injector.injectConnection(s),
    });
    this.port = (await this.mux.listen(port, '127.0.0.1')).port;
  }

  /** Closes the port and every connection (clients see refused connections). */
  async down(): Promise<void> {
    this.mode = 'down';
    const closed = this.mux?.close();
    this.rpc.dropConnections(); // the RPC server owns the framed-RPC connections the mux handed it
    await closed;
    this.mux = undefined;
  }

  async up(): Promise<void> {
    this.mode = 'normal';
    if (!this.mux) await this.start(this.port);
  }

  async stop(): Promise<void> {
    const closed = this.mux?.close();
    await this.rpc.close();
    await closed;
    this.grpcServer.forceShutdown();
  }

  private async serve(op: 'read' | 'write' | 'delete', r: ChunkReq, ctx: RpcCallContext) {
    const c = this.cluster;
    this.requests++;
    c.calls[op]++;
    if (this.mode === 'timeout')
      await new Promise<void>((resolve) =>
        ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
    if (this.mode === 'overload') return { response: { status: S.OVERLOAD } };
    const key = `${r.logicPoolId}:${r.copysetId}`;
    if (this.mode === 'copyset-notexist' || !c.members.get(key)?.includes(this.index))
      return { response: { status: S.COPYSET_NOTEXIST } };
    const leader = c.leaders.get(key);
    if (leader !== this.index) {
      const redirect =
        this.mode === 'redirect-nohint' || leader === undefined
          ? ''
          : `127.0.0.1:${c.servers[leader].port}:0`;
      return { response: { status: S.REDIRECTED, redirect } };
    }
    if (op !== 'read' && r.fileId && r.epoch) {
      const cur = c.epochs.get(r.fileId) ?? 0;
      if (r.epoch < cur) return { response: { status: S.EPOCH_TOO_OLD } };
      c.epochs.set(r.fileId, r.epoch);
    }
    c.inflight++;
    c.maxInflight = Math.max(c.maxInflight, c.inflight);
    try {
      if (this.delayMs) await new Promise((res) => setTimeout(res, this.delayMs));
      return {
        response: c.apply(op, r, ctx.attachment),
        attachment: op === 'read' ? c.readData(r) : undefined,
      };
    } finally {
      c.inflight--;
    }
  }
}

export class FakeCluster {
  readonly servers: FakeChunkserver[] = [];
  /** `${pool}:${chunkId}` -> page index -> 4 KiB page */
  readonly chunks = new Map<string, Map<number, Buffer>>();
  readonly members = new Map<string, number[]>();
  readonly leaders = new Map<string, number>();
  readonly epochs = new Map<number, number>();
  /** How long each chunkserver takes to answer UpdateEpoch (the MDS waits for it in IncreaseFileEpoch). */
  updateEpochDelayMs = 0;
  readonly calls = { read: 0, write: 0, delete: 0 };
  getLeaderCalls = 0;
  inflight = 0;
  maxInflight = 0;
  readonly pageSize = 4096;

  async start(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const s = new FakeChunkserver(this, i);
      await s.start();
      this.servers.push(s);
    }
  }

  async stop(): Promise<void> {
    for (const s of this.servers) await s.stop();
  }

  totalCalls(): number {
    return this.calls.read + this.calls.write + this.calls.delete;
  }

  copysets(): string[] {
    return [...this.members.keys()];
  }

  /** Moves leadership of every copyset to its next member. */
  rotateLeaders(): void {
    for (const [key, members] of this.members) {
      const cur = members.indexOf(this.leaders.get(key)!);
      this.leaders.set(key, members[(cur + 1) % members.length]);
    }
  }

  apply(op: 'read' | 'write' | 'delete', r: ChunkReq, data: Buffer): { status: number } {
    const key = `${r.logicPoolId}:${r.chunkId}`;
    if (op === 'delete') {
      this.chunks.delete(key);
      return { status: S.SUCCESS };
    }
    if (r.offset % this.pageSize || r.size % this.pageSize || r.size === 0)
      return { status: S.INVALID_REQUEST };
    if (op === 'read') return { status: this.chunks.has(key) ? S.SUCCESS : S.CHUNK_NOTEXIST };
    if (data.length !== r.size) return { status: S.INVALID_REQUEST };
    let pages = this.chunks.get(key);
    if (!pages) this.chunks.set(key, (pages = new Map()));
    for (let at = 0; at < r.size; at += this.pageSize)
      pages.set((r.offset + at) / this.pageSize, Buffer.from(data.subarray(at, at + this.pageSize)));
    return { status: S.SUCCESS };
  }

  readData(r: ChunkReq): Buffer | undefined {
    const pages = this.chunks.get(`${r.logicPoolId}:${r.chunkId}`);
    if (!pages) return undefined;
    const out = Buffer.alloc(r.size);
    for (let at = 0; at < r.size; at += this.pageSize)
      pages.get((r.offset + at) / this.pageSize)?.copy(out, at);
    return out;
  }
}

/** Registers the fakes with the MDS (one zone and server each), creates logical pool lp1 and a volume. */
export async function buildFakeTopology(mds: MdsClient, cluster: FakeCluster, copysetNum = 6): Promise<void> {
  const ok = (r: Record<string, unknown>, what: string): void => {
    if (r.statusCode !== 0) throw new Error(`${what}: status ${String(r.statusCode)}`);
  };
  ok(await mds.call('topology', 'CreatePhysicalPool', { physicalPoolName: 'pool1' }), 'pool');
  for (const [i, s] of cluster.servers.entries()) {
    const z = i + 1;
    ok(await mds.call('topology', 'CreateZone', { zoneName: `zone${z}`, physicalPoolName: 'pool1' }), 'zone');
    ok(
      await mds.call('topology', 'RegistServer', {
        hostName: `server${z}`,
        internalIp: '127.0.0.1',
        internalPort: s.port,
        zoneName: `zone${z}`,
        physicalPoolName: 'pool1',
      }),
      'server',
    );
    const reg = await mds.call<{ statusCode: number; chunkServerID: number; token: string }>(
      'topology',
      'RegistChunkServer',
      {
        diskType: 'nvme',
        diskPath: `/data/cs${z}`,
        hostIp: '127.0.0.1',
        port: s.port,
        serverName: `server${z}`,
        diskCapacity: 2 ** 40,
      },
    );
    ok(reg, 'chunkserver');
    s.id = reg.chunkServerID;
    s.token = reg.token;
  }
  ok(
    await mds.call('topology', 'CreateLogicalPool', {
      logicalPoolName: 'lp1',
      physicalPoolName: 'pool1',
      copysetNum,
    }),
    'logical pool',
  );
}
