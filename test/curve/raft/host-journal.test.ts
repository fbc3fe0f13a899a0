// The host journal: appends of many groups made durable by one shared fsync, replayed into group files
// that lost their unsynced tail, snapshot barriers, checkpoints, torn journal tails, shared fsyncs.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bootstrapState } from '../../../src/curve/raft/bootstrap';
import { FileStorage } from '../../../src/curve/raft/file-storage';
import { HostJournal } from '../../../src/curve/raft/host-journal';
import { crc32c } from '../../../src/iscsi/crc32c';
import { Entry, EntryType } from '../../../src/curve/raft/types';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'raft-journal-'));
const entry = (index: number, term: number, data = `e${index}`): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new TextEncoder().encode(data),
});
const boot = bootstrapState([1, 2, 3]);
/** The journal's record files, oldest first (the pre-created spare-*.tmp file is not one of them). */
const journalFiles = (jdir: string): string[] =>
  fs
    .readdirSync(jdir)
    .filter((f) => f.startsWith('journal-'))
    .sort();
/** The journal's ready spare files (spare-*.tmp). */
const spareFiles = (jdir: string): string[] => fs.readdirSync(jdir).filter((f) => f.startsWith('spare-'));

/** Wait (up to ~2 s) until `ready()` holds; the spares are made in the background. */
async function waitUntil(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !ready(); i++) await new Promise((r) => setTimeout(r, 5));
}

/** Reopen one group over the journal in dir and return the index of its last entry (then close both). */
function reopenedLastIndex(dir: string, opts = {}): number {
  const { j, groups } = openGroups(dir, 1, opts);
  const entries = groups[0].initialState(boot).entries;
  groups[0].close();
  j.close();
  return entries[entries.length - 1].index;
}

const view = (es: Entry[]): string[] =>
  es.map((e) => `${e.index}/${e.term}/${e.type}/${Buffer.from(e.data).toString()}`);

/** What a power loss does to files that were never fsynced: they lose their content. */
function loseUnsyncedSegments(groupDir: string, fromIndex: number): void {
  for (const f of fs.readdirSync(groupDir)) {
    if (f.startsWith('segment-') && Number(f.slice(8, -4)) >= fromIndex)
      fs.truncateSync(path.join(groupDir, f), 0);
  }
}

/**
 * A journal that saw `appends` from group 1 (then one sync) and was closed: its directory, the journal
 * directory and the (first) journal file, for tests that damage or rewrite it before reopening.
 */
async function closedJournal(
  t: { teardown(fn: () => unknown): void },
  appends: Entry[][],
): Promise<{ dir: string; jdir: string; file: string }> {
  const dir = tmp();
  t.teardown(() => removeAfterJournals(dir));
  const { j, groups } = openGroups(dir, 1);
  groups[0].initialState(boot);
  for (const a of appends) groups[0].append(a);
  await groups[0].syncAsync();
  groups[0].close();
  j.close();
  const jdir = path.join(dir, 'journal');
  return { dir, jdir, file: path.join(jdir, journalFiles(jdir)[0]) };
}

/** A temp directory removed at teardown, and its journal directory. */
function tmpDirs(t: { teardown(fn: () => unknown): void }): { dir: string; jdir: string } {
  const dir = tmp();
  t.teardown(() => removeAfterJournals(dir));
  return { dir, jdir: path.join(dir, 'journal') };
}

/** One bootstrapped group on a journal that checkpoints every 64 KiB, recovery done. */
function checkpointingGroup(dir: string): { j: HostJournal; groups: FileStorage[] } {
  const opened = openGroups(dir, 1, { checkpointBytes: 64 << 10 });
  opened.groups[0].initialState(boot);
  opened.j.recoveryDone();
  return opened;
}

/** Every journal this file opened: a directory is removed only after their background work ended. */
const opened: HostJournal[] = [];

async function removeAfterJournals(dir: string): Promise<void> {
  await Promise.all(opened.map((j) => j.settled()));
  fs.rmSync(dir, { recursive: true, force: true });
}

function openGroups(dir: string, n: number, opts = {}): { j: HostJournal; groups: FileStorage[] } {
  const j = HostJournal.open(path.join(dir, 'journal'), opts);
  opened.push(j);
  const groups: FileStorage[] = [];
  for (let g = 1; g <= n; g++)
    groups.push(FileStorage.open(path.join(dir, `g${g}`), { journal: j, group: g }));
  return { j, groups };
}

