// Stand-ins for chunkservers (issue 6 builds the real ones): a gRPC CopysetService that records
// CreateCopysetNode2 calls (optionally failing the first N), and a heartbeat sender.
import * as grpc from '@grpc/grpc-js';
import { grpcService } from '../../../src/curve/common/protos';
import type { ChunkCommander } from '../../../src/curve/mds/chunk-commander';
import { MdsClient } from '../../../src/curve/mds/mds-client';

export interface RecordedCopyset {
  logicalPoolId: number;
  copysetId: number;
  peers: { id: number; address: string }[];
}

export class FakeChunkServer {
  readonly created: RecordedCopyset[] = [];
  calls = 0;
  failFirst = 0;
  port = 0;
  id = 0;
  token = '';
  private server = new grpc.Server();

  async start(): Promise<void> {
    this.server.addService(grpcService('copyset.proto', 'curve.chunkserver.CopysetService').service, {
      CreateCopysetNode2: (
        call: grpc.ServerUnaryCall<
          { copysets: { logicPoolId: number; copysetId: number; peers: RecordedCopyset['peers'] }[] },
          unknown
        >,
        cb: grpc.sendUnaryData<unknown>,
      ) => {
        this.calls++;
        if (this.calls <= this.failFirst)
          return cb({ code: grpc.status.UNAVAILABLE, details: 'injected failure' });
        let exist = true;
        for (const c of call.request.copysets) {
          if (!this.has(c.logicPoolId, c.copysetId)) {
            exist = false;
            this.created.push({ logicalPoolId: c.logicPoolId, copysetId: c.copysetId, peers: c.peers });
          }
        }
        cb(null, { status: exist ? 1 : 0 });
      },
    });
    this.port = await new Promise<number>((res, rej) =>
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? rej(e) : res(p),
      ),
    );
  }

  has(pool: number, copyset: number): boolean {
    return this.created.some((c) => c.logicalPoolId === pool && c.copysetId === copyset);
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.tryShutdown(() => r()));
  }
}

/** Sends one heartbeat as chunkserver `cs` reporting the given copysets (leader = reporter). */
export function heartbeat(
  mds: MdsClient,
  cs: { id: number; token: string; port: number },
  copysets: {
    pool: number;
    copyset: number;
    members: { id: number; port: number }[];
    epoch: number;
    leader?: number;
  }[] = [],
  extra: Record<string, unknown> = {},
): Promise<{ statusCode: number; needUpdateCopysets: Record<string, unknown>[] }> {
  return mds.call('heartbeat', 'ChunkServerHeartbeat', {
    chunkServerID: cs.id,
    token: cs.token,
    ip: '127.0.0.1',
    port: cs.port,
    diskCapacity: 100 * 2 ** 30,
    diskUsed: 2 ** 30,
    copysetCount: copysets.length,
    copysetInfos: copysets.map((c) => ({
      logicalPoolID: c.pool,
      copysetID: c.copyset,
      epoch: c.epoch,
      peers: c.members.map((m) => ({ id: m.id, address: `127.0.0.1:${m.port}:0` })),
      leaderPeer: { id: c.leader ?? cs.id, address: '' },
    })),
    ...extra,
  });
}

/** Stands in for the MDS's data-plane calls to chunkservers: records them and answers as told. */
export class RecordingCommander implements ChunkCommander {
  readonly deleted: { pool: number; copyset: number; chunkId: number; endpoints: string[] }[] = [];
  readonly epochs: { endpoint: string; fileId: number; epoch: number }[] = [];
  /** Chunk deletions fail while this is set (the cleaner must retry). */
  failDeletes = false;

  deleteChunk(endpoints: string[], pool: number, copyset: number, chunkId: number): Promise<boolean> {
    if (this.failDeletes) return Promise.resolve(false);
    this.deleted.push({ pool, copyset, chunkId, endpoints });
    return Promise.resolve(true);
  }

  updateEpoch(endpoint: string, fileId: number, epoch: number): Promise<boolean> {
    this.epochs.push({ endpoint, fileId, epoch });
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
