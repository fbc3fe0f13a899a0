// Bad input over real sockets: first the specific malformed PDUs with their RFC answers, then a seeded
// flood of mutated and random PDUs (FUZZ_PDUS, default 100,000) while a healthy session keeps doing
// verified I/O. The server must never crash, hang or leak sessions.
import * as net from 'node:net';
import t, { type Test } from 'tap';
import { createLogger, setLogSink } from '../../src/common/log';
import { crc32c } from '../../src/iscsi/crc32c';
import { encodePdu } from '../../src/iscsi/pdu-codec';
import { PduParser } from '../../src/iscsi/pdu-parser';
import { IscsiServer } from '../../src/iscsi/portal-server';
import {
  Opcode,
  RESERVED_TAG,
  type InitiatorPdu,
  type LoginResponse,
  type Reject,
} from '../../src/iscsi/pdu-types';
import { FakeDirectory, FakeTarget } from '../helpers/fake-target';
import { TestInitiator } from '../helpers/iscsi-client';

setLogSink(() => undefined);

async function setup(t: Test): Promise<{ port: number; server: IscsiServer; target: FakeTarget }> {
  const target = new FakeTarget();
  const dir = new FakeDirectory(target);
  const server = new IscsiServer({ directory: dir, log: createLogger('fuzz'), loginTimeoutMs: 2000 });
  const portal = await server.listen('127.0.0.1', 0, 1);
  dir.portalList = server.portals();
  t.teardown(() => server.close());
  return { port: portal.port, server, target };
}

/** xorshift32: deterministic, seedable. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

function templates(c: TestInitiator): InitiatorPdu[] {
  const cdb = Buffer.alloc(16);
  cdb[0] = 0x2a;
  // LBA 32760 (0x7ff8) is out of reach of the healthy session's blocks 0..511: turning it into one of
  // those takes clearing six bits, and a mutation flips at most four.
  cdb.writeUInt32BE(0x7ff8, 2);
  cdb.writeUInt16BE(1, 7);
  return [
    {
      opcode: Opcode.ScsiCommand,
      immediate: false,
      final: true,
      read: false,
      write: true,
      attr: 1,
      lun: 1n << 48n,
      itt: 7,
      expectedDataTransferLength: 512,
      cmdSN: c.cmdSN,
      expStatSN: 0,
      cdb,
      data: Buffer.alloc(512, 1),
    },
    {
      opcode: Opcode.ScsiCommand,
      immediate: false,
      final: true,
      read: true,
      write: false,
      attr: 1,
      lun: 1n << 48n,
      itt: 8,
      expectedDataTransferLength: 512,
      cmdSN: c.cmdSN,
      expStatSN: 0,
      cdb: Buffer.from([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),
      data: Buffer.alloc(0),
    },
    {
      opcode: Opcode.DataOut,
      immediate: false,
      final: true,
      lun: 1n << 48n,
      itt: 7,
      ttt: 1,
      expStatSN: 0,
      dataSN: 0,
      bufferOffset: 0,
      data: Buffer.alloc(512, 2),
    },
    {
      opcode: Opcode.NopOut,
      immediate: true,
      lun: 0n,
      itt: 9,
      ttt: RESERVED_TAG,
      cmdSN: c.cmdSN,
      expStatSN: 0,
      data: Buffer.from('hello'),
    },
    {
      opcode: Opcode.TaskMgmtRequest,
      immediate: true,
      function: 1,
      lun: 1n << 48n,
      itt: 10,
      referencedTaskTag: 7,
      cmdSN: c.cmdSN,
      expStatSN: 0,
      refCmdSN: c.cmdSN,
      expDataSN: 0,
      data: Buffer.alloc(0),
    },
    {
      opcode: Opcode.TextRequest,
      immediate: true,
      final: true,
      continue: false,
      lun: 0n,
      itt: 11,
      ttt: RESERVED_TAG,
      cmdSN: c.cmdSN,
      expStatSN: 0,
      data: Buffer.from('SendTargets=All\0'),
    },
    {
      opcode: Opcode.SnackRequest,
      immediate: false,
      type: 0,
      lun: 0n,
      itt: 12,
      ttt: RESERVED_TAG,
      expStatSN: 0,
      begRun: 0,
      runLength: 0,
      data: Buffer.alloc(0),
    },
    {
      opcode: Opcode.LoginRequest,
      immediate: true,
      transit: true,
      continue: false,
      csg: 1,
      nsg: 3,
      versionMax: 0,
      versionMin: 0,
      isid: Buffer.alloc(6),
      tsih: 0,
      itt: 13,
      cid: 0,
      cmdSN: 0,
      expStatSN: 0,
      data: Buffer.from('InitiatorName=x\0'),
    },
  ];
}

function mutate(pdu: InitiatorPdu, r: () => number): Buffer {
  const wire = Buffer.concat(encodePdu(pdu, { headerDigest: false, dataDigest: false }));
  const kind = Math.floor(r() * 8);
  switch (kind) {
    case 0: {
      // flip a few header bytes
      for (let i = 0; i < 1 + Math.floor(r() * 4); i++)
        wire[Math.floor(r() * 48)] ^= 1 << Math.floor(r() * 8);
      return wire;
    }
    case 1:
      wire[0] = Math.floor(r() * 64); // any opcode
      return wire;
    case 2: {
      // DataSegmentLength lies (bigger): the stream desynchronises; the target must cope
      const len = Math.floor(r() * 0x1000000);
      wire[5] = len >> 16;
      wire[6] = (len >> 8) & 0xff;
      wire[7] = len & 0xff;
      return wire;
    }
    case 3:
      wire[4] = Math.floor(r() * 256); // TotalAHSLength garbage
      return wire;
    case 4: {
      // random bytes in the data segment
      for (let i = 48; i < wire.length; i++) if (r() < 0.3) wire[i] = Math.floor(r() * 256);
      return wire;
    }
    case 5: {
      // a totally random BHS with a small data segment
      const b = Buffer.alloc(48 + 16);
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
      b[4] = 0;
      b[5] = 0;
      b[6] = 0;
      b[7] = 16;
      return b;
    }
    case 6:
      // CmdSN far outside the window
      wire.writeUInt32BE(Math.floor(r() * 0xffffffff) >>> 0, 24);
      return wire;
    default:
      return wire;
  }
}

/** Resets of the whole LUN or target would legitimately disturb the healthy session: keep TMFs per-task. */
function tameTaskManagement(wire: Buffer, r: () => number): Buffer {
  if ((wire[0] & 0x3f) === 0x02) {
    const f = [1, 2, 3, 8, 9 + Math.floor(r() * 100)][Math.floor(r() * 5)];
    wire[1] = 0x80 | f;
  }
  return wire;
}

