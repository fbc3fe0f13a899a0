// The daemon's real TargetDeps: backing-store registry, SBC disk, LUN 0 controller, LUN commands.
import { backingStoreTypes, openBackingStore } from '../backing/registry';
import { createController } from '../scsi/controller';
import { createDisk } from '../scsi/disk';
import { reportLuns, unknownLun } from '../scsi/lun-commands';
import type { TargetDeps } from './target-deps';

export function defaultTargetDeps(): TargetDeps {
  return { openBackingStore, backingStoreTypes, createDisk, createController, reportLuns, unknownLun };
}
