// tgt-admin --update planning: re-create selected targets (same tid), skip in-use ones unless forced,
// remove targets the file no longer has.
import t from 'tap';
import { parseTargetsConf } from '../../src/admin/targets-conf';
import { parseSelector, planUpdate, type PlanStep } from '../../src/admin/targets-conf-plan';

const conf = parseTargetsConf(
  '<target iqn.a>\n backing-store /a\n</target>\n<target iqn.c>\n backing-store /c\n</target>\n',
  't.conf',
);
const ctx = (inUse: boolean, force = false) => ({
  existingTargets: [
    { tid: 1, name: 'iqn.a', inUse },
    { tid: 2, name: 'iqn.b', inUse: false },
  ],
  existingAccounts: [],
  pathExists: () => true,
  force,
});
const cmds = (steps: PlanStep[]): string[] =>
  steps.filter((s) => 'args' in s).map((s) => ('args' in s ? s.args.join(' ') : ''));

t.test('update ALL', async (t) => {
  const c = cmds(planUpdate(conf, ctx(false), parseSelector('ALL')));
  t.equal(c[0], '--mode target --op delete --tid 1', 'existing target deleted first');
  t.ok(c.includes('--lld iscsi --op new --mode target --tid 1 -T iqn.a'), 're-created with the same tid');
  t.ok(c.includes('--lld iscsi --op new --mode target --tid 3 -T iqn.c'), 'new target gets the next tid');
  t.ok(c.includes('--mode target --op delete --tid 2'), 'target absent from the file removed');
});

t.test('in-use targets need --force', async (t) => {
  const steps = planUpdate(conf, ctx(true), parseSelector('ALL'));
  t.ok(steps.some((s) => 'comment' in s && /iqn.a \(tid 1\) is in use/.test(s.comment)));
  t.notOk(cmds(steps).some((c) => c.includes('--tid 1 -T iqn.a')));
  const forced = cmds(planUpdate(conf, ctx(true, true), parseSelector('ALL')));
  t.equal(forced[0], '--mode target --op delete --tid 1 --force');
});

t.test('selectors', async (t) => {
  const byName = cmds(planUpdate(conf, ctx(false), parseSelector('iqn.c')));
  t.same(
    byName.filter((c) => c.includes('-T')),
    ['--lld iscsi --op new --mode target --tid 3 -T iqn.c'],
  );
  t.notOk(
    byName.some((c) => c.includes('delete')),
    'other targets untouched',
  );
  const empty = parseTargetsConf('', '/dev/null');
  t.same(
    cmds(planUpdate(empty, ctx(false, true), parseSelector('ALL'))),
    ['--mode target --op delete --tid 1', '--mode target --op delete --tid 2'],
    'update ALL -c /dev/null -f removes everything (the unit ExecStop)',
  );
});
