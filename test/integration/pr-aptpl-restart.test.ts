// APTPL: persistent reservations registered with APTPL=1 survive a real tgtd restart (SIGTERM and
// SIGKILL), started again with the same configuration and --state-dir; with APTPL=0 they do not.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { makeSparseFile, startTgtd, type Daemon } from '../helpers/daemon';
import { TestInitiator } from '../helpers/iscsi-client';
import {
  drainUnitAttentions,
  parseFullStatus,
  parseKeys,
  parseReservation,
  prin,
  Prin,
  prout,
  Prout,
  proutParams,
} from '../helpers/pr-commands';

const IQN = 'iqn.2026-11.io.curve.test:aptpl';
const PERSISTED = 1; // LUN whose registrations use APTPL=1
const VOLATILE = 2; // LUN whose registrations use APTPL=0
const WERO = 5;
const WE = 1;
const KEY_A = 0xaaaa0001n;
const KEY_B = 0xbbbb0002n;
const NODE_A = { name: 'iqn.2026-11.test:node-a', isid: '400001370010' };
const NODE_B = { name: 'iqn.2026-11.test:node-b', isid: '400001370011' };
const OUTSIDER = { name: 'iqn.2026-11.test:outsider', isid: '400001370012' };
const BS = 512;

const work = mkdtempSync(path.join(os.tmpdir(), 'pr-aptpl-'));
const stateDir = path.join(work, 'state');
const images = [path.join(work, 'lun1.img'), path.join(work, 'lun2.img')];
for (const f of images) makeSparseFile(f, 8 * 1024 * 1024);
t.teardown(() => rmSync(work, { recursive: true, force: true }));

let live: Daemon | undefined;
t.teardown(() => live?.stop('SIGKILL'));

/** Starts tgtd with the state dir and the same configuration every time (same names: same NAA). */
async function start(): Promise<Daemon> {
  const d = await startTgtd({ impl: 'ours', args: ['--state-dir', stateDir] });
  live = d;
  await d.tgtadmOk(['--op', 'new', '--mode', 'target', '--tid', '1', '-T', IQN]);
  for (const [i, file] of images.entries()) {
    const lun = String(i + 1);
    await d.tgtadmOk(['--op', 'new', '--mode', 'logicalunit', '--tid', '1', '--lun', lun, '-b', file]);
  }
  await d.tgtadmOk(['--op', 'bind', '--mode', 'target', '--tid', '1', '-I', 'ALL']);
  return d;
}

async function session(d: Daemon, who: { name: string; isid: string }): Promise<TestInitiator> {
  const c = await TestInitiator.connect(d.port);
  t.teardown(() => c.close());
  const r = await c.login({ initiatorName: who.name, targetName: IQN, isid: Buffer.from(who.isid, 'hex') });
  if (r.statusClass !== 0) throw new Error(`login of ${who.name} failed: ${r.statusClass}/${r.statusDetail}`);
  for (const lun of [PERSISTED, VOLATILE]) await drainUnitAttentions(c, lun);
  return c;
}

async function fullStatus(c: TestInitiator, lun: number): Promise<ReturnType<typeof parseFullStatus>> {
  const r = await prin(c, lun, Prin.ReadFullStatus);
  if (r.status !== 0) throw new Error(`READ FULL STATUS: status ${r.status}`);
  return parseFullStatus(r.data);
}

