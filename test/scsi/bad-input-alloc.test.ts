// Every allocation length from 0 to past the data, for every data-in command and form (INQUIRY and each
// VPD page it lists, MODE SENSE 6/10 for each page it returns and each page control (saved values too: the
// LU has a mode page store), LOG SENSE for each page and page control it lists, RECEIVE DIAGNOSTIC RESULTS,
// REQUEST SENSE, REPORT LUNS, READ CAPACITY(16), REPORT SUPPORTED OPERATION CODES/TMFs, PR IN, GET LBA
// STATUS, RECEIVE COPY RESULTS, READ DEFECT DATA, REPORT TARGET PORT GROUPS). SPC-4 (allocation length): the device server returns the lesser of the
// allocation length and the data, never alters the data to reflect the truncation, and a short length
// is not an error. The one exception kept is REPORT LUNS below 16 bytes (SPC-3 made it an error; SPC-4's
// note still allows it; tgt and LIO both reject it).
import t from 'tap';
import {
  BS,
  cdb10,
  code,
  GOOD,
  INVALID_FIELD_IN_CDB,
  KEY1,
  makeLu,
  prout,
  registerBoth,
  senseOf,
  supportedCommands,
  xcopyCdb,
  xcopyList,
  type Lu,
} from './bad-input-harness';
import { AluaPortGroup } from '../../src/scsi/alua';
import type { ModePageStore, SavedModePage } from '../../src/scsi/mode-store';

interface Form {
  name: string;
  /** The CDB with the given allocation length. */
  cdb: (alloc: number) => Buffer;
  /** Largest value the field holds. */
  max: number;
}

const put = (c: Buffer, at: number, width: number, v: number): Buffer => {
  c.writeUIntBE(v, at, width);
  return c;
};
const form = (name: string, bytes: number[], at: number, width: 1 | 2 | 4): Form => ({
  name,
  cdb: (alloc) => put(Buffer.from(bytes), at, width, alloc),
  max: width === 4 ? 0x10000 : 2 ** (8 * width) - 1,
});

/** Saved mode pages kept in memory: the LU reports savable pages and answers PC=3 (saved values). */
function memoryModePageStore(): ModePageStore {
  let saved: SavedModePage[] | undefined;
  return {
    persistent: true,
    load: () => Promise.resolve(saved),
    save: (pages) => {
      saved = pages;
      return Promise.resolve();
    },
  };
}

/** The LU the answers are read from: registrations and a reservation, a finished copy, mapped extents,
 *  saved mode pages, ALUA on (REPORT TARGET PORT GROUPS). */
async function richLu(): Promise<Lu> {
  const alua = new AluaPortGroup();
  alua.setMode('both');
  const lu = await makeLu({ modePageStore: memoryModePageStore(), alua });
  await registerBoth(lu);
  const p = prout(1, 0x05, KEY1, 0n); // WRITE EXCLUSIVE - REGISTRANTS ONLY
  await lu.run(p.cdb, { dataOut: p.dataOut });
  // Mapped data in the 2nd and 4th MiB: GET LBA STATUS has five descriptors in its 64 MiB window.
  for (const lba of [2048, 6144]) await lu.run(cdb10(0x2a, lba, 1), { dataOut: Buffer.alloc(BS, 1) });
  const x = await lu.run(xcopyCdb(76), { dataOut: xcopyList(9, 2048, 2049, 1) });
  if (x.status !== 0) throw new Error(`EXTENDED COPY failed: ${code(x)}`);
  return lu;
}

