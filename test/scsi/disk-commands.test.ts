// The commands added for the full SBC engine, driven through createDisk() like the transport does.
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import t from 'tap';
import { PR_METADATA_KEY } from '../../src/scsi/pr-state';
import type { BackingStore } from '../../src/backing/backing-store';
import { MemStore } from '../../src/backing/mem';
import type { Disk } from '../../src/scsi/disk';
import { parseSense } from '../../src/scsi/sense';
import type { ScsiResult, ScsiTask } from '../../src/scsi/scsi-types';
import { BLOCKS, BS, NAA, hex, makeDisk, nexus, sense, task } from './disk-harness';

const cdb16 = (op: number, lba: number | bigint, n: number, b1 = 0): Buffer => {
  const c = Buffer.alloc(16);
  c[0] = op;
  c[1] = b1;
  c.writeBigUInt64BE(BigInt(lba), 2);
  c.writeUInt32BE(n, 10);
  return c;
};
const caw = (lba: number | bigint, n: number, b1 = 0): Buffer => {
  const c = Buffer.alloc(16);
  c[0] = 0x89;
  c[1] = b1;
  c.writeBigUInt64BE(BigInt(lba), 2);
  c[13] = n;
  return c;
};
const block = (v: number, n = 1): Buffer => Buffer.alloc(n * BS, v);
const read = async (d: Disk, lba: number, n: number): Promise<Buffer> =>
  (await d.execute(task(cdb16(0x88, lba, n)))).dataIn!;

t.test('COMPARE AND WRITE', async (t) => {
  const d = await makeDisk();
  await d.execute(task(cdb16(0x8a, 10, 2), { dataOut: block(0x41, 2) }));
  const ok = await d.execute(task(caw(10, 2), { dataOut: Buffer.concat([block(0x41, 2), block(0x42, 2)]) }));
  t.equal(ok.status, 0);
  t.same(await read(d, 10, 2), block(0x42, 2));
  const cmp = block(0x42, 2);
  cmp[700] = 0x00;
  const mis = await d.execute(task(caw(10, 2), { dataOut: Buffer.concat([cmp, block(0x43, 2)]) }));
  t.same(sense(mis), [0x0e, 0x1d, 0x00]);
  t.equal(parseSense(mis.sense!).information, 700, 'INFORMATION = offset of the first differing byte');
  t.same(await read(d, 10, 2), block(0x42, 2), 'nothing written on miscompare');
  const cases: Array<[string, ScsiTask, [number, number, number]]> = [
    ['129 blocks (over the limit)', task(caw(0, 129), { dataOut: block(0, 258) }), [5, 0x24, 0]],
    ['256 blocks wraps to 0 with data', task(caw(0, 0), { dataOut: block(0, 512) }), [5, 0x24, 0]],
    ['LBA past the end', task(caw(BLOCKS, 1), { dataOut: block(0, 2) }), [5, 0x21, 0]],
    ['LBA+len overflows 64 bits', task(caw(0xffffffffffffffffn, 2), { dataOut: block(0, 4) }), [5, 0x21, 0]],
    ['data-out too short', task(caw(0, 2), { dataOut: block(0, 3) }), [5, 0x0e, 0x03]],
    ['data-out too long', task(caw(0, 1), { dataOut: block(0, 4) }), [5, 0x0e, 0x03]],
    ['WRPROTECT', task(caw(0, 1, 0x20), { dataOut: block(0, 2) }), [5, 0x24, 0]],
    ['reserved bit 1.0', task(caw(0, 1, 0x01), { dataOut: block(0, 2) }), [5, 0x24, 0]],
  ];
  for (const [name, tk, code] of cases) t.same(sense(await d.execute(tk)), code, name);
  t.equal((await d.execute(task(caw(0, 0)))).status, 0, '0 blocks, no data: nothing to do');
  const ro = await makeDisk({ readonly: true });
  t.same(sense(await ro.execute(task(caw(0, 1), { dataOut: block(0, 2) }))), [7, 0x27, 0]);
});

