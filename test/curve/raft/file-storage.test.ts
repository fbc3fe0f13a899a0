// The durable log with real files: round trip, conflict truncation, torn and corrupt tails, atomic hard
// state, snapshots with compaction of whole segments.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bootstrapState } from '../../../src/curve/raft/bootstrap';
import { decodeRecord, encodeRecord, FileStorage } from '../../../src/curve/raft/file-storage';
import { HostJournal } from '../../../src/curve/raft/host-journal';
import { Entry, EntryType, InitialState, Snapshot } from '../../../src/curve/raft/types';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'raft-storage-'));
const entry = (index: number, term: number, data = `e${index}`): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new TextEncoder().encode(data),
});
const boot = bootstrapState([1, 2, 3]);

t.test('record codec round-trips and rejects a flipped bit', async (t) => {
  const e = entry(7, 3, 'hello');
  const rec = encodeRecord(e);
  t.equal(rec.length, 8 + 17 + 5);
  t.equal(e.crc, rec.readUInt32BE(4), 'the entry remembers its record crc');
  const d = decodeRecord(rec, 0)!;
  t.same(
    { ...d.entry, data: Buffer.from(d.entry.data).toString() },
    { index: 7, term: 3, type: 0, data: 'hello', crc: e.crc },
  );
  rec[rec.length - 1] ^= 1;
  t.equal(decodeRecord(rec, 0), null);
});

t.test('a record reuses the crc an entry carries, and a wrong one is caught on reading', async (t) => {
  const computed = encodeRecord(entry(9, 4, 'payload'));
  const carried = encodeRecord({ ...entry(9, 4, 'payload'), crc: computed.readUInt32BE(4) });
  t.same(carried, computed, 'same bytes as computing it');
  const wrong = encodeRecord({ ...entry(9, 4, 'payload'), crc: (computed.readUInt32BE(4) ^ 1) >>> 0 });
  t.equal(decodeRecord(wrong, 0), null, 'data that does not match the carried crc is never served');
});

t.test('entries, hard state and bootstrap survive a reopen', async (t) => {
  const dir = tmp();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  let s = FileStorage.open(dir);
  t.same(s.initialState(boot), boot, 'fresh storage is bootstrapped');
  s.append([entry(4, 2), entry(5, 2)]);
  s.setHardState({ term: 2, vote: 1, commit: 5 });
  s.sync();
  s.close();
  s = FileStorage.open(dir);
  const init = s.initialState(boot);
  t.same(init.hardState, { term: 2, vote: 1, commit: 5 });
  t.same(
    init.entries.map((e) => [e.index, e.term]),
    [
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 2],
      [5, 2],
    ],
  );
  t.equal(s.recovery.truncatedBytes, 0);
  s.close();
});

t.test('a conflicting append truncates the log, across segments', async (t) => {
  const dir = tmp();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  let s = FileStorage.open(dir, { segmentBytes: 100 });
  s.initialState(boot);
  for (let i = 4; i <= 20; i++) s.append([entry(i, 2)]);
  const segsBefore = fs.readdirSync(dir).filter((f) => f.startsWith('segment-')).length;
  t.ok(segsBefore > 3, `${segsBefore} segments`);
  s.append([entry(6, 3, 'new6'), entry(7, 3, 'new7')]);
  s.sync();
  s.close();
  s = FileStorage.open(dir, { segmentBytes: 100 });
  const init = s.initialState(boot);
  t.equal(init.entries.length, 7);
  t.same(
    init.entries.slice(3).map((e) => `${e.index}/${e.term}/${Buffer.from(e.data)}`),
    ['4/2/e4', '5/2/e5', '6/3/new6', '7/3/new7'],
  );
  s.close();
});

t.test('a torn last record is cut off on restart; so is a corrupt one and everything after it', async (t) => {
  const dir = tmp();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  let s = FileStorage.open(dir);
  s.initialState(boot);
  s.append([entry(4, 2), entry(5, 2), entry(6, 2)]);
  s.sync();
  s.close();
  const seg = path.join(
    dir,
    fs.readdirSync(dir).find((f) => f.startsWith('segment-'))!,
  );
  const full = fs.statSync(seg).size;
  fs.truncateSync(seg, full - 3); // the last write was torn
  s = FileStorage.open(dir);
  let init = s.initialState(boot);
  t.equal(init.entries[init.entries.length - 1].index, 5);
  t.equal(s.recovery.truncatedBytes, 27 - 3, 'the torn part of the 27-byte record');
  t.equal(fs.statSync(seg).size, full - 27, 'file cut at the last good record');
  s.append([entry(6, 3, 'again')]);
  s.sync();
  s.close();
  // Corrupt entry 5's payload: 5 and 6 go.
  const buf = fs.readFileSync(seg);
  const recs: number[] = [];
  for (let off = 0; off < buf.length;) {
    recs.push(off);
    off += 8 + buf.readUInt32BE(off);
  }
  buf[recs[4] + 20] ^= 0xff;
  fs.writeFileSync(seg, buf);
  s = FileStorage.open(dir);
  init = s.initialState(boot);
  t.same(
    init.entries.map((e) => e.index),
    [1, 2, 3, 4],
  );
  t.equal(s.recovery.truncatedBytes, buf.length - recs[4]);
  s.close();
});

