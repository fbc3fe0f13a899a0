// The iSCSI transport end to end over real loopback sockets, against an in-memory fake target:
// login, R2T data flow, CmdSN ordering and window, task management, reinstatement, MC/S, logout,
// discovery, and Reject answers.
import t, { type Test } from 'tap';
import { sharedBufferPool } from '../../src/common/data-buffer-pool';
import { createLogger, setLogSink } from '../../src/common/log';
import { IscsiServer } from '../../src/iscsi/portal-server';
import {
  Opcode,
  RESERVED_TAG,
  type LoginResponse,
  type Reject,
  type TaskMgmtResponse,
  type TextResponse,
} from '../../src/iscsi/pdu-types';
import { parseTextKeys } from '../../src/iscsi/text-keys';
import { FakeDirectory, FakeTarget } from '../helpers/fake-target';
import { TestInitiator } from '../helpers/iscsi-client';

setLogSink(() => undefined);

async function setup(
  t: Test,
  budget?: number,
): Promise<{ port: number; target: FakeTarget; server: IscsiServer }> {
  const target = new FakeTarget();
  const dir = new FakeDirectory(target);
  const server = new IscsiServer({ directory: dir, log: createLogger('test'), dataBudgetBytes: budget });
  const portal = await server.listen('127.0.0.1', 0, 1);
  dir.portalList = server.portals();
  t.teardown(() => server.close());
  return { port: portal.port, target, server };
}

async function loggedIn(t: Test, port: number, opts = {}): Promise<TestInitiator> {
  const c = await TestInitiator.connect(port);
  t.teardown(() => c.close());
  const r = await c.login(opts);
  t.equal(r.statusClass, 0, 'login succeeded');
  return c;
}

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** A WRITE of `edtl` bytes sent without any data (the target must ask with R2T); returns its CmdSN. */
function sendBareWrite(c: TestInitiator, itt: number, edtl: number): number {
  const cdb = Buffer.alloc(10);
  cdb[0] = 0x2a;
  cdb.writeUInt16BE(edtl / 512, 7);
  return c.sendScsiCommand({ itt, cdb, lun: 1, edtl, write: true });
}

/** Login keys under which every byte of a write's data is asked for with R2T. */
const ALL_DATA_BY_R2T: Array<[string, string]> = [
  ['InitialR2T', 'Yes'],
  ['ImmediateData', 'No'],
];

/** A task management request (1: ABORT TASK of `ref`); resolves with its response. */
async function taskMgmt(
  c: TestInitiator,
  fn: number,
  itt: number,
  ref: number,
  refCmdSN: number,
  lun = 1n,
): Promise<TaskMgmtResponse> {
  c.send({
    opcode: Opcode.TaskMgmtRequest,
    immediate: true,
    function: fn,
    lun: lun << 48n,
    itt,
    referencedTaskTag: ref,
    cmdSN: c.cmdSN,
    expStatSN: c.expStatSN,
    refCmdSN,
    expDataSN: 0,
    data: Buffer.alloc(0),
  });
  return c.waitFor<TaskMgmtResponse>((p) => p.opcode === Opcode.TaskMgmtResponse && p.itt === itt);
}

t.test('login answers with TSIH, TPGT and negotiated keys; NOP echoes data', async (t) => {
  const { port, target } = await setup(t);
  const c = await TestInitiator.connect(port);
  t.teardown(() => c.close());
  const r: LoginResponse = await c.login();
  t.equal(r.statusClass, 0);
  t.not(r.tsih, 0, 'TSIH assigned');
  t.equal(c.params.get('MaxRecvDataSegmentLength') !== undefined, true, 'target declared its MRDSL');
  const nop = await c.nop(Buffer.from('ping'));
  t.equal(nop.data.toString(), 'ping');
  t.equal(target.nexuses.size, 1, 'nexus registered');
});

t.test('writes through immediate data, unsolicited Data-Out and R2T read back identically', async (t) => {
  const { port } = await setup(t);
  const c = await loggedIn(t, port);
  for (const size of [512, 4096, 65536, 262144, 1 << 20, (1 << 20) + 512 * 3]) {
    const data = pattern(size, size & 0xff);
    const w = await c.write10(16, data);
    t.equal(w.status, 0, `write ${size}`);
    const r = await c.read10(16, size / 512);
    t.equal(r.status, 0);
    t.ok(r.data.equals(data), `read back ${size}`);
  }
});