t.test('COMPARE AND WRITE is atomic against other writes to its blocks', async (t) => {
  const mem = new MemStore(BLOCKS * BS, false);
  let gate: (() => void) | undefined;
  const slow: BackingStore = Object.create(mem) as BackingStore;
  slow.read = async (o, l) => {
    const r = await mem.read(o, l);
    if (gate === undefined) await new Promise<void>((res) => (gate = res));
    return r;
  };
  const d = await makeDisk({}, slow);
  gate = () => undefined; // let the setup reads through
  await d.execute(task(cdb16(0x8a, 5, 1), { dataOut: block(0x11) }));
  gate = undefined;
  const c = d.execute(task(caw(5, 1), { dataOut: Buffer.concat([block(0x11), block(0x22)]) }));
  await new Promise((r) => setImmediate(r));
  const w = d.execute(task(cdb16(0x8a, 5, 1), { dataOut: block(0x33), id: 2 }));
  await new Promise((r) => setImmediate(r));
  t.same(await mem.read(5 * BS, BS), block(0x11), 'the overlapping WRITE waits for the compare');
  gate!();
  t.equal((await c).status, 0);
  t.equal((await w).status, 0);
  t.same(await mem.read(5 * BS, BS), block(0x33), 'WRITE landed after COMPARE AND WRITE');
});

t.test('ORWRITE, WRITE AND VERIFY, PRE-FETCH', async (t) => {
  const d = await makeDisk();
  await d.execute(task(cdb16(0x8a, 0, 1), { dataOut: block(0x0f) }));
  t.equal((await d.execute(task(cdb16(0x8b, 0, 1), { dataOut: block(0xf0) }))).status, 0);
  t.same(await read(d, 0, 1), block(0xff));
  t.same(
    sense(await d.execute(task(cdb16(0x8b, 0, 1, 0x20), { dataOut: block(0) }))),
    [5, 0x24, 0],
    'ORPROTECT',
  );
  t.same(sense(await d.execute(task(cdb16(0x8b, BLOCKS, 1), { dataOut: block(0) }))), [5, 0x21, 0]);
  for (const op of [0x2e, 0xae, 0x8e]) {
    const c = Buffer.alloc(16);
    c[0] = op;
    c[1] = 0x02; // BYTCHK
    if (op === 0x2e) c.writeUInt16BE(1, 7);
    else if (op === 0xae) c.writeUInt32BE(1, 6);
    else c.writeUInt32BE(1, 10);
    c.writeUInt32BE(op === 0x8e ? 0 : 7, op === 0x8e ? 6 : 2);
    t.equal(
      (await d.execute(task(c, { dataOut: block(op) }))).status,
      0,
      `WRITE AND VERIFY ${op.toString(16)}`,
    );
    c[1] = 0x22; // WRPROTECT
    t.same(sense(await d.execute(task(c, { dataOut: block(op) }))), [5, 0x24, 0]);
  }
  t.same(await read(d, 7, 1), block(0xae));
  const pf10 = hex('34 00 000007ff 00 0001 00');
  t.equal((await d.execute(task(pf10))).status, 0);
  t.same(sense(await d.execute(task(hex('34 00 000007ff 00 0002 00')))), [5, 0x21, 0]);
  t.same(sense(await d.execute(task(hex('34 01 00000000 00 0001 00')))), [5, 0x24, 0], 'reserved bit');
  t.same(
    sense(await d.execute(task(cdb16(0x90, 0xffffffffffffffffn, 2)))),
    [5, 0x21, 0],
    'PRE-FETCH 16 overflow',
  );
});

