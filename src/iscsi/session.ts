// An iSCSI session in full feature phase (RFC 7143): CmdSN ordering across its connections, SCSI command
// data flow (immediate data, unsolicited Data-Out, R2T), Data-In with status collapse, NOP, Text,
// Logout, and task management. Error recovery level 0: any connection failure ends the session.
import {
  buildSense,
  checkCondition,
  INTERNAL_TARGET_FAILURE,
  INVALID_FIELD_IN_CDB,
  REPORTED_LUNS_DATA_HAS_CHANGED,
} from '../scsi/sense';
import type { ItNexus, ScsiResult, ScsiTask } from '../scsi/scsi-types';
import { CmdWindow } from './cmd-window';
import type { Connection, ConnectionContext } from './connection';
import { answerTextRequest } from './discovery';
import { IscsiTask } from './iscsi-task';
import { sessionsGauge, targetTally, tmfTotal, type TargetTally } from './iscsi-metrics';
import type { OperationalParams } from './negotiation';
import { lunToNumber, senseSegment } from './pdu-codec';
import {
  Opcode,
  RESERVED_TAG,
  RejectReason,
  type DataOut,
  type LogoutRequest,
  type NopOut,
  type Pdu,
  type ScsiCommand,
  type TaskMgmtRequest,
  type TextRequest,
} from './pdu-types';
import { snLt } from './serial';
import type { IscsiTargetView, PortalAddress } from './target-port';
import { encodeTextKeys, parseTextKeys } from './text-keys';

export interface SessionInit {
  tsih: number;
  isid: Buffer;
  initiatorName: string;
  initiatorAlias?: string;
  type: 'Normal' | 'Discovery';
  target: IscsiTargetView | undefined;
  params: OperationalParams;
  expCmdSN: number;
  portal: PortalAddress;
  ctx: ConnectionContext;
}

/** Commands larger than this are refused without buffering (no LU advertises more). */
const MAX_TRANSFER = 64 * 1024 * 1024;
/** Bound on text exchanged in one Text request sequence. */
const MAX_TEXT = 64 * 1024;
let nextNexusId = 1;

const TMF_NAMES = [
  '',
  'abort_task',
  'abort_task_set',
  'clear_aca',
  'clear_task_set',
  'lu_reset',
  'warm_reset',
  'cold_reset',
  'reassign',
];

export class Session {
  readonly tsih: number;
  readonly isid: Buffer;
  readonly initiatorName: string;
  readonly initiatorAlias: string | undefined;
  readonly type: 'Normal' | 'Discovery';
  readonly target: IscsiTargetView | undefined;
  readonly params: OperationalParams;
  readonly nexus: ItNexus;
  closed = false;
  private readonly window: CmdWindow<() => void>;
  private readonly conns: Connection[] = [];
  private readonly tasks = new Map<number, IscsiTask>();
  /** Tasks that sent R2Ts: left when they end, or (pruned by solicitedBytesAwaited) once their data came. */
  private readonly soliciting = new Set<IscsiTask>();
  private nextTtt = 1;
  private textBuf: Buffer[] = [];
  private textBytes = 0;
  private textPending: Buffer[] = [];
  private textTtt = 0;
  private readonly ctx: ConnectionContext;
  /** Command and byte counts of this session's target, read by the metrics at scrape time. */
  private readonly tally: TargetTally;

  constructor(init: SessionInit) {
    this.tsih = init.tsih;
    this.isid = Buffer.from(init.isid);
    this.initiatorName = init.initiatorName;
    this.initiatorAlias = init.initiatorAlias;
    this.type = init.type;
    this.target = init.target;
    this.params = init.params;
    this.ctx = init.ctx;
    this.window = new CmdWindow(init.expCmdSN, init.ctx.cmdWindow);
    this.tally = targetTally(init.target?.name ?? '');
    const isidHex = this.isid.toString('hex');
    this.nexus = {
      id: nextNexusId++,
      initiatorName: init.initiatorName,
      initiatorPortName: `${init.initiatorName},i,0x${isidHex}`,
      targetPortName: `${init.target?.name ?? ''},t,0x${init.portal.tpgt.toString(16).padStart(4, '0')}`,
      relativeTargetPortId: init.portal.tpgt,
      targetPortGroup: init.portal.tpgt,
    };
    sessionsGauge.inc({ type: this.type });
  }

  get targetName(): string | undefined {
    return this.target?.name;
  }

  get expCmdSN(): number {
    return this.window.expCmdSN;
  }

  get maxCmdSN(): number {
    return this.window.maxCmdSN;
  }

  connectionCount(): number {
    return this.conns.length;
  }

  connections(): readonly Connection[] {
    return this.conns;
  }

  connectionByCid(cid: number): Connection | undefined {
    return this.conns.find((c) => c.cid === cid);
  }

  addConnection(conn: Connection): void {
    this.conns.push(conn);
    if (this.conns.length === 1 && this.target) {
      this.target.nexusAdded(this.nexus, { address: conn.remoteAddress, connections: 1 });
    }
  }

