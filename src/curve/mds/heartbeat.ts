// Chunkserver heartbeats: authenticate (id + token + address), record disk state, capacity and liveness,
// adopt copyset configurations from leaders when their epoch is newer, and answer with the configuration
// change each reported copyset's leader should run next.
import { onlineStateFor, HealthTimeouts } from './chunkserver-health';
import { OperatorController } from './operator-controller';
import { peerAddress, Topology } from './topology';
import { copysetKeyOf, DiskState } from './topology-types';

export const HbStatus = {
  hbOK: 0,
  hbChunkserverUnknown: 1,
  hbChunkserverIpPortNotMatch: 2,
  hbChunkserverTokenNotMatch: 3,
  hbAnalyseCopysetError: 4,
} as const;

export const ConfigChangeType = {
  NONE: 0,
  ADD_PEER: 1,
  REMOVE_PEER: 2,
  TRANSFER_LEADER: 3,
  CHANGE_PEER: 4,
} as const;

export interface Peer {
  id: number;
  address: string;
}

export interface HeartbeatCopyset {
  logicalPoolID: number;
  copysetID: number;
  peers: Peer[];
  epoch: number;
  leaderPeer: Peer | null;
}

export interface HeartbeatRequest {
  chunkServerID: number;
  token: string;
  ip: string;
  port: number;
  diskState: { errType: number; errMsg: string } | null;
  diskCapacity: number;
  diskUsed: number;
  leaderCount: number;
  copysetCount: number;
  copysetInfos: HeartbeatCopyset[];
}

export interface CopySetConf {
  logicalPoolID: number;
  copysetID: number;
  peers: Peer[];
  epoch: number;
  type: number;
  configchangeItem: Peer | null;
  oldPeer: Peer | null;
}

export interface HeartbeatResponse {
  statusCode: number;
  needUpdateCopysets: CopySetConf[];
}

/** Chunkserver id of a reported peer: its id when filled in, else the one serving at its address. */
const peerId = (topo: Topology, p: Peer): number => p.id || topo.chunkServerIdOf(p.address);

export class HeartbeatHandler {
  constructor(
    private readonly topology: () => Topology,
    private readonly operators: OperatorController,
    private readonly timeouts: HealthTimeouts,
  ) {}

  /** Re-derives every chunkserver's online state from its heartbeat age. */
  refreshStates(nowMs = Date.now()): void {
    for (const cs of this.topology().chunkservers.values())
      cs.onlineState = onlineStateFor(cs.lastHeartbeatMs, nowMs, this.timeouts);
  }

  async handle(req: HeartbeatRequest, nowMs = Date.now()): Promise<HeartbeatResponse> {
    const topo = this.topology();
    const cs = topo.chunkservers.get(req.chunkServerID);
    const res: HeartbeatResponse = { statusCode: HbStatus.hbOK, needUpdateCopysets: [] };
    if (!cs) return { ...res, statusCode: HbStatus.hbChunkserverUnknown };
    if (cs.token !== req.token) return { ...res, statusCode: HbStatus.hbChunkserverTokenNotMatch };
    if (cs.hostIp !== req.ip || cs.port !== req.port)
      return { ...res, statusCode: HbStatus.hbChunkserverIpPortNotMatch };

    cs.lastHeartbeatMs = nowMs;
    cs.onlineState = onlineStateFor(nowMs, nowMs, this.timeouts);
    const diskStatus = req.diskState && req.diskState.errType !== 0 ? DiskState.ERROR : DiskState.NORMAL;
    const persist =
      diskStatus !== cs.diskStatus || (req.diskCapacity && req.diskCapacity !== cs.diskCapacity);
    cs.diskStatus = diskStatus;
    if (req.diskCapacity) cs.diskCapacity = req.diskCapacity;
    cs.diskUsed = req.diskUsed;
    cs.leaderNum = req.leaderCount;
    cs.copysetNum = req.copysetCount;
    if (persist) await topo.saveChunkServer(cs);

    for (const info of req.copysetInfos) {
      const known = topo.copysets.get(copysetKeyOf(info.logicalPoolID, info.copysetID));
      if (!known) continue; // not created by this MDS: ignored (Curve would ask to clean it)
      const leaderId = info.leaderPeer ? peerId(topo, info.leaderPeer) : 0;
      const reporterIsLeader = leaderId === cs.chunkServerID;
      if (!reporterIsLeader) continue; // only a leader's view of the configuration is trusted
      const members = info.peers.map((p) => peerId(topo, p)).filter((id) => topo.chunkservers.has(id));
      if (members.length !== info.peers.length) continue; // a peer this MDS does not know: do not adopt
      if (info.epoch > known.epoch) {
        await topo.updateCopyset({ ...known, chunkServerIDs: members, leader: leaderId, epoch: info.epoch });
      } else if (info.epoch === known.epoch && known.leader !== leaderId) {
        known.leader = leaderId; // leadership is soft state; not persisted
      } else if (info.epoch < known.epoch) {
        continue; // a stale leader: never let it roll the configuration back
      }
      const current = topo.copysets.get(copysetKeyOf(info.logicalPoolID, info.copysetID))!;
      const step = this.operators.onReport(
        {
          logicalPoolId: info.logicalPoolID,
          copysetId: info.copysetID,
          members: current.chunkServerIDs,
          leader: leaderId,
          epoch: current.epoch,
        },
        nowMs,
      );
      if (!step) continue;
      const target = topo.chunkservers.get(step.target);
      if (!target) continue;
      const item = { id: target.chunkServerID, address: peerAddress(target) };
      res.needUpdateCopysets.push({
        logicalPoolID: info.logicalPoolID,
        copysetID: info.copysetID,
        peers: current.chunkServerIDs.flatMap((id) => {
          const member = topo.chunkservers.get(id);
          return member ? [{ id, address: peerAddress(member) }] : [];
        }),
        epoch: current.epoch,
        type:
          step.kind === 'add'
            ? ConfigChangeType.ADD_PEER
            : step.kind === 'remove'
              ? ConfigChangeType.REMOVE_PEER
              : ConfigChangeType.TRANSFER_LEADER,
        configchangeItem: item,
        oldPeer: null,
      });
    }
    return res;
  }
}
