// What the iSCSI layer needs from the daemon's target model. src/target implements it; the iSCSI layer
// never imports src/target (layering: target -> iscsi).
import type { ItNexus, ScsiResult, ScsiTask } from '../scsi/scsi-types';

export interface ChapAccount {
  user: string;
  password: string;
}

export interface PortalAddress {
  /** Numeric address as listened on (IPv4 dotted or IPv6 without brackets; '0.0.0.0' / '::' wildcard). */
  address: string;
  port: number;
  tpgt: number;
}

/** One iSCSI target as the transport sees it. */
export interface IscsiTargetView {
  readonly tid: number;
  readonly name: string;
  /** 'ready' accepts logins and commands; 'offline' refuses logins (status 0x03/0x01, target unavailable). */
  readonly state: 'ready' | 'offline';
  /** ACL check on initiator name and initiator IP address. */
  isAllowed(initiatorName: string, initiatorAddress: string): boolean;
  /** Incoming CHAP accounts bound to this target (empty = no authentication required). */
  incomingAccounts(): ChapAccount[];
  /** Outgoing account for mutual CHAP, if bound. */
  outgoingAccount(): ChapAccount | undefined;
  /** Target-level overrides of iSCSI operational keys (tgtadm --op update --mode target -n K -v V). */
  iscsiParams(): ReadonlyMap<string, string>;
  /** Target-side NOP-In pinging (tgt nop_interval / nop_count); 0 = off. */
  nopInterval(): number;
  nopCount(): number;
  /** Execute a SCSI task on a LUN (unknown LUNs are answered by the target, as SAM requires). */
  execute(task: ScsiTask): Promise<ScsiResult>;
  /** Does the LUN exist (for task management responses)? */
  hasLun(lun: number): boolean;
  /** LOGICAL UNIT RESET on one LUN. */
  resetLun(lun: number, nexus: ItNexus): void;
  /** TARGET WARM/COLD RESET: every LUN. */
  resetTarget(nexus: ItNexus): void;
  /** Session (nexus) bookkeeping, for tgtadm show (I_T nexus) and per-nexus SCSI state. */
  nexusAdded(nexus: ItNexus, info: { address: string; connections: number }): void;
  nexusRemoved(nexus: ItNexus): void;
}

/** The whole daemon's target directory. */
export interface IscsiTargetDirectory {
  findTarget(name: string): IscsiTargetView | undefined;
  listTargets(): IscsiTargetView[];
  /** Accounts that may authenticate discovery sessions (tgt: accounts bound with no target / via
   *  `--mode account --op bind` to discovery). Empty = discovery needs no authentication. */
  discoveryAccounts(): ChapAccount[];
  /** The account the target answers with when a discovery session asks for mutual CHAP
   *  (tgt: `--op bind --mode account --user U --outgoing` without a tid). */
  discoveryOutgoingAccount?(): ChapAccount | undefined;
  /** Every portal the daemon listens on (for SendTargets). */
  portals(): PortalAddress[];
  /** Daemon-wide iSCSI parameters (e.g. system-level defaults); may be empty. */
  globalIscsiParams(): ReadonlyMap<string, string>;
}
