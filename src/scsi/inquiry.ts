// INQUIRY (SPC-4 6.6): standard data and the VPD pages 0x00, 0x80, 0x83 (SPC-4 7.8) and for disks 0xB0,
// 0xB1, 0xB2 (SBC-3 6.6). Pure: everything comes from an InquiryData description and the nexus.
import { allocationLength16At, nacaSet, truncate } from './cdb';
import { ScsiStatus, type ItNexus, type ScsiResult } from './scsi-types';
import { invalidCdbField, type SenseFormat } from './sense';

export const PeripheralType = { Disk: 0x00, Controller: 0x0c, Unknown: 0x1f } as const;

/** Version descriptors (SPC-4 table 32). */
export const VersionDescriptor = {
  SAM5: 0x00a0,
  ISCSI: 0x0960,
  SPC4: 0x0460,
  SBC3: 0x04c0,
  SCC2: 0x01fb,
} as const;

export interface BlockLimits {
  /** Largest READ/WRITE transfer in blocks. */
  maxTransferLength: number;
  optimalTransferLengthGranularity: number;
  optimalTransferLength: number;
  /** 0 unless the LU supports UNMAP. */
  maxUnmapLbaCount: number;
  maxUnmapBlockDescriptorCount: number;
  /** Largest WRITE SAME in blocks. */
  maxWriteSameLength: number;
  /** WRITE SAME with NUMBER OF LOGICAL BLOCKS 0 is rejected (WSNZ). */
  writeSameNonZero: boolean;
  /** MAXIMUM COMPARE AND WRITE LENGTH in blocks (0: COMPARE AND WRITE not supported). */
  maxCompareAndWriteLength?: number;
}

export interface Provisioning {
  /** Thin provisioned and the store can unmap: LBPU + LBPWS + LBPWS10, provisioning type thin. */
  thin: boolean;
  /** Unmapped blocks read as zeros. */
  lbprz: boolean;
}

export interface InquiryData {
  peripheralType: number;
  removable: boolean;
  vendorId: string;
  productId: string;
  productRev: string;
  versionDescriptors: readonly number[];
  scsiSn: string;
  scsiId: string;
  naa: Buffer;
  /** Disk-only pages: present when set. */
  blockLimits?: BlockLimits;
  rotationRate?: number;
  provisioning?: Provisioning;
  /** Third-party copy VPD page (0x8F) body, when EXTENDED COPY is supported. */
  thirdPartyCopy?: Buffer;
  /** TPGS (ALUA support: 1 implicit, 2 explicit, 3 both); 0 or unset when ALUA is off. */
  tpgs?: number;
}

/** Space-padded ASCII of exactly `width` bytes (truncated if longer). */
export function padAscii(s: string, width: number): Buffer {
  const b = Buffer.alloc(width, 0x20);
  b.write(s.slice(0, width), 0, 'latin1');
  return b;
}

/** Standard INQUIRY data: 58 bytes of fields + 8 version-descriptor slots = 74 bytes. */
export function standardInquiry(d: InquiryData): Buffer {
  const b = Buffer.alloc(74);
  b[0] = d.peripheralType & 0x1f; // peripheral qualifier 000b: connected
  b[1] = d.removable ? 0x80 : 0x00;
  b[2] = 0x06; // SPC-4
  b[3] = 0x12; // HISUP, response data format 2
  b[4] = b.length - 5;
  b[5] = ((d.tpgs ?? 0) & 0x03) << 4;
  b[7] = 0x02; // CMDQUE
  padAscii(d.vendorId, 8).copy(b, 8);
  padAscii(d.productId, 16).copy(b, 16);
  padAscii(d.productRev, 4).copy(b, 32);
  d.versionDescriptors.slice(0, 8).forEach((v, i) => b.writeUInt16BE(v, 58 + 2 * i));
  return b;
}

/** Page codes this LU supports, ascending. */
export function supportedVpdPages(d: InquiryData): number[] {
  const pages = [0x00, 0x80, 0x83];
  if (d.blockLimits) pages.push(0xb0);
  if (d.rotationRate !== undefined) pages.push(0xb1);
  if (d.thirdPartyCopy) pages.splice(3, 0, 0x8f);
  if (d.provisioning) pages.push(0xb2);
  return pages;
}

function vpdHeader(d: InquiryData, page: number, body: Buffer): Buffer {
  const b = Buffer.alloc(4 + body.length);
  b[0] = d.peripheralType & 0x1f;
  b[1] = page;
  b.writeUInt16BE(body.length, 2);
  body.copy(b, 4);
  return b;
}

function designator(codeSetByte: number, typeByte: number, value: Buffer): Buffer {
  const b = Buffer.alloc(4 + value.length);
  b[0] = codeSetByte;
  b[1] = typeByte;
  b[3] = value.length;
  value.copy(b, 4);
  return b;
}

/** T10 vendor id designator text: the 8-byte vendor id then scsi_id (unless scsi_id already starts with it,
 *  as tgt's default 'IET     000100001' does). */
export function t10DesignatorText(vendorId: string, scsiId: string): Buffer {
  const vendor = padAscii(vendorId, 8).toString('latin1');
  const text = scsiId.startsWith(vendor) ? scsiId : vendor + scsiId;
  return Buffer.from(text, 'latin1');
}

