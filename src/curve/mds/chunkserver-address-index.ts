// Chunkservers by "ip:port". Heartbeats name copyset peers by address ("ip:port:index") with no id, so
// every reported peer is resolved here; a scan over all chunkservers per peer made heartbeat handling
// O(copysets x chunkservers). Several records can share an address (a retired disk and the one that
// replaced it): a lookup answers the one not retired, as Curve's GetChunkServerNotRetired does.
import { ChunkServerInfo, ChunkServerStatus } from './topology-types';

type Addressed = Pick<ChunkServerInfo, 'chunkServerID' | 'hostIp' | 'port' | 'status'>;

const keyOf = (ip: string, port: number): string => `${ip}:${port}`;

/** "ip:port" or "ip:port:index" to ip and port; undefined when it is neither. */
export function parsePeerAddress(address: string): { ip: string; port: number } | undefined {
  const i = address.indexOf(':');
  if (i <= 0) return undefined;
  const j = address.indexOf(':', i + 1);
  const port = Number(j < 0 ? address.slice(i + 1) : address.slice(i + 1, j));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  return { ip: address.slice(0, i), port };
}

export class ChunkServerAddressIndex<C extends Addressed = ChunkServerInfo> {
  private readonly byAddress = new Map<string, Map<number, C>>();
  /** the address each id is indexed under, to move it when the record's address changes */
  private readonly keyById = new Map<number, string>();
  /**
   * Peer strings exactly as reported ("ip:port:index") to their record: heartbeats repeat the same few
   * strings, so most lookups skip parsing. Emptied on every put/delete; a cached record that has been
   * retired since is checked on use.
   */
  private readonly peerCache = new Map<string, C | null>();

  /** Indexes the record under its current address (dropping the address it had before, if any). */
  put(cs: C): void {
    this.peerCache.clear();
    const key = keyOf(cs.hostIp, cs.port);
    const old = this.keyById.get(cs.chunkServerID);
    if (old !== undefined && old !== key) this.drop(cs.chunkServerID, old);
    let ids = this.byAddress.get(key);
    if (!ids) this.byAddress.set(key, (ids = new Map()));
    ids.set(cs.chunkServerID, cs);
    this.keyById.set(cs.chunkServerID, key);
  }

  delete(id: number): void {
    this.peerCache.clear();
    const key = this.keyById.get(id);
    if (key !== undefined) this.drop(id, key);
  }

  private drop(id: number, key: string): void {
    const ids = this.byAddress.get(key);
    ids?.delete(id);
    if (ids?.size === 0) this.byAddress.delete(key);
    this.keyById.delete(id);
  }

  /** The chunkserver at ip:port that is not retired (the newest, should there be several). */
  at(ip: string, port: number): C | undefined {
    const ids = this.byAddress.get(keyOf(ip, port));
    if (!ids) return undefined;
    let found: C | undefined;
    for (const cs of ids.values())
      if (cs.status !== ChunkServerStatus.RETIRED && (!found || cs.chunkServerID > found.chunkServerID))
        found = cs;
    return found;
  }

  /** Chunkserver id of a peer address ("ip:port[:index]"); 0 when none is known there. */
  idOf(address: string): number {
    const cached = this.peerCache.get(address);
    if (cached !== undefined && cached?.status !== ChunkServerStatus.RETIRED)
      return cached?.chunkServerID ?? 0;
    const a = parsePeerAddress(address);
    const cs = a ? this.at(a.ip, a.port) : undefined;
    // bounded: a flood of distinct garbage strings must not grow it without limit
    if (this.peerCache.size >= 4 * this.keyById.size + 1024) this.peerCache.clear();
    this.peerCache.set(address, cs ?? null);
    return cs?.chunkServerID ?? 0;
  }

  get size(): number {
    return this.keyById.size;
  }
}
