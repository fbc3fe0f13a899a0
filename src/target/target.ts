// One iSCSI target: its LUNs (LUN 0 is always the controller), ACLs, iSCSI key overrides, NOP-In
// settings and live I_T nexuses. This is what the transport sees through IscsiTargetView.
import type { ChapAccount, IscsiTargetView } from '../iscsi/target-port';
import { AluaPortGroup } from '../scsi/alua';
import { ScsiStatus, type ItNexus, type ScsiResult, type ScsiTask } from '../scsi/scsi-types';
import type { AccountStore } from './accounts';
import { isInitiatorAllowed } from './acl';
import { ISCSI_TARGET_KEYS } from './iscsi-target-params';
import type { LogicalUnit } from './logical-unit';
import { directionOf } from './lu-stats';
import type { TargetDeps } from './target-deps';

const REPORT_LUNS = 0xa0;
/** Counted as an error when the device threw instead of answering. */
const FAILED: ScsiResult = { status: ScsiStatus.CheckCondition };

export interface NexusInfo {
  nexus: ItNexus;
  address: string;
  connections: number;
}

/** A live iSCSI session as the transport describes it (Session.info()). */
export interface SessionInfo {
  tsih: number;
  initiator: string;
  isid: string;
  connections: Array<{ cid: number; address: string }>;
}

export type SessionSource = (tid: number) => SessionInfo[];

/** The daemon-wide state set by `tgtadm --op update --mode system -n State -v ready|offline`. */
export interface SystemState {
  state: 'ready' | 'offline';
  /** `--mode lld --op stop`. */
  lldStopped?: boolean;
}

export class Target implements IscsiTargetView {
  /** The target's own state (`--mode target -n state`), as `show` prints it. */
  ownState: 'ready' | 'offline' = 'ready';
  readonly luns = new Map<number, LogicalUnit>();
  /** `--initiator-address` rules, then `--initiator-name` rules, each in binding order. */
  readonly addressRules: string[] = [];
  readonly nameRules: string[] = [];
  /** Canonical values of every iSCSI key (defaults until updated). */
  readonly params = new Map<string, string>(ISCSI_TARGET_KEYS.map((k) => [k.name, k.def]));
  nopIntervalValue = 0;
  nopCountValue = 0;
  readonly nexuses = new Map<number, NexusInfo>();
  /** ALUA: the target port group of this daemon's ports, shared by every LU (off by default). */
  readonly alua = new AluaPortGroup();

  constructor(
    readonly tid: number,
    readonly name: string,
    private readonly deps: TargetDeps,
    private readonly accounts: AccountStore,
    private readonly system: SystemState = { state: 'ready' },
  ) {}

  /** What the transport checks at login: a target is unavailable while it or the system is offline. */
  get state(): 'ready' | 'offline' {
    return this.system.state === 'offline' || this.system.lldStopped ? 'offline' : this.ownState;
  }

  sortedLuns(): LogicalUnit[] {
    return [...this.luns.values()].sort((a, b) => a.lun - b.lun);
  }

  isAllowed(initiatorName: string, initiatorAddress: string): boolean {
    return isInitiatorAllowed(this.addressRules, this.nameRules, initiatorName, initiatorAddress);
  }

  incomingAccounts(): ChapAccount[] {
    return this.accounts.incomingOf(this.tid);
  }

  outgoingAccount(): ChapAccount | undefined {
    return this.accounts.outgoingOf(this.tid);
  }

  iscsiParams(): ReadonlyMap<string, string> {
    return this.params;
  }

  nopInterval(): number {
    return this.nopIntervalValue;
  }

  nopCount(): number {
    return this.nopCountValue;
  }

  async execute(task: ScsiTask): Promise<ScsiResult> {
    // tgt answers commands to an offline target with a busy status (target_cmd_queue -EBUSY).
    if (this.ownState !== 'ready') return { status: ScsiStatus.Busy };
    // The LUN list is only needed for REPORT LUNS and unknown LUNs: not sorted on every I/O.
    const lunList = (): number[] => this.sortedLuns().map((l) => l.lun);
    if (task.cdb.length > 0 && task.cdb[0] === REPORT_LUNS) return this.deps.reportLuns(task, lunList());
    const lu = this.luns.get(task.lun);
    if (!lu) return this.deps.unknownLun(task, lunList());
    const device = lu.device;
    const stats = lu.stats;
    const perNexus = stats.nexus(task.nexus.id);
    const dir = directionOf(task);
    stats.submitted(perNexus, dir, task.expectedDataTransferLength);
    const started = process.hrtime.bigint();
    lu.inflight++;
    let result: ScsiResult | undefined;
    try {
      result = await device.execute(task);
      return result;
    } finally {
      lu.inflight--;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      stats.completed(perNexus, dir, task, result ?? FAILED, seconds);
    }
  }

  hasLun(lun: number): boolean {
    return this.luns.has(lun);
  }

  resetLun(lun: number, nexus: ItNexus): void {
    this.luns.get(lun)?.device.reset(nexus);
  }

  resetTarget(nexus: ItNexus): void {
    for (const lu of this.luns.values()) lu.device.reset(nexus);
  }

  nexusAdded(nexus: ItNexus, info: { address: string; connections: number }): void {
    this.nexuses.set(nexus.id, { nexus, address: info.address, connections: info.connections });
  }

  nexusRemoved(nexus: ItNexus): void {
    this.nexuses.delete(nexus.id);
    for (const lu of this.luns.values()) {
      lu.device.nexusGone(nexus);
      lu.stats.nexusGone(nexus.id);
    }
  }
}
