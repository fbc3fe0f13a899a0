// CmdSN window: in-order delivery, queueing of early commands, drops outside the window, wrap-around,
// and gaps consumed by ABORT TASK.
import t from 'tap';
import { CmdWindow } from '../../src/iscsi/cmd-window';
import { snAdd, snDiff, snLe, snLt } from '../../src/iscsi/serial';

t.test('serial arithmetic wraps at 2^32 (RFC 1982)', async (t) => {
  t.ok(snLt(1, 2));
  t.notOk(snLt(2, 1));
  t.ok(snLt(0xffffffff, 0), 'max < 0 across the wrap');
  t.ok(snLt(0xfffffff0, 5));
  t.notOk(snLt(5, 5));
  t.ok(snLe(5, 5));
  t.equal(snAdd(0xffffffff, 2), 1);
  t.equal(snDiff(1, 0xffffffff), 2);
});

t.test('delivers in order and releases queued commands when the gap fills', async (t) => {
  const w = new CmdWindow<string>(10, 4);
  t.equal(w.maxCmdSN, 13);
  t.equal(w.offer(12, 'c'), 'queued');
  t.equal(w.offer(11, 'b'), 'queued');
  t.equal(w.offer(14, 'x'), 'drop', 'beyond MaxCmdSN');
  t.equal(w.offer(9, 'old'), 'drop', 'below ExpCmdSN');
  t.equal(w.offer(12, 'dup'), 'drop', 'duplicate CmdSN');
  t.equal(w.offer(10, 'a'), 'deliver');
  t.same(w.advance(), ['b', 'c']);
  t.equal(w.expCmdSN, 13);
  t.equal(w.maxCmdSN, 16);
  t.ok(w.isOld(12));
});

t.test('wraps around 2^32', async (t) => {
  const w = new CmdWindow<number>(0xfffffffe, 8);
  t.equal(w.offer(0, 2), 'queued');
  t.equal(w.offer(0xffffffff, 1), 'queued');
  t.equal(w.offer(0xfffffffe, 0), 'deliver');
  t.same(w.advance(), [1, 2]);
  t.equal(w.expCmdSN, 1);
});

t.test('a consumed gap (aborted, never-received command) lets later commands through', async (t) => {
  const w = new CmdWindow<string>(100, 16);
  t.equal(w.offer(101, 'b'), 'queued');
  t.same(w.consumeGap(100), ['b']);
  t.equal(w.expCmdSN, 102);
  t.equal(w.offer(103, 'd'), 'queued');
  t.same(w.consumeGap(102), ['d']);
  t.equal(w.offer(105, 'f'), 'queued');
  w.cancel(105);
  t.same(w.consumeGap(104), [], 'cancelled command consumes its slot but is not delivered');
  t.equal(w.expCmdSN, 106);
});
