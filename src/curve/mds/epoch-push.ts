// UpdateEpoch to every chunkserver of a file after its epoch was bumped, so a writer holding the old
// epoch is refused (EPOCH_TOO_OLD) even on chunks the new owner has not written yet. Sent in parallel and
// retried until every chunkserver accepted or the deadline passed; IncreaseFileEpoch answers after that.
// A chunkserver that is down keeps epochs only in memory, so it has nothing stale to forget; it learns
// the epoch again from the new owner's writes.
import type { ChunkCommander } from './chunk-commander';

export interface EpochPushResult {
  acked: string[];
  failed: string[];
}

export async function pushEpoch(
  commander: ChunkCommander,
  endpoints: string[],
  fileId: number,
  epoch: number,
  deadlineMs: number,
  retryMs = 200,
): Promise<EpochPushResult> {
  const acked: string[] = [];
  let todo = [...new Set(endpoints)];
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const results = await Promise.all(todo.map((ep) => commander.updateEpoch(ep, fileId, epoch)));
    acked.push(...todo.filter((_, i) => results[i]));
    todo = todo.filter((_, i) => !results[i]);
    if (todo.length === 0 || Date.now() + retryMs > deadline) break;
    await new Promise((r) => setTimeout(r, retryMs));
  }
  return { acked: acked.sort(), failed: todo.sort() };
}