t.test('READ DEFECT DATA and GET LBA STATUS', async (t) => {
  const d = await makeDisk();
  const r10 = await d.execute(task(hex('37 00 18 000000 00 0004 00')));
  t.same(r10.dataIn, hex('00180000'));
  for (let alloc = 0; alloc <= 6; alloc++) {
    const r = await d.execute(task(hex(`37 00 0d 000000 00 ${alloc.toString(16).padStart(4, '0')} 00`)));
    t.same(r.dataIn, hex('000d0000').subarray(0, alloc), `alloc ${alloc}`);
  }
  t.same((await d.execute(task(hex('b7 18 00000000 00000010 00 00')))).dataIn, hex('0018000000000000'));
  t.same(sense(await d.execute(task(hex('37 01 00 000000 00 0004 00')))), [5, 0x24, 0]);

  await d.execute(task(cdb16(0x8a, 0x800, 0), {})); // no-op
  await d.execute(task(cdb16(0x8a, 4096 / BS, 1), { dataOut: block(1) }));
  const gls = (lba: number | bigint, alloc: number): Buffer => {
    const c = cdb16(0x9e, lba, alloc);
    c[1] = 0x12;
    return c;
  };
  // mem allocates 1 MiB extents: blocks 0..2047 are all in extent 0, which is now mapped.
  const st = await d.execute(task(gls(0, 24)));
  t.same(st.dataIn, hex('00000014 00000000 0000000000000000 00000800 00 000000'));
  const un = await d.execute(task(gls(0, 1000)));
  t.equal(un.dataIn!.length, 24);
  t.same(sense(await d.execute(task(gls(BLOCKS, 24)))), [5, 0x21, 0]);
  t.same(sense(await d.execute(task(gls(0xffffffffffffffffn, 24)))), [5, 0x21, 0]);
  t.same((await d.execute(task(gls(0, 4)))).dataIn, hex('00000014'), 'truncated to allocation length');
});

t.test('REPORT SUPPORTED OPERATION CODES', async (t) => {
  const d = await makeDisk();
  const rsoc = (opts: number, op = 0, sa = 0, alloc = 65535): Buffer => {
    const c = Buffer.alloc(12);
    c[0] = 0xa3;
    c[1] = 0x0c;
    c[2] = opts;
    c[3] = op;
    c.writeUInt16BE(sa, 4);
    c.writeUInt32BE(alloc, 6);
    return c;
  };
  const all = (await d.execute(task(rsoc(0)))).dataIn!;
  const n = all.readUInt32BE(0) / 8;
  const ops = new Set<number>();
  for (let i = 0; i < n; i++) ops.add(all[4 + 8 * i]);
  for (const op of [0x00, 0x28, 0x2a, 0x5e, 0x5f, 0x89, 0x8b, 0x83, 0x84, 0xa0])
    t.ok(ops.has(op), `lists ${op}`);
  t.same((await d.execute(task(rsoc(1, 0x28)))).dataIn, hex('0003000a 28 1a ffffffff 1f ffff 00'));
  t.same((await d.execute(task(rsoc(2, 0x9e, 0x10)))).dataIn!.subarray(0, 6), hex('00030010 9e10'));
  t.same((await d.execute(task(rsoc(1, 0xc0)))).dataIn, hex('00010000'), 'unsupported opcode');
  t.same(sense(await d.execute(task(rsoc(1, 0x9e)))), [5, 0x24, 0], 'one-command form for an SA opcode');
  t.same(sense(await d.execute(task(rsoc(2, 0x28)))), [5, 0x24, 0], 'SA form for a non-SA opcode');
  t.same(sense(await d.execute(task(rsoc(7)))), [5, 0x24, 0], 'reporting options 7');
  const rctd = (await d.execute(task(rsoc(0x81, 0x28)))).dataIn!;
  t.equal(rctd[1], 0x83);
  t.same(rctd.subarray(14), hex('000a 0000 00000000 00000000'));
  t.same((await d.execute(task(rsoc(0, 0, 0, 3)))).dataIn, all.subarray(0, 3));
});

