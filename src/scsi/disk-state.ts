// The state one SBC disk keeps and the small helpers every command handler shares. Command handlers live
// in several files (one family each) and all take (DiskState, ScsiTask); disk.ts owns the table.
import { BackingStoreError, type BackingStore } from '../backing/backing-store';
import type { Logger } from '../common/log';
import type { DiskParams } from './device-params';
import type { InquiryData } from './inquiry';
import type { UnitAttentions } from './lun-commands';
import type { ModePage, ModePageOverride, ModeState } from './mode';
import type { ModePageStore } from './mode-store';
import type { PrAccess } from './persistent-reservations';
import type { PrState, ReservationStore } from './pr-state';
import type { RangeLock } from './range-lock';
import type { CopyResults } from './xcopy';
import { ScsiStatus, type ItNexus, type ScsiResult, type ScsiTask } from './scsi-types';
import {
  checkCondition,
  INVALID_COMMAND_OPERATION_CODE,
  LBA_OUT_OF_RANGE,
  SPACE_ALLOCATION_FAILED_WRITE_PROTECT,
  UNRECOVERED_READ_ERROR,
  WRITE_ERROR,
  WRITE_PROTECTED,
  type SenseCode,
  type SenseFormat,
} from './sense';

/** Largest READ/WRITE transfer (VPD B0 MAXIMUM TRANSFER LENGTH), in bytes. */
export const MAX_TRANSFER_BYTES = 16 * 1024 * 1024;
/** Largest UNMAP range, in bytes (libiscsi holds MAXIMUM UNMAP LBA COUNT to at most 2^20 blocks). */
export const MAX_UNMAP_BYTES = 256 * 1024 * 1024;
/** Largest WRITE SAME, in bytes: no more than a WRITE may move, so an initiator can write back what it
 *  unmapped with one command. */
export const MAX_WRITE_SAME_BYTES = MAX_TRANSFER_BYTES;
export const MAX_UNMAP_DESCRIPTORS = 64;
/** VPD B0 MAXIMUM COMPARE AND WRITE LENGTH, in blocks. */
export const MAX_COMPARE_AND_WRITE_BLOCKS = 128;

/** LU parameters that tgtadm `--op update --mode logicalunit -P` may change at runtime. */
export interface DiskSettings {
  readonly: boolean;
  thinProvisioning: boolean;
  online: boolean;
  senseFormat: SenseFormat;
  removable: boolean;
  rotationRate: number;
  lbppbe: number;
  lowestAlignedLba: number;
  /** Unset: our defaults (4 KiB / 1 MiB worth of blocks). */
  optimalTransferLengthGranularity: number | undefined;
  optimalTransferLength: number | undefined;
  modePages: readonly ModePageOverride[];
}

export interface DiskState {
  readonly store: BackingStore;
  readonly bs: number;
  readonly log: Logger;
  readonly params: DiskParams;
  readonly ua: UnitAttentions;
  settings: DiskSettings;
  blocks: number;
  maxTransferBlocks: number;
  /** WCE and D_SENSE as the current mode page values say (read on every write). */
  mode: ModeState;
  /** Every mode page's current/changeable/default/saved values. */
  modePages: ModePage[];
  readonly modeStore: ModePageStore;
  inquiry: InquiryData;
  /** Nexus id holding a RESERVE(6) reservation. */
  reservedBy: number | undefined;
  /** Persistent reservations (loaded from `prStore` before the first command runs). */
  pr: PrState;
  readonly prStore: ReservationStore;
  /** PERSISTENT RESERVE OUT commands run one at a time. */
  prTail: Promise<void>;
  /** Nexuses seen by this LU, by id (to aim PR unit attentions and aborts at I_T nexus identities). */
  readonly nexuses: Map<number, ItNexus>;
  /** Block ranges being written: COMPARE AND WRITE excludes every other write to its blocks. */
  readonly writes: RangeLock;
  /** Medium removal prevented (PREVENT ALLOW MEDIUM REMOVAL), per nexus id. */
  readonly preventRemoval: Set<number>;
  /** A removable medium was ejected by START STOP UNIT. */
  ejected: boolean;
  /** A long operation that makes the medium unavailable (FORMAT UNIT, SANITIZE): other commands get NOT
   *  READY with `code`, REQUEST SENSE reports `progress()` (0-65535). */
  busy: { code: SenseCode; progress(): number } | undefined;
  /** A background self-test (SEND DIAGNOSTIC) in progress, abortable. */
  selfTest: { aborted: boolean; done: Promise<void> } | undefined;
  /** EXTENDED COPY results for RECEIVE COPY RESULTS. */
  readonly copies: CopyResults;
}

export type Handler = (s: DiskState, task: ScsiTask) => ScsiResult | Promise<ScsiResult>;

export interface CommandDef {
  run: Handler;
  /** Needs the medium: NOT READY / MEDIUM NOT PRESENT while the LU is offline. */
  medium?: boolean;
  /** Allowed while another nexus holds a RESERVE(6) reservation (SPC-2 table 9). */
  reservationExempt?: boolean;
  /** Class of access for persistent reservation conflicts (default: Write, i.e. conflicts most). */
  pr?: PrAccess;
  /** The LU implements the command only in some configurations (UNMAP needs thin provisioning); when this
   *  says no, the opcode is not listed and is INVALID COMMAND OPERATION CODE. */
  available?: (s: DiskState) => boolean;
}

export function fmt(s: DiskState): SenseFormat {
  return s.mode.dsense ? 'descriptor' : 'fixed';
}

export function good(): ScsiResult {
  return { status: ScsiStatus.Good };
}

export function canUnmap(s: DiskState): boolean {
  return s.settings.thinProvisioning && s.store.capabilities.unmap;
}

/** LBA + blocks past the end -> LBA OUT OF RANGE (with 0 blocks, an LBA past the end). */
export function outOfRange(s: DiskState, lba: number, blocks: number): ScsiResult | undefined {
  if (lba + blocks > s.blocks) return checkCondition(fmt(s), LBA_OUT_OF_RANGE);
  return undefined;
}

/** Attach the CDB's data-out length to a result (for residual reporting), when there is one. */
export function withDataOut(r: ScsiResult, length: number): ScsiResult {
  if (length) r.dataOutLength = length;
  return r;
}

export function storeFailure(s: DiskState, err: unknown, writing: boolean): ScsiResult {
  const f = fmt(s);
  if (err instanceof BackingStoreError) {
    switch (err.kind) {
      case 'nospace':
        return checkCondition(f, SPACE_ALLOCATION_FAILED_WRITE_PROTECT);
      case 'readonly':
        return checkCondition(f, WRITE_PROTECTED);
      case 'range':
        return checkCondition(f, LBA_OUT_OF_RANGE);
      case 'notsupported':
        return checkCondition(f, INVALID_COMMAND_OPERATION_CODE);
      default:
        break;
    }
  }
  s.log.warn('backing store error', { err, writing });
  return checkCondition(f, writing ? WRITE_ERROR : UNRECOVERED_READ_ERROR);
}
