import t from 'tap';
import { TargetRegistry } from '../../src/target/registry';
import { deriveNaa, defaultScsiId, defaultScsiSn, NAA_COMPANY_ID } from '../../src/target/lu-identity';
import { TgtError } from '../../src/target/tgt-error';
import { fakeDeps, FakeDevice, nexus, task } from './fake-deps';

async function errText(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (e instanceof TgtError) return e.message;
    throw e;
  }
  return 'no error';
}

t.test('a new target has LUN 0, the controller, with tgt identifiers', async (t) => {
  const deps = fakeDeps();
  const reg = new TargetRegistry({ deps });
  const tg = reg.createTarget(3, 'iqn.2024-01.com.example:t3');
  t.same([...tg.luns.keys()], [0]);
  const lu0 = tg.luns.get(0)!;
  t.equal(lu0.type, 'controller');
  t.equal(lu0.attrs.scsiId, 'IET     00030000');
  t.equal(lu0.attrs.scsiSn, 'beaf30');
  const ctrl = deps.devices[0];
  t.equal(ctrl.kind, 'controller');
  t.match(ctrl.params, { tid: 3, vendorId: 'IET', scsiId: 'IET     00030000', scsiSn: 'beaf30' });
  t.equal(reg.findTarget('iqn.2024-01.com.example:t3'), tg);
  t.equal(await errText(() => reg.createTarget(3, 'iqn.other')), 'this target already exists');
  t.equal(
    await errText(() => reg.createTarget(4, 'iqn.2024-01.com.example:t3')),
    'this target already exists',
  );
  t.equal(await errText(() => reg.getTarget(9)), "can't find the target");
});

t.test('default identifiers and NAA', async (t) => {
  t.equal(defaultScsiId(10, 12), 'IET     000a000c');
  t.equal(defaultScsiSn(10, 12), 'beaf1012');
  const a = deriveNaa('iqn.t', 1, '/dev/sdb');
  t.equal(a.length, 16);
  t.equal(a[0] >> 4, 6, 'NAA type 6 (IEEE registered extended)');
  const company = ((a[0] & 0x0f) << 20) | (a[1] << 12) | (a[2] << 4) | (a[3] >> 4);
  t.equal(company, NAA_COMPANY_ID);
  t.same(deriveNaa('iqn.t', 1, '/dev/sdb'), a, 'stable');
  t.notSame(deriveNaa('iqn.t', 2, '/dev/sdb'), a, 'per LUN');
  t.notSame(deriveNaa('iqn.u', 1, '/dev/sdb'), a, 'per target');
  t.notSame(deriveNaa('iqn.t', 1, '/dev/sdc'), a, 'per path');
});

