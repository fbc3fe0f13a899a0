// Parameter lists shorter or longer than declared, and data-out that does not match the CDB:
// - UNMAP (SBC-3 5.28), MODE SELECT 6/10 (SPC-4 6.11/6.12), PERSISTENT RESERVE OUT (SPC-4 6.16.3),
//   EXTENDED COPY (SPC-4 6.4): a PARAMETER LIST LENGTH that truncates a header, block descriptor, page or
//   descriptor, or a list shorter than that length, is PARAMETER LIST LENGTH ERROR (05/1A/00); a wrong
//   length inside the list (a mode page length) is INVALID FIELD IN PARAMETER LIST (05/26/00) pointing
//   at it; UNMAP ignores an incomplete last block descriptor; bytes past the PARAMETER LIST LENGTH are
//   not part of the list.
// - SEND DIAGNOSTIC (SPC-4 6.32), LOG SELECT (SPC-4 6.6), FORMAT UNIT (SBC-3 5.3; its list length comes from
//   its own header): the same rules; a page or parameter we do not have, or one that cannot be changed,
//   is INVALID FIELD IN PARAMETER LIST pointing at it.
// - WRITE SAME and COMPARE AND WRITE carry blocks, not a parameter list: data-out of another size than the
//   CDB implies is INVALID FIELD IN COMMAND INFORMATION UNIT (05/0E/03), as LIO answers for data CDBs.
// Nothing changes on a rejected list: medium, reservations, mode pages.
import t, { type Test } from 'tap';
import {
  BS,
  cdb10,
  cdb16,
  code,
  GOOD,
  INVALID_FIELD_IN_INFORMATION_UNIT,
  INVALID_FIELD_IN_PARAMETER_LIST,
  KEY1,
  makeLu,
  PARAMETER_LIST_LENGTH_ERROR,
  prout,
  registerBoth,
  senseOf,
  xcopyCdb,
  xcopyList,
  type Io,
  type Lu,
} from './bad-input-harness';

async function rejected(t: Test, lu: Lu, what: string, cdb: Buffer, io: Io, want: string): Promise<void> {
  const before = lu.snapshot();
  const r = await lu.run(cdb, io);
  t.equal(code(r), want, what);
  t.equal(lu.snapshot(), before, `${what}: nothing changed`);
}

const unmapCdb = (plen: number): Buffer => Buffer.from([0x42, 0, 0, 0, 0, 0, 0, plen >> 8, plen & 0xff, 0]);

function unmapList(descriptors: Array<[number, number]>, bdLength = 16 * descriptors.length): Buffer {
  const b = Buffer.alloc(8 + 16 * descriptors.length);
  b.writeUInt16BE(6 + bdLength, 0);
  b.writeUInt16BE(bdLength, 2);
  descriptors.forEach(([lba, n], i) => {
    b.writeBigUInt64BE(BigInt(lba), 8 + 16 * i);
    b.writeUInt32BE(n, 16 + 16 * i);
  });
  return b;
}

/** Write a marker into blocks 0..3 and report which of them still hold it. */
async function marked(lu: Lu): Promise<boolean[]> {
  const out: boolean[] = [];
  for (let lba = 0; lba < 4; lba++) {
    const r = await lu.run(cdb10(0x28, lba, 1));
    out.push(r.dataIn!.equals(Buffer.alloc(BS, 0xa5)));
  }
  return out;
}

async function markedLu(): Promise<Lu> {
  const lu = await makeLu();
  await lu.run(cdb10(0x2a, 0, 4), { dataOut: Buffer.alloc(4 * BS, 0xa5) });
  return lu;
}

