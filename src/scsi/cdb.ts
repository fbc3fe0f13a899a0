// CDB field decoding (SPC-4 4.2, SBC-3 5.x). Hot-path helpers read fields straight from the buffer and
// allocate nothing. LBAs beyond 2^53 lose precision but stay far beyond any capacity, so range checks hold.

export const Op = {
  TEST_UNIT_READY: 0x00,
  REQUEST_SENSE: 0x03,
  READ_6: 0x08,
  WRITE_6: 0x0a,
  INQUIRY: 0x12,
  MODE_SELECT_6: 0x15,
  RESERVE_6: 0x16,
  RELEASE_6: 0x17,
  MODE_SENSE_6: 0x1a,
  START_STOP_UNIT: 0x1b,
  PREVENT_ALLOW_MEDIUM_REMOVAL: 0x1e,
  READ_CAPACITY_10: 0x25,
  READ_10: 0x28,
  WRITE_10: 0x2a,
  VERIFY_10: 0x2f,
  SYNCHRONIZE_CACHE_10: 0x35,
  WRITE_SAME_10: 0x41,
  UNMAP: 0x42,
  MODE_SELECT_10: 0x55,
  MODE_SENSE_10: 0x5a,
  READ_16: 0x88,
  WRITE_16: 0x8a,
  VERIFY_16: 0x8f,
  SYNCHRONIZE_CACHE_16: 0x91,
  WRITE_SAME_16: 0x93,
  SERVICE_ACTION_IN_16: 0x9e,
  REPORT_LUNS: 0xa0,
  READ_12: 0xa8,
  WRITE_12: 0xaa,
  VERIFY_12: 0xaf,
  FORMAT_UNIT: 0x04,
  RESERVE_10: 0x56,
  RELEASE_10: 0x57,
  RECEIVE_DIAGNOSTIC_RESULTS: 0x1c,
  SEND_DIAGNOSTIC: 0x1d,
  WRITE_VERIFY_10: 0x2e,
  PRE_FETCH_10: 0x34,
  READ_DEFECT_DATA_10: 0x37,
  LOG_SELECT: 0x4c,
  LOG_SENSE: 0x4d,
  PERSISTENT_RESERVE_IN: 0x5e,
  PERSISTENT_RESERVE_OUT: 0x5f,
  EXTENDED_COPY: 0x83,
  RECEIVE_COPY_RESULTS: 0x84,
  COMPARE_AND_WRITE: 0x89,
  ORWRITE_16: 0x8b,
  WRITE_VERIFY_16: 0x8e,
  PRE_FETCH_16: 0x90,
  MAINTENANCE_IN: 0xa3,
  MAINTENANCE_OUT: 0xa4,
  WRITE_VERIFY_12: 0xae,
  READ_DEFECT_DATA_12: 0xb7,
} as const;

/** MAINTENANCE IN service actions. */
export const MaintenanceIn = {
  REPORT_TARGET_PORT_GROUPS: 0x0a,
  REPORT_SUPPORTED_OPCODES: 0x0c,
  REPORT_SUPPORTED_TMFS: 0x0d,
} as const;

/** SERVICE ACTION IN(16) service actions. */
export const ServiceActionIn = {
  READ_CAPACITY_16: 0x10,
  GET_LBA_STATUS: 0x12,
} as const;

/** CDB length from the opcode's group code; 0 for groups with no fixed length (3, 6, 7). */
export function cdbLength(opcode: number): number {
  switch (opcode >> 5) {
    case 0:
      return 6;
    case 1:
    case 2:
      return 10;
    case 4:
      return 16;
    case 5:
      return 12;
    default:
      return 0;
  }
}

/** Index of the CONTROL byte (last byte of the CDB). */
export function controlByteIndex(cdb: Buffer): number {
  const n = cdbLength(cdb[0]);
  return (n === 0 ? cdb.length : n) - 1;
}

/** NACA set in the CONTROL byte: we do not support ACA, so such commands get INVALID FIELD IN CDB. */
export function nacaSet(cdb: Buffer): boolean {
  return (cdb[controlByteIndex(cdb)] & 0x04) !== 0;
}

/** LBA of READ/WRITE/VERIFY/WRITE SAME/SYNCHRONIZE CACHE 6/10/12/16. */
export function cdbLba(cdb: Buffer): number {
  switch (cdb[0] >> 5) {
    case 0:
      return ((cdb[1] & 0x1f) << 16) | cdb.readUInt16BE(2);
    case 4:
      return cdb.readUInt32BE(2) * 0x100000000 + cdb.readUInt32BE(6);
    default: // groups 1, 2, 5: 4-byte LBA at byte 2
      return cdb.readUInt32BE(2);
  }
}

/** Transfer length in blocks of READ/WRITE 6/10/12/16 (READ/WRITE 6: 0 means 256). */
export function rwTransferLength(cdb: Buffer): number {
  switch (cdb[0] >> 5) {
    case 0:
      return cdb[4] === 0 ? 256 : cdb[4];
    case 4:
      return cdb.readUInt32BE(10);
    case 5:
      return cdb.readUInt32BE(6);
    default:
      return cdb.readUInt16BE(7);
  }
}

/** Byte offset of the transfer-length field (for sense field pointers). */
export function transferLengthByte(opcode: number): number {
  switch (opcode >> 5) {
    case 0:
      return 4;
    case 4:
      return 10;
    case 5:
      return 6;
    default:
      return 7;
  }
}

/** FUA bit (byte 1 bit 3) of 10/12/16-byte READ/WRITE; 6-byte commands have none. */
export function rwFua(cdb: Buffer): boolean {
  return cdb[0] >> 5 !== 0 && (cdb[1] & 0x08) !== 0;
}

/** DPO bit (byte 1 bit 4) of 10/12/16-byte READ/WRITE. */
export function rwDpo(cdb: Buffer): boolean {
  return cdb[0] >> 5 !== 0 && (cdb[1] & 0x10) !== 0;
}

/**
 * Validate the fields we reject in READ/WRITE 6/10/12/16: RDPROTECT/WRPROTECT (no protection information),
 * the reserved bits of READ/WRITE 6 byte 1, NACA. Returns -1 when fine, else `byte * 8 + bit` of the first
 * offending field (bit = its most significant bit).
 */
export function rwInvalidField(cdb: Buffer): number {
  if (cdb[0] >> 5 === 0) {
    if (cdb[1] & 0xe0) return 1 * 8 + 7;
  } else if (cdb[1] & 0xe0) {
    return 1 * 8 + 7;
  }
  const ctl = controlByteIndex(cdb);
  if (cdb[ctl] & 0x04) return ctl * 8 + 2;
  return -1;
}

/** ALLOCATION LENGTH of a 6-byte CDB (byte 4). */
export function allocationLength6(cdb: Buffer): number {
  return cdb[4];
}

/** ALLOCATION LENGTH at bytes 3-4 (INQUIRY) or 7-8 (10-byte CDBs). */
export function allocationLength16At(cdb: Buffer, at: number): number {
  return cdb.readUInt16BE(at);
}

/** ALLOCATION LENGTH of a 4-byte field (REPORT LUNS bytes 6-9, SERVICE ACTION IN(16) bytes 10-13). */
export function allocationLength32At(cdb: Buffer, at: number): number {
  return cdb.readUInt32BE(at);
}

/** Truncate data-in to the allocation length without copying. */
export function truncate(data: Buffer, allocationLength: number): Buffer {
  return data.length > allocationLength ? data.subarray(0, allocationLength) : data;
}