t.test('logical units: create, refuse bad requests without changing anything, delete', async (t) => {
  const deps = fakeDeps();
  const reg = new TargetRegistry({ deps });
  const tg = reg.createTarget(1, 'iqn.t1');
  const events: unknown[] = [];
  for (const ev of ['lun-added', 'lun-removed', 'target-removed', 'target-offline'])
    reg.on(ev, (...args: unknown[]) => events.push([ev, ...args]));

  await reg.addLogicalUnit(1, { lun: 1, path: '/img/a', bstype: 'null' });
  const lu = tg.luns.get(1)!;
  t.equal(lu.bstype, 'null');
  t.equal(lu.size(), 2 ** 40);
  t.same(deps.opened[0], {
    type: 'null',
    opts: { path: '/img/a', oflags: [], opts: '', blockSize: 512, readonly: false },
  });
  const disk = deps.devices[1] as FakeDevice;
  t.match(disk.params, {
    tid: 1,
    lun: 1,
    blockSize: 512,
    scsiId: 'IET     00010001',
    scsiSn: 'beaf11',
    productId: 'VIRTUAL-DISK',
  });
  t.same((disk.params as { naa: Buffer }).naa, deriveNaa('iqn.t1', 1, '/img/a'));

  t.equal(
    await errText(reg.addLogicalUnit(1, { lun: 1, path: '/img/b' })),
    'this logical unit number already exists',
  );
  t.equal(await errText(reg.addLogicalUnit(2, { lun: 1, path: '/img/b' })), "can't find the target");
  t.equal(await errText(reg.addLogicalUnit(1, { lun: 2, path: '/img/b', bstype: 'foo' })), 'invalid request');
  t.equal(await errText(reg.addLogicalUnit(1, { lun: 2, path: '/img/missing' })), 'invalid request');
  t.equal(
    await errText(reg.addLogicalUnit(1, { lun: 2, path: '/img/b', bsoflags: 'bogus' })),
    'invalid request',
  );
  t.equal(
    await errText(reg.addLogicalUnit(1, { lun: 2, path: '/img/b', blockSize: 1000 })),
    'invalid request',
  );
  t.equal(
    await errText(reg.addLogicalUnit(1, { lun: 2, path: '/img/b', deviceType: 'tape' })),
    'invalid request',
  );
  t.same([...tg.luns.keys()], [0, 1], 'failed requests added nothing');
  t.equal(deps.stores.length, 1, 'no store left open by a refused request');

  await reg.addLogicalUnit(1, {
    lun: 2,
    path: '/img/b',
    bsoflags: 'direct:sync',
    blockSize: 4096,
    bsopts: 'x=y',
  });
  t.same(tg.luns.get(2)!.oflags, ['sync', 'direct']);
  t.equal(tg.luns.get(2)!.blockSize, 4096);
  await reg.addLogicalUnit(1, { lun: 3 });
  const noMedium = tg.luns.get(3)!;
  t.equal(noMedium.attrs.online, false, 'an LU without a backing store is offline');
  t.equal(noMedium.attrs.removable, true);
  t.equal(noMedium.path, undefined);

  t.equal(await errText(reg.deleteLogicalUnit(1, 0)), 'invalid request', 'LUN 0 stays');
  t.equal(await errText(reg.deleteLogicalUnit(1, 9)), "can't find the logical unit");
  await reg.deleteLogicalUnit(1, 2);
  t.equal(deps.stores[1].closed, true);
  t.same(events, [
    ['lun-added', 1, 1],
    ['lun-added', 1, 2],
    ['lun-added', 1, 3],
    ['lun-removed', 1, 2],
  ]);
});

t.test('LU parameter updates are all-or-nothing', async (t) => {
  const deps = fakeDeps({ updatable: true });
  const reg = new TargetRegistry({ deps });
  const tg = reg.createTarget(1, 'iqn.t1');
  await reg.addLogicalUnit(1, { lun: 1, path: '/img/a' });
  const lu = tg.luns.get(1)!;
  const before = { ...lu.attrs };
  t.equal(
    await errText(() => reg.updateLogicalUnit(1, 1, 'readonly=1,thin_provisioning=1,bogus=1')),
    'invalid request',
  );
  t.same(lu.attrs, before, 'nothing applied');
  t.equal(await errText(() => reg.updateLogicalUnit(1, 7, 'readonly=1')), "can't find the logical unit");

  const disk = lu.device as FakeDevice;
  await reg.updateLogicalUnit(1, 1, 'readonly=1,thin_provisioning=1');
  t.equal(lu.device, disk, 'runtime settings are applied in place');
  t.same(disk.updates, [
    {
      readonly: true,
      thinProvisioning: true,
      online: true,
      senseFormat: 'fixed',
      removable: false,
      rotationRate: 0,
      lbppbe: 0,
      lowestAlignedLba: 0,
      optimalTransferLengthGranularity: undefined,
      optimalTransferLength: undefined,
      modePages: [],
    },
  ]);
  await reg.updateLogicalUnit(1, 1, 'vendor_id=TOOLONGVENDOR,product_id=SUPERDISK,scsi_sn=' + 'a'.repeat(40));
  t.equal(lu.attrs.vendorId, 'TOOLONGV', 'truncated to 8 like tgt');
  t.equal(lu.attrs.scsiSn, 'a'.repeat(36));
  t.not(lu.device, disk, 'identity changes recreate the disk');
  t.match((lu.device as FakeDevice).params, { vendorId: 'TOOLONGV', productId: 'SUPERDISK', readonly: true });
  await reg.updateLogicalUnit(1, 1, 'readonly=yes,online=0,sense_format=1');
  t.equal(lu.attrs.readonly, false, "atoi('yes') is 0, as in tgt");
  t.equal(lu.attrs.online, false);
  t.equal(lu.attrs.senseFormat, 'descriptor');
});