t.test('appends of several groups become durable with one journal fsync and are replayed', async (t) => {
  const dir = tmp();
  t.teardown(() => removeAfterJournals(dir));
  let { j, groups } = openGroups(dir, 3);
  for (const s of groups) s.initialState(boot);
  const synced = j.counters.syncs;
  // New segments so that "losing the unsynced files" removes exactly the journaled appends.
  groups[0].append([entry(4, 2, 'a'.repeat(5000)), entry(5, 2)]);
  groups[1].append([entry(4, 3), entry(5, 3), entry(6, 3)]);
  groups[1].append([entry(6, 4, 'conflict wins')]); // truncates 6/3
  await Promise.all(groups.map((s) => s.syncAsync()));
  t.equal(j.counters.syncs, synced + 1, 'one fsync for all groups');
  for (const s of groups) s.close();
  j.close();

  // The group files never saw an fsync after bootstrap: pretend the machine lost them.
  fs.truncateSync(
    path.join(
      dir,
      'g1',
      fs.readdirSync(path.join(dir, 'g1')).find((f) => f.startsWith('segment-'))!,
    ),
    0,
  );
  loseUnsyncedSegments(path.join(dir, 'g2'), 1);

  ({ j, groups } = openGroups(dir, 3));
  const [a, b, c] = groups.map((s) => s.initialState(boot));
  t.same(view(a.entries).slice(3), ['4/2/0/' + 'a'.repeat(5000), '5/2/0/e5']);
  t.same(view(b.entries).slice(3), ['4/3/0/e4', '5/3/0/e5', '6/4/0/conflict wins']);
  t.same(view(c.entries), view(boot.entries), 'an untouched group keeps its bootstrap log');
  t.equal(groups[1].lastIndex(), 6);
  for (const s of groups) s.close();
  j.close();
});

t.test('a snapshot barrier keeps replaced entries from coming back', async (t) => {
  const dir = tmp();
  t.teardown(() => removeAfterJournals(dir));
  let { j, groups } = openGroups(dir, 1);
  const [s] = groups;
  s.initialState(boot);
  s.append([entry(4, 2), entry(5, 2), entry(6, 2)]);
  await s.syncAsync();
  // A leader's snapshot at 10 replaces the whole log; then 11 and 12 arrive.
  s.saveSnapshot(
    { meta: { index: 10, term: 5, confState: boot.confState }, data: new Uint8Array([1, 2]) },
    10,
    true,
  );
  s.append([entry(11, 5), entry(12, 5)]);
  await s.syncAsync();
  s.close();
  j.close();
  loseUnsyncedSegments(path.join(dir, 'g1'), 11);

  ({ j, groups } = openGroups(dir, 1));
  const init = groups[0].initialState(boot);
  t.equal(init.snapshot?.meta.index, 10);
  t.same(view(init.entries), ['11/5/0/e11', '12/5/0/e12'], 'only what follows the snapshot');
  groups[0].close();
  j.close();
});

t.test('a checkpoint fsyncs the group files and deletes old journal files', async (t) => {
  const dir = tmp();
  t.teardown(() => removeAfterJournals(dir));
  let { j, groups } = openGroups(dir, 2, { checkpointBytes: 64 << 10 });
  for (const s of groups) s.initialState(boot);
  j.recoveryDone();
  const big = 'x'.repeat(4096);
  let index = 4;
  while (j.counters.checkpoints === 0) {
    for (const s of groups) s.append([entry(index, 2, big)]);
    index++;
    await Promise.all(groups.map((s) => s.syncAsync()));
    await new Promise((r) => setImmediate(r));
    if (index > 500) break;
  }
  t.equal(j.counters.checkpoints, 1, 'checkpointed once the journal passed 64 KiB');
  const journals = journalFiles(path.join(dir, 'journal'));
  t.equal(journals.length, 1, 'only the current journal file is left');
  for (const s of groups) s.close();
  j.close();
  ({ j, groups } = openGroups(dir, 2));
  for (const s of groups) t.equal(s.initialState(boot).entries.length, index - 1);
  for (const s of groups) s.close();
  j.close();
});

t.test('a torn journal tail is ignored and never extended', async (t) => {
  const { dir, jdir, file } = await closedJournal(t, [[entry(4, 2), entry(5, 2)]]);
  fs.appendFileSync(file, Buffer.from([0, 0, 0, 40, 1, 2, 3]));
  loseUnsyncedSegments(path.join(dir, 'g1'), 1);

  const { j, groups } = openGroups(dir, 1);
  t.same(view(groups[0].initialState(boot).entries).slice(3), ['4/2/0/e4', '5/2/0/e5']);
  t.equal(journalFiles(jdir).length, 2, 'writes continue in a new journal file');
  groups[0].close();
  j.close();
});

