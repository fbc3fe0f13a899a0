// RFC 7143 PDU shapes: one interface per opcode, a discriminated union on `opcode`.
// Pure data: the codec (pdu-codec.ts) turns these into bytes and back, the parser (pdu-parser.ts)
// frames them off a byte stream. `data` is always a zero-copy slice of the receive buffer.

export const enum Opcode {
  NopOut = 0x00,
  ScsiCommand = 0x01,
  TaskMgmtRequest = 0x02,
  LoginRequest = 0x03,
  TextRequest = 0x04,
  DataOut = 0x05,
  LogoutRequest = 0x06,
  SnackRequest = 0x10,
  NopIn = 0x20,
  ScsiResponse = 0x21,
  TaskMgmtResponse = 0x22,
  LoginResponse = 0x23,
  TextResponse = 0x24,
  DataIn = 0x25,
  LogoutResponse = 0x26,
  R2T = 0x31,
  AsyncMessage = 0x32,
  Reject = 0x3f,
}

export const BHS_LENGTH = 48;
/** The reserved tag meaning "no task" (ITT/TTT). */
export const RESERVED_TAG = 0xffffffff;

/** Reject reasons (RFC 7143 11.17.1). */
export const enum RejectReason {
  DataDigestError = 0x02,
  SnackReject = 0x03,
  ProtocolError = 0x04,
  CommandNotSupported = 0x05,
  ImmediateCommandReject = 0x06,
  TaskInProgress = 0x07,
  InvalidDataAck = 0x08,
  InvalidPduField = 0x09,
  LongOpReject = 0x0a,
  DeprecatedNegotiationReset = 0x0b,
  WaitingForLogout = 0x0c,
}

/** Fields every BHS has. `lun` is the raw 8-byte LUN field (SAM encoding) as a bigint. */
interface Common {
  immediate: boolean;
  itt: number;
  /** Additional header segments, raw (each: 2-byte length, 1-byte type, 1 reserved, value, padded). */
  ahs?: Buffer;
  /** Data segment without padding and digest. Empty buffer when there is none. */
  data: Buffer;
}

export interface NopOut extends Common {
  opcode: Opcode.NopOut;
  lun: bigint;
  ttt: number;
  cmdSN: number;
  expStatSN: number;
}

export interface ScsiCommand extends Common {
  opcode: Opcode.ScsiCommand;
  final: boolean;
  read: boolean;
  write: boolean;
  /** Task attribute, 3 bits (0 untagged, 1 simple, 2 ordered, 3 head of queue, 4 ACA). */
  attr: number;
  lun: bigint;
  expectedDataTransferLength: number;
  cmdSN: number;
  expStatSN: number;
  /** The CDB: bytes 32..47 of the BHS, extended by an Extended CDB AHS when present (then longer than 16). */
  cdb: Buffer;
  /** Expected bidirectional read data length (from the AHS of type 2), if present. */
  bidiReadLength?: number;
}

export interface TaskMgmtRequest extends Common {
  opcode: Opcode.TaskMgmtRequest;
  /** 1 ABORT TASK, 2 ABORT TASK SET, 3 CLEAR ACA, 4 CLEAR TASK SET, 5 LU RESET, 6 TARGET WARM RESET,
   *  7 TARGET COLD RESET, 8 TASK REASSIGN. */
  function: number;
  lun: bigint;
  referencedTaskTag: number;
  cmdSN: number;
  expStatSN: number;
  refCmdSN: number;
  expDataSN: number;
}

export interface LoginRequest extends Common {
  opcode: Opcode.LoginRequest;
  transit: boolean;
  continue: boolean;
  csg: number;
  nsg: number;
  versionMax: number;
  versionMin: number;
  /** 6 bytes. */
  isid: Buffer;
  tsih: number;
  cid: number;
  cmdSN: number;
  expStatSN: number;
}

export interface TextRequest extends Common {
  opcode: Opcode.TextRequest;
  final: boolean;
  continue: boolean;
  lun: bigint;
  ttt: number;
  cmdSN: number;
  expStatSN: number;
}

