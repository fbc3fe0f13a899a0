// tgtadm's lbppbe / la_lba / optimal_xfer_* / mode_page keys and saved mode pages, at the engine level.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import t from 'tap';
import { MemStore } from '../../src/backing/mem';
import type { ModePageStore, SavedModePage } from '../../src/scsi/mode-store';
import { parseModePage, modePageOverrides } from '../../src/target/lu-params';
import { BLOCKS, BS, fieldPointer, hex, ILLEGAL_CDB, makeDisk, NAA, sense, task } from './disk-harness';

const rc16 = (alloc = 32): Buffer => Buffer.from([0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, alloc, 0, 0]);
const vpdB0 = hex('12 01 b0 00 ff 00');
const sense6 = (page: number, pc = 0, sub = 0): Buffer =>
  Buffer.from([0x1a, 0x08, (pc << 6) | page, sub, 255, 0]);
const select6 = (list: Buffer, sp = false): Buffer =>
  Buffer.from([0x15, 0x10 | (sp ? 1 : 0), 0, 0, list.length, 0]);
const disconnect = (full: number, empty: number): Buffer =>
  Buffer.concat([hex('00 00 00 00'), Buffer.from([0x02, 0x0e, full, empty, 0x00, 0x0a]), Buffer.alloc(10)]);

t.test(
  'READ CAPACITY(16) reports lbppbe and la_lba; changing them raises CAPACITY DATA HAS CHANGED',
  async (t) => {
    const d = await makeDisk({ lbppbe: 3, lowestAlignedLba: 0x1234, thinProvisioning: false });
    const r = (await d.execute(task(rc16()))).dataIn!;
    t.equal(r[13], 3, 'LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT');
    t.equal(r.readUInt16BE(14), 0x1234, 'LOWEST ALIGNED LBA, LBPME/LBPRZ clear');
    const thin = await makeDisk({ lowestAlignedLba: 7 });
    t.equal((await thin.execute(task(rc16()))).dataIn!.readUInt16BE(14), 0xc007, 'LBPME|LBPRZ|la_lba');
    d.update({ lbppbe: 0, lowestAlignedLba: 0 });
    t.same(sense(await d.execute(task(rc16(), { id: 2 }))), [6, 0x2a, 0x09]);
    const after = (await d.execute(task(rc16(), { id: 2 }))).dataIn!;
    t.same([after[13], after.readUInt16BE(14)], [0, 0]);
  },
);

t.test('Block Limits VPD reports optimal_xfer_gran / optimal_xfer_len', async (t) => {
  const dflt = (await (await makeDisk()).execute(task(vpdB0))).dataIn!;
  t.same([dflt.readUInt16BE(6), dflt.readUInt32BE(12)], [4096 / BS, (1024 * 1024) / BS], 'defaults');
  const d = await makeDisk({ optimalTransferLengthGranularity: 8, optimalTransferLength: 128 });
  const b0 = (await d.execute(task(vpdB0))).dataIn!;
  t.same([b0.readUInt16BE(6), b0.readUInt32BE(12)], [8, 128]);
  d.update({ optimalTransferLengthGranularity: 0, optimalTransferLength: 2048 });
  t.same(sense(await d.execute(task(hex('00'), { id: 2 }))), [6, 0x3f, 0x03], 'INQUIRY DATA HAS CHANGED');
  const b1 = (await d.execute(task(vpdB0))).dataIn!;
  t.same([b1.readUInt16BE(6), b1.readUInt32BE(12)], [0, 2048], '0 reports "not given", as tgt');
});

t.test("mode_page uses tgt's PAGE:SUBPAGE:LEN:BYTES syntax", async (t) => {
  t.same(parseModePage('0x03:0:4:1:0x2:010'), { code: 3, subpage: 0, data: Buffer.from([1, 2, 8, 0]) });
  t.same(parseModePage('8:0:18').data, Buffer.alloc(18), 'missing bytes are 0');
  for (const bad of ['8:0', '0x3f:0:2', '0:0:2', '8:0:2:1:2:3', '8:0:2:256', '8:x:2', '8:0:300', '8:0xff:2'])
    t.throws(() => parseModePage(bad), { message: 'invalid request' }, bad);
  const list = modePageOverrides(['3:0:2:1:1', '0x19:0:2:5', '3:0:2:7:7']);
  t.same(
    list.map((o) => [o.code, [...o.data]]),
    [
      [0x19, [5, 0]],
      [3, [7, 7]],
    ],
    'a later value for a page replaces the earlier one',
  );
});