t.test('the journal is zero-filled ahead of the writes; a torn record in the zero tail is cut', async (t) => {
  const { dir, file } = await closedJournal(t, [[entry(4, 2), entry(5, 2)]]);
  const buf = fs.readFileSync(file);
  t.ok(buf.length >= 4 << 20, `file preallocated (${buf.length} bytes), so fsyncs overwrite existing blocks`);
  // The end of the records: walk the [u32 length][u32 crc] headers to the first zero length.
  let end = 0;
  while (buf.readUInt32BE(end) !== 0) end += 8 + buf.readUInt32BE(end);
  t.ok(end > 0 && buf.subarray(end).every((b) => b === 0), 'zeros after the last record');
  // A write cut short right after the last record: a plausible length, a wrong checksum, zeros after it.
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.from([0, 0, 0, 40, 1, 2, 3, 4, 0, 0, 0, 1, 9]), 0, 13, end);
  fs.closeSync(fd);
  loseUnsyncedSegments(path.join(dir, 'g1'), 1);

  let { j, groups } = openGroups(dir, 1);
  t.same(view(groups[0].initialState(boot).entries).slice(3), ['4/2/0/e4', '5/2/0/e5']);
  groups[0].append([entry(6, 2)]);
  await groups[0].syncAsync();
  groups[0].close();
  j.close();
  ({ j, groups } = openGroups(dir, 1));
  t.same(
    view(groups[0].initialState(boot).entries).slice(3),
    ['4/2/0/e4', '5/2/0/e5', '6/2/0/e6'],
    'later appends (in the next journal file) replay after the cut',
  );
  groups[0].close();
  j.close();
});

t.test(
  'writes during a running fsync start another at once; callers with nothing new share one',
  async (t) => {
    const dir = tmp();
    t.teardown(() => removeAfterJournals(dir));
    const { j, groups } = openGroups(dir, 2);
    for (const s of groups) s.initialState(boot);
    const before = j.counters.syncs;
    groups[0].append([entry(4, 2)]);
    const p1 = groups[0].syncAsync();
    groups[1].append([entry(4, 2)]); // written while the first fsync runs
    const p2 = groups[1].syncAsync();
    t.equal(j.counters.syncs, before + 2, 'the second fsync started without waiting for the first');
    const p3 = groups[0].syncAsync();
    await Promise.all([p1, p2, p3]);
    t.equal(j.counters.syncs, before + 2, 'the third caller shared the last fsync');
    await groups[0].syncAsync();
    t.equal(j.counters.syncs, before + 2, 'nothing new written: no fsync');
    // More writers than fsyncs may run at once: the extra ones share one that starts when the oldest ends.
    const many: Promise<void>[] = [];
    for (let i = 5; i < 10; i++) {
      groups[0].append([entry(i, 2)]);
      many.push(groups[0].syncAsync());
    }
    t.equal(j.counters.syncs, before + 5, 'three at once');
    await Promise.all(many);
    t.equal(j.counters.syncs, before + 6, 'the last two writers shared a fourth');
    for (const s of groups) s.close();
    j.close();
  },
);

t.test(
  'term and vote changes are durable through the journal and reach the file at a checkpoint',
  async (t) => {
    const dir = tmp();
    t.teardown(() => removeAfterJournals(dir));
    let { j, groups } = openGroups(dir, 2, { checkpointBytes: 32 << 10 });
    for (const s of groups) s.initialState(boot);
    const hardFile = (g: number): string => path.join(dir, `g${g}`, 'hardstate');
    const before = fs.readFileSync(hardFile(1));
    groups[0].setHardState({ term: 7, vote: 2, commit: 3 });
    groups[1].setHardState({ term: 4, vote: 0, commit: 3 });
    await Promise.all(groups.map((s) => s.syncAsync()));
    t.same(fs.readFileSync(hardFile(1)), before, 'no per-group hardstate file write on the hot path');
    for (const s of groups) s.close();
    j.close();

    ({ j, groups } = openGroups(dir, 2, { checkpointBytes: 32 << 10 }));
    t.same(groups[0].initialState(boot).hardState, { term: 7, vote: 2, commit: 3 });
    t.same(groups[1].initialState(boot).hardState, { term: 4, vote: 0, commit: 3 });
    // A checkpoint rewrites the stale hardstate files; the journal is then no longer needed for them.
    j.recoveryDone();
    let index = 4;
    while (j.counters.checkpoints === 0 && index < 200) {
      groups[0].append([entry(index++, 7, 'y'.repeat(4096))]);
      await groups[0].syncAsync();
      await new Promise((r) => setTimeout(r, 1));
    }
    while (journalFiles(path.join(dir, 'journal')).length > 1) await new Promise((r) => setTimeout(r, 5));
    for (const s of groups) s.close();
    j.close();
    await j.settled();
    fs.rmSync(path.join(dir, 'journal'), { recursive: true });
    ({ j, groups } = openGroups(dir, 2));
    t.same(groups[0].initialState(boot).hardState.term, 7);
    t.same(groups[1].initialState(boot).hardState.term, 4, 'from the file alone');
    for (const s of groups) s.close();
    j.close();
  },
);

