// A small iSCSI initiator for tests: raw PDU access (for protocol and fuzz tests) plus login, SCSI
// read/write with R2T handling, NOP and logout. Built on the project's own codec.
import * as net from 'node:net';
import { encodePdu } from '../../src/iscsi/pdu-codec';
import { PduParser } from '../../src/iscsi/pdu-parser';
import {
  Opcode,
  RESERVED_TAG,
  type DataIn,
  type InitiatorPdu,
  type LoginResponse,
  type Pdu,
  type R2T,
  type ScsiResponse,
  type TargetPdu,
} from '../../src/iscsi/pdu-types';
import { encodeTextKeys, parseTextKeys } from '../../src/iscsi/text-keys';

export interface LoginOptions {
  initiatorName?: string;
  targetName?: string;
  sessionType?: 'Normal' | 'Discovery';
  isid?: Buffer;
  tsih?: number;
  cid?: number;
  keys?: Array<[string, string]>;
}

export interface CommandResult {
  status: number;
  data: Buffer;
  sense?: Buffer;
  response: ScsiResponse | DataIn;
  residual: number;
  overflow: boolean;
  underflow: boolean;
}

export class TestInitiator {
  readonly socket: net.Socket;
  private parser = new PduParser({
    maxDataSegmentLength: 16 * 1024 * 1024,
    headerDigest: false,
    dataDigest: false,
  });
  private inbox: Array<{ pdu: Pdu; header: Buffer }> = [];
  private waiters: Array<{
    pred: (p: Pdu) => boolean;
    resolve: (p: Pdu) => void;
    reject: (e: Error) => void;
    timer: NodeJS.Timeout;
  }> = [];
  cmdSN = 0;
  expStatSN = 0;
  itt = 1;
  tsih = 0;
  isid: Buffer;
  closed = false;
  params = new Map<string, string>();
  errors: string[] = [];
  /** Data-In / R2T limits as negotiated. */
  maxSendData = 8192;
  firstBurst = 65536;
  immediateData = true;
  initialR2T = true;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.isid = Buffer.from([
      0x80,
      0x00,
      0x00,
      0x01,
      Math.floor(Math.random() * 256),
      Math.floor(Math.random() * 256),
    ]);
    socket.on('data', (chunk: Buffer) =>
      this.parser.push(chunk, (ev) => {
        if (ev.kind === 'error') {
          this.errors.push(ev.message);
          return;
        }
        this.deliver(ev.pdu, ev.header);
      }),
    );
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters) {
        clearTimeout(w.timer);
        w.reject(new Error('connection closed'));
      }
      this.waiters = [];
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<TestInitiator> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host }, () => resolve(new TestInitiator(s)));
      s.once('error', reject);
    });
  }

  private deliver(pdu: Pdu, header: Buffer): void {
    if ('statSN' in pdu && pdu.opcode !== Opcode.DataIn && pdu.opcode !== Opcode.R2T) {
      this.expStatSN = (pdu.statSN + 1) >>> 0;
    }
    if (pdu.opcode === Opcode.DataIn && pdu.hasStatus) this.expStatSN = (pdu.statSN + 1) >>> 0;
    const i = this.waiters.findIndex((w) => w.pred(pdu));
    if (i >= 0) {
      const w = this.waiters.splice(i, 1)[0];
      clearTimeout(w.timer);
      w.resolve(pdu);
      return;
    }
    this.inbox.push({ pdu, header });
  }

  /** Wait for the next PDU matching `pred` (already-received ones first). */
  waitFor<T extends Pdu = TargetPdu>(pred: (p: Pdu) => boolean, timeoutMs = 5000): Promise<T> {
    const i = this.inbox.findIndex((e) => pred(e.pdu));
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0].pdu as T);
    if (this.closed) return Promise.reject(new Error('connection closed'));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error('timed out waiting for PDU'));
      }, timeoutMs);
      this.waiters.push({ pred, resolve: resolve as (p: Pdu) => void, reject, timer });
    });
  }

  /** Resolve true if the connection closes within ms. */
  waitClosed(ms = 3000): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      this.socket.once('close', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  drainInbox(): Pdu[] {
    const all = this.inbox.map((e) => e.pdu);
    this.inbox = [];
    return all;
  }

  send(pdu: InitiatorPdu): void {
    for (const b of encodePdu(pdu, { headerDigest: false, dataDigest: false })) this.socket.write(b);
  }

  writeRaw(buf: Buffer): void {
    this.socket.write(buf);
  }

  nextItt(): number {
    const i = this.itt;
    this.itt = (this.itt + 1) & 0x7fffffff || 1;
    return i;
  }

  /** Login straight to full feature phase (AuthMethod None). Returns the final login response. */
  async login(opts: LoginOptions = {}): Promise<LoginResponse> {
    if (opts.isid) this.isid = opts.isid;
    const type = opts.sessionType ?? 'Normal';
    const first: Array<[string, string]> = [
      ['InitiatorName', opts.initiatorName ?? 'iqn.2026-11.test:initiator'],
      ['SessionType', type],
      ...(type === 'Normal'
        ? ([['TargetName', opts.targetName ?? 'iqn.2026-11.test:target']] as Array<[string, string]>)
        : []),
      ['AuthMethod', 'None'],
    ];
    const itt = this.nextItt();
    let resp = await this.loginStep(itt, 0, 1, true, first, opts);
    if (resp.statusClass !== 0) return resp;
    const op: Array<[string, string]> = opts.keys ?? [
      ['HeaderDigest', 'None'],
      ['DataDigest', 'None'],
      ['InitialR2T', 'No'],
      ['ImmediateData', 'Yes'],
      ['MaxRecvDataSegmentLength', '262144'],
      ['MaxBurstLength', '16776192'],
      ['FirstBurstLength', '262144'],
      ['MaxOutstandingR2T', '1'],
      ['ErrorRecoveryLevel', '0'],
      ['MaxConnections', '4'],
    ];
    if (!resp.transit || resp.nsg !== 3) {
      resp = await this.loginStep(itt, 1, 3, true, op, opts);
      if (resp.statusClass !== 0) return resp;
    }
    this.tsih = resp.tsih;
    const pairs = parseTextKeys(resp.data).pairs;
    for (const [k, v] of pairs) this.params.set(k, v);
    this.maxSendData = Math.min(Number(this.params.get('MaxRecvDataSegmentLength') ?? 8192), 262144);
    this.firstBurst = Number(this.params.get('FirstBurstLength') ?? 65536);
    this.immediateData = (this.params.get('ImmediateData') ?? 'Yes') === 'Yes';
    this.initialR2T = (this.params.get('InitialR2T') ?? 'Yes') === 'Yes';
    return resp;
  }

  async loginStep(
    itt: number,
    csg: number,
    nsg: number,
    transit: boolean,
    pairs: Array<[string, string]>,
    opts: LoginOptions = {},
  ): Promise<LoginResponse> {
    this.send({
      opcode: Opcode.LoginRequest,
      immediate: true,
      transit,
      continue: false,
      csg,
      nsg,
      versionMax: 0,
      versionMin: 0,
      isid: this.isid,
      tsih: opts.tsih ?? 0,
      itt,
      cid: opts.cid ?? 0,
      cmdSN: this.cmdSN,
      expStatSN: this.expStatSN,
      data: encodeTextKeys(pairs),
    });
    const resp = await this.waitFor<LoginResponse>((p) => p.opcode === Opcode.LoginResponse);
    return resp;
  }

  /** Run a SCSI command to completion (handles immediate data, unsolicited data and R2T). */
  async command(
    cdb: Buffer,
    opts: { lun?: number; read?: number; write?: Buffer; edtl?: number; immediate?: boolean } = {},
  ): Promise<CommandResult> {
    const itt = this.nextItt();
    const write = opts.write;
    const edtl = opts.edtl ?? (write ? write.length : (opts.read ?? 0));
    const immLen =
      write && this.immediateData ? Math.min(write.length, this.firstBurst, this.maxSendData) : 0;
    const unsolicitedEnd = write ? (this.initialR2T ? immLen : Math.min(this.firstBurst, write.length)) : 0;
    const lun = BigInt(opts.lun ?? 0) << 48n;
    this.sendScsiCommand({
      itt,
      cdb,
      lun: opts.lun,
      edtl,
      read: (opts.read ?? 0) > 0,
      write: !!write,
      data: write ? write.subarray(0, immLen) : undefined,
      final: unsolicitedEnd <= immLen,
      immediate: opts.immediate,
    });
    if (write && unsolicitedEnd > immLen)
      this.sendDataOut(itt, lun, RESERVED_TAG, write, immLen, unsolicitedEnd - immLen);
    const chunks: Buffer[] = [];
    for (;;) {
      const p = await this.waitFor(
        (x) =>
          (x.opcode === Opcode.DataIn || x.opcode === Opcode.ScsiResponse || x.opcode === Opcode.R2T) &&
          x.itt === itt,
        15000,
      );
      if (p.opcode === Opcode.R2T) {
        const r = p as R2T;
        this.sendDataOut(itt, lun, r.ttt, write!, r.bufferOffset, r.desiredDataTransferLength);
        continue;
      }
      if (p.opcode === Opcode.DataIn) {
        const d = p as DataIn;
        chunks.push(Buffer.from(d.data));
        if (d.hasStatus) {
          return {
            status: d.status,
            data: Buffer.concat(chunks),
            response: d,
            residual: d.residualCount,
            overflow: d.overflow,
            underflow: d.underflow,
          };
        }
        continue;
      }
      const r = p as ScsiResponse;
      const sense = r.data.length >= 2 ? r.data.subarray(2, 2 + r.data.readUInt16BE(0)) : undefined;
      return {
        status: r.status,
        data: Buffer.concat(chunks),
        sense,
        response: r,
        residual: r.residualCount,
        overflow: r.overflow,
        underflow: r.underflow,
      };
    }
  }

  /**
   * Sends one SCSI Command PDU carrying `data` as immediate data (none by default) and returns its CmdSN
   * (advanced unless immediate). Any further data is the caller's to send (Data-Out, answers to R2T).
   */
  sendScsiCommand(o: {
    itt: number;
    cdb: Buffer;
    lun?: number;
    edtl: number;
    read?: boolean;
    write?: boolean;
    data?: Buffer;
    final?: boolean;
    immediate?: boolean;
  }): number {
    const cdb16 = Buffer.alloc(Math.max(16, o.cdb.length));
    o.cdb.copy(cdb16);
    const cmdSN = this.cmdSN;
    if (!o.immediate) this.cmdSN = (this.cmdSN + 1) >>> 0;
    this.send({
      opcode: Opcode.ScsiCommand,
      immediate: o.immediate ?? false,
      final: o.final ?? true,
      read: o.read ?? false,
      write: o.write ?? false,
      attr: 1,
      lun: BigInt(o.lun ?? 0) << 48n,
      itt: o.itt,
      expectedDataTransferLength: o.edtl,
      cmdSN,
      expStatSN: this.expStatSN,
      cdb: cdb16,
      data: o.data ?? Buffer.alloc(0),
    });
    return cmdSN;
  }

  sendDataOut(itt: number, lun: bigint, ttt: number, data: Buffer, offset: number, length: number): void {
    let sn = 0;
    for (let off = offset; off < offset + length;) {
      const n = Math.min(this.maxSendData, offset + length - off);
      this.send({
        opcode: Opcode.DataOut,
        immediate: false,
        final: off + n >= offset + length,
        lun,
        itt,
        ttt,
        expStatSN: this.expStatSN,
        dataSN: sn++,
        bufferOffset: off,
        data: data.subarray(off, off + n),
      });
      off += n;
    }
  }

  async read10(lba: number, blocks: number, blockSize = 512, lun = 1): Promise<CommandResult> {
    const cdb = Buffer.alloc(10);
    cdb[0] = 0x28;
    cdb.writeUInt32BE(lba, 2);
    cdb.writeUInt16BE(blocks, 7);
    return this.command(cdb, { lun, read: blocks * blockSize });
  }

  async write10(lba: number, data: Buffer, blockSize = 512, lun = 1): Promise<CommandResult> {
    const cdb = Buffer.alloc(10);
    cdb[0] = 0x2a;
    cdb.writeUInt32BE(lba, 2);
    cdb.writeUInt16BE(data.length / blockSize, 7);
    return this.command(cdb, { lun, write: data });
  }

  async nop(data = Buffer.alloc(0)): Promise<Pdu> {
    const itt = this.nextItt();
    this.send({
      opcode: Opcode.NopOut,
      immediate: true,
      lun: 0n,
      itt,
      ttt: RESERVED_TAG,
      cmdSN: this.cmdSN,
      expStatSN: this.expStatSN,
      data,
    });
    return this.waitFor((p) => p.opcode === Opcode.NopIn && p.itt === itt);
  }

  async logout(reason = 0): Promise<Pdu> {
    const itt = this.nextItt();
    this.send({
      opcode: Opcode.LogoutRequest,
      immediate: true,
      reasonCode: reason,
      itt,
      cid: 0,
      cmdSN: this.cmdSN,
      expStatSN: this.expStatSN,
      data: Buffer.alloc(0),
    });
    return this.waitFor((p) => p.opcode === Opcode.LogoutResponse);
  }

  close(): void {
    this.socket.destroy();
  }
}