t.test('EXTENDED COPY and RECEIVE COPY RESULTS', async (t) => {
  const d = await makeDisk();
  await d.execute(task(cdb16(0x8a, 0, 4), { dataOut: block(0x5a, 4) }));
  const target = (naa: Buffer, nul = false): Buffer => {
    const b = Buffer.alloc(32);
    b[0] = 0xe4;
    b[1] = nul ? 0x20 : 0;
    b[4] = 0x01;
    b[5] = 0x03;
    b[7] = naa.length;
    naa.copy(b, 8);
    b.writeUIntBE(BS, 29, 3);
    return b;
  };
  const seg = (blocks: number, src: number, dst: number, srcIdx = 0, dstIdx = 0): Buffer => {
    const b = Buffer.alloc(28);
    b[0] = 0x02;
    b.writeUInt16BE(24, 2);
    b.writeUInt16BE(srcIdx, 4);
    b.writeUInt16BE(dstIdx, 6);
    b.writeUInt16BE(blocks, 10);
    b.writeBigUInt64BE(BigInt(src), 12);
    b.writeBigUInt64BE(BigInt(dst), 20);
    return b;
  };
  const list = (listId: number, tds: Buffer[], sds: Buffer[]): Buffer => {
    const h = Buffer.alloc(16);
    h[0] = listId;
    const td = Buffer.concat(tds);
    const sd = Buffer.concat(sds);
    h.writeUInt16BE(td.length, 2);
    h.writeUInt32BE(sd.length, 8);
    return Buffer.concat([h, td, sd]);
  };
  const xcopy = (p: Buffer, plen = p.length): ScsiTask => {
    const c = Buffer.alloc(16);
    c[0] = 0x83;
    c.writeUInt32BE(plen, 10);
    return task(c, { dataOut: p });
  };
  const ok = await d.execute(xcopy(list(7, [target(NAA)], [seg(4, 0, 100)])));
  t.equal(ok.status, 0);
  t.same(await read(d, 100, 4), block(0x5a, 4));
  const rcr = (sa: number, listId: number): ScsiTask => {
    const c = Buffer.alloc(16);
    c[0] = 0x84;
    c[1] = sa;
    c[2] = listId;
    c.writeUInt32BE(1024, 10);
    return task(c);
  };
  t.same((await d.execute(rcr(0, 7))).dataIn, hex('00000008 01 0001 f1 00000004'));
  t.same(sense(await d.execute(rcr(0, 8))), [5, 0x24, 0], 'unknown list id');
  const op = (await d.execute(rcr(3, 0))).dataIn!;
  t.equal(op.readUInt16BE(8), 2);
  t.equal(op.readUInt16BE(10), 8);
  const p = list(1, [target(NAA)], [seg(1, 0, 1)]);
  const cases: Array<[string, ScsiTask, [number, number, number]]> = [
    ['truncated target descriptor', xcopy(p.subarray(0, 47), 47), [5, 0x1a, 0]],
    ['truncated segment descriptor', xcopy(p.subarray(0, p.length - 1), p.length - 1), [5, 0x1a, 0]],
    ['declared longer than sent', xcopy(p, p.length + 10), [5, 0x1a, 0]],
    [
      'too many targets',
      xcopy(list(1, [target(NAA), target(NAA), target(NAA)], [seg(1, 0, 1)])),
      [5, 0x26, 0x06],
    ],
    ['too many segments', xcopy(list(1, [target(NAA)], Array(9).fill(seg(1, 0, 1)))), [5, 0x26, 0x08]],
    [
      'list longer than the maximum',
      xcopy(list(1, [target(NAA), target(NAA), target(NAA)], Array(9).fill(seg(1, 0, 1)))),
      [5, 0x1a, 0],
    ],
    [
      'unsupported target type',
      xcopy(list(1, [Buffer.concat([hex('e0'), target(NAA).subarray(1)])], [seg(1, 0, 1)])),
      [5, 0x26, 0x07],
    ],
    [
      'unsupported segment type',
      xcopy(list(1, [target(NAA)], [Buffer.concat([hex('0a'), seg(1, 0, 1).subarray(1)])])),
      [5, 0x26, 0x09],
    ],
    [
      'another LU',
      xcopy(list(1, [target(hex('6002c754000000000000000000000099'))], [seg(1, 0, 1)])),
      [0x0a, 0x0d, 0x02],
    ],
    ['NUL target', xcopy(list(1, [target(NAA, true)], [seg(1, 0, 1)])), [0x0a, 0x0d, 0x02]],
    ['bad target index', xcopy(list(1, [target(NAA)], [seg(1, 0, 1, 0, 1)])), [0x0a, 0x0d, 0x02]],
    ['beyond the end', xcopy(list(1, [target(NAA)], [seg(2, 0, BLOCKS - 1)])), [0x0a, 0, 0]],
  ];
  for (const [name, tk, code] of cases) t.same(sense(await d.execute(tk)), code, name);
  t.equal((await d.execute(xcopy(Buffer.alloc(0), 0))).status, 0, 'parameter list length 0');
  t.equal((await d.execute(task(hex('12 01 8f 00ff 00')))).dataIn![1], 0x8f, 'VPD 0x8F');
});