t.test('pooled read data goes back to the pool only once it is on the wire', async (t) => {
  const { port, target } = await setup(t);
  target.readPool = sharedBufferPool;
  const c = await loggedIn(t, port);
  const size = 256 * 1024;
  const blocks = size / 512;
  for (let i = 0; i < 16; i++) t.equal((await c.write10(i * blocks, pattern(size, i))).status, 0);
  const seen = new Set<ArrayBufferLike>();
  const taken = sharedBufferPool.take.bind(sharedBufferPool);
  sharedBufferPool.take = (n: number) => {
    const b = taken(n);
    seen.add(b.buffer);
    return b;
  };
  t.teardown(() => {
    sharedBufferPool.take = taken;
  });
  // Two sessions, 8 readers each, every read issued as the last one lands, completions delayed to the
  // timer phase: commands of one connection take buffers while the other's answers wait for their
  // flush, so a buffer given back before it is on the wire would carry another read's pattern.
  target.delayMs = 1;
  const c2 = await loggedIn(t, port);
  let bad = 0;
  await Promise.all(
    [c, c2].flatMap((ini, s) =>
      [...Array(8).keys()].map(async (w) => {
        for (let k = 0; k < 8; k++) {
          const i = (w * 2 + s + k) % 16;
          const r = await ini.read10(i * blocks, blocks);
          if (r.status !== 0 || !r.data.equals(pattern(size, i))) bad++;
        }
      }),
    ),
  );
  t.equal(bad, 0, "no read carried another read's data");
  t.ok(seen.size < 128, `buffers were reused (${seen.size} distinct for 128 reads)`);
  t.ok(sharedBufferPool.idleSize() >= size, 'and are back in the pool');
});

t.test('read residuals: underflow and overflow against EDTL', async (t) => {
  const { port } = await setup(t);
  const c = await loggedIn(t, port);
  const cdb = Buffer.from([0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0]);
  const over = await c.command(cdb, { lun: 1, read: 512 });
  t.equal(over.status, 0);
  t.equal(over.data.length, 512, 'truncated to EDTL');
  t.ok(over.overflow);
  t.equal(over.residual, 512);
  const under = await c.command(cdb, { lun: 1, read: 4096 });
  t.ok(under.underflow);
  t.equal(under.residual, 4096 - 1024);
});

t.test('commands arriving out of CmdSN order are executed in order', async (t) => {
  const { port, target } = await setup(t);
  const c = await loggedIn(t, port);
  const base = c.cmdSN;
  // Send CmdSN base+1 first, then base.
  const tur = Buffer.alloc(16);
  const mk = (sn: number, itt: number): void =>
    c.send({
      opcode: Opcode.ScsiCommand,
      immediate: false,
      final: true,
      read: false,
      write: false,
      attr: 1,
      lun: 1n << 48n,
      itt,
      expectedDataTransferLength: 0,
      cmdSN: sn,
      expStatSN: c.expStatSN,
      cdb: tur,
      data: Buffer.alloc(0),
    });
  target.executed = [];
  mk(base + 1, 501);
  await new Promise((r) => setTimeout(r, 100));
  t.equal(target.executed.length, 0, 'the later command waits for the gap');
  mk(base, 500);
  const r1 = await c.waitFor((p) => p.opcode === Opcode.ScsiResponse && p.itt === 500);
  const r2 = await c.waitFor((p) => p.opcode === Opcode.ScsiResponse && p.itt === 501);
  t.ok(r1 && r2);
  t.same(
    target.executed.map((x) => x.tag),
    [500, 501],
  );
  c.cmdSN = base + 2;
  t.equal((r2 as { expCmdSN: number }).expCmdSN, base + 2, 'ExpCmdSN advanced past both');
});

t.test('a command outside the CmdSN window is ignored and the session goes on', async (t) => {
  const { port, target } = await setup(t);
  const c = await loggedIn(t, port);
  target.executed = [];
  const saved = c.cmdSN;
  c.cmdSN = saved + 100000;
  const lost = c.command(Buffer.from([0, 0, 0, 0, 0, 0]), { lun: 1 }).catch(() => 'timeout');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(target.executed.length, 0, 'not executed');
  c.cmdSN = saved;
  const ok = await c.command(Buffer.from([0, 0, 0, 0, 0, 0]), { lun: 1 });
  t.equal(ok.status, 0);
  c.close();
  await lost;
});