t.test('UNMAP parameter lists', async (t) => {
  const lu = await markedLu();
  const one = unmapList([[0, 1]]);
  for (let plen = 1; plen < 8; plen++)
    await rejected(
      t,
      lu,
      `PARAMETER LIST LENGTH ${plen}`,
      unmapCdb(plen),
      { dataOut: one.subarray(0, plen) },
      PARAMETER_LIST_LENGTH_ERROR,
    );
  await rejected(
    t,
    lu,
    'list shorter than its PARAMETER LIST LENGTH',
    unmapCdb(24),
    { dataOut: one.subarray(0, 16) },
    PARAMETER_LIST_LENGTH_ERROR,
  );
  t.same(await marked(lu), [true, true, true, true], 'nothing unmapped so far');

  t.equal(code(await lu.run(unmapCdb(0))), GOOD, 'PARAMETER LIST LENGTH 0: nothing to do, not an error');
  // A BLOCK DESCRIPTOR DATA LENGTH that is not a multiple of 16: the incomplete last descriptor is ignored.
  const partial = Buffer.concat([unmapList([[1, 1]], 20), Buffer.from([0, 0, 0, 0])]);
  t.equal(
    code(await lu.run(unmapCdb(partial.length), { dataOut: partial })),
    GOOD,
    'incomplete descriptor ignored',
  );
  t.same(await marked(lu), [true, false, true, true], 'only the complete descriptor applied');
  // Bytes past the PARAMETER LIST LENGTH are not part of the list, whatever the header says.
  const two = unmapList([
    [2, 1],
    [3, 1],
  ]);
  t.equal(code(await lu.run(unmapCdb(24), { dataOut: two })), GOOD, 'longer data-out than the list');
  t.same(await marked(lu), [true, false, false, true], 'the descriptor past the list is not applied');
});

/** The current control mode page (0x0A) with D_SENSE set: a change MODE SELECT would apply. */
async function controlPageWithDsense(lu: Lu): Promise<Buffer> {
  const r = await lu.run([0x1a, 0x08, 0x0a, 0, 0xff, 0]);
  const page = Buffer.from(r.dataIn!.subarray(4, 4 + 2 + r.dataIn![5]));
  page[0] &= 0x3f;
  page[2] |= 0x04;
  return page;
}

function modeSelectCdb(ten: boolean, plen: number): Buffer {
  return ten
    ? Buffer.from([0x55, 0x10, 0, 0, 0, 0, 0, plen >> 8, plen & 0xff, 0])
    : Buffer.from([0x15, 0x10, 0, 0, plen, 0]);
}

for (const ten of [false, true]) {
  const name = ten ? 'MODE SELECT(10)' : 'MODE SELECT(6)';
  t.test(`${name} parameter lists`, async (t) => {
    const lu = await makeLu();
    const page = await controlPageWithDsense(lu);
    const header = Buffer.alloc(ten ? 8 : 4);
    const bd = Buffer.alloc(8);
    bd.writeUInt32BE(0, 0);
    bd.writeUIntBE(BS, 5, 3);
    const withBd = Buffer.from(header);
    if (ten) withBd.writeUInt16BE(8, 6);
    else withBd[3] = 8;
    const list = Buffer.concat([header, page]);
    const listBd = Buffer.concat([withBd, bd, page]);
    for (let plen = 1; plen < header.length; plen++)
      await rejected(
        t,
        lu,
        `${name}: header truncated at ${plen}`,
        modeSelectCdb(ten, plen),
        { dataOut: list.subarray(0, plen) },
        PARAMETER_LIST_LENGTH_ERROR,
      );
    const cut = (l: Buffer, n: number): [Buffer, Io] => [
      modeSelectCdb(ten, n),
      { dataOut: l.subarray(0, n) },
    ];
    await rejected(
      t,
      lu,
      `${name}: block descriptor truncated`,
      ...cut(listBd, withBd.length + 4),
      PARAMETER_LIST_LENGTH_ERROR,
    );
    await rejected(
      t,
      lu,
      `${name}: page header truncated`,
      ...cut(list, header.length + 1),
      PARAMETER_LIST_LENGTH_ERROR,
    );
    await rejected(
      t,
      lu,
      `${name}: page truncated`,
      ...cut(list, list.length - 1),
      PARAMETER_LIST_LENGTH_ERROR,
    );
    await rejected(
      t,
      lu,
      `${name}: page truncated after a block descriptor`,
      ...cut(listBd, listBd.length - 3),
      PARAMETER_LIST_LENGTH_ERROR,
    );
    // A whole valid page followed by a truncated one: nothing is applied, not even the valid page.
    const twice = Buffer.concat([list, page.subarray(0, 5)]);
    await rejected(
      t,
      lu,
      `${name}: second page truncated`,
      ...cut(twice, twice.length),
      PARAMETER_LIST_LENGTH_ERROR,
    );
    await rejected(
      t,
      lu,
      `${name}: data-out shorter than the list`,
      modeSelectCdb(ten, list.length),
      { dataOut: list.subarray(0, list.length - 2) },
      PARAMETER_LIST_LENGTH_ERROR,
    );
    // A page longer (or shorter) than the device's: INVALID FIELD IN PARAMETER LIST at the PAGE LENGTH.
    for (const delta of [1, -1]) {
      const bad = Buffer.from(list);
      bad[header.length + 1] += delta;
      const before = lu.snapshot();
      const r = await lu.run(modeSelectCdb(ten, bad.length), { dataOut: bad });
      t.equal(
        code(r),
        INVALID_FIELD_IN_PARAMETER_LIST,
        `${name}: page length ${delta > 0 ? 'longer' : 'shorter'}`,
      );
      t.match(senseOf(r)?.field, { inCdb: false, byte: header.length + 1 }, 'points at the PAGE LENGTH');
      t.equal(lu.snapshot(), before, 'nothing changed');
    }
    t.equal(lu.disk.modeState().dsense, false, 'D_SENSE still off');
    // The same list, whole, is accepted (so the rejections above were about the lengths).
    t.equal(
      code(await lu.run(modeSelectCdb(ten, listBd.length), { dataOut: listBd })),
      GOOD,
      `${name}: whole list`,
    );
    t.equal(lu.disk.modeState().dsense, true, 'D_SENSE applied');
  });
}

