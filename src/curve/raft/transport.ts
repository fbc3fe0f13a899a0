// How Raft hosts exchange messages. Control traffic (votes, heartbeats, responses) uses its own lane so it
// never waits behind bulk appends; an implementation gives each lane its own connection or queue.
import { GroupMessage } from './message-codec';
import { NodeId } from './types';

export type Lane = 'control' | 'data';

export interface RaftTransport {
  readonly nodeId: NodeId;
  /** Best effort: Raft tolerates loss, so a send to an unreachable node is dropped. */
  send(to: NodeId, lane: Lane, batch: GroupMessage[]): void;
  /** An empty batch is a node-level heartbeat (liveness for quiesced groups). */
  onBatch(handler: (from: NodeId, batch: GroupMessage[]) => void): void;
  close(): Promise<void>;
}

/** In-process transport for tests and the in-process benchmark: delivery on a later macrotask. */
export class LocalNetwork {
  private readonly handlers = new Map<NodeId, (from: NodeId, batch: GroupMessage[]) => void>();

  connect(nodeId: NodeId): RaftTransport {
    const handlers = this.handlers;
    return {
      nodeId,
      send(to, _lane, batch) {
        const h = handlers.get(to);
        if (h) setImmediate(() => h(nodeId, batch));
      },
      onBatch(handler) {
        handlers.set(nodeId, handler);
      },
      async close() {
        handlers.delete(nodeId);
      },
    };
  }
}