t.test(
  'mode_page pages in MODE SENSE and MODE SELECT; runtime changes raise MODE PARAMETERS CHANGED',
  async (t) => {
    const d = await makeDisk({
      modePages: modePageOverrides(['3:0:4:0:1:0:2', '0x1c:0:10:0:3', '0x19:1:2:0xaa:0xbb']),
    });
    t.same((await d.execute(task(sense6(0x03)))).dataIn, hex('09 00 10 00 03 04 00 01 00 02'), 'new page');
    t.same(
      (await d.execute(task(sense6(0x1c)))).dataIn!.subarray(4),
      hex('1c 0a 00 03 00000000 00000000'),
      'built-in page defaults replaced',
    );
    t.same(
      (await d.execute(task(sense6(0x1c, 2)))).dataIn!.subarray(4, 8),
      hex('1c 0a 00 03'),
      'defaults too',
    );
    t.same(
      (await d.execute(task(sense6(0x19, 0, 1)))).dataIn!.subarray(4),
      hex('59 01 0002 aa bb'),
      'subpage',
    );
    t.same(sense(await d.execute(task(sense6(0x19, 0, 2)))), ILLEGAL_CDB, 'unknown subpage');
    const all = (await d.execute(task(sense6(0x3f, 0, 0xff)))).dataIn!;
    t.ok(all.includes(hex('59 01 0002 aa bb')), 'all pages and subpages');
    t.notOk(
      (await d.execute(task(sense6(0x3f)))).dataIn!.includes(hex('59 01 0002')),
      'subpages only when asked',
    );
    // A page added with mode_page has no changeable field.
    const fmtPage = Buffer.concat([hex('00 00 00 00'), hex('03 04 00 01 00 03')]);
    const r = await d.execute(task(select6(fmtPage), { dataOut: fmtPage }));
    t.same(sense(r), [5, 0x26, 0]);
    t.same(fieldPointer(r), [9, 0, false], 'points at the byte and bit');
    const same = Buffer.concat([hex('00 00 00 00'), hex('59 01 0002 aa bb')]);
    t.equal(
      (await d.execute(task(select6(same), { dataOut: same }))).status,
      0,
      'subpage-format page echoed',
    );

    d.update({ modePages: modePageOverrides(['3:0:4:9:9:9:9']) });
    t.same(sense(await d.execute(task(hex('00'), { id: 2 }))), [6, 0x2a, 0x01]);
    t.same((await d.execute(task(sense6(0x03), { id: 2 }))).dataIn!.subarray(6), hex('09 09 09 09'));
    t.same(sense(await d.execute(task(sense6(0x19, 0, 1), { id: 2 }))), ILLEGAL_CDB, 'page dropped');
  },
);

t.test('MODE SELECT raises MODE PARAMETERS CHANGED for the other nexuses only', async (t) => {
  const d = await makeDisk();
  const list = disconnect(0x40, 0x20);
  t.equal((await d.execute(task(select6(list), { dataOut: list }))).status, 0);
  t.same((await d.execute(task(sense6(0x02)))).dataIn!.subarray(4, 8), hex('02 0e 40 20'));
  t.equal((await d.execute(task(hex('00')))).status, 0, 'not the issuer');
  t.same(sense(await d.execute(task(hex('00'), { id: 2 }))), [6, 0x2a, 0x01]);
  t.equal((await d.execute(task(select6(list), { dataOut: list }))).status, 0, 'same values again');
  t.equal((await d.execute(task(hex('00'), { id: 2 }))).status, 0, 'no change, no unit attention');
});

t.test('without somewhere to save: no savable page, SP=1 and saved values refused', async (t) => {
  const d = await makeDisk();
  t.equal((await d.execute(task(sense6(0x02)))).dataIn![4] & 0x80, 0, 'PS=0');
  t.same(sense(await d.execute(task(sense6(0x02, 3)))), [5, 0x39, 0], 'SAVING PARAMETERS NOT SUPPORTED');
  const list = disconnect(0x40, 0x20);
  const r = await d.execute(task(select6(list, true), { dataOut: list }));
  t.same(sense(r), ILLEGAL_CDB);
  t.same(fieldPointer(r), [1, 0, true], 'SP bit');
  t.equal(r.dataOutLength, list.length);
});