t.test('START STOP UNIT and PREVENT ALLOW MEDIUM REMOVAL on a removable LU', async (t) => {
  const d = await makeDisk({ removable: true });
  const ssu = (b4: number): ScsiTask => task(hex(`1b 00 00 00 ${b4.toString(16).padStart(2, '0')} 00`));
  t.equal((await d.execute(ssu(0x02))).status, 0, 'eject');
  t.same(sense(await d.execute(task(hex('000000000000')))), [2, 0x3a, 0], 'no medium');
  t.equal((await d.execute(ssu(0x03))).status, 0, 'load');
  t.equal((await d.execute(task(hex('000000000000')))).status, 0);
  t.equal((await d.execute(task(hex('1e 00 00 00 01 00')))).status, 0, 'prevent');
  t.same(sense(await d.execute(ssu(0x02))), [5, 0x53, 0x02], 'eject prevented');
  d.nexusGone(nexus(1));
  t.same(sense(await d.execute(task(hex('000000000000')))), [6, 0x29, 0], 'a new nexus starts with POWER ON');
  t.equal((await d.execute(ssu(0x02))).status, 0, 'prevention ends with the nexus');
  t.same(sense(await d.execute(task(hex('1e 00 00 00 04 00')))), [5, 0x24, 0], 'reserved bits');
  t.same(sense(await d.execute(task(hex('1b 02 00 00 00 00')))), [5, 0x24, 0], 'reserved bits');
  const fixed = await makeDisk();
  t.equal((await fixed.execute(ssu(0x02))).status, 0, 'non-removable: accepted, nothing ejected');
  t.equal((await fixed.execute(task(hex('000000000000')))).status, 0);
});

const prout = (
  action: number,
  type: number,
  rk: bigint,
  sark: bigint,
  flags = 0,
): { cdb: Buffer; data: Buffer } => {
  const cdb = hex('5f 00 00 00000000 0018 00'.replace(/ /g, ''));
  cdb[1] = action;
  cdb[2] = type;
  cdb.writeUInt32BE(24, 5);
  const data = Buffer.alloc(24);
  data.writeBigUInt64BE(rk, 0);
  data.writeBigUInt64BE(sark, 8);
  data[20] = flags;
  return { cdb, data };
};

t.test('persistent reservations through the disk', async (t) => {
  const aborted: Array<[number[], number]> = [];
  const d = await makeDisk();
  const run = (id: number, p: { cdb: Buffer; data: Buffer }): Promise<ScsiResult> => {
    const tk = task(p.cdb, { id, dataOut: p.data });
    tk.abortTasks = async (ids, lun) => {
      aborted.push([ids, lun]);
    };
    return d.execute(tk);
  };
  t.equal((await run(1, prout(0, 0, 0n, 1n))).status, 0);
  t.equal((await run(2, prout(0, 0, 0n, 2n))).status, 0);
  t.equal((await run(1, prout(1, 5, 1n, 0n))).status, 0, 'WERO by nexus 1');
  t.equal(
    (await d.execute(task(cdb16(0x8a, 0, 1), { id: 3, dataOut: block(1) }))).status,
    0x18,
    'unregistered write',
  );
  t.equal((await d.execute(task(cdb16(0x88, 0, 1), { id: 3 }))).status, 0, 'unregistered read');
  t.equal(
    (await d.execute(task(cdb16(0x8a, 0, 1), { id: 2, dataOut: block(1) }))).status,
    0,
    'registrant write',
  );
  t.equal((await d.execute(task(hex('16 00 00 00 00 00'), { id: 3 }))).status, 0x18, 'RESERVE(6) vs PR');
  const pa = await run(1, prout(5, 1, 1n, 2n));
  t.equal(pa.status, 0, 'PREEMPT AND ABORT');
  t.same(aborted, [[[2], 1]]);
  t.same(
    sense(await d.execute(task(hex('000000000000'), { id: 2 }))),
    [6, 0x2a, 0x05],
    'REGISTRATIONS PREEMPTED',
  );
  // Key 2 was not the holder's: its registration went, the reservation stayed.
  t.same(d.persistentReservations().reservation, {
    type: 5,
    initiatorPortName: nexus(1).initiatorPortName,
    targetPortName: nexus(1).targetPortName,
  });
});

