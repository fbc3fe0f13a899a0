// One iSCSI TCP connection: frames PDUs off the socket, runs the login phase, then hands full-feature
// PDUs to its session. Output is batched: PDUs queued in one event-loop turn leave in one writev
// (cork, uncork from setImmediate: completions of several backend I/Os in one poll phase share a syscall).
import type * as net from 'node:net';
import type { Logger } from '../common/log';
import { ByteBudget } from './byte-budget';
import type { DataBufferPool } from '../common/data-buffer-pool';
import { connectionsGauge, loginsTotal, rejectsTotal } from './iscsi-metrics';
import { LoginNegotiator } from './login';
import type { OperationalParams } from './negotiation';
import { encodePdu, type EncodeOptions } from './pdu-codec';
import { PduParser, type ParseEvent } from './pdu-parser';
import { BHS_LENGTH, Opcode, RESERVED_TAG, type LoginRequest, type Pdu, type TargetPdu } from './pdu-types';
import { ReceiveLowWater, receiveLowWaterEnabled } from './receive-low-water';
import { Session } from './session';
import type { SessionTable } from './session-table';
import type { IscsiTargetDirectory, PortalAddress } from './target-port';
import { encodeTextKeys, parseTextKeys } from './text-keys';

/** What every connection of a portal server shares. */
export interface ConnectionContext {
  directory: IscsiTargetDirectory;
  sessions: SessionTable;
  budget: ByteBudget;
  /** Write-data buffers reused across commands. */
  buffers: DataBufferPool;
  log: Logger;
  /** Queue depth offered per session (MaxCmdSN - ExpCmdSN + 1). */
  cmdWindow: number;
  loginTimeoutMs: number;
}

/** Login-phase data segments are limited to 8192 bytes until MaxRecvDataSegmentLength is negotiated. */
const LOGIN_MAX_DATA = 8192;
/** Pause reading the socket while this much output is waiting (bounds memory under a slow reader). */
const OUTPUT_HIGH_WATER = 8 * 1024 * 1024;
/** Output pieces smaller than this are copied together into one buffer before writing. */
const PACK_BELOW = 16 * 1024;
/** Login text accumulated across C-bit PDUs is capped (RFC 7143 6.1: 64 KiB is generous). */
const MAX_LOGIN_TEXT = 64 * 1024;

let nextConnectionId = 1;

export class Connection {
  readonly id = nextConnectionId++;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly parser: PduParser;
  phase: 'login' | 'ffp' | 'closed' = 'login';
  statSN = 0;
  cid = 0;
  session: Session | undefined;
  encodeOpts: EncodeOptions = { headerDigest: false, dataDigest: false };
  /** What the initiator accepts per Data-In / text PDU (its declared MaxRecvDataSegmentLength). */
  maxSendData = LOGIN_MAX_DATA;
  log: Logger;
  /** A write's EDTL-sized buffer the parser is receiving its immediate data into (Session.placeData). */
  placedImmediate: Buffer | undefined;

  /** Encoded PDUs waiting for the end of this event-loop turn (see flush). */
  private out: Buffer[] = [];
  /** Run once everything queued so far has been written to the socket (see whenSent). */
  private afterSent: Array<() => void> = [];
  private flushQueued = false;
  private loginNeg: LoginNegotiator | undefined;
  private loginIsid: Buffer | undefined;
  private loginTsih = 0;
  private loginText: Buffer[] = [];
  private loginTextBytes = 0;
  private loginPending: Buffer[] = [];
  private loginTimer: NodeJS.Timeout | undefined;
  private nopTimer: NodeJS.Timeout | undefined;
  private nopOutstanding = 0;
  private nopTtt = 1;
  /** Reading stops while too much output waits, or while the data budget is over its limit. */
  private outputPaused = false;
  private budgetPaused = false;
  private budgetWatch = false;
  private readonly onEvent = (ev: ParseEvent): void => this.handleEvent(ev);
  /** Raises SO_RCVLOWAT while solicited Data-Out is owed (full feature phase of a normal session). */
  private lowWater: ReceiveLowWater | undefined;

