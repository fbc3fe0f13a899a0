// What the client knows about where data lives: segment -> chunks (chunk id + copyset) from the MDS,
// "never allocated" answers for a short while (so repeated reads of empty space cost nothing), and
// copyset -> member endpoints + current leader. Pure data structure: the volume fills and invalidates it.

export interface PageFileSegment {
  logicalPoolID: number;
  startOffset: number;
  segmentSize: number;
  chunkSize: number;
  chunks: Array<{ copysetID: number; chunkID: number }>;
}

export interface ChunkLocation {
  logicalPoolId: number;
  copysetId: number;
  chunkId: number;
}

export interface CopysetPeer {
  id: number;
  /** "ip:port" */
  endpoint: string;
}

export interface CopysetRoute {
  peers: CopysetPeer[];
  /** "ip:port" of the leader, when known. */
  leader?: string;
}

export type SegmentLookup = { allocated: true; segment: PageFileSegment } | { allocated: false };

export function copysetKey(pool: number, copyset: number): string {
  return `${pool}:${copyset}`;
}

export class MetaCache {
  private readonly segments = new Map<number, PageFileSegment>();
  /** segment index -> time until which "not allocated" may be believed */
  private readonly unallocated = new Map<number, number>();
  private readonly copysets = new Map<string, CopysetRoute>();

  constructor(private readonly unallocatedTtlMs: number) {}

  segment(index: number, nowMs: number): SegmentLookup | undefined {
    const seg = this.segments.get(index);
    if (seg) return { allocated: true, segment: seg };
    const until = this.unallocated.get(index);
    if (until === undefined) return undefined;
    if (until > nowMs) return { allocated: false };
    this.unallocated.delete(index);
    return undefined;
  }

  setSegment(index: number, seg: PageFileSegment): void {
    this.unallocated.delete(index);
    this.segments.set(index, seg);
  }

  setUnallocated(index: number, nowMs: number): void {
    this.segments.delete(index);
    if (this.unallocatedTtlMs > 0) this.unallocated.set(index, nowMs + this.unallocatedTtlMs);
  }

  /** Forget everything about one segment (after it was deallocated). */
  forgetSegment(index: number): void {
    this.segments.delete(index);
    this.unallocated.delete(index);
  }

  chunk(seg: PageFileSegment, chunkIndex: number): ChunkLocation {
    const c = seg.chunks[chunkIndex];
    if (!c) throw new RangeError(`segment at ${seg.startOffset} has no chunk ${chunkIndex}`);
    return { logicalPoolId: seg.logicalPoolID, copysetId: c.copysetID, chunkId: c.chunkID };
  }

  route(pool: number, copyset: number): CopysetRoute | undefined {
    return this.copysets.get(copysetKey(pool, copyset));
  }

  /** New membership from the MDS; the known leader stays if it is still a member. */
  setPeers(pool: number, copyset: number, peers: CopysetPeer[]): void {
    const key = copysetKey(pool, copyset);
    const old = this.copysets.get(key);
    const leader = old?.leader && peers.some((p) => p.endpoint === old.leader) ? old.leader : undefined;
    this.copysets.set(key, { peers, leader });
  }

  /** A leader learned from a redirect or GetLeader; an unknown endpoint joins the peer list. */
  setLeader(pool: number, copyset: number, endpoint: string): void {
    const key = copysetKey(pool, copyset);
    const route = this.copysets.get(key) ?? { peers: [] };
    if (!route.peers.some((p) => p.endpoint === endpoint))
      route.peers = [...route.peers, { id: 0, endpoint }];
    route.leader = endpoint;
    this.copysets.set(key, route);
  }

  /** Forget the leader (only if it is still `endpoint`, so a newer answer is not thrown away). */
  clearLeader(pool: number, copyset: number, endpoint?: string): void {
    const route = this.copysets.get(copysetKey(pool, copyset));
    if (route && (endpoint === undefined || route.leader === endpoint)) route.leader = undefined;
  }

  allocatedSegmentIndexes(): number[] {
    return [...this.segments.keys()].sort((a, b) => a - b);
  }
}
