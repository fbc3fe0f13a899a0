// Control-plane gRPC services of the chunkserver: CopysetService (create, status, delete broken) and
// CliService2 (leader query, membership changes, leadership transfer, forced reset). Membership changes
// run on the copyset's leader; other replicas refuse them with FAILED_PRECONDITION naming the leader.
import * as grpc from '@grpc/grpc-js';
import { createLogger } from '../../common/log';
import { createGrpcClient, grpcCall, loadGrpcPackage, lookupService, type UnaryImpl } from '../rpc/grpc';
import { endpointOf, nodeIdOf, peerIdOf } from './copyset-id';
import type { CopysetManager } from './copyset-manager';
import type { CopysetNode } from './copyset-node';

const log = createLogger('control-services');

export const COPYSET_OP_STATUS = { SUCCESS: 0, EXIST: 1, COPYSET_NOTEXIST: 2, FAILURE_UNKNOWN: 3 } as const;

interface Peer {
  id: number;
  address: string;
}

export function copysetServiceCtor(): grpc.ServiceClientConstructor {
  return lookupService(loadGrpcPackage(['copyset.proto']), 'curve.chunkserver.CopysetService');
}

export function cliServiceCtor(): grpc.ServiceClientConstructor {
  return lookupService(loadGrpcPackage(['cli.proto']), 'curve.chunkserver.CliService2');
}

function grpcError(code: grpc.status, message: string): Error & { code: number } {
  return Object.assign(new Error(message), { code });
}

const ROLE_STATE: Record<string, number> = { leader: 1, candidate: 3, preCandidate: 3, follower: 4 };

export class ControlServices {
  private readonly clients = new Map<string, grpc.Client>();

  constructor(
    private readonly manager: CopysetManager,
    private readonly self: string,
    private readonly electionTimeoutMs: number,
  ) {}

  services(): Array<{ service: grpc.ServiceClientConstructor; impl: UnaryImpl }> {
    return [
      { service: copysetServiceCtor(), impl: this.copysetImpl() },
      { service: cliServiceCtor(), impl: this.cliImpl() },
    ];
  }

  private peerOf(endpoint: string | undefined): Peer | undefined {
    return endpoint ? { id: 0, address: peerIdOf(endpoint) } : undefined;
  }

  private parsePeers(list: string[]): string[] {
    const out: string[] = [];
    for (const p of list) {
      const e = endpointOf(p);
      if (!e) throw grpcError(grpc.status.INVALID_ARGUMENT, `bad peer id ${JSON.stringify(p)}`);
      out.push(e);
    }
    return out;
  }

  private copysetImpl(): UnaryImpl {
    return {
      CreateCopysetNode: async (req: { logicPoolId: number; copysetId: number; peerid: string[] }) => {
        const peers = this.parsePeers(req.peerid);
        const outcome = await this.manager.create(req.logicPoolId, req.copysetId, peers);
        return { status: this.createStatus(outcome), redirect: '' };
      },
      CreateCopysetNode2: async (req: {
        copysets: { logicPoolId: number; copysetId: number; peers: Peer[] }[];
      }) => {
        let status: number = COPYSET_OP_STATUS.SUCCESS;
        for (const c of req.copysets) {
          const peers = this.parsePeers(c.peers.map((p) => p.address));
          const s = this.createStatus(await this.manager.create(c.logicPoolId, c.copysetId, peers));
          if (s === COPYSET_OP_STATUS.FAILURE_UNKNOWN) return { status: s };
          if (s === COPYSET_OP_STATUS.EXIST && req.copysets.length === 1) status = s;
        }
        return { status };
      },
      GetCopysetStatus: (req: { logicPoolId: number; copysetId: number }) => {
        const node = this.manager.get(req.logicPoolId, req.copysetId);
        if (!node) return { status: COPYSET_OP_STATUS.COPYSET_NOTEXIST };
        return this.status(node);
      },
      DeleteBrokenCopyset: async (req: { logicPoolId: number; copysetId: number }) => {
        const ok = await this.manager.delete(req.logicPoolId, req.copysetId);
        return { status: ok ? COPYSET_OP_STATUS.SUCCESS : COPYSET_OP_STATUS.COPYSET_NOTEXIST };
      },
    };
  }

  private createStatus(outcome: 'created' | 'exists' | 'conflict'): number {
    if (outcome === 'created') return COPYSET_OP_STATUS.SUCCESS;
    if (outcome === 'exists') return COPYSET_OP_STATUS.EXIST;
    return COPYSET_OP_STATUS.FAILURE_UNKNOWN;
  }

  status(node: CopysetNode): Record<string, unknown> {
    const st = node.raft.status();
    return {
      status: COPYSET_OP_STATUS.SUCCESS,
      state: ROLE_STATE[st.role] ?? 0,
      peer: this.peerOf(this.self),
      leader: this.peerOf(node.leaderEndpoint()),
      readOnly: false,
      term: st.term,
      committedIndex: st.commit,
      knownAppliedIndex: node.appliedIndex,
      pendingIndex: 0,
      pendingQueueSize: 0,
      applyingIndex: st.applied,
      firstIndex: node.firstLogIndex(),
      lastIndex: st.lastIndex,
      diskIndex: st.lastIndex,
      epoch: node.epoch,
      hash: '',
    };
  }