/** The journal records of a file: [offset, payload] up to the first zero length. */
function journalRecords(buf: Buffer): { at: number; payload: Buffer }[] {
  const out: { at: number; payload: Buffer }[] = [];
  for (let o = 0; o + 8 <= buf.length && buf.readUInt32BE(o) !== 0; o += 8 + buf.readUInt32BE(o)) {
    out.push({ at: o, payload: buf.subarray(o + 8, o + 8 + buf.readUInt32BE(o)) });
  }
  return out;
}

t.test('an append record whose entry bytes were torn is cut with everything after it', async (t) => {
  const { dir, file } = await closedJournal(t, [
    [entry(4, 2, 'x'.repeat(3000))],
    [entry(5, 2, 'y'.repeat(3000)), entry(6, 2)],
  ]);
  const buf = fs.readFileSync(file);
  const recs = journalRecords(buf);
  const last = recs[recs.length - 1];
  t.equal(last.payload[4], 0x84, 'appends are written as salted APPEND_RECORDS (kind 4 | 0x80)');
  t.ok(last.payload.includes(Buffer.from('y'.repeat(3000))), 'the entry bytes are in the record as written');
  // Damage one byte of entry 5's data: only its own record crc can tell.
  const at = last.at + 8 + last.payload.indexOf(Buffer.from('yyyy')) + 100;
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.from('z'), 0, 1, at);
  fs.closeSync(fd);
  loseUnsyncedSegments(path.join(dir, 'g1'), 1);

  const { j, groups } = openGroups(dir, 1);
  t.same(
    view(groups[0].initialState(boot).entries)
      .slice(3)
      .map((v) => v.slice(0, 8)),
    ['4/2/0/xx'],
    'entry 4 replays; the damaged record (entries 5, 6) is treated as a torn tail',
  );
  groups[0].close();
  j.close();
});

/**
 * Rewrite every record of a journal file without the salt, as older releases wrote them: appends as
 * `appendKind` (1: crc over the whole payload; 4: crc over the inner records' crcs), the others unsalted.
 */
function unsaltFile(file: string, appendKind: 1 | 4): number {
  const buf = fs.readFileSync(file);
  let rewritten = 0;
  for (const r of journalRecords(buf)) {
    const kind = r.payload[4] & 0x7f;
    r.payload[4] = kind === 4 ? appendKind : kind;
    let crc = crc32c(r.payload);
    if (kind === 4 && appendKind === 4) {
      crc = crc32c(r.payload.subarray(0, 5));
      for (let o = 5; o < r.payload.length; o += 8 + r.payload.readUInt32BE(o))
        crc = crc32c(r.payload.subarray(o + 4, o + 8), crc);
    }
    buf.writeUInt32BE(crc, r.at + 4);
    rewritten++;
  }
  fs.writeFileSync(file, buf);
  return rewritten;
}

for (const appendKind of [1, 4] as const) {
  t.test(
    `journal files of older releases (unsalted, appends as kind ${appendKind}) still replay`,
    async (t) => {
      const { dir, file } = await closedJournal(t, [[entry(4, 2), entry(5, 2)]]);
      t.ok(unsaltFile(file, appendKind) > 0, 'records rewritten in the older format');
      loseUnsyncedSegments(path.join(dir, 'g1'), 1);

      const { j, groups } = openGroups(dir, 1);
      t.same(view(groups[0].initialState(boot).entries).slice(3), ['4/2/0/e4', '5/2/0/e5']);
      groups[0].close();
      j.close();
    },
  );
}

