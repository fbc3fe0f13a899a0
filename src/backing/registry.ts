// Backing store types by name (tgt's register_backingstore_template). The builtin list is the one place to
// add a store.
import type { BackingStore, BackingStoreOpenOptions, BackingStoreType } from './backing-store';
import { memStoreType } from './mem';
import { nullStoreType } from './null';
import { rdwrStoreType } from './rdwr';
import { curveStoreType } from './curve';

const BUILTIN: readonly BackingStoreType[] = [rdwrStoreType, nullStoreType, memStoreType, curveStoreType];

const types = new Map<string, BackingStoreType>();

export function registerBackingStore(t: BackingStoreType): void {
  if (types.has(t.name)) throw new Error(`backing store type '${t.name}' is already registered`);
  types.set(t.name, t);
}

export function backingStoreTypes(): string[] {
  return [...types.keys()];
}

/** Open a store of the named type; an unknown type fails like tgt ("failed to find bstype, <name>"). */
export function openBackingStore(type: string, opts: BackingStoreOpenOptions): Promise<BackingStore> {
  const t = types.get(type);
  if (!t) return Promise.reject(new Error(`failed to find bstype, ${type}`));
  return t.open(opts);
}

for (const t of BUILTIN) registerBackingStore(t);
