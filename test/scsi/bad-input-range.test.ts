// LBA and length limits for every form that addresses the medium (READ/WRITE 6/10/12/16, WRITE AND VERIFY,
// VERIFY, ORWRITE, COMPARE AND WRITE, WRITE SAME, PRE-FETCH, SYNCHRONIZE CACHE, GET LBA STATUS, UNMAP):
// SBC-3: LBA + length past the capacity (including a 64-bit LBA that would wrap) is ILLEGAL REQUEST /
// LOGICAL BLOCK ADDRESS OUT OF RANGE (05/21/00); a length over the Block Limits VPD maximum is INVALID
// FIELD IN CDB (05/24/00) at the length field (for UNMAP, INVALID FIELD IN PARAMETER LIST, 05/26/00); a
// rejected command writes nothing. The last block itself is reachable.
import t, { type Test } from 'tap';
import {
  BLOCKS,
  BS,
  cdb10,
  cdb12,
  cdb16,
  code,
  GOOD,
  INVALID_FIELD_IN_CDB,
  INVALID_FIELD_IN_PARAMETER_LIST,
  LBA_OUT_OF_RANGE,
  makeLu,
  senseOf,
  type Io,
  type Lu,
} from './bad-input-harness';

interface RangeForm {
  name: string;
  build(lba: bigint, blocks: number): { cdb: Buffer; io?: Io };
  /** Largest LBA the CDB can carry. */
  maxLba: bigint;
  /** Largest length the CDB can carry. */
  maxLength: number;
  /** Where a too-long length points, when the form has a maximum below what it can carry. */
  limit?: { blocks: number; byte: number };
  /** Compares the medium with the data-out: write the pattern there before a case that must pass. */
  compares?: boolean;
}

let vpdB0: Buffer;
const u32 = (at: number): number => vpdB0.readUInt32BE(at);

/** Data-out for `blocks` blocks (a rejected command may get less than it asks for: it never reads it). */
const PATTERN = Buffer.alloc(16 * 1024 * 1024 + 2 * 128 * BS, 0x3c);
const data = (blocks: number): Buffer => PATTERN.subarray(0, Math.min(blocks * BS, PATTERN.length));
const num = (v: bigint): number => Number(v);

function forms(): RangeForm[] {
  const maxTransfer = u32(8);
  const maxWriteSame = u32(40);
  const maxCaw = vpdB0[5];
  const out: RangeForm[] = [];
  const rw = (name: string, op: number, kind: 'read' | 'write' | 'verify', b1 = 0): void => {
    const group = op >> 5;
    const build = (lba: bigint, blocks: number): { cdb: Buffer; io?: Io } => {
      let cdb: Buffer;
      if (group === 0)
        cdb = Buffer.from([op, num(lba) >> 16, (num(lba) >> 8) & 0xff, num(lba) & 0xff, blocks & 0xff, 0]);
      else if (group === 4) cdb = cdb16(op, lba, blocks, b1);
      else if (group === 5) cdb = cdb12(op, num(lba), blocks, b1);
      else cdb = cdb10(op, num(lba), blocks, b1);
      const n = group === 0 && blocks === 0 ? 256 : blocks;
      const dataOut = kind === 'write' || b1 === 0x02 ? data(n) : undefined;
      return { cdb, io: dataOut ? { dataOut } : {} };
    };
    const maxLba = group === 0 ? 0x1fffffn : group === 4 ? 2n ** 64n - 1n : 0xffffffffn;
    const maxLength = group === 0 ? 255 : group === 1 || group === 2 ? 0xffff : 0xffffffff;
    const lengthByte = group === 0 ? 4 : group === 4 ? 10 : group === 5 ? 6 : 7;
    out.push({
      name,
      build,
      maxLba,
      maxLength,
      compares: b1 === 0x02,
      limit: maxTransfer < maxLength ? { blocks: maxTransfer + 1, byte: lengthByte } : undefined,
    });
  };
  for (const [op, name] of [
    [0x08, 'READ(6)'],
    [0x28, 'READ(10)'],
    [0xa8, 'READ(12)'],
    [0x88, 'READ(16)'],
  ] as const)
    rw(name, op, 'read');
  for (const [op, name] of [
    [0x0a, 'WRITE(6)'],
    [0x2a, 'WRITE(10)'],
    [0xaa, 'WRITE(12)'],
    [0x8a, 'WRITE(16)'],
    [0x2e, 'WRITE AND VERIFY(10)'],
    [0xae, 'WRITE AND VERIFY(12)'],
    [0x8e, 'WRITE AND VERIFY(16)'],
    [0x8b, 'ORWRITE(16)'],
  ] as const)
    rw(name, op, 'write');
  for (const [op, name] of [
    [0x2f, 'VERIFY(10)'],
    [0xaf, 'VERIFY(12)'],
    [0x8f, 'VERIFY(16)'],
  ] as const) {
    rw(`${name} BYTCHK=0`, op, 'verify');
    rw(`${name} BYTCHK=1`, op, 'verify', 0x02);
  }
  out.push({
    name: 'COMPARE AND WRITE',
    build: (lba, blocks) => {
      const cdb = cdb16(0x89, lba, 0);
      cdb[13] = blocks;
      return { cdb, io: { dataOut: data(2 * blocks) } };
    },
    maxLba: 2n ** 64n - 1n,
    maxLength: 255,
    limit: { blocks: maxCaw + 1, byte: 13 },
    compares: true,
  });
  out.push({
    name: 'WRITE SAME(10)',
    build: (lba, blocks) => ({ cdb: cdb10(0x41, num(lba), blocks), io: { dataOut: data(1) } }),
    maxLba: 0xffffffffn,
    maxLength: 0xffff,
    limit: { blocks: maxWriteSame + 1, byte: 7 },
  });
  out.push({
    name: 'WRITE SAME(16)',
    build: (lba, blocks) => ({ cdb: cdb16(0x93, lba, blocks), io: { dataOut: data(1) } }),
    maxLba: 2n ** 64n - 1n,
    maxLength: 0xffffffff,
    limit: { blocks: maxWriteSame + 1, byte: 10 },
  });
  for (const [op, name] of [
    [0x34, 'PRE-FETCH(10)'],
    [0x35, 'SYNCHRONIZE CACHE(10)'],
  ] as const)
    out.push({
      name,
      build: (lba, n) => ({ cdb: cdb10(op, num(lba), n) }),
      maxLba: 0xffffffffn,
      maxLength: 0xffff,
    });
  for (const [op, name] of [
    [0x90, 'PRE-FETCH(16)'],
    [0x91, 'SYNCHRONIZE CACHE(16)'],
  ] as const)
    out.push({
      name,
      build: (lba, n) => ({ cdb: cdb16(op, lba, n) }),
      maxLba: 2n ** 64n - 1n,
      maxLength: 0xffffffff,
    });
  return out;
}

