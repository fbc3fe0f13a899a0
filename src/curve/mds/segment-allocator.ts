// Chooses where a new segment's chunks live: a logical pool that allows allocation and, for each chunk,
// the next copyset in round-robin order (copysets are spread evenly over chunkservers, so chunks are too).
import { Topology } from './topology';
import { AllocateStatus } from './topology-types';

export interface SegmentPlacement {
  logicalPoolID: number;
  copysetIds: number[];
}

export type SegmentPlacer = (chunkCount: number) => SegmentPlacement | undefined;

export function roundRobinPlacer(topology: () => Topology): SegmentPlacer {
  let cursor = Math.floor(Math.random() * 1_000_000);
  return (chunkCount) => {
    const topo = topology();
    const pools = [...topo.logicalPools.values()]
      .filter((p) => p.allocateStatus === AllocateStatus.ALLOW)
      .sort((a, b) => a.logicalPoolID - b.logicalPoolID);
    for (const pool of pools) {
      const copysets = topo.copysetsOfPool(pool.logicalPoolID);
      if (copysets.length === 0) continue;
      const copysetIds: number[] = [];
      for (let i = 0; i < chunkCount; i++) copysetIds.push(copysets[cursor++ % copysets.length].copysetId);
      return { logicalPoolID: pool.logicalPoolID, copysetIds };
    }
    return undefined;
  };
}