  /** ERL 0: a lost connection ends its tasks; the last one ends the session. */
  connectionClosed(conn: Connection): void {
    const i = this.conns.indexOf(conn);
    if (i >= 0) this.conns.splice(i, 1);
    for (const t of this.tasks.values()) if (t.conn === conn) this.abortTask(t);
    if (this.conns.length === 0) this.end();
  }

  /** Close every connection (logout of the session, reinstatement, target removal). */
  close(why: string): void {
    if (this.closed) return;
    for (const c of [...this.conns]) c.log.info('closing session', { why, tsih: this.tsih });
    for (const c of [...this.conns]) c.close();
    this.end();
  }

  private end(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of [...this.tasks.values()]) this.abortTask(t);
    this.ctx.sessions.remove(this);
    if (this.target) this.target.nexusRemoved(this.nexus);
    sessionsGauge.dec({ type: this.type });
  }

  // ---- data placement (called by the parser once a header is in, before its data segment) ----------

  /**
   * Where the data segment of the PDU whose header is `bhs` should be received. A Data-Out that fits its
   * command goes straight into the command's buffer; the immediate data of a write that will need a whole
   * buffer anyway starts that buffer. Either way the payload is copied once instead of twice. Anything
   * that does not fit returns undefined and takes the ordinary path, which validates it.
   */
  placeData(conn: Connection, bhs: Buffer, length: number): Buffer | undefined {
    if (this.closed) return undefined;
    const opcode = bhs[0] & 0x3f;
    if (opcode === Opcode.DataOut) return this.placeDataOut(bhs, length);
    if (opcode === Opcode.ScsiCommand) return this.placeImmediate(conn, bhs, length);
    return undefined;
  }

  private placeDataOut(bhs: Buffer, length: number): Buffer | undefined {
    const task = this.tasks.get(bhs.readUInt32BE(16));
    if (task === undefined || task.aborted || task.state === 'executing' || task.state === 'done')
      return undefined;
    if (!task.cmd.write) return undefined;
    const offset = bhs.readUInt32BE(40);
    const end = offset + length;
    if (end > task.edtl) return undefined;
    const ttt = bhs.readUInt32BE(20);
    if (ttt === RESERVED_TAG) {
      if (end > task.unsolicitedEnd || task.edtl > MAX_TRANSFER) return undefined;
      this.bufferUnsolicited(task);
    } else {
      const r2t = task.r2tFor(ttt);
      if (
        r2t === undefined ||
        task.buf === undefined ||
        offset < r2t.offset ||
        end > r2t.offset + r2t.length
      ) {
        return undefined;
      }
    }
    return task.buf!.subarray(offset, end);
  }

  private placeImmediate(conn: Connection, bhs: Buffer, length: number): Buffer | undefined {
    // A buffer placed for a PDU that never became a command (digest error) is left to the GC.
    conn.placedImmediate = undefined;
    const edtl = bhs.readUInt32BE(20);
    // Only when more data will follow: a write wholly in its immediate data is used where it lies.
    if ((bhs[1] & 0x20) === 0 || edtl <= length || edtl > MAX_TRANSFER || !this.target) return undefined;
    if (!this.params.immediateData || length > this.params.firstBurstLength) return undefined;
    if (!this.ctx.budget.hasRoom(edtl)) return undefined;
    const buf = this.ctx.buffers.take(edtl);
    conn.placedImmediate = buf;
    return buf.subarray(0, length);
  }

  /** The command's immediate data was received into the buffer placeImmediate() made: adopt it. */
  private adoptPlaced(task: IscsiTask, placed: Buffer | undefined): boolean {
    const data = task.cmd.data;
    if (placed === undefined || data.length === 0 || placed.length !== task.edtl) return false;
    if (data.buffer !== placed.buffer || data.byteOffset !== placed.byteOffset) return false;
    task.adoptBuffer(placed);
    this.ctx.budget.charge(task.edtl);
    task.charged = task.edtl;
    return true;
  }

  /**
   * May this session's connections stop reading while the data budget is over its limit? Not while a
   * task holding budget waits for something only the network brings (solicited or unsolicited data, an
   * earlier CmdSN): the budget it holds is what everyone else waits for. Tasks that only wait for budget
   * do not count; when they get it and send their R2Ts, the connection reads again (sendR2Ts).
   */
  canPauseForBudget(): boolean {
    for (const t of this.tasks.values()) {
      if ((t.charged === 0 && t.held === 0) || t.aborted) continue;
      if (t.state === 'waiting-order') return false;
      if (t.state === 'collecting' && (t.r2ts.length > 0 || t.unsolicitedReceived < t.unsolicitedEnd))
        return false;
    }
    return true;
  }

  /** Solicited Data-Out payload bytes `conn` still owes: R2Ts sent on it whose data has not all come. */
  solicitedBytesAwaited(conn: Connection): number {
    if (this.soliciting.size === 0) return 0;
    let n = 0;
    for (const t of this.soliciting) {
      if (t.aborted || t.state !== 'collecting' || t.r2ts.length === 0) {
        this.soliciting.delete(t);
        continue;
      }
      if (t.conn !== conn) continue;
      for (const r of t.r2ts) n += r.length - r.received;
    }
    return n;
  }

  // ---- dispatch ----------------------------------------------------------------------------------

  handlePdu(conn: Connection, pdu: Pdu, header: Buffer): void {
    switch (pdu.opcode) {
      case Opcode.ScsiCommand:
        this.onScsiCommand(conn, pdu, header);
        return;
      case Opcode.DataOut:
        this.onDataOut(conn, pdu, header);
        return;
      case Opcode.NopOut:
        this.ordered(
          conn,
          pdu.immediate,
          pdu.cmdSN,
          () => this.onNopOut(conn, pdu),
          pdu.itt !== RESERVED_TAG,
        );
        return;
      case Opcode.TaskMgmtRequest:
        this.ordered(conn, pdu.immediate, pdu.cmdSN, () => this.onTaskMgmt(conn, pdu));
        return;
      case Opcode.TextRequest:
        this.ordered(conn, pdu.immediate, pdu.cmdSN, () => this.onText(conn, pdu, header));
        return;
      case Opcode.LogoutRequest:
        this.ordered(conn, pdu.immediate, pdu.cmdSN, () => this.onLogout(conn, pdu));
        return;
      case Opcode.SnackRequest:
        // ERL 0: no SNACK support.
        conn.sendReject(RejectReason.CommandNotSupported, header);
        return;
      case Opcode.LoginRequest:
        conn.sendReject(RejectReason.ProtocolError, header);
        return;
      default:
        conn.sendReject(RejectReason.ProtocolError, header);
    }
  }

  /**
   * Run `fn` in CmdSN order (or now, for an immediate command). `consumes` is false for PDUs that carry a
   * CmdSN but do not advance it (a NOP-Out answering our ping, ITT 0xffffffff).
   */
  private ordered(
    _conn: Connection,
    immediate: boolean,
    cmdSN: number,
    fn: () => void,
    consumes = true,
  ): void {
    if (immediate || !consumes) {
      fn();
      return;
    }
    const adm = this.window.offer(cmdSN, fn);
    if (adm === 'deliver') {
      fn();
      this.runReady(this.window.advance());
    }
    // 'queued' runs later; 'drop': outside the window, silently ignored (RFC 7143 4.2.2.1).
  }

  private runReady(ready: Array<() => void>): void {
    for (const fn of ready) fn();
  }

  // ---- SCSI commands -----------------------------------------------------------------------------

  private onScsiCommand(conn: Connection, cmd: ScsiCommand, header: Buffer): void {
    const placed = conn.placedImmediate;
    conn.placedImmediate = undefined;
    if (this.type === 'Discovery' || !this.target) {
      conn.sendReject(RejectReason.ProtocolError, header);
      return;
    }
    if (!cmd.immediate && !this.window.inWindow(cmd.cmdSN)) return; // outside the window: ignore
    if (this.tasks.has(cmd.itt)) {
      conn.sendReject(RejectReason.TaskInProgress, header);
      return;
    }
    const imm = cmd.data.length;
    const p = this.params;
    if (
      (imm > 0 &&
        (!cmd.write ||
          !p.immediateData ||
          imm > cmd.expectedDataTransferLength ||
          imm > p.firstBurstLength)) ||
      (!cmd.final && (p.initialR2T || !cmd.write))
    ) {
      conn.sendReject(RejectReason.ProtocolError, header);
      return;
    }
    const lun = lunToNumber(cmd.lun);
    const scsi: ScsiTask = {
      nexus: this.nexus,
      lun,
      cdb: cmd.cdb,
      attr: cmd.attr,
      tag: cmd.itt,
      expectedDataTransferLength: cmd.expectedDataTransferLength,
      readExpected: cmd.read,
      writeExpected: cmd.write,
      aborted: false,
      abortTasks: this.abortTasksHook,
    };
    const task = new IscsiTask(conn, cmd, lun, scsi, p.firstBurstLength, p.initialR2T);
    this.tasks.set(cmd.itt, task);
    if (imm > 0) {
      this.tally.writeBytes += imm;
      // Immediate data waiting for its buffer or execution counts as held (see ByteBudget).
      if (!this.adoptPlaced(task, placed)) {
        this.ctx.budget.hold(imm);
        task.held = imm;
      }
    }
    if (cmd.immediate) {
      this.deliver(task);
      return;
    }
    if (cmd.cmdSN === this.window.expCmdSN) {
      // Next in order (the common case): no need to queue a closure in the window.
      this.deliver(task);
      this.runReady(this.window.advance());
      return;
    }
    const adm = this.window.offer(cmd.cmdSN, () => this.deliver(task));
    if (adm === 'deliver') {
      this.deliver(task);
      this.runReady(this.window.advance());
    } else if (adm === 'drop') {
      this.tasks.delete(cmd.itt); // a duplicate CmdSN
      this.releaseBudget(task);
    }
  }

  /** The command's turn in CmdSN order has come: collect the rest of its data, then execute. */
  private deliver(task: IscsiTask): void {
    if (task.aborted) return;
    task.state = 'collecting';
    if (task.edtl > MAX_TRANSFER) {
      // Refuse without buffering; unsolicited data that follows is discarded by onDataOut.
      this.complete(task, checkCondition('fixed', INVALID_FIELD_IN_CDB));
      return;
    }
    if (task.dataComplete) this.execute(task);
    else this.sendR2Ts(task);
  }

  private sendR2Ts(task: IscsiTask): void {
    if (task.aborted || task.nextR2TOffset >= task.edtl) return;
    if (!task.buf) {
      // Solicited data needs the whole buffer: charge it to the daemon-wide budget first.
      if (task.budgetWaiter) return;
      const resume = (): void => {
        task.budgetWaiter = undefined;
        task.charged = task.edtl;
        this.allocateBuffer(task);
        this.sendR2Ts(task);
      };
      if (!this.ctx.budget.acquire(task.edtl, resume)) {
        task.budgetWaiter = resume;
        return;
      }
      task.charged = task.edtl;
      this.allocateBuffer(task);
    }
    const conn = task.conn;
    while (task.r2ts.length < this.params.maxOutstandingR2T && task.nextR2TOffset < task.edtl) {
      const offset = task.nextR2TOffset;
      const length = Math.min(this.params.maxBurstLength, task.edtl - offset);
      const ttt = this.allocTtt();
      task.r2ts.push({ ttt, offset, length, received: 0, expDataSN: 0 });
      this.soliciting.add(task);
      task.nextR2TOffset += length;
      conn.send({
        opcode: Opcode.R2T,
        immediate: false,
        lun: task.cmd.lun,
        itt: task.itt,
        ttt,
        statSN: conn.statSN,
        expCmdSN: this.expCmdSN,
        maxCmdSN: this.maxCmdSN,
        r2tSN: task.r2tSN++,
        bufferOffset: offset,
        desiredDataTransferLength: length,
        data: EMPTY,
      });
    }
    conn.resumeForData();
  }

  private allocTtt(): number {
    const t = this.nextTtt;
    this.nextTtt = this.nextTtt >= 0x7fffffff ? 1 : this.nextTtt + 1;
    return t;
  }

  private onDataOut(conn: Connection, d: DataOut, header: Buffer): void {
    const task = this.tasks.get(d.itt);
    if (!task) return; // the task completed or was aborted: its stray data is dropped (RFC 7143 11.7)
    if (task.aborted || task.state === 'executing' || task.state === 'done') return;
    if (!task.cmd.write || d.bufferOffset + d.data.length > task.edtl) {
      conn.sendReject(RejectReason.ProtocolError, header);
      return;
    }
    if (d.ttt === RESERVED_TAG) {
      // Unsolicited: only within the first burst.
      if (d.bufferOffset + d.data.length > task.unsolicitedEnd) {
        conn.sendReject(RejectReason.ProtocolError, header);
        return;
      }
      if (task.edtl > MAX_TRANSFER) return;
      if (d.dataSN !== task.unsolicitedDataSN++) {
        this.failSequence(conn, task, header);
        return;
      }
      this.storeData(task, d);
      task.unsolicitedReceived += d.data.length;
      if (!this.params.dataPDUInOrder || d.final || task.unsolicitedReceived >= task.unsolicitedEnd) {
        if (task.state === 'collecting') this.afterData(task);
      }
      return;
    }
    const r2t = task.r2tFor(d.ttt);
    if (!r2t || d.bufferOffset < r2t.offset || d.bufferOffset + d.data.length > r2t.offset + r2t.length) {
      conn.sendReject(RejectReason.InvalidPduField, header);
      return;
    }
    if (d.dataSN !== r2t.expDataSN++) {
      this.failSequence(conn, task, header);
      return;
    }
    this.storeData(task, d);
    r2t.received += d.data.length;
    if (r2t.received >= r2t.length) {
      task.r2ts.splice(task.r2ts.indexOf(r2t), 1);
      this.afterData(task);
    } else if (d.final) {
      // The burst ended before the data we asked for.
      this.failSequence(conn, task, header);
    }
  }

  /**
   * A Data-Out sequence error (wrong DataSN, short burst). ERL 0 cannot recover the sequence: reject the
   * PDU and end the command with ABORTED COMMAND so the initiator retries it; later data is dropped.
   */
  private failSequence(conn: Connection, task: IscsiTask, header: Buffer): void {
    conn.sendReject(RejectReason.ProtocolError, header);
    this.complete(task, checkCondition('fixed', DATA_PHASE_ERROR));
  }

  private storeData(task: IscsiTask, d: DataOut): void {
    const data = d.data;
    if (data.length === 0) return;
    this.bufferUnsolicited(task);
    const buf = task.buf!;
    // Data the parser received in place (placeDataOut) is already where it belongs.
    if (data.buffer !== buf.buffer || data.byteOffset !== buf.byteOffset + d.bufferOffset) {
      data.copy(buf, d.bufferOffset);
    }
    task.received += data.length;
    this.tally.writeBytes += data.length;
  }

  /** Unsolicited data beyond the immediate part needs the whole buffer: bounded by FirstBurstLength x
   *  window, so charged without waiting. */
  private bufferUnsolicited(task: IscsiTask): void {
    if (task.buf) return;
    if (task.budgetWaiter) {
      this.ctx.budget.cancel(task.budgetWaiter);
      task.budgetWaiter = undefined;
    }
    this.ctx.budget.charge(task.edtl);
    task.charged = task.edtl;
    this.allocateBuffer(task);
  }

  /** The budget granted the task's whole buffer: its immediate data moves in and is no longer held. */
  private allocateBuffer(task: IscsiTask): void {
    task.ensureBuffer(this.ctx.buffers);
    this.unholdImmediate(task);
  }

  private unholdImmediate(task: IscsiTask): void {
    if (task.held > 0) {
      this.ctx.budget.unhold(task.held);
      task.held = 0;
    }
  }

  private afterData(task: IscsiTask): void {
    if (task.state !== 'collecting') return;
    if (task.dataComplete && task.r2ts.length === 0) this.execute(task);
    else if (task.r2ts.length < this.params.maxOutstandingR2T) this.sendR2Ts(task);
  }

  private execute(task: IscsiTask): void {
    if (task.aborted) return;
    if (task.cmd.read && task.charged === 0 && task.edtl > 0) {
      // Read results are held until sent: bound them with the same budget as write buffers.
      if (task.budgetWaiter) return;
      const resume = (): void => {
        task.budgetWaiter = undefined;
        task.charged = task.edtl;
        this.execute(task);
      };
      if (!this.ctx.budget.acquire(task.edtl, resume)) {
        task.budgetWaiter = resume;
        return;
      }
      task.charged = task.edtl;
    }
    task.state = 'executing';
    task.scsi.dataOut = task.dataOut();
    this.target!.execute(task.scsi).then(
      (res) => this.complete(task, res),
      (err: Error) => {
        task.conn.log.error('SCSI execution failed', { err: err.stack });
        this.complete(task, checkCondition('fixed', INTERNAL_TARGET_FAILURE));
      },
    );
  }

  private complete(task: IscsiTask, res: ScsiResult): void {
    this.tasks.delete(task.itt);
    this.soliciting.delete(task);
    // Recycle first: the budget waiters released next take their buffers from the pool.
    this.recycleBuffer(task, res.dataIn);
    this.releaseBudget(task);
    const conn = task.conn;
    if (task.aborted || conn.phase === 'closed') {
      task.settle();
      return;
    }
    const statuses = this.tally.statuses;
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    const edtl = task.edtl;
    let data = res.dataIn;
    let overflow = false;
    let underflow = false;
    let residual = 0;
    if (data !== undefined && task.cmd.read) {
      if (data.length > edtl) {
        overflow = true;
        residual = data.length - edtl;
        data = data.subarray(0, edtl);
      } else if (data.length < edtl) {
        underflow = true;
        residual = edtl - data.length;
      }
    } else if (data !== undefined) {
      // Data-in for a command the initiator did not mark as a read: nothing may be sent.
      if (data.length > 0) {
        overflow = true;
        residual = data.length;
      }
      data = undefined;
    } else if (res.dataOutLength !== undefined && task.cmd.write) {
      if (res.dataOutLength > edtl) {
        overflow = true;
        residual = res.dataOutLength - edtl;
      } else if (res.dataOutLength < edtl) {
        underflow = true;
        residual = edtl - res.dataOutLength;
      }
    } else if (edtl > 0) {
      underflow = true;
      residual = edtl;
    }
    const good = res.status === 0 && !res.sense;
    if (data && data.length > 0) {
      this.sendDataIn(task, data, good, res.status, overflow, underflow, residual);
      this.tally.readBytes += data.length;
      // A pooled buffer (a Curve read's data) goes back to the pool once it is on the wire.
      if (this.ctx.buffers.owns(data)) {
        const pooled = data;
        conn.whenSent(() => this.ctx.buffers.give(pooled));
      }
      if (good) {
        task.settle();
        return;
      }
    }
    conn.send({
      opcode: Opcode.ScsiResponse,
      immediate: false,
      bidiOverflow: false,
      bidiUnderflow: false,
      overflow,
      underflow,
      response: 0,
      status: res.status,
      itt: task.itt,
      snackTag: 0,
      statSN: conn.nextStatSN(),
      expCmdSN: this.expCmdSN,
      maxCmdSN: this.maxCmdSN,
      expDataSN: task.dataSN,
      bidiResidualCount: 0,
      residualCount: residual,
      data: res.sense ? senseSegment(res.sense) : EMPTY,
    });
    task.settle();
  }

  private sendDataIn(
    task: IscsiTask,
    data: Buffer,
    collapse: boolean,
    status: number,
    overflow: boolean,
    underflow: boolean,
    residual: number,
  ): void {
    const conn = task.conn;
    const maxPdu = conn.maxSendData;
    const burst = this.params.maxBurstLength;
    let burstLeft = burst;
    for (let off = 0; off < data.length;) {
      const len = Math.min(maxPdu, data.length - off, burstLeft);
      const last = off + len >= data.length;
      burstLeft -= len;
      const endOfBurst = last || burstLeft === 0;
      if (burstLeft === 0) burstLeft = burst;
      const withStatus = last && collapse;
      conn.send({
        opcode: Opcode.DataIn,
        immediate: false,
        final: endOfBurst,
        ack: false,
        overflow: withStatus && overflow,
        underflow: withStatus && underflow,
        hasStatus: withStatus,
        status: withStatus ? status : 0,
        lun: task.cmd.lun,
        itt: task.itt,
        ttt: RESERVED_TAG,
        statSN: withStatus ? conn.nextStatSN() : 0,
        expCmdSN: this.expCmdSN,
        maxCmdSN: this.maxCmdSN,
        dataSN: task.dataSN++,
        bufferOffset: off,
        residualCount: withStatus ? residual : 0,
        data: data.subarray(off, off + len),
      });
      off += len;
    }
  }

  private releaseBudget(task: IscsiTask): void {
    if (task.budgetWaiter) {
      this.ctx.budget.cancel(task.budgetWaiter);
      task.budgetWaiter = undefined;
    }
    this.unholdImmediate(task);
    if (task.charged > 0) {
      this.ctx.budget.release(task.charged);
      task.charged = 0;
    }
  }

  /**
   * The task is finished with its data-out buffer (the backend has completed, or never saw it): back to
   * the pool, unless a parser is still receiving a Data-Out into it or the result's data-in shares it.
   */
  private recycleBuffer(task: IscsiTask, dataIn: Buffer | undefined): void {
    const buf = task.buf;
    if (buf === undefined) return;
    task.buf = undefined;
    task.scsi.dataOut = undefined;
    const memory = buf.buffer;
    if (dataIn !== undefined && dataIn.buffer === memory) return;
    for (const c of this.conns) if (c.parser.placingInto() === memory) return;
    this.ctx.buffers.give(buf);
  }

  /** Mark a task aborted: no response will be sent; data that still arrives is dropped. */
  private abortTask(task: IscsiTask): void {
    // Tasks of other sessions (CLEAR TASK SET, resets, PREEMPT AND ABORT) are aborted by their owner.
    const owner = task.conn.session;
    if (owner && owner !== this) {
      owner.abortTask(task);
      return;
    }
    if (task.aborted) return;
    task.aborted = true;
    task.scsi.aborted = true;
    if (task.state === 'waiting-order') this.window.cancel(task.cmd.cmdSN);
    if (task.state !== 'executing') {
      this.tasks.delete(task.itt);
      this.soliciting.delete(task);
      this.recycleBuffer(task, undefined);
      this.releaseBudget(task);
      task.settle();
    }
    // An executing task settles when its backend I/O completes (complete() drops the response).
  }

  // ---- NOP, Text, Logout ------------------------------------------------------------------------

  private onNopOut(conn: Connection, pdu: NopOut): void {
    if (pdu.itt === RESERVED_TAG) {
      // Answer to our NOP-In ping.
      conn.nopAnswered();
      return;
    }
    conn.send({
      opcode: Opcode.NopIn,
      immediate: false,
      lun: pdu.lun,
      itt: pdu.itt,
      ttt: RESERVED_TAG,
      statSN: conn.nextStatSN(),
      expCmdSN: this.expCmdSN,
      maxCmdSN: this.maxCmdSN,
      data: pdu.data.length > conn.maxSendData ? pdu.data.subarray(0, conn.maxSendData) : pdu.data,
    });
  }

  private onText(conn: Connection, pdu: TextRequest, header: Buffer): void {
    // Continuing a response we split: the initiator sends our TTT back with no data.
    if (pdu.ttt !== RESERVED_TAG) {
      if (pdu.ttt !== this.textTtt || this.textPending.length === 0) {
        conn.sendReject(RejectReason.InvalidPduField, header);
        return;
      }
      this.sendTextPart(conn, pdu);
      return;
    }
    this.textPending = [];
    this.textBytes += pdu.data.length;
    if (this.textBytes > MAX_TEXT) {
      this.textBuf = [];
      this.textBytes = 0;
      conn.sendReject(RejectReason.ProtocolError, header);
      return;
    }
    if (pdu.data.length > 0) this.textBuf.push(Buffer.from(pdu.data));
    if (pdu.continue) {
      this.textTtt = this.allocTtt();
      this.sendText(conn, pdu, EMPTY, false, this.textTtt);
      return;
    }
    const text = Buffer.concat(this.textBuf);
    this.textBuf = [];
    this.textBytes = 0;
    const parsed = parseTextKeys(text);
    if (parsed.error !== undefined) {
      conn.sendReject(RejectReason.ProtocolError, header);
      return;
    }
    const reply = encodeTextKeys(
      answerTextRequest(parsed.pairs, {
        directory: this.ctx.directory,
        initiatorName: this.initiatorName,
        initiatorAddress: conn.remoteAddress,
        connectionPortal: { address: localAddressOf(conn), port: conn.portal.port, tpgt: conn.portal.tpgt },
        sessionType: this.type,
        params: this.params,
        target: this.target,
      }),
    );
    // MaxRecvDataSegmentLength may be renegotiated in full feature phase (declarative, per connection).
    conn.maxSendData = this.params.initiatorMaxRecvDataSegmentLength;
    conn.parser.setOptions({ maxDataSegmentLength: this.params.targetMaxRecvDataSegmentLength });
    const max = conn.maxSendData;
    if (reply.length <= max) {
      this.sendText(conn, pdu, reply, true, RESERVED_TAG);
      return;
    }
    for (let off = 0; off < reply.length; off += max) this.textPending.push(reply.subarray(off, off + max));
    this.textTtt = this.allocTtt();
    this.sendTextPart(conn, pdu);
  }

  private sendTextPart(conn: Connection, pdu: TextRequest): void {
    const part = this.textPending.shift()!;
    const more = this.textPending.length > 0;
    this.sendText(conn, pdu, part, !more, more ? this.textTtt : RESERVED_TAG, more);
  }

  private sendText(
    conn: Connection,
    pdu: TextRequest,
    data: Buffer,
    final: boolean,
    ttt: number,
    cont = false,
  ): void {
    conn.send({
      opcode: Opcode.TextResponse,
      immediate: false,
      final,
      continue: cont,
      lun: pdu.lun,
      itt: pdu.itt,
      ttt,
      statSN: conn.nextStatSN(),
      expCmdSN: this.expCmdSN,
      maxCmdSN: this.maxCmdSN,
      data,
    });
  }

  private onLogout(conn: Connection, pdu: LogoutRequest): void {
    let response = 0;
    let closeSession = false;
    let victim: Connection | undefined = conn;
    if (pdu.reasonCode === 0) {
      closeSession = true;
    } else if (pdu.reasonCode === 1) {
      victim = this.connectionByCid(pdu.cid);
      if (!victim) response = 1; // CID not found
    } else if (pdu.reasonCode === 2) {
      response = 2; // connection recovery is not supported at ERL 0
      victim = undefined;
    } else {
      response = 3;
      victim = undefined;
    }
    conn.send({
      opcode: Opcode.LogoutResponse,
      immediate: false,
      response,
      itt: pdu.itt,
      statSN: conn.nextStatSN(),
      expCmdSN: this.expCmdSN,
      maxCmdSN: this.maxCmdSN,
      time2Wait: 0,
      time2Retain: 0,
      data: EMPTY,
    });
    if (response !== 0) return;
    if (closeSession) {
      for (const c of [...this.conns]) {
        if (c === conn) c.closeAfterFlush();
        else c.close();
      }
      this.end();
    } else if (victim === conn) {
      conn.closeAfterFlush();
    } else {
      victim?.close();
    }
  }

  // ---- task management ---------------------------------------------------------------------------

  private onTaskMgmt(conn: Connection, req: TaskMgmtRequest): void {
    const lun = lunToNumber(req.lun);
    const target = this.target;
    const respond = (response: number): void => {
      tmfTotal.inc({ function: TMF_NAMES[req.function] ?? String(req.function), response });
      conn.send({
        opcode: Opcode.TaskMgmtResponse,
        immediate: false,
        response,
        itt: req.itt,
        statSN: conn.nextStatSN(),
        expCmdSN: this.expCmdSN,
        maxCmdSN: this.maxCmdSN,
        data: EMPTY,
      });
    };
    if (!target) {
      respond(255);
      return;
    }
    const needsLun = [1, 2, 3, 4, 5].includes(req.function);
    if (needsLun && !target.hasLun(lun)) {
      respond(2);
      return;
    }
    // Respond only once every affected task has settled, so no aborted write lands after the response.
    const abortAll = (tasks: IscsiTask[], then: () => void): void => {
      let left = tasks.length + 1;
      const one = (): void => {
        if (--left === 0) then();
      };
      for (const t of tasks) {
        this.abortTask(t);
        t.whenSettled(one);
      }
      one();
    };
    switch (req.function) {
      case 1: {
        // ABORT TASK
        const t = this.tasks.get(req.referencedTaskTag);
        if (t && t.lun === lun) {
          abortAll([t], () => respond(0));
          return;
        }
        if (t) {
          respond(1);
          return;
        }
        // Not here: if its CmdSN is in the window and precedes this request, consider it received.
        if (this.window.inWindow(req.refCmdSN) && (req.immediate || snLt(req.refCmdSN, req.cmdSN))) {
          this.runReady(this.window.consumeGap(req.refCmdSN));
          respond(0);
          return;
        }
        respond(this.window.isOld(req.refCmdSN) ? 0 : 1);
        return;
      }
      case 2: // ABORT TASK SET: this session's tasks on the LUN
        abortAll(
          [...this.tasks.values()].filter((t) => t.lun === lun),
          () => respond(0),
        );
        return;
      case 4: // CLEAR TASK SET: every session's tasks on the LUN
        abortAll(
          this.tasksOfTarget((t) => t.lun === lun),
          () => respond(0),
        );
        return;
      case 5: // LOGICAL UNIT RESET
        abortAll(
          this.tasksOfTarget((t) => t.lun === lun),
          () => {
            target.resetLun(lun, this.nexus);
            respond(0);
          },
        );
        return;
      case 6: // TARGET WARM RESET
      case 7: // TARGET COLD RESET
        abortAll(
          this.tasksOfTarget(() => true),
          () => {
            target.resetTarget(this.nexus);
            respond(0);
            if (req.function === 7) {
              // Cold reset ends every session of the target after the response is sent.
              const victims = this.ctx.sessions.ofTarget(target.tid);
              setImmediate(() => {
                for (const s of victims) {
                  for (const c of [...s.conns]) c.closeAfterFlush();
                  s.end();
                }
              });
            }
          },
        );
        return;
      case 3: // CLEAR ACA: NACA is not supported
        respond(5);
        return;
      case 8: // TASK REASSIGN needs ERL 2
        respond(4);
        return;
      default:
        respond(255);
    }
  }

  /**
   * PREEMPT AND ABORT (SPC-4 5.12.11.2.6): abort every task of the preempted nexuses on the LUN, in any
   * session of this target; resolves once they have all settled (no response is sent for them).
   */
  private readonly abortTasksHook = (nexusIds: number[], lun: number): Promise<void> => {
    const victims = new Set(nexusIds);
    const tasks: IscsiTask[] = [];
    for (const s of this.ctx.sessions.ofTarget(this.target!.tid)) {
      if (!victims.has(s.nexus.id)) continue;
      for (const t of s.tasks.values()) if (t.lun === lun) tasks.push(t);
    }
    return new Promise((resolve) => {
      let left = tasks.length + 1;
      const one = (): void => {
        if (--left === 0) resolve();
      };
      for (const t of tasks) {
        this.abortTask(t);
        t.whenSettled(one);
      }
      one();
    });
  };

  private tasksOfTarget(pred: (t: IscsiTask) => boolean): IscsiTask[] {
    const out: IscsiTask[] = [];
    for (const s of this.ctx.sessions.ofTarget(this.target!.tid)) {
      for (const t of s.tasks.values()) if (pred(t)) out.push(t);
    }
    // Also this session's own (it is in the table, but be explicit for discovery-free targets).
    for (const t of this.tasks.values()) if (pred(t) && !out.includes(t)) out.push(t);
    return out;
  }

  /** Tell the initiator the LUN inventory changed (Async Message, SCSI async event with a UA sense). */
  notifyLunsChanged(lunField: bigint): void {
    const sense = buildSense('fixed', REPORTED_LUNS_DATA_HAS_CHANGED);
    for (const conn of this.conns) {
      conn.send({
        opcode: Opcode.AsyncMessage,
        immediate: false,
        lun: lunField,
        itt: RESERVED_TAG,
        statSN: conn.nextStatSN(),
        expCmdSN: this.expCmdSN,
        maxCmdSN: this.maxCmdSN,
        asyncEvent: 0,
        asyncVCode: 0,
        parameter1: 0,
        parameter2: 0,
        parameter3: 0,
        data: senseSegment(sense),
      });
      break; // one connection is enough
    }
  }

  /** Ask the initiator to log out (target going away), then drop it after `seconds`. */
  requestLogout(seconds: number): void {
    for (const conn of this.conns) {
      conn.send({
        opcode: Opcode.AsyncMessage,
        immediate: false,
        lun: 0n,
        itt: RESERVED_TAG,
        statSN: conn.nextStatSN(),
        expCmdSN: this.expCmdSN,
        maxCmdSN: this.maxCmdSN,
        asyncEvent: 1,
        asyncVCode: 0,
        parameter1: 0,
        parameter2: 0,
        parameter3: seconds,
        data: EMPTY,
      });
    }
    setTimeout(() => this.close('logout requested by target'), seconds * 1000).unref();
  }

  /** For admin display. */
  info(): {
    tsih: number;
    initiator: string;
    isid: string;
    connections: Array<{ cid: number; address: string }>;
  } {
    return {
      tsih: this.tsih,
      initiator: this.initiatorName,
      isid: this.isid.toString('hex'),
      connections: this.conns.map((c) => ({ cid: c.cid, address: c.remoteAddress })),
    };
  }
}

const EMPTY = Buffer.alloc(0);

/** ABORTED COMMAND / DATA PHASE ERROR: a Data-Out sequence the transport could not accept. */
const DATA_PHASE_ERROR = { key: 0x0b, asc: 0x4b, ascq: 0x00 } as const;

function localAddressOf(conn: Connection): string {
  const a = conn.socket.localAddress ?? conn.portal.address;
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