t.test(
  'a record salted for another journal file (a leftover of its earlier use) ends the replay',
  async (t) => {
    const { dir, jdir, file } = await closedJournal(t, [[entry(4, 2)], [entry(5, 2)]]);
    // The same bytes under the next sequence number: every record's salt is now wrong.
    const seq = Number(path.basename(file).slice(8, -4));
    const renamed = path.join(jdir, `journal-${String(seq + 1).padStart(20, '0')}.log`);
    fs.renameSync(file, renamed);
    loseUnsyncedSegments(path.join(dir, 'g1'), 1);
    const { j, groups } = openGroups(dir, 1);
    t.same(view(groups[0].initialState(boot).entries), [], 'nothing replays from a file of another sequence');
    groups[0].close();
    j.close();
  },
);

t.test(
  'unsalted leftovers after salted records (a recycled file of an older release) are not replayed',
  async (t) => {
    // An older release's record for entries 4-5, and a current journal that holds entry 4 only.
    const older = await closedJournal(t, [[entry(4, 2), entry(5, 2)]]);
    unsaltFile(older.file, 4);
    const olderRecs = journalRecords(fs.readFileSync(older.file));
    const leftover = olderRecs[olderRecs.length - 1];
    const { dir, file } = await closedJournal(t, [[entry(4, 2)]]);
    const current = fs.readFileSync(file);
    const end = journalRecords(current).reduce((n, r) => r.at + 8 + r.payload.length, 0);
    // What recycling such a file can leave: the current salted records, then a whole valid old record.
    const leftoverBytes = fs
      .readFileSync(older.file)
      .subarray(leftover.at, leftover.at + 8 + leftover.payload.length);
    leftoverBytes.copy(current, end);
    fs.writeFileSync(file, current);
    loseUnsyncedSegments(path.join(dir, 'g1'), 1);
    const { j, groups } = openGroups(dir, 1);
    t.same(
      view(groups[0].initialState(boot).entries).slice(3),
      ['4/2/0/e4'],
      'only the salted records replay',
    );
    groups[0].close();
    j.close();
  },
);

