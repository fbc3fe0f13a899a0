// The `curve` store: a logical unit on a replicated Curve volume.
//   tgtadm ... --bstype curve --backing-store /pool/vol1 --bsopts "mds=10.0.0.1:6700,10.0.0.2:6700"
// An acknowledged write is replicated on a Raft majority, so FUA and SYNCHRONIZE CACHE need nothing more.
// COMPARE AND WRITE is atomic against every other write through this LU (an in-process range lock);
// one gateway exports a volume at a time, enforced by the volume epoch (a newer opener fences us).
import { CurveClientError } from '../curve/client/client-errors';
import type { CurveVolumeOptions } from '../curve/client/client-options';
import { CurveVolume } from '../curve/client/curve-volume';
import { RangeLock } from '../curve/client/range-lock';
import {
  BackingStoreError,
  type BackingStore,
  type BackingStoreOpenOptions,
  type BackingStoreType,
  type VolumeMetadata,
} from './backing-store';
import { VersionedMetadata } from './versioned-metadata';

/** Settings from `--bsopts`: `key=value` pairs separated by ';' (tgt's style) or whitespace. */
export interface CurveStoreSettings {
  mds: string[];
  owner?: string;
  holdLimitMs?: number;
  exclusive?: boolean;
}

/**
 * Parses `mds=h:p,h:p;user=NAME;hold=SECONDS;exclusive=0|1`. MDS addresses fall back to $CURVE_MDS
 * (the daemon's environment) when not given. Unknown keys are errors, so a typo is not ignored.
 */
export function parseCurveBsOpts(opts: string, env: NodeJS.ProcessEnv = process.env): CurveStoreSettings {
  const out: CurveStoreSettings = { mds: [] };
  for (const item of opts.split(/[;\s]+/).filter(Boolean)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`curve: bad --bsopts item '${item}' (want key=value)`);
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    switch (key) {
      case 'mds':
        out.mds = value.split(',').filter(Boolean);
        for (const a of out.mds)
          if (!/^[^:\s]+:\d{1,5}$/.test(a)) throw new Error(`curve: bad MDS address '${a}' (want host:port)`);
        break;
      case 'user':
        if (!value) throw new Error('curve: empty user');
        out.owner = value;
        break;
      case 'hold': {
        const s = Number(value);
        if (!Number.isFinite(s) || s <= 0) throw new Error(`curve: bad hold '${value}' (seconds > 0)`);
        out.holdLimitMs = Math.round(s * 1000);
        break;
      }
      case 'exclusive':
        if (value !== '0' && value !== '1') throw new Error(`curve: bad exclusive '${value}' (0 or 1)`);
        out.exclusive = value === '1';
        break;
      default:
        throw new Error(`curve: unknown --bsopts key '${key}'`);
    }
  }
  if (out.mds.length === 0 && env.CURVE_MDS) out.mds = env.CURVE_MDS.split(',').filter(Boolean);
  if (out.mds.length === 0)
    throw new Error('curve: no MDS address (--bsopts mds=host:port,... or CURVE_MDS)');
  return out;
}

function storeError(err: unknown): unknown {
  if (!(err instanceof CurveClientError)) return err;
  switch (err.kind) {
    case 'range':
    case 'nospace':
    case 'readonly':
      return new BackingStoreError(err.message, err.kind);
    case 'fenced':
      // Another gateway owns the volume now: this path is write protected.
      return new BackingStoreError(err.message, 'readonly');
    default:
      return new BackingStoreError(err.message, 'io');
  }
}

async function mapped<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw storeError(err);
  }
}

export class CurveStore implements BackingStore {
  readonly type = 'curve';
  readonly capabilities = { unmap: true, compareAndWrite: true, lbaStatus: true, volatileCache: false };
  /** Orders writes against COMPARE AND WRITE (reads do not take it). */
  private readonly lock = new RangeLock();

  /** Records kept as attributes of the volume on the MDS (compare-and-set by version), so persistent
   *  reservations and saved mode pages are shared by every gateway exporting the volume. */
  readonly metadata: VolumeMetadata;

  constructor(readonly volume: CurveVolume) {
    this.metadata = new VersionedMetadata({
      get: (name) => mapped(volume.getXattr(name)),
      set: (name, value, expectVersion) => mapped(volume.setXattr(name, value, expectVersion)),
    });
  }

  size(): number {
    return this.volume.size();
  }

  read(offset: number, length: number): Promise<Buffer> {
    return mapped(this.volume.read(offset, length));
  }

  async write(offset: number, data: Buffer, _fua: boolean): Promise<void> {
    const release = await this.lock.acquire(offset, data.length);
    try {
      await mapped(this.volume.write(offset, data));
    } finally {
      release();
    }
  }

  /** Acknowledged writes are already replicated and durable. */
  async flush(): Promise<void> {}

  async unmap(offset: number, length: number): Promise<void> {
    const release = await this.lock.acquire(offset, length);
    try {
      await mapped(this.volume.discard(offset, length));
    } finally {
      release();
    }
  }

  /** Deallocated space reads as zeros, so zeroing is deallocating. */
  writeZeroes(offset: number, length: number): Promise<void> {
    return this.unmap(offset, length);
  }

  async compareAndWrite(offset: number, compare: Buffer, data: Buffer): Promise<number> {
    const release = await this.lock.acquire(offset, Math.max(compare.length, data.length));
    try {
      const current = await mapped(this.volume.read(offset, compare.length));
      for (let i = 0; i < compare.length; i++) if (current[i] !== compare[i]) return i;
      await mapped(this.volume.write(offset, data));
      return -1;
    } finally {
      release();
    }
  }

  allocationStatus(
    offset: number,
    length: number,
  ): Promise<Array<{ offset: number; length: number; mapped: boolean }>> {
    return mapped(this.volume.allocation(offset, length));
  }

  async refreshSize(): Promise<number> {
    return (await mapped(this.volume.stat())).length;
  }

  close(): Promise<void> {
    return this.volume.close();
  }
}

export const curveStoreType: BackingStoreType = {
  name: 'curve',
  async open(o: BackingStoreOpenOptions): Promise<BackingStore> {
    if (!o.path.startsWith('/') || o.path.length < 2)
      throw new BackingStoreError(
        `curve: backing store must be a volume path like /pool/vol1, got '${o.path}'`,
        'io',
      );
    const s = parseCurveBsOpts(o.opts);
    const options: CurveVolumeOptions = {
      mdsAddresses: s.mds,
      fileName: o.path,
      owner: s.owner,
      readonly: o.readonly,
      exclusive: s.exclusive,
      holdLimitMs: s.holdLimitMs,
    };
    return new CurveStore(await mapped(CurveVolume.open(options)));
  },
};