t.test('an R2T burst the initiator never sends does not hold up its other PDUs', async (t) => {
  // With the native addon and TGTD_RECEIVE_LOW_WATER=1 the connection raises SO_RCVLOWAT to most of the
  // 256 KiB it asked for; the NOP-Out and ABORT TASK below are far smaller, and arrive only through the
  // low-water guard.
  process.env.TGTD_RECEIVE_LOW_WATER = '1';
  t.teardown(() => {
    delete process.env.TGTD_RECEIVE_LOW_WATER;
  });
  const { port } = await setup(t);
  const c = await loggedIn(t, port, {
    keys: ALL_DATA_BY_R2T,
  });
  const cmdSN = sendBareWrite(c, 950, 1 << 20);
  t.ok(await c.waitFor((p) => p.opcode === Opcode.R2T && p.itt === 950), 'R2T sent');
  const started = Date.now();
  const nop = await c.nop(Buffer.from('ping'));
  t.ok(nop.data.equals(Buffer.from('ping')), 'NOP-Out answered while the burst is owed');
  t.ok(Date.now() - started < 1000, `within ${Date.now() - started} ms`);
  t.equal((await taskMgmt(c, 1, 951, 950, cmdSN)).response, 0, 'the write aborted');
  const data = pattern(1 << 20, 7);
  t.equal((await c.write10(64, data)).status, 0, 'a whole 1 MiB write through R2Ts then');
  const back = await c.read10(64, 2048);
  t.ok(back.data.equals(data), 'and reads back');
});

t.test('ABORT TASK of a command waiting for data; the task never answers', async (t) => {
  const { port } = await setup(t);
  const c = await loggedIn(t, port, {
    keys: [...ALL_DATA_BY_R2T, ['MaxRecvDataSegmentLength', '65536']],
  });
  const itt = 900;
  const cmdSN = sendBareWrite(c, itt, 4096);
  const r2t = await c.waitFor((p) => p.opcode === Opcode.R2T && p.itt === itt);
  t.ok(r2t, 'R2T sent');
  t.equal((await taskMgmt(c, 1, 901, itt, cmdSN)).response, 0, 'function complete');
  await new Promise((r) => setTimeout(r, 200));
  t.notOk(
    c.drainInbox().some((p) => p.opcode === Opcode.ScsiResponse && p.itt === itt),
    'no response for the aborted task',
  );
  // Unknown task whose CmdSN is already past: function complete; a LUN that doesn't exist: 2.
  t.equal((await taskMgmt(c, 1, 902, 12345, cmdSN)).response, 0);
  t.equal((await taskMgmt(c, 5, 903, RESERVED_TAG, 0, 7n)).response, 2);
  const ok = await c.read10(0, 1);
  t.equal(ok.status, 0, 'session still works');
});

t.test('LOGICAL UNIT RESET waits for executing tasks, then resets', async (t) => {
  const { port, target } = await setup(t);
  const c = await loggedIn(t, port);
  let open!: () => void;
  target.gate = new Promise((r) => (open = r));
  const pending = c.read10(0, 1).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 50));
  c.send({
    opcode: Opcode.TaskMgmtRequest,
    immediate: true,
    function: 5,
    lun: 1n << 48n,
    itt: 950,
    referencedTaskTag: RESERVED_TAG,
    cmdSN: c.cmdSN,
    expStatSN: c.expStatSN,
    refCmdSN: 0,
    expDataSN: 0,
    data: Buffer.alloc(0),
  });
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(
    c.drainInbox().some((p) => p.opcode === Opcode.TaskMgmtResponse),
    'response waits for the running task',
  );
  target.gate = undefined;
  open();
  const tmf = await c.waitFor<TaskMgmtResponse>((p) => p.opcode === Opcode.TaskMgmtResponse);
  t.equal(tmf.response, 0);
  t.same(target.resets, ['lun1']);
  c.close();
  await pending;
});

t.test('session reinstatement closes the old session with the same ISID', async (t) => {
  const { port } = await setup(t);
  const a = await loggedIn(t, port);
  const b = await TestInitiator.connect(port);
  t.teardown(() => b.close());
  const r = await b.login({ isid: a.isid });
  t.equal(r.statusClass, 0);
  t.ok(await a.waitClosed(2000), 'old connection dropped');
  t.equal((await b.read10(0, 1)).status, 0);
});

t.test('a second connection joins the session (MC/S) and both carry commands', async (t) => {
  const { port, server } = await setup(t);
  const a = await loggedIn(t, port);
  const b = await TestInitiator.connect(port);
  t.teardown(() => b.close());
  b.cmdSN = a.cmdSN;
  const r = await b.login({ isid: a.isid, tsih: a.tsih, cid: 1 });
  t.equal(r.statusClass, 0, 'second connection logged in');
  t.equal(server.sessions.size(), 1);
  t.equal(server.sessions.get(a.tsih)!.connectionCount(), 2);
  // Commands share one CmdSN space.
  const w = await a.write10(0, pattern(4096, 3));
  t.equal(w.status, 0);
  b.cmdSN = a.cmdSN;
  const rd = await b.read10(0, 8);
  t.ok(rd.data.equals(pattern(4096, 3)));
  // A login with an unknown TSIH fails with 0x020a.
  const c = await TestInitiator.connect(port);
  t.teardown(() => c.close());
  const bad = await c.login({ tsih: 0x7777 });
  t.equal(bad.statusClass, 2);
  t.equal(bad.statusDetail, 0x0a);
});

