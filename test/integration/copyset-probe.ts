// Test probes into a running cluster: which copyset holds a byte of a volume (asked of the MDS) and which
// chunkserver leads that copyset now (asked of the chunkservers). Used to aim faults at busy copysets.
import type { MdsClient } from '../../src/curve/mds/mds-client';
import { cliCall } from '../curve/chunkserver/cs-harness';

type Rec = Record<string, unknown>;

export interface CopysetRef {
  pool: number;
  copyset: number;
  /** Chunk index in the volume (offset / chunk size). */
  chunk: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The copyset of the chunk holding `offset`, once its segment is allocated (a write reached it); waits
 * through an MDS restart. Throws after `timeoutMs`.
 */
export async function copysetAt(
  mds: MdsClient,
  volume: string,
  offset: number,
  timeoutMs = 30_000,
): Promise<CopysetRef> {
  const until = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < until) {
    try {
      const probe = await mds.call<Rec>('nameserver', 'GetFileInfo', { fileName: volume, owner: 'root' });
      const info = probe.fileInfo as Rec | undefined;
      const segmentSize = Number(info?.segmentSize);
      const chunkSize = Number(info?.chunkSize);
      if (!(segmentSize > 0 && chunkSize > 0)) throw new Error(`GetFileInfo: ${JSON.stringify(probe)}`);
      const segStart = Math.floor(offset / segmentSize) * segmentSize;
      const r = await mds.call<Rec>('nameserver', 'GetOrAllocateSegment', {
        fileName: volume,
        owner: 'root',
        offset: segStart,
        allocateIfNotExist: false,
        date: Date.now(),
      });
      if (r.statusCode === 0) {
        const seg = r.pageFileSegment as Rec;
        const chunks = seg.chunks as Rec[];
        const inSeg = Math.floor((offset - segStart) / chunkSize);
        return {
          pool: Number(seg.logicalPoolID),
          copyset: Number(chunks[inSeg].copysetID),
          chunk: Math.floor(offset / chunkSize),
        };
      }
      last = `segment at ${segStart}: status ${String(r.statusCode)}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`copyset of ${volume} offset ${offset} not known within ${timeoutMs} ms: ${last}`);
}

/**
 * The port of the chunkserver that leads the copyset: a peer names it and it names itself (a follower
 * may still name a leader that just died). Waits through an election; throws after `timeoutMs`.
 */
export async function leaderPort(csPorts: number[], ref: CopysetRef, timeoutMs = 30_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  const ask = async (port: number): Promise<number | undefined> => {
    try {
      const r = await cliCall<{ leader?: { address: string } }>(`127.0.0.1:${port}`, 'GetLeader', {
        logicPoolId: ref.pool,
        copysetId: ref.copyset,
      });
      const p = r.leader?.address ? Number(r.leader.address.split(':')[1]) : undefined;
      return p && csPorts.includes(p) ? p : undefined;
    } catch {
      return undefined;
    }
  };
  while (Date.now() < until) {
    for (const p of csPorts) {
      const named = await ask(p);
      if (named !== undefined && (await ask(named)) === named) return named;
    }
    await sleep(100);
  }
  throw new Error(`no leader of copyset ${ref.pool}_${ref.copyset} within ${timeoutMs} ms`);
}