  private node(req: { logicPoolId: number; copysetId: number }): CopysetNode {
    const node = this.manager.get(req.logicPoolId, req.copysetId);
    if (!node) throw grpcError(grpc.status.NOT_FOUND, `copyset ${req.logicPoolId}_${req.copysetId} not here`);
    return node;
  }

  private leader(req: { logicPoolId: number; copysetId: number }): CopysetNode {
    const node = this.node(req);
    if (!node.isLeader()) {
      throw grpcError(grpc.status.FAILED_PRECONDITION, `not leader; leader=${node.leaderEndpoint() ?? ''}`);
    }
    return node;
  }

  private peers(node: CopysetNode): Peer[] {
    return node.peerEndpoints().map((e) => ({ id: 0, address: peerIdOf(e) }));
  }

  private endpoint(p: Peer | undefined): string {
    const e = p && endpointOf(p.address);
    if (!e) throw grpcError(grpc.status.INVALID_ARGUMENT, `bad peer ${JSON.stringify(p)}`);
    return e;
  }

  /** Leader side of AddPeer: make the new member exist (joining, empty) before it is added. */
  async addPeer(node: CopysetNode, endpoint: string): Promise<void> {
    if (endpoint !== this.self) {
      const client = this.copysetClient(endpoint);
      const res = await grpcCall<{ status: number }>(client, 'CreateCopysetNode', {
        logicPoolId: this.key(node).logicPoolId,
        copysetId: this.key(node).copysetId,
        peerid: node.peerEndpoints().map(peerIdOf),
      });
      if (res.status !== COPYSET_OP_STATUS.SUCCESS && res.status !== COPYSET_OP_STATUS.EXIST) {
        throw grpcError(grpc.status.UNAVAILABLE, `CreateCopysetNode on ${endpoint}: status ${res.status}`);
      }
    }
    await node.addPeer(endpoint);
  }

  private key(node: CopysetNode): { logicPoolId: number; copysetId: number } {
    const [pool, cs] = node.name.split('_').map(Number);
    return { logicPoolId: pool, copysetId: cs };
  }

  private copysetClient(endpoint: string): grpc.Client {
    let c = this.clients.get(endpoint);
    if (!c) {
      c = createGrpcClient(copysetServiceCtor(), endpoint);
      this.clients.set(endpoint, c);
    }
    return c;
  }

  /** ChangePeers: at most one member in and one out per call (add first, then remove), as Curve does. */
  async changePeers(node: CopysetNode, target: string[]): Promise<void> {
    const current = node.peerEndpoints();
    const adds = target.filter((p) => !current.includes(p));
    const removes = current.filter((p) => !target.includes(p));
    if (adds.length > 1 || removes.length > 1) {
      throw grpcError(grpc.status.INVALID_ARGUMENT, 'ChangePeers changes at most one peer at a time');
    }
    if (adds.length) await this.addPeer(node, adds[0]);
    if (removes.length) await node.removePeer(removes[0]);
  }

  private cliImpl(): UnaryImpl {
    return {
      GetLeader: (req: { logicPoolId: number; copysetId: number }) => {
        const node = this.node(req);
        return { leader: this.peerOf(node.leaderEndpoint()) };
      },
      AddPeer: async (req: { logicPoolId: number; copysetId: number; addPeer: Peer }) => {
        const node = this.leader(req);
        const oldPeers = this.peers(node);
        await this.addPeer(node, this.endpoint(req.addPeer));
        return { oldPeers, newPeers: this.peers(node) };
      },
      RemovePeer: async (req: { logicPoolId: number; copysetId: number; removePeer: Peer }) => {
        const node = this.leader(req);
        const oldPeers = this.peers(node);
        await node.removePeer(this.endpoint(req.removePeer));
        return { oldPeers, newPeers: this.peers(node) };
      },
      ChangePeers: async (req: { logicPoolId: number; copysetId: number; newPeers: Peer[] }) => {
        const node = this.leader(req);
        const oldPeers = this.peers(node);
        await this.changePeers(
          node,
          req.newPeers.map((p) => this.endpoint(p)),
        );
        return { oldPeers, newPeers: this.peers(node) };
      },
      TransferLeader: async (req: { logicPoolId: number; copysetId: number; transferee: Peer }) => {
        const node = this.leader(req);
        const to = this.endpoint(req.transferee);
        if (!node.raft.conf.voters.includes(nodeIdOf(to))) {
          throw grpcError(grpc.status.INVALID_ARGUMENT, `${to} is not a member`);
        }
        const ok = await node.transferLeader(to, 2 * this.electionTimeoutMs);
        if (!ok) throw grpcError(grpc.status.DEADLINE_EXCEEDED, `leadership did not move to ${to}`);
        return {};
      },
      ResetPeer: (req: { logicPoolId: number; copysetId: number; newPeers: Peer[] }) => {
        const node = this.node(req);
        const peers = req.newPeers.map((p) => this.endpoint(p));
        if (!peers.length) throw grpcError(grpc.status.INVALID_ARGUMENT, 'ResetPeer needs newPeers');
        log.warn('forced configuration reset', { copyset: node.name, peers });
        node.resetPeers(peers);
        return {};
      },
    };
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