t.test('specific malformed PDUs get their RFC answers', async (t) => {
  const { port } = await setup(t);
  const c = await TestInitiator.connect(port);
  t.teardown(() => c.close());
  t.equal((await c.login()).statusClass, 0);

  // Unknown opcode 0x1f -> Reject "command not supported", with the header echoed.
  const bad = Buffer.alloc(48);
  bad[0] = 0x1f;
  bad.writeUInt32BE(0x1234, 16);
  c.writeRaw(bad);
  let rej = await c.waitFor<Reject>((p) => p.opcode === Opcode.Reject);
  t.equal(rej.reason, 0x05);
  t.equal(rej.data.readUInt32BE(16), 0x1234);

  // DataSegmentLength beyond our MaxRecvDataSegmentLength -> Reject "protocol error", stream stays in sync.
  const big = Buffer.alloc(48 + 300000);
  big[0] = 0x40; // immediate NOP-Out
  big[1] = 0x80;
  big.writeUIntBE(300000, 5, 3);
  big.writeUInt32BE(0x99, 16);
  big.writeUInt32BE(RESERVED_TAG, 20);
  c.writeRaw(big);
  rej = await c.waitFor<Reject>((p) => p.opcode === Opcode.Reject);
  t.equal(rej.reason, 0x04);
  t.equal((await c.nop(Buffer.from('still here'))).data.toString(), 'still here', 'stream still framed');

  // A login PDU in full feature phase -> Reject protocol error.
  c.send(templates(c)[7]);
  t.equal((await c.waitFor<Reject>((p) => p.opcode === Opcode.Reject)).reason, 0x04);

  // Immediate data in a read command -> protocol error.
  const r = templates(c)[1];
  c.send({ ...r, data: Buffer.alloc(512) } as InitiatorPdu);
  t.equal((await c.waitFor<Reject>((p) => p.opcode === Opcode.Reject)).reason, 0x04);
  t.equal((await c.read10(0, 1)).status, 0, 'I/O still works');
});

