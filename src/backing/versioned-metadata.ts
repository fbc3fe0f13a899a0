// VolumeMetadata on top of versioned, compare-and-set attributes (the Curve MDS's GetFileXattr /
// SetFileXattr). Each key remembers the version this opener last read or wrote; a save is a
// compare-and-set against it, so a change made through another gateway is refused rather than
// overwritten unseen. Pure: the attribute calls are injected.
import type { VolumeMetadata } from './backing-store';

/** Versioned attributes of one volume: version 0 means never written. */
export interface VersionedAttributes {
  get(name: string): Promise<{ value: Buffer; version: number }>;
  /** Writes iff the attribute is still at `expectVersion`; else `ok: false` with its current version. */
  set(name: string, value: Buffer, expectVersion: number): Promise<{ ok: boolean; version: number }>;
}

export class VersionedMetadata implements VolumeMetadata {
  /** Version of each key as this opener last saw it. */
  private readonly seen = new Map<string, number>();
  /** Saves are serialized per opener so they apply in call order. */
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly attrs: VersionedAttributes) {}

  async load(key: string): Promise<string | undefined> {
    const r = await this.attrs.get(key);
    this.seen.set(key, r.version);
    // An empty value is a removed record (attributes cannot be deleted, only emptied).
    return r.version === 0 || r.value.length === 0 ? undefined : r.value.toString('utf8');
  }

  save(key: string, value: string | undefined): Promise<void> {
    const run = this.tail.then(async () => {
      const expect = this.seen.get(key) ?? 0;
      const r = await this.attrs.set(key, Buffer.from(value ?? '', 'utf8'), expect);
      if (!r.ok)
        throw new Error(
          `volume record ${key} was changed through another gateway (version ${r.version}, this one saw ` +
            `${expect}); re-create the LU to load it`,
        );
      this.seen.set(key, r.version);
    });
    this.tail = run.catch(() => undefined);
    return run;
  }
}