t.test('PERSISTENT RESERVE OUT parameter lists other than 24 bytes', async (t) => {
  const lu = await makeLu();
  await registerBoth(lu);
  const p = prout(1, 0x01, KEY1, 0n); // RESERVE, WRITE EXCLUSIVE
  for (const sa of [0, 1, 2, 3, 4, 5, 6]) {
    for (const plen of [0, 1, 23, 25, 28, 0x100]) {
      const cdb = Buffer.from(p.cdb);
      cdb[1] = sa;
      cdb.writeUInt32BE(plen, 5);
      const dataOut = Buffer.concat([p.dataOut, Buffer.alloc(Math.max(0, plen - 24))]).subarray(0, plen);
      await rejected(
        t,
        lu,
        `SA ${sa} PARAMETER LIST LENGTH ${plen}`,
        cdb,
        { dataOut },
        PARAMETER_LIST_LENGTH_ERROR,
      );
    }
    const cdb = Buffer.from(p.cdb);
    cdb[1] = sa;
    await rejected(
      t,
      lu,
      `SA ${sa} data-out shorter than 24`,
      cdb,
      { dataOut: p.dataOut.subarray(0, 20) },
      PARAMETER_LIST_LENGTH_ERROR,
    );
  }
  t.equal(code(await lu.run(p.cdb, { dataOut: p.dataOut })), GOOD, 'the 24-byte list is accepted');
  t.ok(lu.disk.persistentReservations().reservation, 'and reserves');
});

t.test('EXTENDED COPY parameter lists', async (t) => {
  const lu = await markedLu();
  const list = xcopyList(3, 0, 100, 1);
  t.equal(list.length, 76);
  for (let plen = 1; plen < 16; plen++)
    await rejected(
      t,
      lu,
      `PARAMETER LIST LENGTH ${plen}`,
      xcopyCdb(plen),
      { dataOut: list.subarray(0, plen) },
      PARAMETER_LIST_LENGTH_ERROR,
    );
  await rejected(
    t,
    lu,
    'segment descriptor cut by the PARAMETER LIST LENGTH',
    xcopyCdb(70),
    { dataOut: list.subarray(0, 70) },
    PARAMETER_LIST_LENGTH_ERROR,
  );
  const shortSeg = Buffer.from(list.subarray(0, 68));
  shortSeg.writeUInt32BE(20, 8); // SEGMENT DESCRIPTOR LIST LENGTH ends inside the descriptor
  await rejected(
    t,
    lu,
    'segment descriptor list shorter than its descriptor',
    xcopyCdb(68),
    { dataOut: shortSeg },
    PARAMETER_LIST_LENGTH_ERROR,
  );
  await rejected(
    t,
    lu,
    'data-out shorter than the list',
    xcopyCdb(76),
    { dataOut: list.subarray(0, 60) },
    PARAMETER_LIST_LENGTH_ERROR,
  );
  t.equal(code(await lu.run(xcopyCdb(0))), GOOD, 'PARAMETER LIST LENGTH 0: nothing to do, not an error');
  t.equal(code(await lu.run(xcopyCdb(76), { dataOut: list })), GOOD, 'the whole list copies');
  const r = await lu.run(cdb10(0x28, 100, 1));
  t.same(r.dataIn, Buffer.alloc(BS, 0xa5), 'block 0 copied to 100');
});

