// Persistent reservation state (SPC-4 5.13) and the store that keeps it. The state is plain data so a
// store can serialize it anywhere: a JSON file per LU (APTPL across restarts), or the volume's own
// metadata (BackingStore.metadata: the Curve volume's MDS attributes, shared by every gateway).
import { promises as fsp } from 'fs';
import * as path from 'path';
import type { VolumeMetadata } from '../backing/backing-store';

/** Reservation types (SPC-4 table 169). */
export const PrType = {
  WriteExclusive: 1,
  ExclusiveAccess: 3,
  WriteExclusiveRegistrantsOnly: 5,
  ExclusiveAccessRegistrantsOnly: 6,
  WriteExclusiveAllRegistrants: 7,
  ExclusiveAccessAllRegistrants: 8,
} as const;

export function validPrType(t: number): boolean {
  return t === 1 || t === 3 || t === 5 || t === 6 || t === 7 || t === 8;
}

export function allRegistrantsType(t: number): boolean {
  return t === PrType.WriteExclusiveAllRegistrants || t === PrType.ExclusiveAccessAllRegistrants;
}

/** One registered I_T nexus. Identity is the (initiator port, target port) pair, which outlives sessions. */
export interface PrRegistration {
  key: bigint;
  initiatorPortName: string;
  targetPortName: string;
  relativeTargetPortId: number;
  /** Registered through every target port (ALL_TG_PT). */
  allTargetPorts: boolean;
}

export interface PrReservation {
  type: number;
  /** Initiator/target port of the holder (ignored for all-registrants types: every registrant holds it). */
  initiatorPortName: string;
  targetPortName: string;
}

export interface PrState {
  generation: number;
  registrations: PrRegistration[];
  reservation: PrReservation | undefined;
  /** Activate Persist Through Power Loss, as set by the last REGISTER. */
  aptpl: boolean;
}

export function emptyPrState(): PrState {
  return { generation: 0, registrations: [], reservation: undefined, aptpl: false };
}

/** Where persistent reservation state lives between restarts. */
export interface ReservationStore {
  /** The saved state, or undefined when none was saved. */
  load(): Promise<PrState | undefined>;
  /** Called after every change; a store persists only when `state.aptpl` (else it forgets what it had). */
  save(state: PrState): Promise<void>;
}

/** Keeps nothing: reservations last as long as the process. */
export const volatileReservationStore: ReservationStore = {
  load: () => Promise.resolve(undefined),
  save: () => Promise.resolve(),
};

interface PrStateJson {
  version: 1;
  generation: number;
  aptpl: boolean;
  registrations: Array<Omit<PrRegistration, 'key'> & { key: string }>;
  reservation: PrReservation | null;
}

export function prStateToJson(s: PrState): string {
  const j: PrStateJson = {
    version: 1,
    generation: s.generation,
    aptpl: s.aptpl,
    registrations: s.registrations.map((r) => ({ ...r, key: r.key.toString(16) })),
    reservation: s.reservation ?? null,
  };
  return JSON.stringify(j, null, 1);
}

/** Parse saved state; throws on anything malformed (a corrupt file must not invent reservations). */
export function prStateFromJson(text: string): PrState {
  const j = JSON.parse(text) as PrStateJson;
  if (j.version !== 1 || !Array.isArray(j.registrations)) throw new Error('unsupported PR state file');
  const registrations = j.registrations.map((r) => {
    if (typeof r.initiatorPortName !== 'string' || typeof r.targetPortName !== 'string')
      throw new Error('bad registration');
    if (!/^[0-9a-f]{1,16}$/.test(r.key)) throw new Error('bad key');
    return {
      key: BigInt('0x' + r.key),
      initiatorPortName: r.initiatorPortName,
      targetPortName: r.targetPortName,
      relativeTargetPortId: Number(r.relativeTargetPortId) | 0,
      allTargetPorts: r.allTargetPorts === true,
    };
  });
  const res = j.reservation;
  if (res && !validPrType(res.type)) throw new Error('bad reservation type');
  return {
    generation: Number(j.generation) >>> 0,
    aptpl: j.aptpl === true,
    registrations,
    reservation: res
      ? { type: res.type, initiatorPortName: res.initiatorPortName, targetPortName: res.targetPortName }
      : undefined,
  };
}

/** APTPL state in `<dir>/<name>.json`, replaced atomically (temp file, fsync, rename, fsync dir). */
export class FileReservationStore implements ReservationStore {
  private tail: Promise<void> = Promise.resolve();

  constructor(
    readonly dir: string,
    readonly name: string,
  ) {}

  get file(): string {
    return path.join(this.dir, `${this.name}.json`);
  }

  async load(): Promise<PrState | undefined> {
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return prStateFromJson(text);
  }

  /** Saves are serialized so an older state never overwrites a newer one. */
  save(state: PrState): Promise<void> {
    const text = state.aptpl ? prStateToJson(state) : undefined;
    const run = this.tail.then(() => (text === undefined ? this.remove() : this.write(text)));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async remove(): Promise<void> {
    await fsp.rm(this.file, { force: true });
  }

  private async write(text: string): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}`;
    const fh = await fsp.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, this.file);
    const dh = await fsp.open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}

/** Record name of the persistent reservation state in a volume's metadata (the Curve attribute name). */
export const PR_METADATA_KEY = 'scsi.pr';

/**
 * Reservation state kept with the volume (BackingStore.metadata), e.g. as an attribute of the Curve
 * volume. Unlike the per-daemon file, the whole state is kept whatever APTPL says: every gateway exporting
 * the volume is a target port of the same logical unit and must enforce the same registrations, and a
 * gateway process restarting is not a power loss of the volume. A save the metadata refuses (changed
 * through another gateway) fails the PERSISTENT RESERVE OUT, which keeps its old state.
 */
export class VolumeReservationStore implements ReservationStore {
  private tail: Promise<void> = Promise.resolve();

  constructor(readonly metadata: VolumeMetadata) {}

  async load(): Promise<PrState | undefined> {
    const text = await this.metadata.load(PR_METADATA_KEY);
    return text === undefined ? undefined : prStateFromJson(text);
  }

  /** Saves are serialized so an older state never overwrites a newer one. */
  save(state: PrState): Promise<void> {
    const text = prStateToJson(state);
    const run = this.tail.then(() => this.metadata.save(PR_METADATA_KEY, text));
    this.tail = run.catch(() => undefined);
    return run;
  }
}

/** The file store for an LU: `${stateDir}/pr/<naa hex>.json`. */
export function fileReservationStore(stateDir: string, naa: Buffer): FileReservationStore {
  return new FileReservationStore(path.join(stateDir, 'pr'), naa.toString('hex'));
}
