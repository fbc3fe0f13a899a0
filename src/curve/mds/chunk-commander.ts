// The MDS's data-plane calls to chunkservers: DeleteChunk (sent to the copyset's leader, following
// REDIRECTED) and UpdateEpoch (sent to every chunkserver of a file). One RpcClient per chunkserver,
// created on first use; every call has a short deadline and failures are reported, never thrown, so the
// callers (the chunk cleaner, the epoch push) decide what to retry.
import { chunkServiceMethods } from '../rpc/chunk-methods';
import { RpcClient } from '../rpc/rpc-client';

/** CHUNK_OP_STATUS values the MDS looks at (proto/chunk.proto). */
export const ChunkOpStatus = { SUCCESS: 0, REDIRECTED: 1, COPYSET_NOTEXIST: 6 } as const;

export interface ChunkCommander {
  /**
   * Deletes one chunk through its copyset's Raft log. `endpoints` are the members ("ip:port"), the
   * presumed leader first. True once a leader answered SUCCESS (also for a chunk already gone).
   */
  deleteChunk(endpoints: string[], pool: number, copyset: number, chunkId: number): Promise<boolean>;
  /** Tells one chunkserver the file's epoch; true when it accepted (or already had a newer one). */
  updateEpoch(endpoint: string, fileId: number, epoch: number): Promise<boolean>;
  close(): Promise<void>;
}

interface ChunkResponse {
  status: number;
  redirect?: string;
}

const endpointOfPeer = (peer: string | undefined): string | undefined => {
  const m = peer ? /^([^:]+:\d+)(:\d+)?$/.exec(peer) : null;
  return m ? m[1] : undefined;
};

export class RpcChunkCommander implements ChunkCommander {
  private readonly clients = new Map<string, RpcClient>();
  private readonly methods = chunkServiceMethods();

  constructor(private readonly timeoutMs = 2000) {}

  private client(endpoint: string): RpcClient {
    let c = this.clients.get(endpoint);
    if (!c) {
      const i = endpoint.lastIndexOf(':');
      c = new RpcClient({
        host: endpoint.slice(0, i),
        port: Number(endpoint.slice(i + 1)),
        dataConnections: 1,
        controlLane: false,
        connectTimeoutMs: 1000,
        timeoutMs: this.timeoutMs,
        backoff: { initialMs: 50, maxMs: 1000, factor: 2 },
      });
      this.clients.set(endpoint, c);
    }
    return c;
  }

  private async send(endpoint: string, method: string, req: object): Promise<ChunkResponse | undefined> {
    try {
      const r = await this.client(endpoint).call<object, ChunkResponse>(this.methods[method] as never, req, {
        timeoutMs: this.timeoutMs,
      });
      return r.response;
    } catch {
      return undefined; // unreachable, timed out, connection lost: the caller retries later
    }
  }

  async deleteChunk(endpoints: string[], pool: number, copyset: number, chunkId: number): Promise<boolean> {
    const tried = new Set<string>();
    const queue = [...endpoints];
    while (queue.length > 0 && tried.size < endpoints.length + 2) {
      const ep = queue.shift()!;
      if (tried.has(ep)) continue;
      tried.add(ep);
      const r = await this.send(ep, 'DeleteChunk', {
        opType: 0,
        logicPoolId: pool,
        copysetId: copyset,
        chunkId,
        // the file is gone: no newer sequence number can exist, so BACKWARD never applies
        sn: Number.MAX_SAFE_INTEGER,
      });
      if (r?.status === ChunkOpStatus.SUCCESS) return true;
      const leader = r?.status === ChunkOpStatus.REDIRECTED ? endpointOfPeer(r.redirect) : undefined;
      if (leader && !tried.has(leader)) queue.unshift(leader);
    }
    return false;
  }

  async updateEpoch(endpoint: string, fileId: number, epoch: number): Promise<boolean> {
    const r = await this.send(endpoint, 'UpdateEpoch', { fileId, epoch });
    // EPOCH_TOO_OLD: the chunkserver already knows a newer epoch, which fences at least as much
    return r !== undefined && (r.status === ChunkOpStatus.SUCCESS || r.status === 12);
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
    this.clients.clear();
  }
}