export interface DataOut extends Common {
  opcode: Opcode.DataOut;
  final: boolean;
  lun: bigint;
  ttt: number;
  expStatSN: number;
  dataSN: number;
  bufferOffset: number;
}

export interface LogoutRequest extends Common {
  opcode: Opcode.LogoutRequest;
  /** 0 close session, 1 close connection, 2 remove connection for recovery. */
  reasonCode: number;
  cid: number;
  cmdSN: number;
  expStatSN: number;
}

export interface SnackRequest extends Common {
  opcode: Opcode.SnackRequest;
  /** 0 Data/R2T, 1 Status, 2 DataACK, 3 R-Data. */
  type: number;
  lun: bigint;
  ttt: number;
  expStatSN: number;
  begRun: number;
  runLength: number;
}

export interface NopIn extends Common {
  opcode: Opcode.NopIn;
  lun: bigint;
  ttt: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
}

export interface ScsiResponse extends Common {
  opcode: Opcode.ScsiResponse;
  bidiOverflow: boolean;
  bidiUnderflow: boolean;
  overflow: boolean;
  underflow: boolean;
  /** 0 command completed at target, 1 target failure. */
  response: number;
  status: number;
  snackTag: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
  expDataSN: number;
  bidiResidualCount: number;
  residualCount: number;
  // data = 2-byte SenseLength + sense bytes (build with senseSegment()).
}

export interface TaskMgmtResponse extends Common {
  opcode: Opcode.TaskMgmtResponse;
  /** 0 complete, 1 task does not exist, 2 LUN does not exist, 3 task still allegiant, 4 reassignment
   *  not supported, 5 function not supported, 6 authorization failed, 255 rejected. */
  response: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
}

export interface LoginResponse extends Common {
  opcode: Opcode.LoginResponse;
  transit: boolean;
  continue: boolean;
  csg: number;
  nsg: number;
  versionMax: number;
  versionActive: number;
  isid: Buffer;
  tsih: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
  statusClass: number;
  statusDetail: number;
}

export interface TextResponse extends Common {
  opcode: Opcode.TextResponse;
  final: boolean;
  continue: boolean;
  lun: bigint;
  ttt: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
}

export interface DataIn extends Common {
  opcode: Opcode.DataIn;
  final: boolean;
  ack: boolean;
  overflow: boolean;
  underflow: boolean;
  /** S bit: status is carried in this PDU (phase collapse). statSN/status meaningful only then. */
  hasStatus: boolean;
  status: number;
  lun: bigint;
  ttt: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
  dataSN: number;
  bufferOffset: number;
  residualCount: number;
}

export interface LogoutResponse extends Common {
  opcode: Opcode.LogoutResponse;
  /** 0 closed, 1 CID not found, 2 recovery not supported, 3 cleanup failed. */
  response: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
  time2Wait: number;
  time2Retain: number;
}

export interface R2T extends Common {
  opcode: Opcode.R2T;
  lun: bigint;
  ttt: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
  r2tSN: number;
  bufferOffset: number;
  desiredDataTransferLength: number;
}

export interface AsyncMessage extends Common {
  opcode: Opcode.AsyncMessage;
  lun: bigint;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
  /** 0 SCSI async event (sense in data), 1 logout request, 2 drop connection, 3 drop all, 4 renegotiate. */
  asyncEvent: number;
  asyncVCode: number;
  parameter1: number;
  parameter2: number;
  parameter3: number;
}

export interface Reject extends Common {
  opcode: Opcode.Reject;
  reason: number;
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
  dataSN: number;
  // data = the complete header of the rejected PDU.
}

export type InitiatorPdu =
  | NopOut
  | ScsiCommand
  | TaskMgmtRequest
  | LoginRequest
  | TextRequest
  | DataOut
  | LogoutRequest
  | SnackRequest;

export type TargetPdu =
  | NopIn
  | ScsiResponse
  | TaskMgmtResponse
  | LoginResponse
  | TextResponse
  | DataIn
  | LogoutResponse
  | R2T
  | AsyncMessage
  | Reject;

export type Pdu = InitiatorPdu | TargetPdu;
