import t from 'tap';
import {
  createModePages,
  modeSelect,
  modeSense,
  modeStateOf,
  type ModeContext,
  type ModePageOverride,
  type ModeSelectOutcome,
  type ModeState,
} from '../../src/scsi/mode';
import { parseSense } from '../../src/scsi/sense';

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');
interface CtxOpts {
  blocks?: number;
  blockSize?: number;
  readonly?: boolean;
  current?: ModeState;
  wceChangeable?: boolean;
  canSave?: boolean;
  overrides?: ModePageOverride[];
}
const ctx = (o: CtxOpts = {}): ModeContext => {
  const pages = createModePages({
    wceDefault: true,
    wceChangeable: o.wceChangeable ?? true,
    dsenseCurrent: o.current?.dsense ?? false,
    overrides: o.overrides ?? [],
  });
  if (o.current && !o.current.wce) {
    const caching = pages.find((p) => p.code === 0x08)!;
    caching.current = Buffer.from(caching.current);
    caching.current[2] &= ~0x04;
  }
  return {
    blocks: o.blocks ?? 0x1000,
    blockSize: o.blockSize ?? 512,
    readonly: o.readonly ?? false,
    pages,
    canSave: o.canSave ?? false,
  };
};
/** The WCE/D_SENSE a MODE SELECT outcome leads to (undefined when it failed). */
const stateAfter = (r: ModeSelectOutcome, c: ModeContext): ModeState | undefined => {
  if (!r.updates) return undefined;
  for (const u of r.updates) u.page.current = u.current;
  return modeStateOf(c.pages);
};
const sense6 = (page: number, opts: { dbd?: boolean; pc?: number; sub?: number; alloc?: number } = {}) =>
  Buffer.from([0x1a, opts.dbd ? 0x08 : 0, ((opts.pc ?? 0) << 6) | page, opts.sub ?? 0, opts.alloc ?? 255, 0]);
const sense10 = (page: number, opts: { dbd?: boolean; llbaa?: boolean; pc?: number; alloc?: number } = {}) =>
  Buffer.from([
    0x5a,
    (opts.dbd ? 0x08 : 0) | (opts.llbaa ? 0x10 : 0),
    ((opts.pc ?? 0) << 6) | page,
    0,
    0,
    0,
    0,
    (opts.alloc ?? 1024) >> 8,
    (opts.alloc ?? 1024) & 0xff,
    0,
  ]);

const RW_RECOVERY = hex('01 0a 00 00 00 00 00 00 00 00 00 00');
const DISCONNECT = hex('02 0e 80 80 00 0a 00000000 00000000 0000');
const CACHING_WCE = hex('08 12 04 00 0000 0000 0000 0000 0000 0000 0000 0000');
const CONTROL = hex('0a 0a 02 10 00 00 00 00 00 00 00 00');
const IEC = hex('1c 0a 08 00 00 00 00 00 00 00 00 00');
const BD_SHORT = hex('00001000 00 000200');

t.test('MODE SENSE(6) of each page with block descriptor', async (t) => {
  for (const [page, body] of [
    [0x01, RW_RECOVERY],
    [0x02, DISCONNECT],
    [0x08, CACHING_WCE],
    [0x0a, CONTROL],
    [0x1c, IEC],
  ] as const) {
    const r = modeSense(sense6(page), ctx(), 'fixed');
    const expected = Buffer.concat([Buffer.from([3 + 8 + body.length, 0, 0x10, 8]), BD_SHORT, body]);
    t.same(r.dataIn, expected, `page ${page.toString(16)}`);
  }
});

t.test('MODE SENSE all pages, DBD, WP, truncation', async (t) => {
  const all = Buffer.concat([RW_RECOVERY, DISCONNECT, CACHING_WCE, CONTROL, IEC]);
  const r = modeSense(sense6(0x3f, { dbd: true }), ctx({ readonly: true }), 'fixed');
  t.same(r.dataIn, Buffer.concat([Buffer.from([3 + all.length, 0, 0x90, 0]), all]));
  t.same(modeSense(sense6(0x3f, { sub: 0xff, dbd: true }), ctx(), 'fixed').dataIn!.length, 4 + all.length);
  t.same(
    modeSense(sense6(0x3f, { alloc: 10 }), ctx(), 'fixed').dataIn,
    Buffer.from([3 + 8 + all.length, 0, 0x10, 8, 0, 0, 0x10, 0, 0, 0]),
  );
  const r10 = modeSense(sense10(0x3f, { alloc: 4096 }), ctx(), 'fixed');
  t.same(r10.dataIn, Buffer.concat([hex('0056 00 10 00 00 0008'), BD_SHORT, all]));
});

t.test('MODE SENSE(10) long LBA descriptor and large capacity', async (t) => {
  const c = ctx({ blocks: 2 ** 33 + 5, blockSize: 4096 });
  const r = modeSense(sense10(0x0a, { llbaa: true }), c, 'fixed');
  t.same(
    r.dataIn,
    Buffer.concat([hex('0022 00 10 01 00 0010'), hex('00000002 00000005 00000000 00001000'), CONTROL]),
  );
  const s = modeSense(sense6(0x0a), c, 'fixed');
  t.same(s.dataIn!.subarray(4, 12), hex('ffffffff 00 001000'), 'short descriptor saturates');
});