  constructor(
    readonly socket: net.Socket,
    readonly portal: PortalAddress,
    readonly ctx: ConnectionContext,
    /** The socket's reads are handed to receive() in a buffer that is reused afterwards. */
    reusedChunks = false,
  ) {
    this.remoteAddress = normalizeAddress(socket.remoteAddress ?? '');
    this.remotePort = socket.remotePort ?? 0;
    this.log = ctx.log.child({ conn: this.id, peer: `${this.remoteAddress}:${this.remotePort}` });
    this.parser = new PduParser(
      {
        maxDataSegmentLength: LOGIN_MAX_DATA,
        headerDigest: false,
        dataDigest: false,
      },
      reusedChunks,
    );
    socket.setNoDelay(true);
    if (!reusedChunks) socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (err) => this.log.debug('socket error', { err }));
    socket.on('close', () => this.onClose());
    socket.on('drain', () => this.resumeReading());
    this.loginTimer = setTimeout(() => {
      this.log.warn('login timed out');
      this.close();
    }, ctx.loginTimeoutMs);
    connectionsGauge.inc();
  }

  /** Bytes read from the socket. */
  receive(chunk: Buffer): void {
    if (this.phase === 'closed') return;
    try {
      this.parser.push(chunk, this.onEvent);
    } catch (err) {
      // A bug must cost one connection, never the daemon.
      this.log.error('connection failed', { err: (err as Error).stack });
      this.close();
      return;
    }
    const session = this.session;
    if (this.lowWater && session) this.lowWater.update(session.solicitedBytesAwaited(this));
    // Bounded memory: stop taking new commands (and their unasked data) while the budget is exceeded.
    if (!this.budgetPaused && session && this.ctx.budget.overLimit() && session.canPauseForBudget()) {
      this.budgetPaused = true;
      this.socket.pause();
      if (!this.budgetWatch) {
        this.budgetWatch = true;
        this.ctx.budget.whenUnderLimit(this.budgetRelief);
      }
    }
  }

  private readonly budgetRelief = (): void => {
    this.budgetWatch = false;
    this.resumeForData();
  };

  /** The session asked for data (R2T): it must be able to arrive even while the budget is exceeded. */
  resumeForData(): void {
    if (!this.budgetPaused) return;
    this.budgetPaused = false;
    if (!this.outputPaused && this.phase !== 'closed') this.socket.resume();
  }

  private handleEvent(ev: ParseEvent): void {
    if (this.phase === 'closed') return;
    if (ev.kind === 'error') {
      this.log.warn('bad PDU', { error: ev.error, message: ev.message });
      if (ev.fatal || this.phase === 'login') {
        this.close();
        return;
      }
      this.sendReject(ev.reason, ev.header);
      return;
    }
    const pdu = ev.pdu;
    if (this.phase === 'login') {
      this.handleLoginPdu(pdu);
      return;
    }
    this.session!.handlePdu(this, pdu, ev.header);
  }

  // ---- login phase -------------------------------------------------------------------------------

  private handleLoginPdu(pdu: Pdu): void {
    if (pdu.opcode !== Opcode.LoginRequest) {
      this.log.warn('non-login PDU during login', { opcode: pdu.opcode });
      this.close();
      return;
    }
    if (this.loginIsid === undefined) {
      this.loginIsid = Buffer.from(pdu.isid);
      this.loginTsih = pdu.tsih;
      this.cid = pdu.cid;
      this.statSN = pdu.expStatSN;
      if (pdu.versionMin > 0x00) {
        this.failLogin(pdu, 0x02, 0x05, 'unsupported version');
        return;
      }
      const existing = pdu.tsih !== 0 ? this.ctx.sessions.get(pdu.tsih) : undefined;
      if (pdu.tsih !== 0 && (!existing || !existing.isid.equals(pdu.isid))) {
        this.failLogin(pdu, 0x02, 0x0a, 'session does not exist');
        return;
      }
      this.loginNeg = new LoginNegotiator({
        directory: this.ctx.directory,
        portalTpgt: this.portal.tpgt,
        initiatorAddress: this.remoteAddress,
        existingSession: existing
          ? { targetName: existing.targetName ?? '', sessionType: existing.type, params: existing.params }
          : undefined,
      });
    } else if (!pdu.isid.equals(this.loginIsid) || pdu.tsih !== this.loginTsih) {
      this.failLogin(pdu, 0x02, 0x00, 'ISID/TSIH changed during login');
      return;
    }
    // Accumulate text across C-bit PDUs; answer each partial PDU with an empty response.
    this.loginTextBytes += pdu.data.length;
    if (this.loginTextBytes > MAX_LOGIN_TEXT) {
      this.failLogin(pdu, 0x02, 0x00, 'login text too long');
      return;
    }
    if (pdu.data.length > 0) this.loginText.push(Buffer.from(pdu.data));
    if (pdu.continue) {
      this.sendLoginResponse(
        pdu,
        { transit: false, csg: pdu.csg, nsg: pdu.nsg, data: Buffer.alloc(0) },
        0,
        0,
      );
      return;
    }
    // The initiator asks for more of a response we split (empty request, C=0).
    if (this.loginPending.length > 0 && pdu.data.length === 0) {
      this.sendPendingLoginText(pdu);
      return;
    }
    const text = Buffer.concat(this.loginText);
    this.loginText = [];
    this.loginTextBytes = 0;
    const parsed = parseTextKeys(text);
    if (parsed.error !== undefined) {
      this.failLogin(pdu, 0x02, 0x00, `malformed login text: ${parsed.error}`);
      return;
    }
    const out = this.loginNeg!.step({
      csg: pdu.csg,
      nsg: pdu.nsg,
      transit: pdu.transit,
      pairs: parsed.pairs,
    });
    if (out.statusClass !== 0) {
      this.failLogin(pdu, out.statusClass, out.statusDetail, 'login refused', encodeTextKeys(out.pairs));
      return;
    }
    if (!out.done) {
      this.queueLoginText(pdu, encodeTextKeys(out.pairs), out);
      return;
    }
    this.completeLogin(pdu, encodeTextKeys(out.pairs), out);
  }

  private queueLoginText(
    pdu: LoginRequest,
    text: Buffer,
    stage: { transit: boolean; csg: number; nsg: number },
  ): void {
    if (text.length <= LOGIN_MAX_DATA) {
      this.sendLoginResponse(pdu, { ...stage, data: text }, 0, 0);
      return;
    }
    for (let off = 0; off < text.length; off += LOGIN_MAX_DATA) {
      this.loginPending.push(text.subarray(off, off + LOGIN_MAX_DATA));
    }
    this.pendingStage = stage;
    this.sendPendingLoginText(pdu);
  }

  private pendingStage = { transit: false, csg: 0, nsg: 0 };

  private sendPendingLoginText(pdu: LoginRequest): void {
    const part = this.loginPending.shift()!;
    const more = this.loginPending.length > 0;
    const st = this.pendingStage;
    this.sendLoginResponse(
      pdu,
      { transit: more ? false : st.transit, csg: st.csg, nsg: st.nsg, data: part, continue: more },
      0,
      0,
    );
  }

  private completeLogin(
    pdu: LoginRequest,
    text: Buffer,
    out: { transit: boolean; csg: number; nsg: number },
  ): void {
    const result = this.loginNeg!.result();
    const sessions = this.ctx.sessions;
    let session: Session;
    if (this.loginTsih === 0) {
      const old = sessions.findByInitiatorPort(result.initiatorName, this.loginIsid!, result.target?.name);
      if (old && result.sessionType === 'Normal') {
        this.log.info('session reinstatement', { tsih: old.tsih });
        old.close('reinstated');
      }
      session = new Session({
        tsih: sessions.allocateTsih(),
        isid: this.loginIsid!,
        initiatorName: result.initiatorName,
        initiatorAlias: result.initiatorAlias,
        type: result.sessionType,
        target: result.target,
        params: result.params,
        expCmdSN: pdu.cmdSN,
        portal: this.portal,
        ctx: this.ctx,
      });
      sessions.add(session);
    } else {
      session = sessions.get(this.loginTsih)!;
      if (!session || session.closed) {
        this.failLogin(pdu, 0x02, 0x0a, 'session does not exist');
        return;
      }
      const same = session.connectionByCid(this.cid);
      if (same) {
        this.log.info('connection reinstatement', { cid: this.cid });
        same.close();
      } else if (session.connectionCount() >= session.params.maxConnections) {
        this.failLogin(pdu, 0x02, 0x06, 'too many connections');
        return;
      }
    }
    clearTimeout(this.loginTimer);
    this.session = session;
    this.sendLoginResponse(pdu, { ...out, data: text }, 0, 0, session.tsih);
    // Digests and data limits apply from the first PDU after the final login response.
    const p: OperationalParams = session.params;
    this.encodeOpts = { headerDigest: p.headerDigest, dataDigest: p.dataDigest };
    this.maxSendData = p.initiatorMaxRecvDataSegmentLength;
    this.parser.setOptions({
      headerDigest: p.headerDigest,
      dataDigest: p.dataDigest,
      maxDataSegmentLength: p.targetMaxRecvDataSegmentLength,
    });
    this.phase = 'ffp';
    if (session.type === 'Normal') this.parser.setDataPlacer((bhs, n) => session.placeData(this, bhs, n));
    if (session.type === 'Normal' && receiveLowWaterEnabled()) {
      // The most a Data-Out PDU occupies on the wire: header, digests, data and its padding.
      const maxPdu = BHS_LENGTH + 8 + p.targetMaxRecvDataSegmentLength + 3;
      this.lowWater = new ReceiveLowWater(this.socket, maxPdu);
    }
    session.addConnection(this);
    loginsTotal.inc({ result: 'success' });
    this.log.info('login complete', {
      tsih: session.tsih,
      initiator: result.initiatorName,
      target: result.target?.name ?? '(discovery)',
      cid: this.cid,
    });
    this.startNopPings();
  }

  private failLogin(pdu: LoginRequest, cls: number, detail: number, why: string, text?: Buffer): void {
    const code = ((cls << 8) | detail).toString(16).padStart(4, '0');
    loginsTotal.inc({ result: code });
    this.log.warn('login failed', { status: code, why });
    this.sendLoginResponse(
      pdu,
      { transit: false, csg: pdu.csg, nsg: pdu.nsg, data: text ?? Buffer.alloc(0) },
      cls,
      detail,
    );
    this.closeAfterFlush();
  }

  private sendLoginResponse(
    req: LoginRequest,
    st: { transit: boolean; csg: number; nsg: number; data: Buffer; continue?: boolean },
    statusClass: number,
    statusDetail: number,
    tsih = 0,
  ): void {
    const exp = this.loginTsih !== 0 ? this.ctx.sessions.get(this.loginTsih) : undefined;
    const expCmdSN = exp ? exp.expCmdSN : req.cmdSN;
    this.send({
      opcode: Opcode.LoginResponse,
      immediate: false,
      transit: st.transit,
      continue: st.continue ?? false,
      csg: st.csg,
      nsg: st.transit ? st.nsg : 0,
      versionMax: 0,
      versionActive: 0,
      isid: req.isid,
      tsih,
      itt: req.itt,
      statSN: this.nextStatSN(),
      expCmdSN,
      maxCmdSN: exp ? exp.maxCmdSN : (expCmdSN + this.ctx.cmdWindow - 1) >>> 0,
      statusClass,
      statusDetail,
      data: st.data,
    });
  }

  // ---- output ------------------------------------------------------------------------------------

  nextStatSN(): number {
    const s = this.statSN;
    this.statSN = (this.statSN + 1) >>> 0;
    return s;
  }

  /** Queue one PDU; everything queued in this event-loop turn leaves in one writev. */
  send(pdu: TargetPdu): void {
    if (this.phase === 'closed') return;
    const parts = encodePdu(pdu, this.encodeOpts);
    for (let i = 0; i < parts.length; i++) this.out.push(parts[i]);
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(this.flush);
    }
  }

  /**
   * Run `f` once every PDU queued so far is written to the socket (their buffers are no longer needed);
   * never, if the connection fails first.
   */
  whenSent(f: () => void): void {
    this.afterSent.push(f);
  }

  /**
   * Hand the turn's output to the socket in one writev. Small pieces (headers, short data) are packed into
   * one buffer first: one write() per response costs more than copying a few dozen bytes.
   */
  private readonly flush = (): void => {
    this.flushQueued = false;
    const out = this.out;
    if (out.length === 0) return;
    this.out = [];
    const sent = this.afterSent;
    this.afterSent = [];
    const socket = this.socket;
    if (socket.destroyed) return;
    const writes: Buffer[] = [];
    for (let i = 0; i < out.length;) {
      if (out[i].length >= PACK_BELOW) {
        writes.push(out[i++]);
        continue;
      }
      let j = i;
      let bytes = 0;
      while (j < out.length && out[j].length < PACK_BELOW) bytes += out[j++].length;
      if (j - i === 1) {
        writes.push(out[i]);
      } else {
        const packed = Buffer.allocUnsafe(bytes);
        for (let at = 0; i < j; i++) at += out[i].copy(packed, at);
        writes.push(packed);
      }
      i = j;
    }
    socket.cork();
    const last = writes.length - 1;
    for (let i = 0; i < last; i++) socket.write(writes[i]);
    if (sent.length === 0) socket.write(writes[last]);
    else {
      // Writes complete in order: when the last is done, every buffer of this batch is on the wire. A
      // failed write (connection gone) runs nothing: its buffers are left to the GC.
      socket.write(writes[last], (err) => {
        if (!err) for (const f of sent) f();
      });
    }
    socket.uncork();
    if (!this.outputPaused && socket.writableLength > OUTPUT_HIGH_WATER) {
      this.outputPaused = true;
      socket.pause();
    }
  };

  private resumeReading(): void {
    if (!this.outputPaused) return;
    this.outputPaused = false;
    if (!this.budgetPaused && this.phase !== 'closed') this.socket.resume();
  }

  sendReject(reason: number, header: Buffer): void {
    rejectsTotal.inc({ reason: reason.toString(16) });
    const s = this.session;
    this.send({
      opcode: Opcode.Reject,
      immediate: false,
      reason,
      itt: RESERVED_TAG,
      statSN: this.nextStatSN(),
      expCmdSN: s ? s.expCmdSN : 0,
      maxCmdSN: s ? s.maxCmdSN : 0,
      dataSN: 0,
      data: Buffer.from(header.subarray(0, 48)),
    });
  }

  // ---- NOP-In pings (tgt nop_interval / nop_count) ----------------------------------------------

  /**
   * Target NOP-In pings (tgt nop_interval / nop_count). A one-second check reads the target's current
   * settings, so `tgtadm --op update ... -n nop_interval` applies to sessions already logged in.
   */
  private startNopPings(): void {
    const target = this.session?.target;
    if (!target) return;
    let lastPing = Date.now();
    this.nopTimer = setInterval(() => {
      const interval = target.nopInterval();
      if (interval <= 0) {
        this.nopOutstanding = 0;
        return;
      }
      if (Date.now() - lastPing < interval * 1000) return;
      lastPing = Date.now();
      const limit = target.nopCount();
      if (limit > 0 && this.nopOutstanding >= limit) {
        this.log.warn('initiator stopped answering NOP-In pings; dropping connection', {
          missed: this.nopOutstanding,
        });
        this.close();
        return;
      }
      this.nopOutstanding++;
      const s = this.session!;
      this.send({
        opcode: Opcode.NopIn,
        immediate: false,
        lun: 0n,
        itt: RESERVED_TAG,
        ttt: this.nopTtt,
        statSN: this.statSN, // not advanced by a target-initiated ping
        expCmdSN: s.expCmdSN,
        maxCmdSN: s.maxCmdSN,
        data: Buffer.alloc(0),
      });
      this.nopTtt = this.nopTtt >= 0x7fffffff ? 1 : this.nopTtt + 1;
    }, 1000);
    this.nopTimer.unref();
  }

  /** The initiator answered one of our pings. */
  nopAnswered(): void {
    this.nopOutstanding = 0;
  }

  // ---- teardown ----------------------------------------------------------------------------------

  /** Close after the queued output is written (login failure, logout). */
  closeAfterFlush(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    clearTimeout(this.loginTimer);
    clearInterval(this.nopTimer);
    process.nextTick(() => {
      this.flush();
      this.socket.end();
    });
    // A peer that never reads must not keep us waiting forever.
    setTimeout(() => this.socket.destroy(), 5000).unref();
  }

  close(): void {
    if (this.phase !== 'closed') this.phase = 'closed';
    this.lowWater?.dispose();
    clearTimeout(this.loginTimer);
    clearInterval(this.nopTimer);
    this.socket.destroy();
  }

  private closedOnce = false;

  private onClose(): void {
    if (this.closedOnce) return;
    this.closedOnce = true;
    this.phase = 'closed';
    this.lowWater?.dispose();
    clearTimeout(this.loginTimer);
    clearInterval(this.nopTimer);
    connectionsGauge.dec();
    this.session?.connectionClosed(this);
    this.log.debug('connection closed');
  }
}

/** '::ffff:127.0.0.1' -> '127.0.0.1' so ACLs written for IPv4 match IPv4-mapped peers. */
export function normalizeAddress(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