async function expectRejected(
  t: Test,
  lu: Lu,
  what: string,
  cdb: Buffer,
  io: Io | undefined,
  want: string,
): Promise<void> {
  const before = lu.store.changes.length;
  const r = await lu.run(cdb, io);
  t.equal(code(r), want, what);
  t.equal(lu.store.changes.length, before, `${what}: nothing written`);
}

t.before(async () => {
  const lu = await makeLu();
  vpdB0 = (await lu.run([0x12, 1, 0xb0, 0, 0xff, 0])).dataIn!;
});

t.test('LBA and length past the capacity, 64-bit wrap, lengths over the Block Limits', async (t) => {
  const lu = await makeLu();
  const cap = BigInt(BLOCKS);
  t.equal(vpdB0.readUInt32BE(8) < BLOCKS, true, 'the LU is larger than MAXIMUM TRANSFER LENGTH');
  const fill = async (lba: bigint, blocks: number): Promise<void> => {
    const r = await lu.run(cdb16(0x8a, lba, blocks), { dataOut: data(blocks) });
    if (r.status !== 0) throw new Error(`filling ${lba}+${blocks}: ${code(r)}`);
  };
  for (const f of forms()) {
    if (f.compares) await fill(cap - 1n, 1);
    const last = f.build(cap - 1n, 1);
    t.equal(code(await lu.run(last.cdb, last.io)), GOOD, `${f.name}: the last block`);
    const cases: Array<[string, bigint, number]> = [
      ['first LBA past the end', cap, 1],
      ['last block + 1', cap - 1n, 2],
      ['largest LBA', f.maxLba, 1],
    ];
    if (f.maxLba > cap + 1n) cases.push(['LBA past the end, 0 blocks', cap + 1n, 0]);
    if (f.maxLba === 2n ** 64n - 1n) {
      cases.push(
        ['64-bit wrap', 2n ** 64n - 1n, 2],
        ['LBA 2^63', 2n ** 63n, 1],
        ['LBA 2^53+1', 2n ** 53n + 1n, 1],
      );
    }
    if (f.maxLength > BLOCKS) cases.push(['length past the end', 0n, BLOCKS + 1]);
    for (const [what, lba, blocks] of cases) {
      if (lba > f.maxLba || (what === 'largest LBA' && f.maxLba < cap)) continue; // the CDB cannot say it
      if (f.name.startsWith('WRITE SAME') && blocks === 0) continue; // WSNZ: 0 blocks is its own error
      if ((f.name.startsWith('PRE-FETCH') || f.name.startsWith('SYNCHRONIZE')) && blocks === 0) continue; // 0: to the end
      const c = f.build(lba, blocks);
      await expectRejected(t, lu, `${f.name}: ${what}`, c.cdb, c.io, LBA_OUT_OF_RANGE);
    }
    if (f.limit) {
      const c = f.build(0n, f.limit.blocks);
      const before = lu.store.changes.length;
      const r = await lu.run(c.cdb, c.io);
      t.equal(code(r), INVALID_FIELD_IN_CDB, `${f.name}: ${f.limit.blocks} blocks is over the limit`);
      t.match(senseOf(r)?.field, { inCdb: true, byte: f.limit.byte }, `${f.name}: points at the length`);
      t.equal(lu.store.changes.length, before, `${f.name}: over the limit writes nothing`);
      if (f.compares) await fill(0n, f.limit.blocks - 1);
      const ok = f.build(0n, f.limit.blocks - 1);
      t.equal(code(await lu.run(ok.cdb, ok.io)), GOOD, `${f.name}: ${f.limit.blocks - 1} blocks is fine`);
    }
  }
  const wrote = lu.store.changes.filter((c) => {
    const [off, len] = c.split(' ')[1].split('+').map(Number);
    return off + len > BLOCKS * BS;
  });
  t.same(wrote, [], 'no change ever reached past the capacity');
});