/** SCSI name string: null-terminated UTF-8 padded with nulls to a multiple of 4 (SPC-4 7.8.6.11). */
function scsiNameString(name: string): Buffer {
  const raw = Buffer.from(name, 'utf8');
  const len = (raw.length + 1 + 3) & ~3;
  const b = Buffer.alloc(len);
  raw.copy(b);
  return b;
}

function pageDeviceIdentification(d: InquiryData, nexus: ItNexus): Buffer {
  const rel = Buffer.alloc(4);
  rel.writeUInt16BE(nexus.relativeTargetPortId & 0xffff, 2);
  const tpg = Buffer.alloc(4);
  tpg.writeUInt16BE(nexus.targetPortGroup & 0xffff, 2);
  const parts = [
    designator(0x01, 0x03, d.naa), // binary, LU association, NAA
    designator(0x02, 0x01, t10DesignatorText(d.vendorId, d.scsiId)), // ASCII, LU association, T10 vendor id
    designator(0x51, 0x94, rel), // iSCSI, binary; PIV, target port, relative target port
    designator(0x51, 0x95, tpg), // iSCSI, binary; PIV, target port, target port group
    designator(0x53, 0x98, scsiNameString(nexus.targetPortName)), // iSCSI, UTF-8; PIV, target port, SCSI name
  ];
  return Buffer.concat(parts);
}

function pageBlockLimits(l: BlockLimits): Buffer {
  const b = Buffer.alloc(0x3c);
  // Offsets are page offsets minus the 4-byte header.
  b[0] = l.writeSameNonZero ? 0x01 : 0x00;
  b[1] = (l.maxCompareAndWriteLength ?? 0) & 0xff;
  b.writeUInt16BE(l.optimalTransferLengthGranularity & 0xffff, 2);
  b.writeUInt32BE(l.maxTransferLength >>> 0, 4);
  b.writeUInt32BE(l.optimalTransferLength >>> 0, 8);
  b.writeUInt32BE(l.maxUnmapLbaCount >>> 0, 16);
  b.writeUInt32BE(l.maxUnmapBlockDescriptorCount >>> 0, 20);
  b.writeUInt32BE(0, 32); // MAXIMUM WRITE SAME LENGTH, high half
  b.writeUInt32BE(l.maxWriteSameLength >>> 0, 36);
  return b;
}

function pageBlockDeviceCharacteristics(rotationRate: number): Buffer {
  const b = Buffer.alloc(0x3c);
  b.writeUInt16BE(rotationRate & 0xffff, 0);
  return b;
}

function pageLogicalBlockProvisioning(p: Provisioning): Buffer {
  const b = Buffer.alloc(4);
  if (p.thin) b[1] = 0x80 | 0x40 | 0x20; // LBPU, LBPWS, LBPWS10
  if (p.lbprz) b[1] |= 0x04;
  b[2] = p.thin ? 0x02 : 0x00; // provisioning type: thin / not reported (full)
  return b;
}

/** A VPD page, or undefined when unsupported. */
export function vpdPage(page: number, d: InquiryData, nexus: ItNexus): Buffer | undefined {
  switch (page) {
    case 0x00:
      return vpdHeader(d, 0x00, Buffer.from(supportedVpdPages(d)));
    case 0x80:
      return vpdHeader(d, 0x80, Buffer.from(d.scsiSn, 'latin1'));
    case 0x83:
      return vpdHeader(d, 0x83, pageDeviceIdentification(d, nexus));
    case 0x8f:
      return d.thirdPartyCopy ? vpdHeader(d, 0x8f, d.thirdPartyCopy) : undefined;
    case 0xb0:
      return d.blockLimits ? vpdHeader(d, 0xb0, pageBlockLimits(d.blockLimits)) : undefined;
    case 0xb1:
      return d.rotationRate !== undefined
        ? vpdHeader(d, 0xb1, pageBlockDeviceCharacteristics(d.rotationRate))
        : undefined;
    case 0xb2:
      return d.provisioning ? vpdHeader(d, 0xb2, pageLogicalBlockProvisioning(d.provisioning)) : undefined;
    default:
      return undefined;
  }
}

/** Execute INQUIRY: EVPD=0 with a page code, CMDDT, NACA or an unsupported page -> INVALID FIELD IN CDB. */
export function executeInquiry(cdb: Buffer, nexus: ItNexus, d: InquiryData, format: SenseFormat): ScsiResult {
  const evpd = (cdb[1] & 0x01) !== 0;
  if (cdb[1] & 0x02) return invalidCdbField(format, 1, 1); // CMDDT (obsolete)
  if (nacaSet(cdb)) return invalidCdbField(format, 5, 2);
  const alloc = allocationLength16At(cdb, 3);
  if (!evpd) {
    if (cdb[2] !== 0) return invalidCdbField(format, 2);
    return { status: ScsiStatus.Good, dataIn: truncate(standardInquiry(d), alloc) };
  }
  const page = vpdPage(cdb[2], d, nexus);
  if (!page) return invalidCdbField(format, 2);
  return { status: ScsiStatus.Good, dataIn: truncate(page, alloc) };
}