t.test('hard state is replaced atomically and a stray temp file is ignored', async (t) => {
  const dir = tmp();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  let s = FileStorage.open(dir);
  s.initialState(boot);
  s.setHardState({ term: 9, vote: 2, commit: 3 });
  s.sync();
  s.close();
  fs.writeFileSync(path.join(dir, 'hardstate.tmp'), 'half-written garbage');
  s = FileStorage.open(dir);
  t.same(s.initialState(boot).hardState, { term: 9, vote: 2, commit: 3 });
  s.close();
  const hs = fs.readFileSync(path.join(dir, 'hardstate'));
  hs[hs.length - 2] ^= 1;
  fs.writeFileSync(path.join(dir, 'hardstate'), hs);
  t.throws(() => FileStorage.open(dir), /hard state checksum/);
});

t.test('a snapshot compacts whole segments and a restart starts from it', async (t) => {
  const dir = tmp();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  let s = FileStorage.open(dir, { segmentBytes: 100 });
  s.initialState(boot);
  for (let i = 4; i <= 30; i++) s.append([entry(i, 2)]);
  s.sync();
  const before = fs.readdirSync(dir).filter((f) => f.startsWith('segment-')).length;
  s.saveSnapshot({
    meta: { index: 25, term: 2, confState: { voters: [1, 2, 3], learners: [] } },
    data: Buffer.from('STATE'),
  });
  // Compacted segments are deleted on the thread pool, right after.
  const segments = (): number => fs.readdirSync(dir).filter((f) => f.startsWith('segment-')).length;
  for (let i = 0; i < 200 && segments() >= before; i++) await new Promise((r) => setTimeout(r, 5));
  const after = segments();
  t.ok(after < before, `segments ${before} -> ${after}`);
  s.close();
  s = FileStorage.open(dir, { segmentBytes: 100 });
  const init = s.initialState(boot);
  t.equal(init.snapshot!.meta.index, 25);
  t.equal(Buffer.from(init.snapshot!.data).toString(), 'STATE');
  t.same(
    init.entries.map((e) => e.index),
    [26, 27, 28, 29, 30],
  );
  t.ok(init.hardState.commit >= 25);
  // A leader's snapshot that replaces the log entirely.
  s.saveSnapshot(
    { meta: { index: 40, term: 4, confState: { voters: [1, 2, 3], learners: [] } }, data: Buffer.from('X') },
    40,
    true,
  );
  s.append([entry(41, 4)]);
  s.sync();
  s.close();
  s = FileStorage.open(dir, { segmentBytes: 100 });
  t.same(
    s.initialState(boot).entries.map((e) => e.index),
    [41],
  );
  s.close();
});

t.test(
  'an application snapshot saved on the thread pool: durable, compacts, loses to a newer one',
  async (t) => {
    const dir = tmp();
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    let journal = HostJournal.open(path.join(dir, 'journal'));
    let s = FileStorage.open(path.join(dir, 'g'), { segmentBytes: 100, journal, group: 1 });
    s.initialState(boot);
    journal.recoveryDone();
    /** Close everything and open it again, as a restart would. */
    const restart = async (): Promise<InitialState> => {
      s.close();
      journal.close();
      await journal.settled();
      journal = HostJournal.open(path.join(dir, 'journal'));
      s = FileStorage.open(path.join(dir, 'g'), { segmentBytes: 100, journal, group: 1 });
      return s.initialState(boot);
    };
    const noTempFile = (): boolean => !fs.readdirSync(path.join(dir, 'g')).some((f) => f.includes('tmp'));
    const conf = { voters: [1, 2, 3], learners: [] };
    const snap = (index: number, term: number, data: string): Snapshot => ({
      meta: { index, term, confState: conf },
      data: Buffer.from(data),
    });
    for (let i = 4; i <= 30; i++) s.append([entry(i, 2)]);
    const saving = s.saveSnapshotAsync(snap(25, 2, 'A'), 20);
    // Appends go on while it is written.
    s.append([entry(31, 2)]);
    await saving;
    t.equal(s.snapshot()!.meta.index, 25);
    await s.syncAsync();
    let init = await restart();
    t.equal(init.snapshot!.meta.index, 25);
    t.equal(Buffer.from(init.snapshot!.data).toString(), 'A');
    t.same(
      init.entries.map((e) => e.index),
      [26, 27, 28, 29, 30, 31],
    );
    t.ok(noTempFile(), 'no temporary file is left behind');
    // A leader's snapshot installed while an older local one is being written wins.
    const older = s.saveSnapshotAsync(snap(28, 2, 'B'));
    s.saveSnapshot(snap(50, 3, 'L'), 50, true);
    await older;
    t.equal(s.snapshot()!.meta.index, 50, 'the older snapshot was dropped');
    init = await restart();
    t.equal(Buffer.from(init.snapshot!.data).toString(), 'L');
    t.same(init.entries, []);
    t.ok(noTempFile(), 'the dropped snapshot left no file');
    // A close while it is written drops it too.
    const late = s.saveSnapshotAsync(snap(60, 3, 'C'));
    s.close();
    await late;
    t.ok(noTempFile(), 'a snapshot dropped at close left no file');
    t.equal(s.snapshot()!.meta.index, 50);
    journal.close();
    await journal.settled();
  },
);
