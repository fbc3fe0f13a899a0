// What the target model needs from the layers below, as one injectable table: the daemon passes the
// real implementations (default-deps.ts), tests pass small fakes.
import type { BackingStore, BackingStoreOpenOptions } from '../backing/backing-store';
import type { DiskParams } from '../scsi/device-params';
import type { ScsiDevice, ScsiResult, ScsiTask } from '../scsi/scsi-types';

export interface ControllerParams {
  tid: number;
  vendorId: string;
  productId: string;
  productRev: string;
  naa: Buffer;
  scsiSn: string;
  scsiId: string;
}

export interface TargetDeps {
  openBackingStore(type: string, opts: BackingStoreOpenOptions): Promise<BackingStore>;
  backingStoreTypes(): string[];
  createDisk(params: DiskParams): ScsiDevice;
  createController(params: ControllerParams): ScsiDevice;
  reportLuns(task: ScsiTask, luns: number[]): ScsiResult;
  unknownLun(task: ScsiTask, luns: number[]): ScsiResult;
}

/** The runtime-changeable settings of a disk (src/scsi/disk.ts DiskSettings). */
export type RuntimeDiskSettings = Pick<
  DiskParams,
  | 'readonly'
  | 'thinProvisioning'
  | 'online'
  | 'senseFormat'
  | 'removable'
  | 'rotationRate'
  | 'lbppbe'
  | 'lowestAlignedLba'
  | 'optimalTransferLengthGranularity'
  | 'optimalTransferLength'
  | 'modePages'
>;

/** A disk that takes new settings in place (keeps per-nexus SCSI state, raises the right UAs). */
export interface UpdatableDevice extends ScsiDevice {
  update(change: Partial<RuntimeDiskSettings>): void;
  /** Re-read the store's size (raises CAPACITY DATA HAS CHANGED); optional for older devices. */
  refreshCapacity?(): Promise<number>;
}

export function isUpdatableDevice(d: ScsiDevice): d is UpdatableDevice {
  return typeof (d as Partial<UpdatableDevice>).update === 'function';
}
