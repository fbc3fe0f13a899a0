// tgt's LUN 0: a storage array controller (peripheral device type 0x0c, SCC-2) that owns no medium. Like
// tgt's scc template it answers INQUIRY (+ VPD 0x00/0x80/0x83), TEST UNIT READY, REQUEST SENSE and treats
// VERIFY 10/12/16 like TEST UNIT READY; READ CAPACITY and every other media command is INVALID COMMAND
// OPERATION CODE. REPORT LUNS is answered by the target layer.
import { Op } from './cdb';
import { executeInquiry, PeripheralType, VersionDescriptor, type InquiryData } from './inquiry';
import { requestSense, UnitAttentions, unitAttentionGate } from './lun-commands';
import { ScsiStatus, type ItNexus, type ScsiDevice, type ScsiResult, type ScsiTask } from './scsi-types';
import { checkCondition, INVALID_COMMAND_OPERATION_CODE, invalidCdbField } from './sense';

export interface ControllerParams {
  tid: number;
  vendorId: string;
  productId: string;
  productRev: string;
  naa: Buffer;
  scsiSn: string;
  scsiId: string;
}

export function createController(p: ControllerParams): ScsiDevice {
  const ua = new UnitAttentions();
  const inquiry: InquiryData = {
    peripheralType: PeripheralType.Controller,
    removable: false,
    vendorId: p.vendorId,
    productId: p.productId,
    productRev: p.productRev,
    versionDescriptors: [
      VersionDescriptor.SAM5,
      VersionDescriptor.ISCSI,
      VersionDescriptor.SPC4,
      VersionDescriptor.SCC2,
    ],
    scsiSn: p.scsiSn,
    scsiId: p.scsiId,
    naa: p.naa,
  };

  function run(task: ScsiTask): ScsiResult {
    const cdb =
      task.cdb.length >= 16 ? task.cdb : Buffer.concat([task.cdb, Buffer.alloc(16 - task.cdb.length)]);
    const t = cdb === task.cdb ? task : { ...task, cdb };
    const blocked = unitAttentionGate(ua, t, 'fixed');
    if (blocked) return blocked;
    switch (cdb[0]) {
      case Op.INQUIRY:
        return executeInquiry(cdb, t.nexus, inquiry, 'fixed');
      case Op.REQUEST_SENSE:
        return requestSense(t, ua);
      case Op.TEST_UNIT_READY:
      case Op.VERIFY_10:
      case Op.VERIFY_12:
      case Op.VERIFY_16: {
        const ctl =
          cdb[0] === Op.TEST_UNIT_READY ? 5 : cdb[0] === Op.VERIFY_16 ? 15 : cdb[0] === Op.VERIFY_12 ? 11 : 9;
        if (cdb[ctl] & 0x04) return invalidCdbField('fixed', ctl, 2);
        return { status: ScsiStatus.Good };
      }
      default:
        return checkCondition('fixed', INVALID_COMMAND_OPERATION_CODE);
    }
  }

  return {
    execute: (task) => Promise.resolve(run(task)),
    reset: (_nexus: ItNexus | undefined) => ua.reset(),
    nexusGone: (nexus: ItNexus) => ua.forget(nexus.id),
  };
}