t.test('page control', async (t) => {
  const changeable = modeSense(sense6(0x3f, { pc: 1, dbd: true }), ctx(), 'fixed').dataIn!;
  t.same(
    changeable.subarray(4),
    Buffer.concat([
      hex('01 0a 00000000000000000000'),
      hex('02 0e ff ff 00000000 00000000 00000000'),
      hex('08 12 04 00 0000 0000 0000 0000 0000 0000 0000 0000'),
      hex('0a 0a 04 00 0000000000000000'),
      hex('1c 0a 00000000000000000000'),
    ]),
  );
  const noWce = modeSense(sense6(0x08, { pc: 1, dbd: true }), ctx({ wceChangeable: false }), 'fixed').dataIn!;
  t.equal(noWce[4 + 2], 0);
  const defaults = modeSense(
    sense6(0x0a, { pc: 2, dbd: true }),
    ctx({ current: { wce: false, dsense: true } }),
    'fixed',
  );
  t.equal(defaults.dataIn![4 + 2], 0x02, 'default D_SENSE=0');
  const current = modeSense(
    sense6(0x0a, { pc: 0, dbd: true }),
    ctx({ current: { wce: false, dsense: true } }),
    'fixed',
  );
  t.equal(current.dataIn![4 + 2], 0x06);
  t.same(parseSense(modeSense(sense6(0x08, { pc: 3 }), ctx(), 'fixed').sense!), {
    key: 5,
    asc: 0x39,
    ascq: 0,
  });
  t.same(
    parseSense(modeSense(sense6(0x05), ctx(), 'fixed').sense!),
    { key: 5, asc: 0x24, ascq: 0 },
    'unknown page',
  );
  t.same(parseSense(modeSense(sense6(0x08, { sub: 1 }), ctx(), 'fixed').sense!), {
    key: 5,
    asc: 0x24,
    ascq: 0,
  });
});

const select6 = (list: Buffer, flags = 0x10) => Buffer.from([0x15, flags, 0, 0, list.length, 0]);
const select10 = (list: Buffer) =>
  Buffer.from([0x55, 0x10, 0, 0, 0, 0, 0, list.length >> 8, list.length & 0xff, 0]);

t.test('MODE SELECT changes WCE and D_SENSE', async (t) => {
  const caching = Buffer.from(CACHING_WCE);
  caching[2] = 0x00;
  const list = Buffer.concat([hex('00 00 00 00'), caching]);
  const c = ctx();
  const r = modeSelect(select6(list), list, c, 'fixed');
  t.equal(r.result.status, 0);
  t.same(stateAfter(r, c), { wce: false, dsense: false });
  const control = Buffer.from(CONTROL);
  control[2] |= 0x04;
  const list10 = Buffer.concat([hex('0000 00 00 00 00 0008'), BD_SHORT, control, CACHING_WCE]);
  const c10 = ctx({ current: { wce: false, dsense: false } });
  const r10 = modeSelect(select10(list10), list10, c10, 'fixed');
  t.equal(r10.result.status, 0);
  t.same(stateAfter(r10, c10), { wce: true, dsense: true });
  const ce = ctx();
  const empty = modeSelect(Buffer.from([0x15, 0x10, 0, 0, 0, 0]), undefined, ce, 'fixed');
  t.same(stateAfter(empty, ce), { wce: true, dsense: false }, 'zero-length list is a no-op');
});

t.test('MODE SELECT rejects what it cannot do', async (t) => {
  const err = (cdb: Buffer, list: Buffer | undefined, c = ctx()) => {
    const r = modeSelect(cdb, list, c, 'fixed');
    t.equal(r.updates, undefined);
    return parseSense(r.result.sense!);
  };
  const ok = Buffer.concat([hex('00 00 00 00'), CACHING_WCE]);
  const bad = { key: 5, asc: 0x26, ascq: 0 };
  t.same(err(select6(ok, 0x11), ok), { key: 5, asc: 0x24, ascq: 0 }, 'SP');
  t.same(err(select6(ok, 0x00), ok), { key: 5, asc: 0x24, ascq: 0 }, 'PF=0');
  t.same(err(select6(ok), ok.subarray(0, 10)), { key: 5, asc: 0x1a, ascq: 0 }, 'short data-out');
  const cut = ok.subarray(0, 12);
  t.same(err(select6(cut), cut), { key: 5, asc: 0x1a, ascq: 0 }, 'truncated page');
  const ie = Buffer.concat([hex('00 00 00 00'), IEC]);
  ie[4 + 2] = 0x00; // DEXCPT is not changeable
  t.same(err(select6(ie), ie), bad);
  const wrongLen = Buffer.concat([hex('00 00 00 00'), hex('08 10'), Buffer.alloc(16)]);
  t.same(err(select6(wrongLen), wrongLen), bad);
  const unknown = Buffer.concat([hex('00 00 00 00'), hex('05 02 00 00')]);
  t.same(err(select6(unknown), unknown), bad);
  const wce = Buffer.concat([hex('00 00 00 00'), CACHING_WCE]);
  wce[4 + 2] = 0x00;
  t.same(err(select6(wce), wce, ctx({ wceChangeable: false })), bad, 'WCE fixed without volatile cache');
  const bd = Buffer.concat([hex('00 00 00 08'), hex('00001000 00 001000')]);
  t.same(err(select6(bd), bd), bad, 'block length change');
  const medium = Buffer.concat([hex('00 01 00 00'), CACHING_WCE]);
  t.same(err(select6(medium), medium), bad, 'medium type');
  // a valid page after an invalid one: nothing applied
  const mixed = Buffer.concat([hex('00 00 00 00'), CONTROL, IEC]);
  mixed[4 + 2] |= 0x04;
  mixed[4 + 12 + 3] = 0x01;
  t.same(err(select6(mixed), mixed), bad);
});
