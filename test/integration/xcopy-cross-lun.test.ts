// EXTENDED COPY across LUs of a real tgtd: between two LUNs of one target, into another target's LUN,
// and refused for a target whose ACL does not admit the initiator.
import * as path from 'node:path';
import t from 'tap';
import { deriveNaa } from '../../src/target/lu-identity';
import { addTarget, makeSparseFile, startTgtd, type Daemon } from '../helpers/daemon';
import { TestInitiator } from '../helpers/iscsi-client';
import { drainUnitAttentions, senseOf } from '../helpers/pr-commands';
import { blockSegment, copyList, copyStatusCdb, extendedCopyCdb, naaTarget } from '../helpers/xcopy-list';

const BASE = 'iqn.2026-11.io.curve.test:xcopy';
const INITIATOR = 'iqn.2026-11.test:copier';
const BS = 512;
let d: Daemon;
const files: Record<string, string> = {};

t.before(async () => {
  d = await startTgtd({ impl: 'ours' });
  for (const name of ['a', 'b', 'c', 'd']) {
    files[name] = path.join(d.dir, `${name}.img`);
    makeSparseFile(files[name], 4 * 1024 * 1024);
  }
  await addTarget(d, { tid: 1, iqn: `${BASE}-src`, lun: 1, store: 'rdwr', path: files.a });
  await d.tgtadmOk(['--op', 'new', '--mode', 'logicalunit', '--tid', '1', '--lun', '2', '-b', files.b]);
  await addTarget(d, { tid: 2, iqn: `${BASE}-other`, lun: 1, store: 'rdwr', path: files.c });
  await d.tgtadmOk(['--op', 'new', '--mode', 'target', '--tid', '3', '-T', `${BASE}-private`]);
  await d.tgtadmOk(['--op', 'new', '--mode', 'logicalunit', '--tid', '3', '--lun', '1', '-b', files.d]);
  await d.tgtadmOk(['--op', 'bind', '--mode', 'target', '--tid', '3', '-Q', 'iqn.2026-11.test:someone-else']);
});
t.teardown(() => d?.stop());

async function session(target: string): Promise<TestInitiator> {
  const c = await TestInitiator.connect(d.port);
  t.teardown(() => c.close());
  const r = await c.login({ initiatorName: INITIATOR, targetName: target });
  if (r.statusClass !== 0) throw new Error(`login to ${target}: ${r.statusClass}/${r.statusDetail}`);
  return c;
}

/** The NAA designator of a LUN, from its VPD page 0x83. */
async function naaOf(c: TestInitiator, lun: number): Promise<Buffer> {
  const r = await c.command(Buffer.from('1201830400 00'.replace(/ /g, ''), 'hex'), { lun, read: 1024 });
  const page = r.data;
  for (let at = 4; at + 4 <= page.length; at += 4 + page[at + 3]) {
    if ((page[at + 1] & 0x3f) === 0x03) return page.subarray(at + 4, at + 4 + page[at + 3]);
  }
  throw new Error('no NAA designator');
}

t.test('EXTENDED COPY between LUNs of one target and of two targets', async (t) => {
  const src = await session(`${BASE}-src`);
  const other = await session(`${BASE}-other`);
  for (const lun of [1, 2]) await drainUnitAttentions(src, lun);
  await drainUnitAttentions(other, 1);
  const [naaA, naaB, naaC] = [await naaOf(src, 1), await naaOf(src, 2), await naaOf(other, 1)];
  t.same(naaA, deriveNaa(`${BASE}-src`, 1, files.a), 'VPD 0x83 NAA is the derived one');
  const naaD = deriveNaa(`${BASE}-private`, 1, files.d);

  const data = Buffer.alloc(16 * BS);
  for (let i = 0; i < data.length; i++) data[i] = (i * 13 + 5) & 0xff;
  t.equal((await src.write10(0, data, BS, 1)).status, 0, 'pattern on tid 1 LUN 1');
  const xcopy = (p: Buffer) => src.command(extendedCopyCdb(p.length), { lun: 1, write: p });

  const same = await xcopy(copyList(1, [naaTarget(naaA), naaTarget(naaB)], [blockSegment(16, 0, 32, 0, 1)]));
  t.equal(same.status, 0, 'LUN 1 -> LUN 2 of the same target');
  t.same((await src.read10(32, 16, BS, 2)).data, data, 'LUN 2 has it');

  const across = await xcopy(
    copyList(
      2,
      [naaTarget(naaB), naaTarget(naaC)],
      [blockSegment(8, 32, 64, 0, 1), blockSegment(8, 40, 72, 0, 1)],
    ),
  );
  t.equal(across.status, 0, 'LUN 2 of tid 1 -> LUN 1 of tid 2, two segments, issued through LUN 1');
  t.same((await other.read10(64, 16, BS, 1)).data, data, 'the other target’s LUN has it');
  const st = await src.command(copyStatusCdb(2), { lun: 1, read: 1024 });
  t.equal(st.data[4], 0x01, 'RECEIVE COPY RESULTS: completed without errors');
  t.equal(st.data.readUInt16BE(5), 2, 'two segments');
  t.equal(st.data.readUInt32BE(8), 16, 'sixteen blocks');

  const denied = await xcopy(copyList(3, [naaTarget(naaA), naaTarget(naaD)], [blockSegment(1, 0, 0, 0, 1)]));
  t.same(
    senseOf(denied),
    { key: 0x0a, asc: 0x0d, ascq: 0x02 },
    'a target whose ACL refuses us: not reachable',
  );
  const st3 = await src.command(copyStatusCdb(3), { lun: 1, read: 1024 });
  t.equal(st3.data[4], 0x02, 'RECEIVE COPY RESULTS: completed with errors');
  await src.logout();
  await other.logout();
});
