// Naming of copysets and peers. A copyset (logical pool id, copyset id) is one Raft group; the Raft library
// takes a 32-bit group id, so the pool id gets the top 12 bits and the copyset id the low 20 (Curve uses
// 64 bits; 4096 pools of a million copysets each is plenty here). A peer is a chunkserver "ip:port:index"
// as Curve spells it; its Raft node id is the CRC32C of "ip:port", so every replica derives the same id
// from an address without asking anyone.
import { crc32c } from '../../iscsi/crc32c';

export const MAX_POOL_ID = 0xfff;
export const MAX_COPYSET_ID = 0xfffff;

export interface CopysetKey {
  logicPoolId: number;
  copysetId: number;
}

export function groupIdOf(logicPoolId: number, copysetId: number): number {
  if (!validCopysetKey(logicPoolId, copysetId)) {
    throw new RangeError(`copyset ${logicPoolId}/${copysetId} out of range`);
  }
  return logicPoolId * (MAX_COPYSET_ID + 1) + copysetId;
}

export function validCopysetKey(logicPoolId: number, copysetId: number): boolean {
  return (
    Number.isInteger(logicPoolId) &&
    Number.isInteger(copysetId) &&
    logicPoolId >= 0 &&
    logicPoolId <= MAX_POOL_ID &&
    copysetId >= 0 &&
    copysetId <= MAX_COPYSET_ID
  );
}

export function copysetKeyOfGroup(group: number): CopysetKey {
  return { logicPoolId: Math.floor(group / (MAX_COPYSET_ID + 1)), copysetId: group % (MAX_COPYSET_ID + 1) };
}

export function copysetName(logicPoolId: number, copysetId: number): string {
  return `${logicPoolId}_${copysetId}`;
}

/** "ip:port" of a peer id "ip:port" or "ip:port:index"; undefined when malformed. */
export function endpointOf(peer: string): string | undefined {
  const parts = peer.trim().split(':');
  if (parts.length < 2 || parts.length > 3) return undefined;
  const [ip, port] = parts;
  const p = Number(port);
  if (!ip || !Number.isInteger(p) || p <= 0 || p > 65535) return undefined;
  if (parts.length === 3 && !/^\d+$/.test(parts[2])) return undefined;
  return `${ip}:${p}`;
}

/** Curve's peer id spelling of an endpoint. */
export function peerIdOf(endpoint: string): string {
  return `${endpoint}:0`;
}

/** Raft node id of an endpoint: nonzero 32-bit. */
export function nodeIdOf(endpoint: string): number {
  return crc32c(Buffer.from(endpoint, 'utf8')) || 1;
}

export function splitEndpoint(endpoint: string): { host: string; port: number } {
  const i = endpoint.lastIndexOf(':');
  return { host: endpoint.slice(0, i), port: Number(endpoint.slice(i + 1)) };
}
