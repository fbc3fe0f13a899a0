// Where a disk keeps its saved mode pages (MODE SELECT with SP=1) between restarts. The default is a JSON
// file per LU beside the APTPL reservation files (`<stateDir>/mode/<naa hex>.json`); a backing store with
// BackingStore.metadata (Curve) keeps them with the volume instead.
import { promises as fsp } from 'fs';
import * as path from 'path';
import type { VolumeMetadata } from '../backing/backing-store';
import { writeFileAtomic } from '../common/atomic-file';

/** One saved page: its code, subpage and whole page bytes (header included). */
export interface SavedModePage {
  code: number;
  subpage: number;
  data: Buffer;
}

export interface ModePageStore {
  /** false: nothing survives the process, so the LU reports no savable pages and refuses SP=1. */
  readonly persistent: boolean;
  /** The saved pages, or undefined when none were saved. */
  load(): Promise<SavedModePage[] | undefined>;
  save(pages: SavedModePage[]): Promise<void>;
}

export const volatileModePageStore: ModePageStore = {
  persistent: false,
  load: () => Promise.resolve(undefined),
  save: () => Promise.resolve(),
};

interface SavedJson {
  version: 1;
  pages: Array<{ code: number; subpage: number; data: string }>;
}

export function savedModePagesToJson(pages: SavedModePage[]): string {
  const j: SavedJson = {
    version: 1,
    pages: pages.map((p) => ({ code: p.code, subpage: p.subpage, data: p.data.toString('hex') })),
  };
  return JSON.stringify(j, null, 1);
}

/** Parse a saved file; throws on anything malformed (the LU then starts from its defaults). */
export function savedModePagesFromJson(text: string): SavedModePage[] {
  const j = JSON.parse(text) as SavedJson;
  if (j.version !== 1 || !Array.isArray(j.pages)) throw new Error('unsupported mode page file');
  return j.pages.map((p) => {
    if (!Number.isInteger(p.code) || p.code < 0 || p.code > 0x3e) throw new Error('bad page code');
    if (!Number.isInteger(p.subpage) || p.subpage < 0 || p.subpage > 0xfe) throw new Error('bad subpage');
    if (typeof p.data !== 'string' || !/^([0-9a-f]{2})+$/.test(p.data)) throw new Error('bad page data');
    return { code: p.code, subpage: p.subpage, data: Buffer.from(p.data, 'hex') };
  });
}

export class FileModePageStore implements ModePageStore {
  readonly persistent = true;
  private tail: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  async load(): Promise<SavedModePage[] | undefined> {
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return savedModePagesFromJson(text);
  }

  /** Saves are serialized so an older set never overwrites a newer one. */
  save(pages: SavedModePage[]): Promise<void> {
    const text = savedModePagesToJson(pages);
    const run = this.tail.then(() => writeFileAtomic(this.file, text));
    this.tail = run.catch(() => undefined);
    return run;
  }
}

/** Record name of the saved mode pages in a volume's metadata. */
export const MODE_METADATA_KEY = 'scsi.mode-pages';

/** Saved pages kept with the volume (BackingStore.metadata): every gateway starts from the same ones. */
export class VolumeModePageStore implements ModePageStore {
  readonly persistent = true;
  private tail: Promise<void> = Promise.resolve();

  constructor(readonly metadata: VolumeMetadata) {}

  async load(): Promise<SavedModePage[] | undefined> {
    const text = await this.metadata.load(MODE_METADATA_KEY);
    return text === undefined ? undefined : savedModePagesFromJson(text);
  }

  /** Saves are serialized so an older set never overwrites a newer one. */
  save(pages: SavedModePage[]): Promise<void> {
    const text = savedModePagesToJson(pages);
    const run = this.tail.then(() => this.metadata.save(MODE_METADATA_KEY, text));
    this.tail = run.catch(() => undefined);
    return run;
  }
}

/** The file store for an LU: `${stateDir}/mode/<naa hex>.json`. */
export function fileModePageStore(stateDir: string, naa: Buffer): FileModePageStore {
  return new FileModePageStore(path.join(stateDir, 'mode', `${naa.toString('hex')}.json`));
}
