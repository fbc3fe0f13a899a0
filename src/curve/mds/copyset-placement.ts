// Pure copyset placement: each copyset gets `replicaNum` chunkservers in distinct zones, and copysets
// spread evenly over chunkservers (greedy least-loaded choice, ties broken by a rotating offset).

export interface PlacementNode {
  id: number;
  zoneId: number;
}

export type PlacementResult = { ok: true; copysets: number[][] } | { ok: false; reason: string };

/** `load` seeds per-chunkserver copyset counts (existing copysets), so new pools keep the spread even. */
export function placeCopysets(
  nodes: PlacementNode[],
  count: number,
  replicaNum: number,
  load: Map<number, number> = new Map(),
): PlacementResult {
  const steps = placeCopysetsInSteps(nodes, count, replicaNum, load);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * The same placement, pausing (yield) after every `perStep` copysets: the work is O(copysets x
 * chunkservers), seconds for a large pool, and the MDS must not block its event loop that long (the
 * election lease keep-alive would starve). The caller resumes it from a fresh macrotask.
 */
export function* placeCopysetsInSteps(
  nodes: PlacementNode[],
  count: number,
  replicaNum: number,
  load: Map<number, number> = new Map(),
  perStep = 200,
): Generator<void, PlacementResult, void> {
  const zones = new Set(nodes.map((n) => n.zoneId));
  if (replicaNum < 1) return { ok: false, reason: 'replicaNum must be at least 1' };
  if (zones.size < replicaNum)
    return { ok: false, reason: `need ${replicaNum} zones with chunkservers, have ${zones.size}` };
  const counts = new Map(nodes.map((n) => [n.id, load.get(n.id) ?? 0]));
  const sorted = [...nodes].sort((a, b) => a.id - b.id);
  const copysets: number[][] = [];
  for (let i = 0; i < count; i++) {
    if (i > 0 && i % perStep === 0) yield;
    const members: PlacementNode[] = [];
    const usedZones = new Set<number>();
    for (let r = 0; r < replicaNum; r++) {
      let best: PlacementNode | undefined;
      let bestRank = Infinity;
      for (let k = 0; k < sorted.length; k++) {
        const n = sorted[(k + i) % sorted.length];
        if (usedZones.has(n.zoneId)) continue;
        const c = counts.get(n.id) ?? 0;
        // rank by load, then by position after the rotating offset (spreads ties)
        const rank = c * sorted.length + k;
        if (rank < bestRank) {
          bestRank = rank;
          best = n;
        }
      }
      if (!best) return { ok: false, reason: 'not enough zones' };
      members.push(best);
      usedZones.add(best.zoneId);
      counts.set(best.id, (counts.get(best.id) ?? 0) + 1);
    }
    copysets.push(members.map((m) => m.id).sort((a, b) => a - b));
  }
  return { ok: true, copysets };
}
