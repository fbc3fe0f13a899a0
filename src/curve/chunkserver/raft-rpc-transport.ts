// A RaftTransport over the chunkserver's data-plane RPC, so Raft shares the chunkserver's one port (as in
// Curve, where braft rides on the chunkserver's brpc server). Each batch is one call whose attachment is
// the encoded batch (CRC32C-checked by the RPC layer). Batches are posted one-way (RAFT_BATCH_POST: no
// response frame); a peer of an older build that does not know that method gets RAFT_BATCH calls, whose
// empty answers are ignored. Control batches go on the RPC client's control lane so votes and heartbeats
// never queue behind appends.
import { createLogger } from '../../common/log';
import {
  decodeBatch,
  encodeBatch,
  encodeBatchParts,
  EntriesCache,
  type GroupMessage,
} from '../raft/message-codec';
import type { Lane, RaftTransport } from '../raft/transport';
import type { NodeId } from '../raft/types';
import type { RpcServer } from '../rpc/rpc-server';
import { RAFT_BATCH, RAFT_BATCH_POST, type RaftBatchRequestMsg } from './internal-methods';
import type { PeerClients } from './peer-clients';

const log = createLogger('raft-rpc-transport');

export class RaftRpcTransport implements RaftTransport {
  private handler: (from: NodeId, batch: GroupMessage[]) => void = () => {};
  private closed = false;
  /** Entries encoded in this event-loop turn: the same new entries go to every follower (cleared after). */
  private readonly entries = new EntriesCache();
  private entriesCached = false;
  private readonly forgetEntries = (): void => {
    this.entries.clear();
    this.entriesCached = false;
  };
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
    const receive = (req: RaftBatchRequestMsg, attachment: Buffer): void => {
      if (this.closed) return;
      if (req.fromAddress && !this.addresses.has(req.from)) this.addresses.set(req.from, req.fromAddress);
      let batch: GroupMessage[];
      try {
        batch = decodeBatch(attachment);
      } catch (err) {
        log.warn('undecodable raft batch', { from: req.from, err: err as Error });
        return;
      }
      this.counters.received++;
      this.handler(req.from, batch);
    };
    server.handle(RAFT_BATCH, (req, ctx) => {
      receive(req, ctx.attachment);
      return { response: {} };
    });
    server.handleOneWay(RAFT_BATCH_POST, (req, ctx) => receive(req, ctx.attachment));
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
    const client = this.peers.get(address);
    const request = { from: this.nodeId, fromAddress: this.selfAddress };
    if (client.supportsPost(RAFT_BATCH_POST)) {
      if (!this.entriesCached) {
        this.entriesCached = true;
        process.nextTick(this.forgetEntries);
      }
      const attachment = encodeBatchParts(batch, this.entries);
      // Raft tolerates loss: a batch dropped because 64 MiB already wait for this peer is resent.
      if (!client.post(RAFT_BATCH_POST, request, { attachment, lane })) this.counters.dropped++;
      return;
    }
    const attachment = encodeBatch(batch);
    client.call(RAFT_BATCH, request, { attachment, lane, timeoutMs: this.timeoutMs }).catch(() => {
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
