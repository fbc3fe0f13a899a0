// Which messages of a Ready may leave before that Ready is durable. A leader may replicate entries it has
// not fsynced yet (Raft thesis 10.2.1; etcd does the same), because it counts itself toward commit only
// after advance() says its log is durable. What must wait: every response (appResp, voteResp, ... assert
// something about this node's durable log or vote) and vote requests (they carry a new term).
// A leader's messages are only safe early once its term and vote are durable: a single-voter group becomes
// leader in the same step that bumps the term, and a crash before that term is durable could let a second
// leader appear in the same term.
import { Message } from './types';

/** Message types only a leader sends, which assert nothing about the sender's own durable state. */
export function mayPrecedePersistence(m: Message): boolean {
  return m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap' || m.type === 'timeoutNow';
}

/**
 * Split a Ready's messages into those to send now and those to send once the Ready is durable.
 * `termVoteDurable`: the node's current term and vote are already on disk.
 */
export function splitEarlyMessages(
  messages: Message[],
  termVoteDurable: boolean,
): { early: Message[]; late: Message[] } {
  if (!termVoteDurable) return { early: [], late: messages };
  const early: Message[] = [];
  const late: Message[] = [];
  for (const m of messages) (mayPrecedePersistence(m) ? early : late).push(m);
  return { early, late };
}