t.test('digest errors: data digest -> Reject 0x02 and go on; header digest -> drop', async (t) => {
  const { port } = await setup(t);
  const c = await TestInitiator.connect(port);
  t.teardown(() => c.close());
  const resp: LoginResponse = await c.login({
    keys: [
      ['HeaderDigest', 'CRC32C'],
      ['DataDigest', 'CRC32C'],
    ],
  });
  t.equal(resp.statusClass, 0);
  // Hand-build a NOP-Out with both digests, then corrupt the data digest.
  const data = Buffer.from('abcd');
  const hdr = Buffer.alloc(48);
  hdr[0] = 0x40;
  hdr[1] = 0x80;
  hdr.writeUIntBE(4, 5, 3);
  hdr.writeUInt32BE(0x42, 16);
  hdr.writeUInt32BE(RESERVED_TAG, 20);
  const hd = Buffer.alloc(4);
  hd.writeUInt32LE(crc32c(hdr), 0);
  const dd = Buffer.alloc(4);
  dd.writeUInt32LE((crc32c(data) ^ 1) >>> 0, 0);
  const parser = new PduParser({ maxDataSegmentLength: 1 << 20, headerDigest: true, dataDigest: true });
  const replies: number[] = [];
  c.socket.removeAllListeners('data');
  c.socket.on('data', (chunk: Buffer) =>
    parser.push(chunk, (ev) => {
      if (ev.kind === 'pdu' && ev.pdu.opcode === Opcode.Reject) replies.push(ev.pdu.reason);
    }),
  );
  c.writeRaw(Buffer.concat([hdr, hd, data, dd]));
  await new Promise((r) => setTimeout(r, 200));
  t.same(replies, [0x02], 'data digest error rejected');
  hd[0] ^= 0xff;
  c.writeRaw(Buffer.concat([hdr, hd, data, dd]));
  t.ok(await c.waitClosed(2000), 'header digest error drops the connection');
});

t.test('flood of mutated and random PDUs while a healthy session does verified I/O', async (t) => {
  const { port, server } = await setup(t);
  const total = Number(process.env.FUZZ_PDUS ?? 100000);
  const seed = Number(process.env.FUZZ_SEED ?? 20261121);
  const r = rng(seed);
  t.comment(`fuzz seed ${seed}, ${total} PDUs`);

  const healthy = await TestInitiator.connect(port);
  t.teardown(() => healthy.close());
  t.equal((await healthy.login({ isid: Buffer.from([0x80, 0, 0, 0, 0xaa, 0xbb]) })).statusClass, 0);
  let verified = 0;
  let stop = false;
  const io = (async () => {
    let i = 0;
    while (!stop) {
      const lba = (i % 64) * 8;
      const data = Buffer.alloc(4096, (i * 7 + 1) & 0xff);
      const w = await healthy.write10(lba, data);
      if (w.status !== 0) throw new Error('healthy write failed');
      const rd = await healthy.read10(lba, 8);
      if (!rd.data.equals(data)) throw new Error('healthy read mismatch');
      verified++;
      i++;
    }
  })();

  let sent = 0;
  let conns = 0;
  while (sent < total) {
    conns++;
    const c = await TestInitiator.connect(port);
    const loginFirst = r() < 0.85;
    if (loginFirst) {
      const resp = await c
        .login({ isid: Buffer.from([0x80, 0, 1, (conns >> 8) & 0xff, conns & 0xff, 1]) })
        .catch(() => undefined);
      if (!resp || resp.statusClass !== 0) {
        c.close();
        continue;
      }
    }
    const batch = 50 + Math.floor(r() * 450);
    const tpl = templates(c);
    const bufs: Buffer[] = [];
    for (let i = 0; i < batch && sent < total; i++, sent++)
      bufs.push(tameTaskManagement(mutate(tpl[Math.floor(r() * tpl.length)], r), r));
    let wire = Buffer.concat(bufs);
    if (r() < 0.2) wire = wire.subarray(0, Math.floor(r() * wire.length)); // truncated frame
    await new Promise<void>((resolve) => c.socket.write(wire, () => resolve()));
    // Whatever came back must be well-formed target PDUs (the client parser would have recorded errors).
    await new Promise((res) => setTimeout(res, 2));
    if (c.errors.length > 0) t.fail(`target sent malformed PDUs: ${c.errors[0]}`);
    if (r() < 0.5)
      c.socket.end(); // half-close: the target must notice and clean up
    else c.close();
  }
  stop = true;
  await io;
  t.ok(
    verified > 0,
    `healthy session verified ${verified} write+read pairs during ${sent} fuzz PDUs over ${conns} connections`,
  );

  // Every fuzz connection must be gone: only the healthy session remains.
  const deadline = Date.now() + 5000;
  while (server.sessions.size() > 1 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  t.equal(server.sessions.size(), 1, 'no leaked sessions');
  const fresh = await TestInitiator.connect(port);
  t.teardown(() => fresh.close());
  t.equal((await fresh.login()).statusClass, 0, 'new logins still work');
  const raw = net.connect(port, '127.0.0.1');
  raw.write(Buffer.alloc(20)); // half a header, then silence: login timer must close it
  const closed = await new Promise<boolean>((res) => {
    const tm = setTimeout(() => res(false), 4000);
    raw.on('close', () => {
      clearTimeout(tm);
      res(true);
    });
    raw.on('error', () => undefined);
  });
  t.ok(closed, 'a stalled pre-login connection is closed by the login timeout');
});
