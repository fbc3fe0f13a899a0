// Connections from one volume to chunkservers, by "ip:port": a data-plane RpcClient (ChunkService) and a
// gRPC client (CliService2.GetLeader) to the same port, both created on first use.
import type * as grpc from '@grpc/grpc-js';
import { createGrpcClient, grpcCall, loadGrpcPackage, lookupService } from '../rpc/grpc';
import { RpcClient } from '../rpc/rpc-client';
import { endpointOfPeer, splitHostPort } from './peer-address';

let cliCtor: grpc.ServiceClientConstructor | undefined;

function cliService(): grpc.ServiceClientConstructor {
  cliCtor ??= lookupService(loadGrpcPackage(['cli.proto']), 'curve.chunkserver.CliService2');
  return cliCtor;
}

export class ChunkserverLinks {
  private readonly rpcs = new Map<string, RpcClient>();
  private readonly clis = new Map<string, grpc.Client>();

  rpc(endpoint: string): RpcClient {
    let c = this.rpcs.get(endpoint);
    if (!c) {
      const { host, port } = splitHostPort(endpoint);
      c = new RpcClient({
        host,
        port,
        dataConnections: 2,
        connectTimeoutMs: 1000,
        backoff: { initialMs: 20, maxMs: 500, factor: 2 },
      });
      this.rpcs.set(endpoint, c);
    }
    return c;
  }

  /** Asks one chunkserver who leads the copyset; undefined when it does not know or does not answer. */
  async getLeader(
    endpoint: string,
    pool: number,
    copyset: number,
    timeoutMs: number,
  ): Promise<string | undefined> {
    let c = this.clis.get(endpoint);
    if (!c) {
      c = createGrpcClient(cliService(), endpoint);
      this.clis.set(endpoint, c);
    }
    try {
      const r = await grpcCall<{ leader?: { address?: string } | null }>(
        c,
        'GetLeader',
        { logicPoolId: pool, copysetId: copyset },
        timeoutMs,
      );
      return endpointOfPeer(r.leader?.address);
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.rpcs.values()].map((c) => c.close()));
    this.rpcs.clear();
    for (const c of this.clis.values()) c.close();
    this.clis.clear();
  }
}
