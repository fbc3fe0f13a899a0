// Transport hooks used by the SCSI and admin layers: PREEMPT AND ABORT's cross-session abort, closing a
// portal, and target NOP-In pings whose settings change while sessions are logged in.
import * as net from 'node:net';
import t, { type Test } from 'tap';
import { createLogger, setLogSink } from '../../src/common/log';
import { IscsiServer } from '../../src/iscsi/portal-server';
import { Opcode } from '../../src/iscsi/pdu-types';
import { FakeDirectory, FakeTarget } from '../helpers/fake-target';
import { TestInitiator } from '../helpers/iscsi-client';

setLogSink(() => undefined);

async function setup(t: Test): Promise<{ port: number; target: FakeTarget; server: IscsiServer }> {
  const target = new FakeTarget();
  const dir = new FakeDirectory(target);
  const server = new IscsiServer({ directory: dir, log: createLogger('test') });
  const portal = await server.listen('127.0.0.1', 0, 1);
  dir.portalList = server.portals();
  t.teardown(() => server.close());
  return { port: portal.port, target, server };
}

async function loggedIn(t: Test, port: number, isidByte: number): Promise<TestInitiator> {
  const c = await TestInitiator.connect(port);
  t.teardown(() => c.close());
  const r = await c.login({ isid: Buffer.from([0x80, 0, 0, 0, 9, isidByte]) });
  t.equal(r.statusClass, 0, 'login');
  return c;
}

t.test('PREEMPT AND ABORT aborts the other session’s tasks and waits for them', async (t) => {
  const { port, target } = await setup(t);
  const a = await loggedIn(t, port, 1);
  const b = await loggedIn(t, port, 2);
  let open!: () => void;
  target.gate = new Promise((r) => (open = r));
  const victim = a.read10(0, 1).then(
    () => 'answered',
    () => 'no answer',
  );
  await new Promise((r) => setTimeout(r, 100));
  target.gate = undefined;
  const preempt = b.command(Buffer.from([0x5f, 0, 0, 0, 0, 0, 0, 0, 0, 0]), { lun: 1 });
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(
    b.drainInbox().some((p) => p.opcode === Opcode.ScsiResponse),
    'the preempting command waits for the aborted task to settle',
  );
  open();
  const r = await preempt;
  t.equal(r.status, 0, 'preempting command completes');
  await new Promise((res) => setTimeout(res, 200));
  t.notOk(
    a.drainInbox().some((p) => p.opcode === Opcode.ScsiResponse || p.opcode === Opcode.DataIn),
    'aborted task got no response',
  );
  a.close();
  t.equal(await victim, 'no answer');
  t.equal((await b.read10(0, 1)).status, 0, 'the preempting session goes on');
});

t.test('closePortal stops listening; sessions through it go on', async (t) => {
  const { port, server } = await setup(t);
  const second = await server.listen('127.0.0.1', 0, 1);
  const c = await loggedIn(t, second.port, 3);
  t.equal(await server.closePortal('127.0.0.1', second.port), true);
  t.equal(await server.closePortal('127.0.0.1', second.port), false, 'second close: no such portal');
  t.same(
    server.portals().map((p) => p.port),
    [port],
  );
  const refused = await new Promise<boolean>((resolve) => {
    const s = net.connect(second.port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });
  t.ok(refused, 'new connections are refused');
  t.equal((await c.read10(0, 1)).status, 0, 'the existing session still works');
});

t.test('NOP-In pings follow live settings; unanswered pings drop the connection', async (t) => {
  const { port, target } = await setup(t);
  const c = await loggedIn(t, port, 4);
  await new Promise((r) => setTimeout(r, 1500));
  t.notOk(
    c.drainInbox().some((p) => p.opcode === Opcode.NopIn),
    'no pings while nop_interval is 0',
  );
  target.nopIntervalSeconds = 1;
  target.nopCountLimit = 2;
  const ping = await c.waitFor((p) => p.opcode === Opcode.NopIn, 4000);
  t.equal(ping.itt, 0xffffffff, 'a target ping carries the reserved ITT');
  // We never answer: after nop_count unanswered pings the target drops the connection.
  t.ok(await c.waitClosed(6000), 'connection dropped');
});