t.test('WRITE SAME and COMPARE AND WRITE with data-out of the wrong size', async (t) => {
  const lu = await markedLu();
  const ws10 = cdb10(0x41, 8, 4);
  const ws16 = cdb16(0x93, 8, 4);
  for (const [name, cdb] of [
    ['WRITE SAME(10)', ws10],
    ['WRITE SAME(16)', ws16],
  ] as const) {
    await rejected(t, lu, `${name}: no data-out`, cdb, {}, INVALID_FIELD_IN_INFORMATION_UNIT);
    await rejected(
      t,
      lu,
      `${name}: half a block`,
      cdb,
      { dataOut: Buffer.alloc(BS / 2, 1) },
      INVALID_FIELD_IN_INFORMATION_UNIT,
    );
    await rejected(
      t,
      lu,
      `${name}: two blocks`,
      cdb,
      { dataOut: Buffer.alloc(2 * BS, 1) },
      INVALID_FIELD_IN_INFORMATION_UNIT,
    );
  }
  const ndob = cdb16(0x93, 8, 4, 0x01);
  await rejected(
    t,
    lu,
    'WRITE SAME(16) NDOB with data-out',
    ndob,
    { dataOut: Buffer.alloc(BS, 1) },
    INVALID_FIELD_IN_INFORMATION_UNIT,
  );

  const caw = cdb16(0x89, 0, 0);
  caw[13] = 1;
  const compare = Buffer.alloc(BS, 0xa5);
  const write = Buffer.alloc(BS, 0x11);
  await rejected(
    t,
    lu,
    'COMPARE AND WRITE: compare half only',
    caw,
    { dataOut: compare },
    INVALID_FIELD_IN_INFORMATION_UNIT,
  );
  await rejected(
    t,
    lu,
    'COMPARE AND WRITE: three blocks',
    caw,
    { dataOut: Buffer.concat([compare, write, write]) },
    INVALID_FIELD_IN_INFORMATION_UNIT,
  );
  t.same(await marked(lu), [true, true, true, true], 'blocks untouched');
  t.equal(
    code(await lu.run(caw, { dataOut: Buffer.concat([compare, write]) })),
    GOOD,
    'the right size works',
  );
  t.same(await marked(lu), [false, true, true, true], 'and writes');
});

/** A rejected list answered INVALID FIELD IN PARAMETER LIST pointing at `byte` of the list. */
async function rejectedAt(t: Test, lu: Lu, what: string, cdb: Buffer, io: Io, byte: number): Promise<void> {
  const before = lu.snapshot();
  const r = await lu.run(cdb, io);
  t.equal(code(r), INVALID_FIELD_IN_PARAMETER_LIST, what);
  t.match(senseOf(r)?.field, { inCdb: false, byte }, `${what}: points at byte ${byte} of the list`);
  t.equal(lu.snapshot(), before, `${what}: nothing changed`);
}

t.test('SEND DIAGNOSTIC parameter lists (PF=1, the supported diagnostic pages page)', async (t) => {
  const lu = await makeLu();
  const diag = (plen: number, b1 = 0x10): Buffer => Buffer.from([0x1d, b1, 0, plen >> 8, plen & 0xff, 0]);
  const page0 = Buffer.from([0x00, 0x00, 0x00, 0x00]);
  for (let plen = 1; plen < 4; plen++)
    await rejected(
      t,
      lu,
      `PARAMETER LIST LENGTH ${plen} cuts the page header`,
      diag(plen),
      { dataOut: page0.subarray(0, plen) },
      PARAMETER_LIST_LENGTH_ERROR,
    );
  await rejected(
    t,
    lu,
    'data-out shorter than the list',
    diag(4),
    { dataOut: page0.subarray(0, 2) },
    PARAMETER_LIST_LENGTH_ERROR,
  );
  await rejectedAt(t, lu, 'a page we do not have', diag(4), { dataOut: Buffer.from([0x80, 0, 0, 0]) }, 0);
  const withLength = Buffer.from([0x00, 0x00, 0x00, 0x04, 0, 0, 0, 0]);
  await rejectedAt(t, lu, 'page 0 with parameters', diag(8), { dataOut: withLength }, 2);
  const pf0 = await lu.run(diag(4, 0x00), { dataOut: page0 });
  t.equal(code(pf0), '05/24/00', 'PF=0 with a list (vendor-specific diagnostics): INVALID FIELD IN CDB');
  t.match(senseOf(pf0)?.field, { inCdb: true, byte: 1, bit: 4 }, 'at PF');
  const selftest = await lu.run(diag(4, 0x14), { dataOut: page0 });
  t.match(senseOf(selftest)?.field, { inCdb: true, byte: 3 }, 'a self-test takes no list');
  t.equal(code(await lu.run(diag(4), { dataOut: page0 })), GOOD, 'the page header alone is accepted');
  const longer = Buffer.concat([page0, Buffer.from([0x80, 0, 0, 4])]);
  t.equal(code(await lu.run(diag(4), { dataOut: longer })), GOOD, 'bytes past the list are not judged');
});

