// The transport-independent SCSI task and its result: what a transport (iSCSI) hands to a logical unit
// and gets back. Pure types; no I/O.

/** An I_T nexus: one initiator port talking to one target port. Identity matters for reservations and
 *  unit attentions, so the transport gives each nexus a stable id for its lifetime. */
export interface ItNexus {
  /** Unique in the daemon while the nexus exists (an iSCSI session). */
  id: number;
  /** iSCSI initiator port name: `<InitiatorName>,i,0x<ISID hex>`. */
  initiatorPortName: string;
  initiatorName: string;
  /** iSCSI target port name: `<TargetName>,t,0x<TPGT hex>`. */
  targetPortName: string;
  /** Relative target port identifier (VPD 0x83), 1-based. */
  relativeTargetPortId: number;
  targetPortGroup: number;
}

export const enum TaskAttr {
  Untagged = 0,
  Simple = 1,
  Ordered = 2,
  HeadOfQueue = 3,
  Aca = 4,
}

export interface ScsiTask {
  nexus: ItNexus;
  /** Decoded LUN number (flat or peripheral addressing). */
  lun: number;
  cdb: Buffer;
  attr: TaskAttr;
  /** Transport task tag (ITT), for logging and TMF. */
  tag: number;
  /** Bytes the initiator said it will send or accept (iSCSI Expected Data Transfer Length). */
  expectedDataTransferLength: number;
  /** The initiator set the read (R) / write (W) bit. */
  readExpected: boolean;
  writeExpected: boolean;
  /** Data-out collected by the transport (exactly what the initiator sent, up to EDTL). */
  dataOut?: Buffer;
  /** Set by task management while the task is in flight; long operations may check it. */
  aborted: boolean;
  /** Provided by the transport: abort every task of the given I_T nexuses (ItNexus.id) on `lun`, as
   *  PERSISTENT RESERVE OUT PREEMPT AND ABORT requires (SPC-4 5.13.11.2.4). Resolves once those tasks
   *  have completed or been terminated. Without it, PREEMPT AND ABORT behaves like PREEMPT. */
  abortTasks?: AbortTasksHook;
}

/** See ScsiTask.abortTasks. */
export type AbortTasksHook = (nexusIds: number[], lun: number) => Promise<void>;

export const enum ScsiStatus {
  Good = 0x00,
  CheckCondition = 0x02,
  ConditionMet = 0x04,
  Busy = 0x08,
  ReservationConflict = 0x18,
  TaskSetFull = 0x28,
  AcaActive = 0x30,
  TaskAborted = 0x40,
}

export interface ScsiResult {
  status: ScsiStatus;
  /** Data-in, already truncated to the CDB's allocation length (the transport further truncates to EDTL
   *  and reports the residual). */
  dataIn?: Buffer;
  /** Sense data (fixed or descriptor format) for CHECK CONDITION. */
  sense?: Buffer;
  /** For data-out commands: how many bytes the command wanted to transfer (from the CDB), so the
   *  transport can report over/underflow against EDTL. */
  dataOutLength?: number;
}

/** Anything that executes SCSI tasks for one LUN: a disk (sbc), the LUN 0 controller, ... */
export interface ScsiDevice {
  execute(task: ScsiTask): Promise<ScsiResult>;
  /** Logical unit reset: drop RESERVE(6) reservations, raise a reset unit attention on every nexus. */
  reset(nexus: ItNexus | undefined): void;
  /** A nexus went away (session closed): forget its per-nexus state (UAs, non-persistent registrations). */
  nexusGone(nexus: ItNexus): void;
}
