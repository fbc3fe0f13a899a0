// TypeScript shapes of the topology messages (as the proto loaders produce them: numbers, defaults).

export const TopoCode = {
  Success: 0,
  InternalError: -1,
  InvalidParam: -2,
  StorageFail: -4,
  IdDuplicated: -5,
  ChunkServerNotFound: -6,
  ServerNotFound: -7,
  ZoneNotFound: -8,
  PhysicalPoolNotFound: -9,
  LogicalPoolNotFound: -10,
  CopySetNotFound: -11,
  GenCopysetErr: -12,
  IpPortDuplicated: -15,
  NameDuplicated: -16,
  CreateCopysetNodeOnChunkServerFail: -17,
  LogicalPoolExist: -19,
} as const;

export const OnlineState = { ONLINE: 0, OFFLINE: 1, UNSTABLE: 2 } as const;
export const DiskState = { NORMAL: 0, ERROR: 1 } as const;
export const ChunkServerStatus = { READWRITE: 0, PENDDING: 1, RETIRED: 2 } as const;
export const AllocateStatus = { ALLOW: 0, DENY: 1 } as const;

export interface PhysicalPoolInfo {
  physicalPoolID: number;
  physicalPoolName: string;
  desc: string;
}

export interface ZoneInfo {
  zoneID: number;
  zoneName: string;
  physicalPoolID: number;
  physicalPoolName: string;
  desc: string;
}

export interface ServerInfo {
  serverID: number;
  hostName: string;
  internalIp: string;
  internalPort: number;
  externalIp: string;
  externalPort: number;
  zoneID: number;
  zoneName: string;
  physicalPoolID: number;
  physicalPoolName: string;
  desc: string;
}

export interface ChunkServerInfo {
  chunkServerID: number;
  diskType: string;
  hostIp: string;
  port: number;
  status: number;
  diskStatus: number;
  onlineState: number;
  mountPoint: string;
  diskCapacity: number;
  diskUsed: number;
  externalIp: string;
  serverID: number;
  zoneID: number;
  token: string;
  copysetNum: number;
  leaderNum: number;
  lastHeartbeatMs: number;
}

export interface LogicalPoolInfo {
  logicalPoolID: number;
  logicalPoolName: string;
  physicalPoolID: number;
  type: number;
  createTime: number;
  replicaNum: number;
  copysetNum: number;
  zoneNum: number;
  allocateStatus: number;
  scatterWidth: number;
}

export interface CopySetDetail {
  logicalPoolId: number;
  copysetId: number;
  chunkServerIDs: number[];
  leader: number;
  epoch: number;
  health: string;
  pending: string;
}

export const copysetKeyOf = (logicalPoolId: number, copysetId: number): string =>
  `${logicalPoolId}.${copysetId}`;