t.test('LOG SELECT parameter lists', async (t) => {
  const lu = await makeLu();
  // PC=01b (current cumulative values); the page is named by the list, not the CDB.
  const select = (plen: number, b1 = 0, b2 = 0x40): Buffer =>
    Buffer.from([0x4c, b1, b2, 0, 0, 0, 0, plen >> 8, plen & 0xff, 0]);
  const header = Buffer.from([0x0d, 0x00, 0x00, 0x00]);
  for (let plen = 1; plen < 4; plen++)
    await rejected(
      t,
      lu,
      `PARAMETER LIST LENGTH ${plen} cuts the page header`,
      select(plen),
      { dataOut: header.subarray(0, plen) },
      PARAMETER_LIST_LENGTH_ERROR,
    );
  await rejected(
    t,
    lu,
    'data-out shorter than the list',
    select(4),
    { dataOut: header.subarray(0, 3) },
    PARAMETER_LIST_LENGTH_ERROR,
  );
  // Temperature page with one parameter (TEMPERATURE, 2 bytes): 10 bytes in all.
  const param = Buffer.from([0x0d, 0x00, 0x00, 0x06, 0x00, 0x00, 0x03, 0x02, 0x00, 0x20]);
  await rejected(
    t,
    lu,
    'page cut by the PARAMETER LIST LENGTH',
    select(8),
    { dataOut: param.subarray(0, 8) },
    PARAMETER_LIST_LENGTH_ERROR,
  );
  await rejectedAt(t, lu, 'a parameter that cannot be changed', select(10), { dataOut: param }, 4);
  const unknown = Buffer.from([0x05, 0x00, 0x00, 0x00]);
  await rejectedAt(t, lu, 'a page we do not have', select(4), { dataOut: unknown }, 0);
  const sub = Buffer.from([0x4d, 0x01, 0x00, 0x00]);
  await rejectedAt(t, lu, 'a subpage we do not have', select(4), { dataOut: sub }, 1);
  const named = await lu.run(select(4, 0, 0x4d), { dataOut: header });
  t.match(senseOf(named)?.field, { inCdb: true, byte: 2 }, 'a list with a page code in the CDB');
  const pcr = await lu.run(select(4, 0x02), { dataOut: header });
  t.match(senseOf(pcr)?.field, { inCdb: true, byte: 1, bit: 1 }, 'a list with PCR=1');
  t.equal(code(await lu.run(select(4), { dataOut: header })), GOOD, 'a page header alone changes nothing');
  const longer = Buffer.concat([header, Buffer.from([0xff, 0xff])]);
  t.equal(code(await lu.run(select(4), { dataOut: longer })), GOOD, 'bytes past the list are not judged');
});

t.test('FORMAT UNIT parameter lists (their length is in their own header)', async (t) => {
  const lu = await markedLu();
  for (const longList of [false, true]) {
    const name = longList ? 'long header' : 'short header';
    const cdb = Buffer.from([0x04, longList ? 0x30 : 0x10, 0, 0, 0, 0]);
    const size = longList ? 8 : 4;
    for (let n = 0; n < size; n++)
      await rejected(
        t,
        lu,
        `${name}: ${n} bytes of data-out`,
        cdb,
        n ? { dataOut: Buffer.alloc(n) } : {},
        PARAMETER_LIST_LENGTH_ERROR,
      );
    const defects = Buffer.alloc(size + 8);
    if (longList) defects.writeUInt32BE(8, 4);
    else defects.writeUInt16BE(8, 2);
    await rejectedAt(t, lu, `${name}: a defect list`, cdb, { dataOut: defects }, longList ? 4 : 2);
  }
  t.same(await marked(lu), [true, true, true, true], 'nothing formatted by a rejected list');
  const ok = await lu.run(Buffer.from([0x04, 0x10, 0, 0, 0, 0]), { dataOut: Buffer.alloc(4) });
  t.equal(code(ok), GOOD, 'an empty short header formats');
  t.equal(ok.dataOutLength, 4, 'the list is the header');
  t.same(await marked(lu), [false, false, false, false], 'thin LU: unmapped, reads zeros');
});