t.test('APTPL reservations survive a restart (stateDir)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pr-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new MemStore(BLOCKS * BS, false);
  const d1 = await makeDisk({ stateDir: dir }, store);
  const res = await d1.execute(
    task(prout(0, 0, 0n, 0xabcn, 0x01).cdb, { dataOut: prout(0, 0, 0n, 0xabcn, 0x01).data }),
  );
  t.equal(res.status, 0);
  const p = prout(1, 3, 0xabcn, 0n);
  t.equal((await d1.execute(task(p.cdb, { dataOut: p.data }))).status, 0);
  const file = join(dir, 'pr', `${NAA.toString('hex')}.json`);
  t.match(readFileSync(file, 'utf8'), /"abc"/);
  const d2 = await makeDisk({ stateDir: dir }, store);
  t.equal(d2.persistentReservations().reservation?.type, 3);
  t.equal(
    (await d2.execute(task(cdb16(0x88, 0, 1), { id: 2 }))).status,
    0x18,
    'still exclusive after restart',
  );
  t.equal((await d2.execute(task(cdb16(0x88, 0, 1), { id: 1 }))).status, 0, 'holder keeps access');
  // Without stateDir, APTPL is refused (PTPL_C = 0).
  const d3 = await makeDisk();
  const q = prout(0, 0, 0n, 1n, 0x01);
  t.same(sense(await d3.execute(task(q.cdb, { dataOut: q.data }))), [5, 0x26, 0]);
});

t.test('reservations kept with the volume when the store has metadata, whatever APTPL says', async (t) => {
  const records = new Map<string, string>();
  const saves: Array<string | undefined> = [];
  const metadata = {
    load: (key: string) => Promise.resolve(records.get(key)),
    save: (key: string, value: string | undefined) => {
      saves.push(value);
      if (value === undefined) records.delete(key);
      else records.set(key, value);
      return Promise.resolve();
    },
  };
  const base = new MemStore(BLOCKS * BS, false);
  const store: BackingStore = Object.assign(Object.create(base) as BackingStore, { metadata });
  const dir = mkdtempSync(join(tmpdir(), 'pr-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Volume metadata wins over the state dir: a second gateway on the same volume sees the state.
  const d1 = await makeDisk({ stateDir: dir }, store);
  const reg = prout(0, 0, 0n, 0x77n, 0x01);
  t.equal((await d1.execute(task(reg.cdb, { dataOut: reg.data }))).status, 0, 'REGISTER APTPL=1');
  const res = prout(1, 5, 0x77n, 0n);
  t.equal((await d1.execute(task(res.cdb, { dataOut: res.data }))).status, 0, 'RESERVE WERO');
  t.equal(saves.length, 2, 'each change saved');
  t.match(records.get(PR_METADATA_KEY), /"77"/);
  t.throws(() => readFileSync(join(dir, 'pr', `${NAA.toString('hex')}.json`)), 'no file in the state dir');
  const d2 = await makeDisk({}, store);
  t.equal(d2.persistentReservations().reservation?.type, 5, 'the other gateway loads it');
  await d2.execute(task(hex('000000000000'), { id: 3 })); // its power-on unit attention
  t.equal((await d2.execute(task(cdb16(0x8a, 0, 1), { id: 3, dataOut: block(1) }))).status, 0x18);
  // APTPL=0 keeps the record: the other gateways of the volume must still enforce the state.
  const off = prout(0, 0, 0x77n, 0x77n);
  t.equal((await d2.execute(task(off.cdb, { dataOut: off.data }))).status, 0);
  const kept = JSON.parse(records.get(PR_METADATA_KEY) ?? '{}') as { aptpl?: boolean; reservation?: unknown };
  t.same([kept.aptpl, kept.reservation !== null], [false, true], 'record kept with APTPL off');
  t.equal((await makeDisk({}, store)).persistentReservations().reservation?.type, 5, 'and loaded by a third');
});