t.test('GET LBA STATUS: a starting LBA past the last block is LBA OUT OF RANGE', async (t) => {
  const lu = await makeLu();
  const gls = (lba: bigint): Buffer => {
    const c = cdb16(0x9e, lba, 0x100, 0x12);
    return c;
  };
  t.equal(code(await lu.run(gls(BigInt(BLOCKS - 1)))), GOOD, 'the last block');
  for (const lba of [BigInt(BLOCKS), BigInt(BLOCKS) + 1n, 2n ** 63n, 2n ** 64n - 1n])
    t.equal(code(await lu.run(gls(lba))), LBA_OUT_OF_RANGE, `LBA ${lba}`);
});

function unmapList(descriptors: Array<[bigint, number]>): Buffer {
  const b = Buffer.alloc(8 + 16 * descriptors.length);
  b.writeUInt16BE(b.length - 2, 0);
  b.writeUInt16BE(16 * descriptors.length, 2);
  descriptors.forEach(([lba, n], i) => {
    b.writeBigUInt64BE(lba, 8 + 16 * i);
    b.writeUInt32BE(n, 16 + 16 * i);
  });
  return b;
}

const unmapCdb = (plen: number): Buffer => Buffer.from([0x42, 0, 0, 0, 0, 0, 0, plen >> 8, plen & 0xff, 0]);

t.test(
  'UNMAP: descriptors past the end, over MAXIMUM UNMAP LBA COUNT or DESCRIPTOR COUNT; none applied',
  async (t) => {
    const lu = await makeLu();
    const maxLbas = u32(20);
    const maxDescriptors = u32(24);
    t.ok(maxLbas > 0 && maxLbas < BLOCKS, `MAXIMUM UNMAP LBA COUNT ${maxLbas} is below the capacity`);
    // Mark the first block so we can see it is still mapped after each rejected list.
    await lu.run(cdb10(0x2a, 0, 1), { dataOut: Buffer.alloc(BS, 9) });
    const cases: Array<[string, Array<[bigint, number]>, string]> = [
      ['last block', [[BigInt(BLOCKS - 1), 1]], GOOD],
      [
        'first LBA past the end',
        [
          [0n, 1],
          [BigInt(BLOCKS), 1],
        ],
        LBA_OUT_OF_RANGE,
      ],
      [
        'last block + 1',
        [
          [0n, 1],
          [BigInt(BLOCKS - 1), 2],
        ],
        LBA_OUT_OF_RANGE,
      ],
      [
        '64-bit wrap',
        [
          [0n, 1],
          [2n ** 64n - 1n, 2],
        ],
        LBA_OUT_OF_RANGE,
      ],
      [
        'over MAXIMUM UNMAP LBA COUNT',
        [
          [0n, 1],
          [0n, maxLbas + 1],
        ],
        INVALID_FIELD_IN_PARAMETER_LIST,
      ],
      [
        'over MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT',
        Array.from({ length: maxDescriptors + 1 }, (_, i) => [BigInt(i), 1] as [bigint, number]),
        INVALID_FIELD_IN_PARAMETER_LIST,
      ],
    ];
    for (const [what, list, want] of cases) {
      const p = unmapList(list);
      const before = lu.store.changes.length;
      t.equal(code(await lu.run(unmapCdb(p.length), { dataOut: p })), want, what);
      if (want !== GOOD) {
        t.equal(lu.store.changes.length, before, `${what}: no descriptor applied`);
        const r = await lu.run(cdb10(0x28, 0, 1));
        t.same(r.dataIn, Buffer.alloc(BS, 9), `${what}: block 0 still holds its data`);
      }
    }
  },
);
