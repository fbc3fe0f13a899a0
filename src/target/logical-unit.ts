// One logical unit of a target: its SCSI device, backing store and the attributes tgtadm shows.
import type { BackingStore } from '../backing/backing-store';
import type { ScsiDevice } from '../scsi/scsi-types';
import type { LuAttrs } from './lu-params';
import { LuStats } from './lu-stats';

export type LuType = 'controller' | 'disk';

export interface LogicalUnitInit {
  lun: number;
  type: LuType;
  device: ScsiDevice;
  store: BackingStore | undefined;
  bstype: string;
  /** Backing store path as given; undefined = none (tgt prints "None"). */
  path: string | undefined;
  oflags: string[];
  bsopts: string;
  blockSize: number;
  naa: Buffer;
  attrs: LuAttrs;
}

export class LogicalUnit {
  readonly lun: number;
  readonly type: LuType;
  device: ScsiDevice;
  readonly store: BackingStore | undefined;
  readonly bstype: string;
  readonly path: string | undefined;
  readonly oflags: string[];
  readonly bsopts: string;
  readonly blockSize: number;
  readonly naa: Buffer;
  attrs: LuAttrs;
  /** Tasks being executed now (tgt refuses to delete an LU with queued commands). */
  inflight = 0;
  /** I/O counters (tgtadm --op stat, Prometheus). */
  readonly stats = new LuStats();

  constructor(init: LogicalUnitInit) {
    this.lun = init.lun;
    this.type = init.type;
    this.device = init.device;
    this.store = init.store;
    this.bstype = init.bstype;
    this.path = init.path;
    this.oflags = init.oflags;
    this.bsopts = init.bsopts;
    this.blockSize = init.blockSize;
    this.naa = init.naa;
    this.attrs = init.attrs;
  }

  size(): number {
    return this.store ? this.store.size() : 0;
  }
}