t.test(
  'checkpoints recycle the old journal file as the next spare; its old records never replay',
  async (t) => {
    const { dir, jdir } = tmpDirs(t);
    let { j, groups } = checkpointingGroup(dir);
    const big = 'r'.repeat(4096);
    let index = 4;
    /** inode -> the journal- names it has had. */
    const names = new Map<number, Set<string>>();
    // Run until a recycled spare is in use as the journal (3 checkpoints).
    while (j.counters.checkpoints < 3 && index < 2000) {
      groups[0].append([entry(index++, 2, big)]);
      await groups[0].syncAsync();
      for (const f of journalFiles(jdir)) {
        const ino = fs.statSync(path.join(jdir, f)).ino;
        names.set(ino, (names.get(ino) ?? new Set()).add(f));
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    t.equal(j.counters.checkpoints, 3, 'three checkpoints');
    t.ok(j.counters.recycled >= 1, `${j.counters.recycled} journal files recycled`);
    const current = journalFiles(jdir);
    t.equal(current.length, 1, 'one journal file');
    const reused = names.get(fs.statSync(path.join(jdir, current[0])).ino) ?? new Set();
    t.ok(reused.size >= 2, `the current file was an earlier journal file (${[...reused].join(', ')})`);
    const lastAcked = index - 1;
    // The journal must bring back exactly the acknowledged entries, none of the leftovers further down
    // the recycled file (replaying one would truncate the log back to its index).
    groups[0].close();
    j.close();
    ({ j, groups } = openGroups(dir, 1));
    const es = groups[0].initialState(boot).entries;
    t.equal(es[es.length - 1].index, lastAcked, 'replay ends at the last acknowledged entry');
    t.same(
      es.map((e) => e.index),
      Array.from({ length: lastAcked }, (_, i) => i + 1),
      'every index once, in order',
    );
    groups[0].close();
    j.close();
  },
);

t.test(
  'a close while a spare is filled or a checkpoint runs leaves no file behind and loses nothing',
  async (t) => {
    const { dir, jdir } = tmpDirs(t);
    const closeLeavesOnlyJournalFiles = async (j: HostJournal, groups: FileStorage[]): Promise<void> => {
      groups[0].close();
      j.close();
      await j.settled();
      t.same(
        fs.readdirSync(jdir).filter((f) => !f.startsWith('journal-')),
        [],
        'no filling- or spare- file after the close settled',
      );
    };
    // recoveryDone() starts filling a spare: close at once, in the middle of it.
    let { j, groups } = checkpointingGroup(dir);
    await closeLeavesOnlyJournalFiles(j, groups);
    // Close right after the append that starts a checkpoint (its fsyncs and recycling run on the pool).
    ({ j, groups } = checkpointingGroup(dir));
    const big = 'z'.repeat(4096);
    let index = 4;
    while (j.counters.checkpoints === 0 && index < 200) {
      groups[0].append([entry(index++, 2, big)]);
      await groups[0].syncAsync();
      if ((j as unknown as { checkpointing: boolean }).checkpointing) break;
    }
    t.ok(index > 4 && index < 200, 'a checkpoint started');
    await closeLeavesOnlyJournalFiles(j, groups);
    ({ j, groups } = openGroups(dir, 1));
    const back = groups[0].initialState(boot).entries.map((e) => e.index);
    t.same(
      back.slice(3),
      Array.from({ length: index - 4 }, (_, i) => i + 4),
      'every acknowledged entry replays',
    );
    groups[0].close();
    j.close();
  },
);

t.test(
  'a fresh journal switches to a full-size spare when its first file runs out of zero-filled room',
  async (t) => {
    const { dir, jdir } = tmpDirs(t);
    const eight = 8 << 20;
    const { j, groups } = openGroups(dir, 1, { checkpointBytes: eight });
    groups[0].initialState(boot);
    j.recoveryDone();
    const spares = (): string[] => spareFiles(jdir);
    await waitUntil(() => spares().length > 0);
    t.same(
      spares().map((f) => fs.statSync(path.join(jdir, f)).size),
      [eight],
      'the spare is zero-filled to the whole checkpoint interval',
    );
    const first = journalFiles(jdir)[0];
    const big = 'z'.repeat(64 << 10);
    let index = 4;
    while (j.counters.checkpoints === 0 && index < 200) {
      groups[0].append([entry(index++, 2, big)]);
      await groups[0].syncAsync();
      await new Promise((r) => setImmediate(r));
    }
    t.equal(j.counters.checkpoints, 1, 'checkpointed');
    t.ok(
      (index - 4) * (64 << 10) < 5 << 20,
      `early: after ${index - 4} appends of 64 KiB, not 8 MiB of them`,
    );
    t.equal(j.counters.extended, 1, 'only the first write zero-filled room in place (4 MiB at open)');
    const current = journalFiles(jdir).filter((f) => f !== first);
    t.equal(current.length, 1, 'one journal file after the first');
    t.equal(fs.statSync(path.join(jdir, current[0])).size, eight, 'writes continue in the full-size spare');
    await waitUntil(() => !journalFiles(jdir).includes(first) && spares().length > 0);
    t.notOk(journalFiles(jdir).includes(first), 'the first file is gone');
    t.same(
      spares().map((f) => fs.statSync(path.join(jdir, f)).size),
      [eight],
      'not recycled (too small): a new full-size spare instead',
    );
    groups[0].close();
    j.close();
    t.equal(
      reopenedLastIndex(dir, { checkpointBytes: eight }),
      index - 1,
      'every acknowledged append replays',
    );
  },
);

t.test(
  'checkpoints switch to a journal file created ahead on the zero-fill worker; its records replay',
  async (t) => {
    const { dir, jdir } = tmpDirs(t);
    const { j, groups } = checkpointingGroup(dir);
    // The spare for the next checkpoint is being made: wait for it.
    const spare = (): Promise<void> => waitUntil(() => spareFiles(jdir).length > 0);
    await spare();
    t.equal(spareFiles(jdir).length, 1, 'a spare file is prepared while the journal is open');
    const big = 'y'.repeat(4096);
    let index = 4;
    while (j.counters.checkpoints < 2 && index < 1000) {
      const before = journalFiles(jdir);
      groups[0].append([entry(index++, 2, big)]);
      await groups[0].syncAsync();
      const after = journalFiles(jdir);
      if (after.join() !== before.join() && after.length > before.length) {
        const newest = after[after.length - 1];
        t.ok(
          fs.statSync(path.join(jdir, newest)).size >= 4 << 20,
          `${newest} was zero-filled ahead (it is the renamed spare)`,
        );
        await spare(); // let the next spare appear before the next checkpoint
      }
      await new Promise((r) => setImmediate(r));
    }
    t.equal(j.counters.checkpoints, 2, 'two checkpoints');
    groups[0].close();
    j.close();
    t.same(spareFiles(jdir), [], 'close removes the unused spare');
    // (The group's files were fsynced at the checkpoints; what came after replays from the journal.)
    t.equal(reopenedLastIndex(dir), index - 1, 'every acknowledged append replays');
  },
);

t.test(
  'with a journal, entries reach the segment files only when needed, never when a snapshot came first',
  async (t) => {
    const dir = tmp();
    t.teardown(() => removeAfterJournals(dir));
    let { j, groups } = openGroups(dir, 2);
    for (const s of groups) s.initialState(boot);
    const segments = (g: number): string[] =>
      fs
        .readdirSync(path.join(dir, `g${g}`))
        .filter((f) => f.startsWith('segment-'))
        .sort();
    const segBytes = (g: number): number =>
      segments(g).reduce((n, f) => n + fs.statSync(path.join(dir, `g${g}`, f)).size, 0);
    const before = segBytes(1);
    const data = 'd'.repeat(1000);
    for (let i = 4; i < 404; i++) {
      groups[0].append([entry(i, 2, data)]);
      groups[1].append([entry(i, 2, data)]);
      await Promise.all(groups.map((s) => s.syncAsync()));
    }
    t.equal(segBytes(1), before, 'acknowledged appends wrote nothing to the segment files');
    // A crash: the process dies (no close); a restart replays the journal.
    ({ j, groups } = openGroups(dir, 2));
    for (const s of groups) {
      const es = s.initialState(boot).entries;
      t.same(
        es.map((e) => e.index),
        Array.from({ length: 403 }, (_, i) => i + 1),
        'every acknowledged entry is back, once, in order',
      );
    }
    // Group 1 snapshots at 300 (no barrier, nothing synced but the snapshot), then the process dies.
    await groups[0].saveSnapshotAsync(
      { meta: { index: 300, term: 2, confState: boot.confState }, data: Buffer.from('S') },
      300,
    );
    ({ j, groups } = openGroups(dir, 2));
    const after = groups[0].initialState(boot);
    t.equal(after.snapshot?.meta.index, 300, 'the snapshot survived the crash');
    t.same(
      after.entries.map((e) => e.index),
      Array.from({ length: 103 }, (_, i) => i + 301),
      'the journal replays the entries above it',
    );
    groups[1].initialState(boot);
    // The entries up to the snapshot are never written; close writes the rest.
    for (const s of groups) s.close();
    j.close();
    await j.settled();
    t.ok(
      segBytes(1) < 110 * 1025,
      `group 1's files got only the entries above its snapshot (${segBytes(1)} bytes)`,
    );
    t.ok(segBytes(2) > 400 * 1000, "group 2's files got everything");
    // The group files alone (no journal) restore both; group 1's files start after a gap below its
    // snapshot (its old first segment is dropped on open if its removal had not happened yet).
    fs.rmSync(path.join(dir, 'journal'), { recursive: true });
    ({ j, groups } = openGroups(dir, 2));
    const g1 = groups[0].initialState(boot);
    t.equal(g1.snapshot?.meta.index, 300, "group 1's snapshot");
    t.same(
      g1.entries.map((e) => e.index),
      Array.from({ length: 103 }, (_, i) => i + 301),
      'group 1: the snapshot and the entries above it',
    );
    t.same(segments(1), ['segment-00000000000000000301.log'], 'only the segment written after the gap');
    t.equal(groups[1].initialState(boot).entries.length, 403, 'group 2: every entry');
    for (const s of groups) s.close();
    j.close();
  },
);

/** Bytes in a group's segment files. */
const segmentBytes = (groupDir: string): number =>
  fs
    .readdirSync(groupDir)
    .filter((f) => f.startsWith('segment-'))
    .reduce((n, f) => n + fs.statSync(path.join(groupDir, f)).size, 0);

const checkpointDone = (j: HostJournal): boolean =>
  !(j as unknown as { checkpointing: boolean }).checkpointing;

t.test(
  'kept journal files: entries a snapshot covers before the file goes never reach the group files',
  async (t) => {
    const { dir, jdir } = tmpDirs(t);
    const { j, groups } = openGroups(dir, 1, { checkpointBytes: 64 << 10, retainFiles: 1 });
    const g = groups[0];
    g.initialState(boot);
    j.recoveryDone();
    const gdir = path.join(dir, 'g1');
    const before = segmentBytes(gdir);
    let index = 4;
    const appendUntil = async (checkpoints: number): Promise<void> => {
      while (j.counters.checkpoints < checkpoints && index < 2000) {
        g.append([entry(index++, 2, 'r'.repeat(4096))]);
        await g.syncAsync();
        await new Promise((r) => setImmediate(r));
      }
      await waitUntil(() => checkpointDone(j));
    };
    await appendUntil(1);
    t.equal(j.counters.checkpoints, 1, 'checkpointed');
    t.equal(journalFiles(jdir).length, 2, 'the ended file is kept, next to the current one');
    t.equal(segmentBytes(gdir), before, 'no entry copied to the group files');

    const snapIndex = index - 1;
    await g.saveSnapshotAsync({
      meta: { index: snapIndex, term: 2, confState: boot.confState },
      data: Buffer.from('S'),
    });
    await appendUntil(2);
    t.equal(j.counters.checkpoints, 2, 'checkpointed again');
    t.equal(journalFiles(jdir).length, 2, 'the file the snapshot covered went; the one just ended stays');
    t.equal(segmentBytes(gdir), before, 'still no entry copied');

    // A crash (nothing closed): the snapshot and every entry after it come back from the kept files.
    const last = index - 1;
    j.close();
    await j.settled();
    const re = openGroups(dir, 1, { checkpointBytes: 64 << 10, retainFiles: 1 });
    const init = re.groups[0].initialState(boot);
    t.equal(init.snapshot?.meta.index, snapIndex, 'snapshot');
    t.equal(init.entries.length, last - snapIndex, 'every entry after it');
    t.equal(init.entries[0].index, snapIndex + 1);
    t.equal(init.entries[init.entries.length - 1].index, last);
    t.equal(Buffer.from(init.entries[0].data).toString(), 'r'.repeat(4096));
    re.groups[0].close();
    re.j.close();
  },
);

t.test(
  'beyond retainFiles the oldest kept file is written out to the group files, then goes; a crash loses nothing',
  async (t) => {
    const { dir, jdir } = tmpDirs(t);
    const opts = { checkpointBytes: 64 << 10, retainFiles: 1 };
    const { j, groups } = openGroups(dir, 2, opts);
    for (const s of groups) s.initialState(boot);
    j.recoveryDone();
    const before = segmentBytes(path.join(dir, 'g1'));
    let index = 4;
    while (j.counters.checkpoints < 4 && index < 2000) {
      for (const s of groups) s.append([entry(index, 2, `z${index}`.repeat(500))]);
      index++;
      await Promise.all(groups.map((s) => s.syncAsync()));
      await new Promise((r) => setImmediate(r));
    }
    await waitUntil(() => checkpointDone(j));
    t.equal(j.counters.checkpoints, 4, 'four checkpoints');
    t.equal(journalFiles(jdir).length, 2, 'the current file and one kept');
    t.ok(segmentBytes(path.join(dir, 'g1')) > before, "released files' entries are in the group files");

    // A crash: the group files (fsynced when a file was released) plus the kept and current files.
    const last = index - 1;
    j.close();
    await j.settled();
    const re = openGroups(dir, 2, opts);
    for (const s of re.groups) {
      const entries = s.initialState(boot).entries;
      t.equal(entries.length, last, 'bootstrap entries and every append');
      t.same(
        entries.slice(3).map((e) => Buffer.from(e.data).toString()),
        Array.from({ length: last - 3 }, (_, i) => `z${i + 4}`.repeat(500)),
        'in order, intact',
      );
      s.close();
    }
    re.j.close();
  },
);

t.test('a closed group releases its kept journal files once its own files are durable', async (t) => {
  const { dir, jdir } = tmpDirs(t);
  const opts = { checkpointBytes: 64 << 10, retainFiles: 3 };
  const { j, groups } = openGroups(dir, 2, opts);
  for (const s of groups) s.initialState(boot);
  j.recoveryDone();
  let index = 4;
  // Group 2 writes a little, then closes; group 1 keeps writing.
  groups[1].append([entry(4, 2, 'closing')]);
  await groups[1].syncAsync();
  groups[1].close();
  while (j.counters.checkpoints < 2 && index < 2000) {
    groups[0].append([entry(index++, 2, 'w'.repeat(4096))]);
    await groups[0].syncAsync();
    await new Promise((r) => setImmediate(r));
  }
  await waitUntil(() => checkpointDone(j));
  t.equal(journalFiles(jdir).length, 3, 'two ended files kept for group 1, and the current one');
  j.close();
  await j.settled();
  // Group 2's entry survives without the journal: close() made it durable in its own files.
  fs.rmSync(jdir, { recursive: true });
  const re = openGroups(dir, 2, opts);
  const entries = re.groups[1].initialState(boot).entries;
  t.equal(Buffer.from(entries[entries.length - 1].data).toString(), 'closing');
  for (const s of re.groups) s.close();
  re.j.close();
});
