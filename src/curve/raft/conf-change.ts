// Single-server membership changes, carried in log entries of type ConfChange and applied when committed.
import { ConfState, NodeId } from './types';

export type ConfChangeType = 'addVoter' | 'addLearner' | 'removeNode';

export interface ConfChange {
  type: ConfChangeType;
  node: NodeId;
}

const codes: ConfChangeType[] = ['addVoter', 'addLearner', 'removeNode'];

/** 1 byte type + 4 bytes node id, big-endian. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const out = new Uint8Array(5);
  out[0] = codes.indexOf(cc.type);
  new DataView(out.buffer).setUint32(1, cc.node);
  return out;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.length !== 5 || data[0] >= codes.length) throw new Error('malformed conf change');
  return { type: codes[data[0]], node: new DataView(data.buffer, data.byteOffset, 5).getUint32(1) };
}

/** The configuration after applying cc; a change that is a no-op returns an equal state. */
export function applyConfChange(cs: ConfState, cc: ConfChange): ConfState {
  const voters = cs.voters.filter((n) => n !== cc.node);
  const learners = cs.learners.filter((n) => n !== cc.node);
  if (cc.type === 'addVoter') voters.push(cc.node);
  else if (cc.type === 'addLearner') {
    // Demoting a voter to learner in one step is not allowed: remove it first.
    if (cs.voters.includes(cc.node)) return cs;
    learners.push(cc.node);
  }
  voters.sort((a, b) => a - b);
  learners.sort((a, b) => a - b);
  return { voters, learners };
}

export function cloneConfState(cs: ConfState): ConfState {
  return { voters: [...cs.voters], learners: [...cs.learners] };
}
