// Initial storage contents for a node. A new group's founding members start with the same log holding one
// committed addVoter entry per member (as etcd bootstraps), so nodes that join later learn the founding
// configuration by replicating the log like any other entry.
import { encodeConfChange } from './conf-change';
import { emptyHardState, Entry, EntryType, InitialState, NodeId } from './types';

export function bootstrapState(voters: NodeId[]): InitialState {
  const sorted = [...voters].sort((a, b) => a - b);
  const entries: Entry[] = sorted.map((node, i) => ({
    term: 1,
    index: i + 1,
    type: EntryType.ConfChange,
    data: encodeConfChange({ type: 'addVoter', node }),
  }));
  return {
    hardState: { term: 1, vote: 0, commit: entries.length },
    snapshot: null,
    entries,
    confState: { voters: sorted, learners: [] },
  };
}

/** A node that will join an existing group: it waits to be added and learns everything from the leader. */
export function joiningState(): InitialState {
  return {
    hardState: emptyHardState(),
    snapshot: null,
    entries: [],
    confState: { voters: [], learners: [] },
  };
}
