// Chunkserver liveness from heartbeat age, as Curve's heartbeat manager judges it: a missed heartbeat
// window makes it UNSTABLE (no new placement, still a member), a long silence makes it OFFLINE (its
// replicas get recovered elsewhere).
import { OnlineState } from './topology-types';

export interface HealthTimeouts {
  /** No heartbeat for this long: UNSTABLE. */
  unstableAfterMs: number;
  /** No heartbeat for this long: OFFLINE. */
  offlineAfterMs: number;
}

export function onlineStateFor(lastHeartbeatMs: number, nowMs: number, t: HealthTimeouts): number {
  const age = nowMs - lastHeartbeatMs;
  if (age >= t.offlineAfterMs) return OnlineState.OFFLINE;
  if (age >= t.unstableAfterMs) return OnlineState.UNSTABLE;
  return OnlineState.ONLINE;
}

export const onlineStateName = (s: number): string =>
  s === OnlineState.ONLINE ? 'online' : s === OnlineState.UNSTABLE ? 'unstable' : 'offline';

/** Copyset health from its members' states: all up, a live majority, or no majority. */
export function copysetHealth(
  memberStates: number[],
  replicaNum: number,
): 'healthy' | 'degraded' | 'unavailable' {
  const online = memberStates.filter((s) => s === OnlineState.ONLINE).length;
  const alive = memberStates.filter((s) => s !== OnlineState.OFFLINE).length;
  if (online === memberStates.length && memberStates.length === replicaNum) return 'healthy';
  if (alive * 2 > memberStates.length) return 'degraded';
  return 'unavailable';
}
