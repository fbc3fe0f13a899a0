// Persistent reservations kept in a backing store's own record (the `curve` store: an attribute of the
// volume on the MDS), so every gateway exporting the volume reads and writes the same state. Unlike the
// per-daemon file store, the whole state is kept whatever APTPL says: the volume, not the gateway
// process, is the logical unit, and a gateway restarting is not a power loss of the volume.
import type { StoreRecord } from '../backing/backing-store';
import { prStateFromJson, prStateToJson, type PrState, type ReservationStore } from '../scsi/pr-state';

/** The record name used for SCSI persistent reservations. */
export const PR_RECORD = 'scsi.pr';

export class RecordReservationStore implements ReservationStore {
  /** Version of the record this gateway's state was read from or last written as. */
  private version = 0;
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly record: StoreRecord) {}

  async load(): Promise<PrState | undefined> {
    const r = await this.record.read();
    this.version = r.version;
    return r.text === undefined ? undefined : prStateFromJson(r.text);
  }

  /**
   * Compare-and-set against the version last seen. When another gateway changed the record first, the
   * change is refused (the SCSI layer answers it with an error and keeps its old state) rather than
   * overwriting reservations this gateway has not seen; saves are serialized.
   */
  save(state: PrState): Promise<void> {
    const text = prStateToJson(state);
    const run = this.tail.then(async () => {
      const r = await this.record.write(text, this.version);
      if (!r.ok)
        throw new Error(
          `persistent reservations were changed through another gateway (version ${r.version}, ` +
            `this one saw ${this.version}); re-create the LU to load them`,
        );
      this.version = r.version;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }
}
