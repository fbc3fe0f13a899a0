// A linearizability checker for a key-value register history, after Wing & Gong's search with Lowe's
// memoization as in Porcupine: each key is checked on its own (P-compositionality), operations are
// linearized depth-first in an order consistent with real time, and (linearized set, state) pairs already
// explored are cached. Operations whose outcome is unknown (a put that timed out) return at +Infinity.

export interface KvOperation {
  client: number;
  kind: 'put' | 'get';
  key: string;
  /** put: the value written; get: the value read (null when absent). */
  value: string | null;
  call: number;
  ret: number;
}

export interface LinearizabilityResult {
  ok: boolean;
  /** The first key whose history is not linearizable. */
  badKey?: string;
}

interface Event {
  op: number;
  isCall: boolean;
  time: number;
  prev: Event | null;
  next: Event | null;
  match: Event | null;
}

export function checkKvLinearizable(history: readonly KvOperation[]): LinearizabilityResult {
  const byKey = new Map<string, KvOperation[]>();
  for (const op of history) {
    let list = byKey.get(op.key);
    if (!list) byKey.set(op.key, (list = []));
    list.push(op);
  }
  for (const [key, ops] of byKey) {
    if (!checkRegister(ops)) return { ok: false, badKey: key };
  }
  return { ok: true };
}

/** One register, initially null. */
export function checkRegister(ops: readonly KvOperation[]): boolean {
  if (ops.length === 0) return true;
  const events: Event[] = [];
  ops.forEach((op, i) => {
    if (op.ret < op.call) throw new Error('linearizability: operation returns before it is called');
    const call: Event = { op: i, isCall: true, time: op.call, prev: null, next: null, match: null };
    const ret: Event = { op: i, isCall: false, time: op.ret, prev: null, next: null, match: null };
    call.match = ret;
    events.push(call, ret);
  });
  // Calls sort before returns at equal times: touching operations count as concurrent (the lenient choice).
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1));
  const head: Event = { op: -1, isCall: false, time: -Infinity, prev: null, next: null, match: null };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }

  const lift = (call: Event): void => {
    call.prev!.next = call.next;
    if (call.next) call.next.prev = call.prev;
    const ret = call.match!;
    ret.prev!.next = ret.next;
    if (ret.next) ret.next.prev = ret.prev;
  };
  const unlift = (call: Event): void => {
    const ret = call.match!;
    ret.prev!.next = ret;
    if (ret.next) ret.next.prev = ret;
    call.prev!.next = call;
    if (call.next) call.next.prev = call;
  };

  const words = Math.ceil(ops.length / 32);
  const linearized = new Uint32Array(words);
  const cache = new Set<string>();
  const stack: { call: Event; state: string | null }[] = [];
  let state: string | null = null;
  let entry = head.next;
  while (head.next !== null) {
    if (entry === null) return false;
    if (entry.isCall) {
      const op = ops[entry.op];
      let ok: boolean;
      let newState: string | null = state;
      if (op.kind === 'put') {
        ok = true;
        newState = op.value;
      } else {
        ok = op.value === state;
      }
      if (ok) {
        linearized[entry.op >>> 5] |= 1 << (entry.op & 31);
        const key = linearized.join(',') + '|' + String(newState);
        if (!cache.has(key)) {
          cache.add(key);
          stack.push({ call: entry, state });
          state = newState;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.op >>> 5] &= ~(1 << (entry.op & 31));
      }
      entry = entry.next;
    } else {
      // A return whose call can't be linearized yet: backtrack.
      const top = stack.pop();
      if (!top) return false;
      state = top.state;
      linearized[top.call.op >>> 5] &= ~(1 << (top.call.op & 31));
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return true;
}
