// A RaftTransport over the chunkserver's data-plane RPC, so Raft shares the chunkserver's one port (as in
// Curve, where braft rides on the chunkserver's brpc server). Each batch is one call whose attachment is
// the encoded batch (CRC32C-checked by the RPC layer); the answer is empty and ignored. Control batches go
// on the RPC client's control lane so votes and heartbeats never queue behind appends.
import { createLogger } from '../../common/log';
import { decodeBatch, encodeBatch, type GroupMessage } from '../raft/message-codec';
import type { Lane, RaftTransport } from '../raft/transport';
import type { NodeId } from '../raft/types';
import type { RpcServer } from '../rpc/rpc-server';
import { RAFT_BATCH } from './internal-methods';
import type { PeerClients } from './peer-clients';

const log = createLogger('raft-rpc-transport');

export class RaftRpcTransport implements RaftTransport {
  private handler: (from: NodeId, batch: GroupMessage[]) => void = () => {};
  private closed = false;
  /** Node id -> "ip:port", learned from copyset configurations, log entries and incoming batches. */
  readonly addresses = new Map<NodeId, string>();
  readonly counters = { sent: 0, dropped: 0, received: 0, failed: 0 };

  constructor(
    readonly nodeId: NodeId,
    private readonly selfAddress: string,
    private readonly peers: PeerClients,
    server: RpcServer,
    private readonly timeoutMs = 2000,
  ) {
    server.handle(RAFT_BATCH, (req, ctx) => {
      if (this.closed) return { response: {} };
      if (req.fromAddress && !this.addresses.has(req.from)) this.addresses.set(req.from, req.fromAddress);
      let batch: GroupMessage[];
      try {
        batch = decodeBatch(ctx.attachment);
      } catch (err) {
        log.warn('undecodable raft batch', { from: req.from, err: err as Error });
        return { response: {} };
      }
      this.counters.received++;
      this.handler(req.from, batch);
      return { response: {} };
    });
  }

  learn(node: NodeId, address: string): void {
    if (node !== this.nodeId) this.addresses.set(node, address);
  }

  send(to: NodeId, lane: Lane, batch: GroupMessage[]): void {
    if (this.closed) return;
    const address = this.addresses.get(to);
    if (!address) {
      this.counters.dropped++;
      return;
    }
    this.counters.sent++;
    this.peers
      .get(address)
      .call(
        RAFT_BATCH,
        { from: this.nodeId, fromAddress: this.selfAddress },
        { attachment: encodeBatch(batch), lane, timeoutMs: this.timeoutMs },
      )
      .catch(() => {
        // Raft tolerates loss: the leader resends.
        this.counters.failed++;
      });
  }

  onBatch(handler: (from: NodeId, batch: GroupMessage[]) => void): void {
    this.handler = handler;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
