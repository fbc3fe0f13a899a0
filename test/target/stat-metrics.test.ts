// stat tables (tgt's column layout), per-LU counters on the execute path, the Prometheus export,
// LU -P keys beyond identity, system/lld state and portal parameters.
import t from 'tap';
import { Registry } from 'prom-client';
import type { ItNexus, ScsiTask } from '../../src/scsi/scsi-types';
import { parsePortalParam, TargetRegistry } from '../../src/target/registry';
import { STAT_HEADER, statLine, statTarget } from '../../src/target/stat';
import { registerTargetMetrics } from '../../src/target/target-metrics';
import { emptyNexusLuStat } from '../../src/target/lu-stats';
import { fakeDeps } from './fake-deps';

const nexus: ItNexus = {
  id: 7,
  initiatorPortName: 'iqn.i,i,0x1',
  initiatorName: 'iqn.i',
  targetPortName: 'iqn.t1,t,0x1',
  relativeTargetPortId: 1,
  targetPortGroup: 1,
};

function task(lun: number, read: boolean, bytes: number): ScsiTask {
  return {
    nexus,
    lun,
    cdb: Buffer.from([read ? 0x28 : 0x2a, 0, 0, 0, 0, 0, 0, 0, 8, 0]),
    attr: 1,
    tag: 1,
    expectedDataTransferLength: bytes,
    readExpected: read,
    writeExpected: !read,
    dataOut: read ? undefined : Buffer.alloc(bytes),
    aborted: false,
  };
}

t.test('stat line layout is tgt_stat_line', async (t) => {
  const s = { ...emptyNexusLuStat(), rdSubmBytes: 4096, rdSubmCmds: 1, errs: 2 };
  t.equal(
    statLine(1, 2, 3, s),
    '  1   2   3         4096      1            0      0            0      0            0      0    2\n',
  );
  t.equal(STAT_HEADER.split(' ').length, 8);
});

t.test('execute path counts per LU and nexus; metrics export them', async (t) => {
  const reg = new TargetRegistry({ deps: fakeDeps() });
  const tg = reg.createTarget(1, 'iqn.t1');
  await reg.addLogicalUnit(1, { lun: 1, path: '/f', bstype: 'rdwr' });
  tg.nexusAdded(nexus, { address: '127.0.0.1', connections: 1 });
  await tg.execute(task(1, false, 4096));
  const rows = statTarget(tg, (id) => id);
  t.match(rows, /^ {2}1 {3}1 {3}7 +0 +0 +0 +0 +4096 +1 +4096 +1 +0\n$/);
  const prom = new Registry();
  registerTargetMetrics(reg, prom);
  const text = await prom.metrics();
  t.match(text, /tgtd_lun_ops_total\{target="iqn.t1",lun="1",op="write"\} 1/);
  t.match(text, /tgtd_lun_bytes_total\{target="iqn.t1",lun="1",direction="write"\} 4096/);
  t.match(text, /tgtd_lun_latency_seconds_count\{target="iqn.t1",lun="1",op="write"\} 1/);
  t.match(text, /tgtd_lun_latency_seconds_bucket\{target="iqn.t1",lun="1",op="write",le="\+Inf"\} 1/);
  tg.nexusRemoved(nexus);
  t.equal(
    statTarget(tg, (id) => id),
    '',
    'rows live as long as the nexus, as in tgt',
  );
});

t.test('LU -P keys: numbers, mode_page, disksize=auto; unknown keys change nothing', async (t) => {
  const reg = new TargetRegistry({ deps: fakeDeps({ updatable: true }) });
  reg.createTarget(1, 'iqn.t1');
  await reg.addLogicalUnit(1, { lun: 1, path: '/f', bstype: 'rdwr' });
  const lu = reg.getTarget(1).luns.get(1)!;
  await reg.updateLogicalUnit(
    1,
    1,
    'rotation_rate=1,lbppbe=3,optimal_xfer_len=128,mode_page=8:0:18,disksize=auto',
  );
  t.equal(lu.attrs.rotationRate, 1);
  t.equal(lu.attrs.lbppbe, 3);
  t.equal(lu.attrs.optimalXferLen, 128);
  t.same(lu.attrs.modePages, ['8:0:18']);
  const before = { ...lu.attrs };
  await t.rejects(reg.updateLogicalUnit(1, 1, 'lbppbe=1,disksize=100'), { message: 'invalid request' });
  await t.rejects(reg.updateLogicalUnit(1, 1, 'path=/g'), { message: 'invalid request' }, 'not removable');
  await t.rejects(reg.updateLogicalUnit(1, 1, 'lbppbe=16'), { message: 'invalid request' }, 'exponent > 15');
  await t.rejects(reg.updateLogicalUnit(1, 1, 'la_lba=16384'), { message: 'invalid request' }, '14 bits');
  await t.rejects(reg.updateLogicalUnit(1, 1, 'mode_page=8:0:1:1:2'), { message: 'invalid request' });
  t.same(lu.attrs, before);
});

t.test('system state gates logins, lld stop needs no targets, portal parameters', async (t) => {
  const reg = new TargetRegistry({ deps: fakeDeps() });
  const tg = reg.createTarget(1, 'iqn.t1');
  reg.updateSystem('State', 'offline');
  t.equal(tg.state, 'offline', 'the transport sees the target offline');
  t.equal(tg.ownState, 'ready', 'show still prints the target state');
  reg.updateSystem('State', 'ready');
  t.equal(tg.state, 'ready');
  t.throws(() => reg.updateSystem('State', 'bogus'), { message: 'invalid request' });
  t.throws(() => reg.setLldState('stopped'), { message: 'this driver is busy' });
  t.same(parsePortalParam('portal=127.0.0.1'), { address: '127.0.0.1', port: 3260 });
  t.same(parsePortalParam('portal=[::1]:3261'), { address: '::1', port: 3261 });
  t.equal(parsePortalParam('portal=1.2.3.4:99999'), undefined);
  t.equal(parsePortalParam('addr=1.2.3.4'), undefined);
});