t.test('target updates: state, nop, iSCSI keys', async (t) => {
  const reg = new TargetRegistry({ deps: fakeDeps(), nopInterval: 5, nopCount: 3 });
  const tg = reg.createTarget(1, 'iqn.t1');
  t.equal(tg.nopInterval(), 5, 'daemon defaults');
  t.equal(tg.nopCount(), 3);
  const offline: number[] = [];
  reg.on('target-offline', (tid: number) => offline.push(tid));
  reg.updateTarget(1, 'state', 'offline');
  reg.updateTarget(1, 'state', 'offline');
  t.equal(tg.state, 'offline');
  t.same(offline, [1], 'emitted once, on the transition');
  t.equal(await errText(() => reg.updateTarget(1, 'state', 'bogus')), 'invalid request');
  t.equal(await errText(() => reg.updateTarget(1, 'State', 'ready')), 'invalid request');
  reg.updateTarget(1, 'state', 'ready');
  reg.updateTarget(1, 'nop_interval', 'abc');
  reg.updateTarget(1, 'nop_count', '-1');
  t.equal(tg.nopInterval(), 0);
  t.equal(tg.nopCount(), -1);
  reg.updateTarget(1, 'headerdigest', 'None,CRC32C');
  reg.updateTarget(1, 'MaxRecvDataSegmentLength', '0x200');
  reg.updateTarget(1, 'ImmediateData', 'No');
  t.equal(tg.iscsiParams().get('HeaderDigest'), 'None,CRC32C');
  t.equal(tg.iscsiParams().get('MaxRecvDataSegmentLength'), '512');
  t.equal(tg.iscsiParams().get('ImmediateData'), 'No');
  for (const [k, v] of [
    ['MaxRecvDataSegmentLength', '511'],
    ['MaxRecvDataSegmentLength', '16777216'],
    ['FirstBurstLength', 'abc'],
    ['InitialR2T', 'yes'],
    ['HeaderDigest', 'crc32c'],
    ['HeaderDigest', ''],
    ['MaxQueueCmd', '513'],
    ['MaxOutstandingUnexpectedPDUs', '1'],
    ['ErrorRecoveryLevel', '3'],
    ['NoSuchKey', '1'],
  ])
    t.equal(await errText(() => reg.updateTarget(1, k, v)), 'invalid request', `${k}=${v}`);
  t.equal(tg.iscsiParams().get('MaxRecvDataSegmentLength'), '512', 'refused values change nothing');
});

t.test('ACLs and accounts through the target view', async (t) => {
  const reg = new TargetRegistry({ deps: fakeDeps() });
  const tg = reg.createTarget(1, 'iqn.t1');
  t.equal(tg.isAllowed('iqn.i', '10.0.0.1'), false, 'no ACL: nobody');
  reg.bindInitiators(1, { address: '10.0.0.0/24', name: 'iqn.i' });
  t.equal(
    await errText(() => reg.bindInitiators(1, { address: '10.0.0.0/24' })),
    'this access control rule already exists',
  );
  t.equal(
    await errText(() => reg.bindInitiators(1, { address: '10.9.0.0/24', name: 'iqn.i' })),
    'this access control rule already exists',
  );
  t.same(tg.addressRules, ['10.0.0.0/24'], 'a refused bind adds neither rule');
  t.equal(tg.isAllowed('iqn.i', '10.0.0.1'), true);
  t.equal(tg.isAllowed('iqn.j', '10.0.0.1'), false);
  t.equal(
    await errText(() => reg.unbindInitiators(1, { name: 'iqn.none' })),
    'this access control rule does not exist',
  );
  reg.unbindInitiators(1, { name: 'iqn.i' });
  t.equal(tg.isAllowed('iqn.j', '10.0.0.1'), true);

  reg.accounts.add('alice', 'alicepass12');
  reg.bindAccount(1, 'alice', false);
  reg.bindAccount(undefined, 'alice', false);
  t.same(tg.incomingAccounts(), [{ user: 'alice', password: 'alicepass12' }]);
  t.same(reg.discoveryAccounts(), [{ user: 'alice', password: 'alicepass12' }]);
  t.equal(await errText(() => reg.bindAccount(5, 'alice', false)), "can't find the target");
  reg.setPortals([{ address: '127.0.0.1', port: 3260, tpgt: 1 }]);
  t.same(reg.portals(), [{ address: '127.0.0.1', port: 3260, tpgt: 1 }]);
});

