import t from 'tap';
import { TargetRegistry } from '../../src/target/registry';
import { showAccounts, showTargetParams, showTargets, tgtDiskSizeMb } from '../../src/target/show';
import { fakeDeps, nexus } from './fake-deps';

// Captured from Debian's tgtd 1.0.85 on this machine after:
//   tgtadm --op new --mode target --tid 1 -T iqn.2024-01.com.example:golden
//   tgtadm --op new --mode logicalunit --tid 1 --lun 1 -E null -b /dev/null
//   tgtadm --op bind --mode target --tid 1 -I 192.168.10.0/24
//   tgtadm --op bind --mode target --tid 1 -Q iqn.1994-05.com.redhat:client1
//   tgtadm --op new --mode account --user alice --password alicepass12   (and carol)
//   tgtadm --op bind --mode account --tid 1 --user alice
//   tgtadm --op bind --mode account --tid 1 --user carol --outgoing
//   tgtadm --op show --mode target
const TGT_GOLDEN =
  'Target 1: iqn.2024-01.com.example:golden\n    System information:\n        Driver: iscsi\n        State: ready\n    I_T nexus information:\n    LUN information:\n        LUN: 0\n            Type: controller\n            SCSI ID: IET     00010000\n            SCSI SN: beaf10\n            Size: 0 MB, Block size: 1\n            Online: Yes\n            Removable media: No\n            Prevent removal: No\n            Readonly: No\n            SWP: No\n            Thin-provisioning: No\n            Backing store type: null\n            Backing store path: None\n            Backing store flags: \n        LUN: 1\n            Type: disk\n            SCSI ID: IET     00010001\n            SCSI SN: beaf11\n            Size: 1099512 MB, Block size: 512\n            Online: Yes\n            Removable media: No\n            Prevent removal: No\n            Readonly: No\n            SWP: No\n            Thin-provisioning: No\n            Backing store type: null\n            Backing store path: /dev/null\n            Backing store flags: \n    Account information:\n        alice\n        carol (outgoing)\n    ACL information:\n        192.168.10.0/24\n        iqn.1994-05.com.redhat:client1\n';

// tgtadm --op show --mode account on the same daemon.
const TGT_ACCOUNTS = 'Account list:\n    carol\n    alice\n';

async function goldenRegistry(): Promise<TargetRegistry> {
  const reg = new TargetRegistry({ deps: fakeDeps() });
  reg.createTarget(1, 'iqn.2024-01.com.example:golden');
  await reg.addLogicalUnit(1, { lun: 1, path: '/dev/null', bstype: 'null' });
  reg.bindInitiators(1, { address: '192.168.10.0/24' });
  reg.bindInitiators(1, { name: 'iqn.1994-05.com.redhat:client1' });
  reg.accounts.add('alice', 'alicepass12');
  reg.accounts.add('carol', 'carolpass12');
  reg.bindAccount(1, 'alice', false);
  reg.bindAccount(1, 'carol', true);
  return reg;
}

t.test('show target matches tgt 1.0.85 byte for byte', async (t) => {
  const reg = await goldenRegistry();
  t.equal(showTargets(reg.listTargets(), reg.accounts), TGT_GOLDEN);
  t.equal(showAccounts(reg.accounts), TGT_ACCOUNTS);
  t.equal(showAccounts(new TargetRegistry({ deps: fakeDeps() }).accounts), '', 'no accounts: no output');
  t.equal(showTargets([], reg.accounts), '');
});

t.test(
  'I_T nexus lines (tgt: "I_T nexus: N / Initiator: ... alias: none / Connection / IP Address")',
  async (t) => {
    const reg = await goldenRegistry();
    const tg = reg.getTarget(1);
    tg.nexusAdded(nexus(1, 'iqn.2024-01.org.test:init1'), { address: '127.0.0.1', connections: 1 });
    const expected =
      '    I_T nexus information:\n' +
      '        I_T nexus: 1\n' +
      '            Initiator: iqn.2024-01.org.test:init1 alias: none\n' +
      '            Connection: 0\n' +
      '                IP Address: 127.0.0.1\n' +
      '    LUN information:\n';
    t.ok(showTargets(reg.listTargets(), reg.accounts).includes(expected));
    const fromSessions = showTargets(reg.listTargets(), reg.accounts, () => [
      { tsih: 4, initiator: 'iqn.x', isid: '00023d000001', connections: [{ cid: 2, address: '::1' }] },
    ]);
    t.ok(
      fromSessions.includes(
        '        I_T nexus: 4\n            Initiator: iqn.x alias: none\n            Connection: 2\n                IP Address: ::1\n',
      ),
    );
  },
);

t.test('show target --tid: the parameter list of tgt 1.0.85', async (t) => {
  const reg = await goldenRegistry();
  reg.updateTarget(1, 'HeaderDigest', 'None,CRC32C');
  reg.updateTarget(1, 'OFMarkInt', '0');
  reg.updateTarget(1, 'nop_interval', '5');
  // Captured from tgtd 1.0.85 after the same three updates.
  t.equal(
    showTargetParams(reg.getTarget(1)),
    'nop_interval=5\nnop_count=0\nMaxRecvDataSegmentLength=8192\nHeaderDigest=CRC32C\nDataDigest=None\n' +
      'InitialR2T=Yes\nMaxOutstandingR2T=1\nImmediateData=Yes\nFirstBurstLength=65536\nMaxBurstLength=262144\n' +
      'DataPDUInOrder=Yes\nDataSequenceInOrder=Yes\nErrorRecoveryLevel=0\nIFMarker=No\nOFMarker=No\n' +
      'DefaultTime2Wait=2\nDefaultTime2Retain=20\nOFMarkInt=Irrelevant\nIFMarkInt=Reject\nMaxConnections=1\n' +
      'RDMAExtensions=Yes\nTargetRecvDataSegmentLength=262144\nInitiatorRecvDataSegmentLength=262144\n' +
      'MaxOutstandingUnexpectedPDUs=0\nMaxXmitDataSegmentLength=8192\nMaxQueueCmd=128\n',
  );
});

t.test("sizes as tgt's print_disksize shows them (values seen on tgtd 1.0.85)", async (t) => {
  t.equal(tgtDiskSizeMb(0), 0);
  t.equal(tgtDiskSizeMb(512), 0);
  t.equal(tgtDiskSizeMb(1499999), 1);
  t.equal(tgtDiskSizeMb(1500000), 1);
  t.equal(tgtDiskSizeMb(64 * 1024 * 1024), 67);
  t.equal(tgtDiskSizeMb(2 ** 40), 1099512);
});
