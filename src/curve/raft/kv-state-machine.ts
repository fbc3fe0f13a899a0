// A replicated key-value map built on Raft: commands are JSON in entry data, tagged with the client and
// its request number so the node that proposed a command can answer the client when it applies.
import { Entry, EntryType } from './types';

export interface KvCommand {
  client: number;
  seq: number;
  key: string;
  value: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeKvCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify([cmd.client, cmd.seq, cmd.key, cmd.value]));
}

export function decodeKvCommand(data: Uint8Array): KvCommand {
  const [client, seq, key, value] = JSON.parse(decoder.decode(data)) as [number, number, string, string];
  return { client, seq, key, value };
}

export class KvStateMachine {
  readonly map = new Map<string, string>();
  applied = 0;

  /** Apply one committed entry; returns the command when it was a put. */
  apply(e: Entry): KvCommand | null {
    if (e.index !== this.applied + 1) throw new Error(`kv: applying ${e.index} after ${this.applied}`);
    this.applied = e.index;
    if (e.type !== EntryType.Normal || e.data.length === 0) return null;
    const cmd = decodeKvCommand(e.data);
    this.map.set(cmd.key, cmd.value);
    return cmd;
  }

  get(key: string): string | null {
    return this.map.get(key) ?? null;
  }

  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify({ applied: this.applied, map: [...this.map] }));
  }

  restore(data: Uint8Array, index: number): void {
    const s = JSON.parse(decoder.decode(data)) as { applied: number; map: [string, string][] };
    if (s.applied !== index) throw new Error(`kv: snapshot at ${s.applied} labelled ${index}`);
    this.map.clear();
    for (const [k, v] of s.map) this.map.set(k, v);
    this.applied = index;
  }
}