t.test('execute: REPORT LUNS intercepted, LUN dispatch, unknown LUN, offline', async (t) => {
  const deps = fakeDeps();
  const reg = new TargetRegistry({ deps });
  const tg = reg.createTarget(1, 'iqn.t1');
  await reg.addLogicalUnit(1, { lun: 5, path: '/img/a' });
  await reg.addLogicalUnit(1, { lun: 2, path: '/img/b' });
  const rl = await tg.execute(task(7, [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0]));
  t.same(rl.dataIn, Buffer.from('report'));
  t.same(deps.reportLunsCalls, [[0, 2, 5]], 'REPORT LUNS on any LUN, LUNs sorted');
  const r = await tg.execute(task(5, [0x00, 0, 0, 0, 0, 0]));
  t.same(r.dataIn, Buffer.from('disk'));
  t.equal(deps.devices[1].executed.length, 1, 'LUN 5 device got it');
  const c = await tg.execute(task(0, [0x12, 0, 0, 0, 36, 0]));
  t.same(c.dataIn, Buffer.from('controller'));
  const u = await tg.execute(task(9, [0x00, 0, 0, 0, 0, 0]));
  t.equal(u.status, 0x02);
  t.same(deps.unknownLunCalls, [[0, 2, 5]]);
  t.equal(tg.hasLun(5), true);
  t.equal(tg.hasLun(9), false);

  // A task in flight keeps its LU from being deleted (tgt: "this logical unit is still active").
  let release!: () => void;
  deps.devices[1].gate = new Promise<void>((r) => (release = r));
  const pending = tg.execute(task(5, [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]));
  t.equal(await errText(reg.deleteLogicalUnit(1, 5)), 'this logical unit is still active');
  release();
  await pending;
  await reg.deleteLogicalUnit(1, 5);

  reg.updateTarget(1, 'state', 'offline');
  const busy = await tg.execute(task(2, [0x00, 0, 0, 0, 0, 0]));
  t.equal(busy.status, 0x08, 'offline target answers BUSY');
});

t.test('nexus bookkeeping, resets, delete with and without force', async (t) => {
  const deps = fakeDeps();
  const reg = new TargetRegistry({ deps });
  const tg = reg.createTarget(1, 'iqn.t1');
  await reg.addLogicalUnit(1, { lun: 1, path: '/img/a' });
  const removed: number[] = [];
  reg.on('target-removed', (tid: number) => removed.push(tid));
  const n = nexus(7);
  tg.nexusAdded(n, { address: '10.0.0.1', connections: 1 });
  tg.resetLun(1, n);
  tg.resetTarget(n);
  t.same(deps.devices[1].resets, [n, n]);
  t.same(deps.devices[0].resets, [n], 'target reset reaches LUN 0 too');
  t.equal(await errText(reg.deleteTarget(1, false)), 'this target is still active');
  t.equal(reg.listTargets().length, 1);
  tg.nexusRemoved(n);
  t.same(deps.devices[1].gone, [n]);
  tg.nexusAdded(n, { address: '10.0.0.1', connections: 1 });
  await reg.deleteTarget(1, true);
  t.same(removed, [1]);
  t.equal(reg.listTargets().length, 0);
  t.equal(deps.stores[0].closed, true);
  t.equal(await errText(reg.deleteTarget(1, true)), "can't find the target");
  // Sessions the transport reports through the session source count as activity too.
  reg.createTarget(2, 'iqn.t2');
  reg.setSessionSource((tid) =>
    tid === 2 ? [{ tsih: 1, initiator: 'iqn.i', isid: '00', connections: [] }] : [],
  );
  t.equal(await errText(reg.deleteTarget(2, false)), 'this target is still active');
});