t.test('logout closes the session', async (t) => {
  const { port, server, target } = await setup(t);
  const c = await loggedIn(t, port);
  const r = await c.logout(0);
  t.equal((r as { response: number }).response, 0);
  t.ok(await c.waitClosed(2000));
  await new Promise((r) => setTimeout(r, 50));
  t.equal(server.sessions.size(), 0);
  t.equal(target.nexuses.size, 0);
});

t.test('discovery session: SendTargets lists the target; SCSI commands are rejected', async (t) => {
  const { port } = await setup(t);
  const c = await TestInitiator.connect(port);
  t.teardown(() => c.close());
  const r = await c.login({ sessionType: 'Discovery' });
  t.equal(r.statusClass, 0);
  c.send({
    opcode: Opcode.TextRequest,
    immediate: true,
    final: true,
    continue: false,
    lun: 0n,
    itt: 77,
    ttt: RESERVED_TAG,
    cmdSN: c.cmdSN,
    expStatSN: c.expStatSN,
    data: Buffer.from('SendTargets=All\0'),
  });
  const txt = await c.waitFor<TextResponse>((p) => p.opcode === Opcode.TextResponse);
  const pairs = parseTextKeys(txt.data).pairs;
  t.same(pairs, [
    ['TargetName', 'iqn.2026-11.test:target'],
    ['TargetAddress', `127.0.0.1:${port},1`],
  ]);
  c.send({
    opcode: Opcode.ScsiCommand,
    immediate: false,
    final: true,
    read: false,
    write: false,
    attr: 1,
    lun: 0n,
    itt: 78,
    expectedDataTransferLength: 0,
    cmdSN: c.cmdSN,
    expStatSN: c.expStatSN,
    cdb: Buffer.alloc(16),
    data: Buffer.alloc(0),
  });
  const rej = await c.waitFor<Reject>((p) => p.opcode === Opcode.Reject);
  t.equal(rej.reason, 0x04);
  t.equal(rej.data.readUInt32BE(16), 78, 'the rejected header is returned');
});

t.test('Data-Out for an unknown transfer tag and SNACK are rejected; login PDU in FFP too', async (t) => {
  const { port } = await setup(t);
  const c = await loggedIn(t, port, {
    keys: ALL_DATA_BY_R2T,
  });
  sendBareWrite(c, 40, 4096);
  await c.waitFor((p) => p.opcode === Opcode.R2T);
  c.sendDataOut(40, 1n << 48n, 0x5555, Buffer.alloc(4096), 0, 512);
  const rej = await c.waitFor<Reject>((p) => p.opcode === Opcode.Reject);
  t.equal(rej.reason, 0x09);
  c.send({
    opcode: Opcode.SnackRequest,
    immediate: false,
    type: 0,
    lun: 0n,
    itt: 41,
    ttt: RESERVED_TAG,
    expStatSN: c.expStatSN,
    begRun: 0,
    runLength: 0,
    data: Buffer.alloc(0),
  });
  t.equal((await c.waitFor<Reject>((p) => p.opcode === Opcode.Reject)).reason, 0x05);
  await c.loginStep(42, 1, 3, true, []).catch(() => undefined);
  const r3 =
    c.drainInbox().find((p) => p.opcode === Opcode.Reject) ??
    (await c.waitFor<Reject>((p) => p.opcode === Opcode.Reject));
  t.equal((r3 as Reject).reason, 0x04);
});

t.test('the data budget holds R2Ts back instead of buffering without bound', async (t) => {
  const { port } = await setup(t, 256 * 1024);
  const c = await loggedIn(t, port);
  const writes = [];
  for (let i = 0; i < 8; i++) writes.push(c.write10(i * 2048, pattern(1 << 20, i)));
  const res = await Promise.all(writes);
  t.ok(
    res.every((r) => r.status === 0),
    'all writes complete under a budget smaller than one write',
  );
  for (let i = 0; i < 8; i++) {
    const r = await c.read10(i * 2048, 2048);
    t.ok(r.data.equals(pattern(1 << 20, i)), `write ${i} intact`);
  }
});
