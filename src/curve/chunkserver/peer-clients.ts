// One data-plane RPC client per peer chunkserver, shared by the Raft transport and snapshot copies.
import { RpcClient } from '../rpc/rpc-client';
import { splitEndpoint } from './copyset-id';

export class PeerClients {
  private readonly clients = new Map<string, RpcClient>();

  get(endpoint: string): RpcClient {
    let c = this.clients.get(endpoint);
    if (!c) {
      const { host, port } = splitEndpoint(endpoint);
      // One data connection keeps Raft appends to a peer in order.
      c = new RpcClient({
        host,
        port,
        dataConnections: 1,
        connectTimeoutMs: 1000,
        backoff: { initialMs: 50, maxMs: 1000, factor: 2 },
      });
      this.clients.set(endpoint, c);
    }
    return c;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
    this.clients.clear();
  }
}