t.test('saved mode pages persist in the state directory and survive a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mode-saved-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new MemStore(BLOCKS * BS, false);
  const d = await makeDisk({ stateDir: dir }, store);
  const ps = (await d.execute(task(hex('1a 08 3f 00 ff 00')))).dataIn!;
  const psOf = (code: number): number => {
    for (let p = 4; p < ps.length; p += 2 + ps[p + 1]) if ((ps[p] & 0x3f) === code) return ps[p] & 0x80;
    return -1;
  };
  t.equal(psOf(0x02), 0x80, 'disconnect-reconnect savable');
  t.equal(psOf(0x0a), 0x80, 'control savable');
  t.same(
    (await d.execute(task(sense6(0x02, 3)))).dataIn!.subarray(4, 8),
    hex('82 0e 80 80'),
    'nothing saved: saved values are the defaults',
  );
  t.same(sense(await d.execute(task(sense6(0x1c, 3)))), [5, 0x39, 0], 'a page with nothing to save');
  const iec = Buffer.concat([hex('00 00 00 00'), hex('1c 0a 08 00 00000000 00000000')]);
  const notSavable = await d.execute(task(select6(iec, true), { dataOut: iec }));
  t.same(fieldPointer(notSavable), [1, 0, true], 'SP=1 with a page that cannot be saved');

  const temp = disconnect(0x11, 0x22);
  t.equal((await d.execute(task(select6(temp), { dataOut: temp }))).status, 0, 'SP=0: current only');
  t.same((await d.execute(task(sense6(0x02, 3)))).dataIn!.subarray(6, 8), hex('80 80'));
  const saved = disconnect(0x40, 0x20);
  t.equal((await d.execute(task(select6(saved, true), { dataOut: saved }))).status, 0, 'SP=1');
  t.same((await d.execute(task(sense6(0x02, 3)))).dataIn!.subarray(6, 8), hex('40 20'));
  const file = join(dir, 'mode', `${NAA.toString('hex')}.json`);
  t.match(readFileSync(file, 'utf8'), /"code": 2/);

  const again = await makeDisk({ stateDir: dir }, store);
  t.same((await again.execute(task(sense6(0x02)))).dataIn!.subarray(6, 8), hex('40 20'), 'current = saved');
  t.same((await again.execute(task(sense6(0x02, 2)))).dataIn!.subarray(6, 8), hex('80 80'), 'defaults kept');

  // D_SENSE saved: the LU comes back with descriptor sense.
  const control = Buffer.concat([hex('00 00 00 00'), hex('0a 0a 06 10 00 00 00 00 00 00 00 00')]);
  t.equal((await again.execute(task(select6(control, true), { dataOut: control }))).status, 0);
  const third = await makeDisk({ stateDir: dir }, store);
  t.equal(third.settings().senseFormat, 'descriptor');
  t.same(
    (await third.execute(task(sense6(0x02)))).dataIn!.subarray(6, 8),
    hex('40 20'),
    'SP saves every page',
  );
});

t.test('a corrupt or unfitting saved file leaves the defaults', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mode-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'mode'));
  const file = join(dir, 'mode', `${NAA.toString('hex')}.json`);
  writeFileSync(file, '{"version":1,"pages":[{"code":2,"subpage":0,"data":"zz"}]}');
  const d = await makeDisk({ stateDir: dir });
  t.same((await d.execute(task(sense6(0x02)))).dataIn!.subarray(6, 8), hex('80 80'));
  // A saved page that changes a field that is not changeable is ignored.
  writeFileSync(
    file,
    JSON.stringify({ version: 1, pages: [{ code: 2, subpage: 0, data: '020e4020000b' + '00'.repeat(10) }] }),
  );
  const e = await makeDisk({ stateDir: dir });
  t.same((await e.execute(task(sense6(0x02)))).dataIn!.subarray(6, 8), hex('80 80'));
});

t.test('a failing mode page store: SP=1 answers HARDWARE ERROR and changes nothing', async (t) => {
  const failing: ModePageStore = {
    persistent: true,
    load: () => Promise.resolve(undefined),
    save: (_pages: SavedModePage[]) => Promise.reject(new Error('disk full')),
  };
  const d = await makeDisk({ modePageStore: failing });
  const list = disconnect(0x40, 0x20);
  t.same(sense(await d.execute(task(select6(list, true), { dataOut: list }))), [4, 0x44, 0]);
  t.same((await d.execute(task(sense6(0x02)))).dataIn!.subarray(6, 8), hex('80 80'));
  t.equal((await d.execute(task(hex('00'), { id: 2 }))).status, 0, 'no unit attention');
});