t.test('APTPL=1 state survives SIGTERM and SIGKILL restarts; APTPL=0 state does not', async (t) => {
  let d = await start();
  let a = await session(d, NODE_A);
  let b = await session(d, NODE_B);
  const cap = (await prin(a, PERSISTED, Prin.ReportCapabilities)).data;
  t.equal(cap[2] & 0x01, 1, 'PTPL_C: the daemon can persist (it has a state dir)');
  t.equal(cap[3] & 0x01, 0, 'PTPL_A clear before any APTPL registration');

  const ok = async (p: Promise<{ status: number }>, what: string): Promise<void> => {
    t.equal((await p).status, 0, what);
  };
  await ok(prout(a, PERSISTED, Prout.Register, 0, proutParams({ sark: KEY_A, aptpl: true })), 'A registers');
  await ok(prout(b, PERSISTED, Prout.Register, 0, proutParams({ sark: KEY_B, aptpl: true })), 'B registers');
  await ok(prout(a, PERSISTED, Prout.Reserve, WERO, proutParams({ key: KEY_A })), 'A reserves WERO');
  await ok(prout(a, VOLATILE, Prout.Register, 0, proutParams({ sark: KEY_A })), 'A registers, APTPL=0');
  await ok(prout(a, VOLATILE, Prout.Reserve, WE, proutParams({ key: KEY_A })), 'A reserves WE, APTPL=0');
  t.equal((await prin(a, PERSISTED, Prin.ReportCapabilities)).data[3] & 0x01, 1, 'PTPL_A set');
  t.equal((await prin(a, VOLATILE, Prin.ReportCapabilities)).data[3] & 0x01, 0, 'PTPL_A clear, LUN 2');
  const before = await fullStatus(b, PERSISTED);
  t.equal(before.entries.length, 2);
  t.same(readdirSync(path.join(stateDir, 'pr')).length, 1, 'one state file: only the APTPL LUN');

  // Restart 1: SIGTERM.
  await d.stop('SIGTERM');
  d = await start();
  const c = await session(d, OUTSIDER);
  t.same(await fullStatus(c, PERSISTED), before, 'after SIGTERM restart: same keys, holder, generation');
  t.same(parseKeys((await prin(c, VOLATILE, Prin.ReadKeys)).data).keys, [], 'APTPL=0 LUN: no keys');
  t.same(parseReservation((await prin(c, VOLATILE, Prin.ReadReservation)).data).type, undefined);
  t.equal((await c.write10(0, Buffer.alloc(BS, 1), BS, PERSISTED)).status, 0x18, 'outsider still blocked');
  t.equal((await c.write10(0, Buffer.alloc(BS, 1), BS, VOLATILE)).status, 0, 'LUN 2 open again');
  a = await session(d, NODE_A);
  t.equal((await a.write10(0, Buffer.alloc(BS, 2), BS, PERSISTED)).status, 0, 'A (same I_T nexus) holds it');
  b = await session(d, NODE_B);
  await ok(
    prout(b, PERSISTED, Prout.Preempt, WERO, proutParams({ key: KEY_B, sark: KEY_A })),
    'B preempts A after the restart',
  );
  const preempted = await fullStatus(b, PERSISTED);
  t.same(
    preempted.entries.map((e) => [e.key, e.holder, e.type]),
    [[KEY_B, true, WERO]],
  );

  // Restart 2: SIGKILL (no shutdown path at all): every acknowledged change was already on disk.
  await d.stop('SIGKILL');
  d = await start();
  b = await session(d, NODE_B);
  t.same(await fullStatus(b, PERSISTED), preempted, 'after SIGKILL restart: the preemption is kept');
  a = await session(d, NODE_A);
  t.equal((await a.write10(0, Buffer.alloc(BS, 3), BS, PERSISTED)).status, 0x18, 'preempted A blocked');

  // A REGISTER with APTPL=0 turns persistence off for the LU: nothing survives the next restart.
  await ok(prout(b, PERSISTED, Prout.Register, 0, proutParams({ key: KEY_B, sark: KEY_B })), 'APTPL=0');
  t.equal((await prin(b, PERSISTED, Prin.ReportCapabilities)).data[3] & 0x01, 0, 'PTPL_A cleared');
  t.same(readdirSync(path.join(stateDir, 'pr')), [], 'state file removed');
  await d.stop('SIGTERM');
  d = await start();
  const c2 = await session(d, OUTSIDER);
  const after = await fullStatus(c2, PERSISTED);
  t.same(after, { generation: 0, entries: [] }, 'nothing survives once APTPL is off');
  t.equal((await c2.write10(0, Buffer.alloc(BS, 4), BS, PERSISTED)).status, 0, 'outsider writes again');
  await d.stop();
  live = undefined;
});