async function forms(lu: Lu): Promise<Form[]> {
  const out: Form[] = [form('INQUIRY standard', [0x12, 0, 0, 0, 0, 0], 3, 2)];
  const vpd0 = await lu.run([0x12, 1, 0, 0, 0xff, 0]);
  const pages = [...vpd0.dataIn!.subarray(4, 4 + vpd0.dataIn!.readUInt16BE(2))];
  if (pages.length < 5) throw new Error(`VPD page list too short: ${pages.join(',')}`);
  for (const page of pages)
    out.push(form(`INQUIRY VPD 0x${page.toString(16)}`, [0x12, 1, page, 0, 0, 0], 3, 2));

  const all = await lu.run([0x1a, 0x08, 0x3f, 0, 0xff, 0]);
  const modePages: number[] = [];
  const savable = new Set<number>([0x3f]);
  for (let p = 4; p < all.dataIn!.length; p += 2 + all.dataIn![p + 1]) {
    modePages.push(all.dataIn![p] & 0x3f);
    if (all.dataIn![p] & 0x80) savable.add(all.dataIn![p] & 0x3f); // PS
  }
  if (modePages.length < 3) throw new Error(`mode page list too short: ${modePages.join(',')}`);
  if (savable.size < 3) throw new Error(`too few savable mode pages: ${[...savable].join(',')}`);
  for (const page of [...modePages, 0x3f])
    // Saved values (PC=3) exist for savable pages only; the others are SAVING PARAMETERS NOT SUPPORTED.
    for (const pc of savable.has(page) ? [0, 1, 2, 3] : [0, 1, 2])
      for (const dbd of [0, 0x08]) {
        const pcPage = (pc << 6) | page;
        out.push(form(`MODE SENSE(6) page ${page} pc ${pc} dbd ${dbd}`, [0x1a, dbd, pcPage, 0, 0, 0], 4, 1));
        for (const llbaa of [0, 0x10])
          out.push(
            form(
              `MODE SENSE(10) page ${page} pc ${pc} dbd ${dbd} llbaa ${llbaa}`,
              [0x5a, dbd | llbaa, pcPage, 0, 0, 0, 0, 0, 0, 0],
              7,
              2,
            ),
          );
      }

  const logs = await lu.run([0x4d, 0, 0x40, 0, 0, 0, 0, 0, 0xff, 0]);
  const logPages = [...logs.dataIn!.subarray(4, 4 + logs.dataIn!.readUInt16BE(2))];
  if (logPages.length < 3) throw new Error(`log page list too short: ${logPages.join(',')}`);
  for (const page of logPages) {
    // Page lists take any page control; the pages with parameters have cumulative and default values.
    for (const pc of page === 0 ? [1] : [1, 3])
      out.push(
        form(`LOG SENSE page ${page} pc ${pc}`, [0x4d, 0, (pc << 6) | page, 0, 0, 0, 0, 0, 0, 0], 7, 2),
      );
    out.push(form(`LOG SENSE page ${page} subpages`, [0x4d, 0, 0x40 | page, 0xff, 0, 0, 0, 0, 0, 0], 7, 2));
  }
  for (const pcv of [0, 1])
    out.push(form(`RECEIVE DIAGNOSTIC RESULTS pcv ${pcv}`, [0x1c, pcv, 0, 0, 0, 0], 3, 2));

  for (const desc of [0, 1]) out.push(form(`REQUEST SENSE desc ${desc}`, [0x03, desc, 0, 0, 0, 0], 4, 1));
  out.push(form('READ CAPACITY(16)', [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 10, 4));
  for (const rctd of [0, 0x80]) {
    out.push(form(`RSOC all rctd ${rctd}`, [0xa3, 0x0c, rctd, 0, 0, 0, 0, 0, 0, 0, 0, 0], 6, 4));
    for (const c of await supportedCommands(lu)) {
      const opt = c.sa === undefined ? 1 : 2;
      const sa = c.sa ?? 0;
      out.push(
        form(
          `RSOC ${c.op}/${sa} rctd ${rctd}`,
          [0xa3, 0x0c, rctd | opt, c.op, 0, sa, 0, 0, 0, 0, 0, 0],
          6,
          4,
        ),
      );
    }
  }
  for (const fmt of [0x00, 0x20])
    out.push(form(`RTPG format ${fmt >> 5}`, [0xa3, 0x0a | fmt, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 6, 4));
  for (const repd of [0, 0x80])
    out.push(form(`RSTMF repd ${repd}`, [0xa3, 0x0d, repd, 0, 0, 0, 0, 0, 0, 0, 0, 0], 6, 4));
  for (const sa of [0, 1, 2, 3]) out.push(form(`PR IN sa ${sa}`, [0x5e, sa, 0, 0, 0, 0, 0, 0, 0, 0], 7, 2));
  out.push(form('GET LBA STATUS', [0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 10, 4));
  out.push(
    form('RECEIVE COPY RESULTS copy status', [0x84, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 10, 4),
  );
  out.push(
    form('RECEIVE COPY RESULTS op params', [0x84, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 10, 4),
  );
  for (const b2 of [0x00, 0x18, 0x1d])
    out.push(form(`READ DEFECT DATA(10) ${b2}`, [0x37, 0, b2, 0, 0, 0, 0, 0, 0, 0], 7, 2));
  for (const b1 of [0x00, 0x18, 0x1d])
    out.push(form(`READ DEFECT DATA(12) ${b1}`, [0xb7, b1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 6, 4));
  return out;
}

t.test('every allocation length returns exactly the prefix of the full answer', async (t) => {
  const lu = await richLu();
  const list = await forms(lu);
  const problems: string[] = [];
  let cases = 0;
  for (const f of list) {
    const full = await lu.run(f.cdb(f.max));
    if (code(full) !== GOOD || !full.dataIn) {
      problems.push(`${f.name}: full answer ${code(full)}`);
      continue;
    }
    const data = full.dataIn;
    if (data.length >= f.max) problems.push(`${f.name}: the full answer fills the largest allocation length`);
    const lengths = new Set<number>();
    for (let a = 0; a <= data.length + 4; a++) lengths.add(a);
    lengths.add(f.max);
    for (const alloc of lengths) {
      cases++;
      const r = await lu.run(f.cdb(alloc));
      const want = data.subarray(0, Math.min(alloc, data.length));
      if (code(r) !== GOOD) problems.push(`${f.name} alloc ${alloc}: ${code(r)}`);
      else if (!(r.dataIn ?? Buffer.alloc(0)).equals(want))
        problems.push(`${f.name} alloc ${alloc}: not the prefix`);
    }
  }
  t.ok(list.length > 150, `${list.length} forms`);
  t.ok(cases > 5000, `${cases} allocation lengths`);
  t.same(problems, [], 'every answer is the prefix');
});

t.test('GET LBA STATUS header keeps the full PARAMETER DATA LENGTH when truncated', async (t) => {
  const lu = await richLu();
  const full = await lu.run([0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0]);
  t.equal(code(full), GOOD);
  t.equal(
    full.dataIn!.readUInt32BE(0),
    4 + 5 * 16,
    'five descriptors: unmapped, mapped, unmapped, mapped, unmapped',
  );
  const short = await lu.run([0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 24, 0, 0]);
  t.equal(short.dataIn!.length, 24);
  t.equal(short.dataIn!.readUInt32BE(0), 4 + 5 * 16, 'the header is not altered by the truncation');
});

t.test('REPORT LUNS below 16 bytes is INVALID FIELD IN CDB at the ALLOCATION LENGTH', async (t) => {
  const lu = await makeLu();
  for (let alloc = 0; alloc < 16; alloc++) {
    const r = await lu.run([0xa0, 0, 0, 0, 0, 0, 0, 0, 0, alloc, 0, 0]);
    t.equal(code(r), INVALID_FIELD_IN_CDB, `alloc ${alloc}`);
    t.match(senseOf(r)?.field, { inCdb: true, byte: 6 });
  }
  for (const select of [0, 1, 2]) {
    const full = await lu.run([0xa0, 0, select, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
    for (let alloc = 16; alloc <= full.dataIn!.length + 8; alloc++) {
      const r = await lu.run([0xa0, 0, select, 0, 0, 0, 0, 0, 0, alloc, 0, 0]);
      t.same(
        r.dataIn,
        full.dataIn!.subarray(0, Math.min(alloc, full.dataIn!.length)),
        `select ${select} alloc ${alloc}`,
      );
    }
  }
});

t.test('MODE SENSE page control 3 (saved values) is SAVING PARAMETERS NOT SUPPORTED', async (t) => {
  const lu = await makeLu();
  for (const cdb of [
    [0x1a, 0, 0xff, 0, 0xff, 0],
    [0x5a, 0, 0xc8, 0, 0, 0, 0, 0, 0xff, 0],
  ]) {
    t.equal(code(await lu.run(cdb)), '05/39/00', `opcode ${cdb[0].toString(16)}`);
  }
});
