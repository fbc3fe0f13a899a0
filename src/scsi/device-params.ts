// What the target layer passes to create a SCSI device for a LUN (tgtadm `--op new --mode logicalunit`
// plus `-P key=value` updates). Identifiers default from tid/lun the way tgt does.
import type { BackingStore } from '../backing/backing-store';
import type { AluaPortGroup } from './alua';
import type { ModePageOverride } from './mode';
import type { ModePageStore } from './mode-store';
import type { ReservationStore } from './pr-state';
import type { CopyTargetResolver } from './xcopy';

export interface DiskParams {
  tid: number;
  lun: number;
  store: BackingStore;
  /** 512 or 4096 (tgt --blocksize). */
  blockSize: number;
  /** tgt scsi_id (VPD 0x83 T10 vendor id text) and scsi_sn (VPD 0x80); defaults 'IET     <tid><lun>' style. */
  scsiId: string;
  scsiSn: string;
  vendorId: string; // 8 chars max, default 'IET'
  productId: string; // 16 chars max, default 'VIRTUAL-DISK'
  productRev: string; // 4 chars max, default '0001'
  /** NAA designator (VPD 0x83), 8 or 16 bytes; unique and stable per LUN across restarts. */
  naa: Buffer;
  readonly: boolean;
  removable: boolean;
  thinProvisioning: boolean;
  online: boolean;
  /** 'fixed' | 'descriptor' initial sense format. */
  senseFormat: 'fixed' | 'descriptor';
  rotationRate: number;
  /** READ CAPACITY(16) LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (tgt `lbppbe`, 0-15). */
  lbppbe?: number;
  /** READ CAPACITY(16) LOWEST ALIGNED LOGICAL BLOCK ADDRESS (tgt `la_lba`, 0-16383). */
  lowestAlignedLba?: number;
  /** VPD 0xB0 OPTIMAL TRANSFER LENGTH GRANULARITY / OPTIMAL TRANSFER LENGTH in blocks (tgt
   *  `optimal_xfer_gran` / `optimal_xfer_len`); unset: 4 KiB and 1 MiB worth of blocks. */
  optimalTransferLengthGranularity?: number;
  optimalTransferLength?: number;
  /** Mode pages set with tgt's `mode_page=` (defaults and initial current values). */
  modePages?: readonly ModePageOverride[];
  /** Daemon state directory (tgtd --state-dir). When set, APTPL persistent reservations are kept in
   *  `${stateDir}/pr/<naa hex>.json` and survive a restart; when unset they last as long as the process. */
  stateDir?: string;
  /** Where persistent reservation state lives; overrides `stateDir` (e.g. the Curve volume's metadata). */
  reservationStore?: ReservationStore;
  /** Where saved mode pages live; overrides `stateDir` (`${stateDir}/mode/<naa hex>.json`). Without either,
   *  no page is savable. */
  modePageStore?: ModePageStore;
  /** The target's ALUA port group (shared by its LUs); unset or mode 'off': no ALUA. */
  alua?: AluaPortGroup;
  /** EXTENDED COPY: other LUs of the daemon by NAA designator (unset: copies stay within this LU). */
  copyTargets?: CopyTargetResolver;
}
