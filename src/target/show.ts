// tgtadm's `--op show` texts, byte for byte as tgt 1.0.85 prints them (checked against the real
// daemon; see test/target/show.test.ts for the captured output).
import type { AccountStore } from './accounts';
import { showAluaParams } from './alua-params';
import { displayIscsiValue, ISCSI_TARGET_KEYS } from './iscsi-target-params';
import type { LogicalUnit } from './logical-unit';
import type { SessionInfo, Target } from './target';

const TAB1 = '    ';
const TAB2 = TAB1 + TAB1;
const TAB3 = TAB2 + TAB1;
const TAB4 = TAB3 + TAB1;

const yesNo = (b: boolean): string => (b ? 'Yes' : 'No');

/** tgt's print_disksize(): a decimal-megabyte approximation done in 512-byte sectors. */
export function tgtDiskSizeMb(size: number): number {
  const sectors = Math.floor(size / 512);
  return Math.floor((sectors - (Math.floor(sectors / 625) - 974)) / 1950);
}

function showLun(lu: LogicalUnit): string {
  return (
    `${TAB2}LUN: ${lu.lun}\n` +
    `${TAB3}Type: ${lu.type}\n` +
    `${TAB3}SCSI ID: ${lu.attrs.scsiId}\n` +
    `${TAB3}SCSI SN: ${lu.attrs.scsiSn}\n` +
    `${TAB3}Size: ${tgtDiskSizeMb(lu.size())} MB, Block size: ${lu.blockSize}\n` +
    `${TAB3}Online: ${yesNo(lu.attrs.online)}\n` +
    `${TAB3}Removable media: ${yesNo(lu.attrs.removable)}\n` +
    `${TAB3}Prevent removal: No\n` +
    `${TAB3}Readonly: ${yesNo(lu.attrs.readonly)}\n` +
    `${TAB3}SWP: No\n` +
    `${TAB3}Thin-provisioning: ${yesNo(lu.attrs.thinProvisioning)}\n` +
    `${TAB3}Backing store type: ${lu.bstype}\n` +
    `${TAB3}Backing store path: ${lu.path ?? 'None'}\n` +
    `${TAB3}Backing store flags: ${lu.oflags.join(':')}\n`
  );
}

/** The I_T nexus lines: from the transport's sessions when known, else from the nexus list. */
function showNexuses(t: Target, sessions: SessionInfo[] | undefined): string {
  let out = '';
  if (sessions) {
    for (const s of sessions) {
      out += `${TAB2}I_T nexus: ${s.tsih}\n${TAB3}Initiator: ${s.initiator} alias: none\n`;
      for (const c of s.connections) out += `${TAB3}Connection: ${c.cid}\n${TAB4}IP Address: ${c.address}\n`;
    }
    return out;
  }
  for (const n of [...t.nexuses.values()].sort((a, b) => a.nexus.id - b.nexus.id)) {
    out += `${TAB2}I_T nexus: ${n.nexus.id}\n${TAB3}Initiator: ${n.nexus.initiatorName} alias: none\n`;
    for (let c = 0; c < n.connections; c++)
      out += `${TAB3}Connection: ${c}\n${TAB4}IP Address: ${n.address}\n`;
  }
  return out;
}

export function showTarget(t: Target, accounts: AccountStore, sessions?: SessionInfo[]): string {
  let out =
    `Target ${t.tid}: ${t.name}\n` +
    `${TAB1}System information:\n` +
    `${TAB2}Driver: iscsi\n` +
    `${TAB2}State: ${t.ownState}\n` +
    // tgt's iscsi_print_nop_settings: only when NOP-Ins are enabled.
    (t.nopIntervalValue !== 0
      ? `${TAB2}Nop interval: ${t.nopIntervalValue}\n${TAB2}Nop count: ${t.nopCountValue}\n`
      : '') +
    `${TAB1}I_T nexus information:\n` +
    showNexuses(t, sessions) +
    `${TAB1}LUN information:\n`;
  for (const lu of t.sortedLuns()) out += showLun(lu);
  out += `${TAB1}Account information:\n`;
  for (const a of accounts.incomingOf(t.tid)) out += `${TAB2}${a.user}\n`;
  const outgoing = accounts.outgoingOf(t.tid);
  if (outgoing) out += `${TAB2}${outgoing.user} (outgoing)\n`;
  out += `${TAB1}ACL information:\n`;
  for (const rule of [...t.addressRules, ...t.nameRules]) out += `${TAB2}${rule}\n`;
  return out;
}

export function showTargets(
  targets: Target[],
  accounts: AccountStore,
  sessionsOf: (tid: number) => SessionInfo[] | undefined = () => undefined,
): string {
  return targets.map((t) => showTarget(t, accounts, sessionsOf(t.tid))).join('');
}

/** `--op show --mode target --tid N`: NOP settings then every iSCSI key. */
export function showTargetParams(t: Target): string {
  let out = `nop_interval=${t.nopIntervalValue}\nnop_count=${t.nopCountValue}\n`;
  for (const key of ISCSI_TARGET_KEYS)
    out += `${key.name}=${displayIscsiValue(key, t.params.get(key.name) ?? key.def)}\n`;
  return out + showAluaParams(t.alua);
}

export function showAccounts(accounts: AccountStore): string {
  const users = accounts.users();
  if (users.length === 0) return '';
  return 'Account list:\n' + users.map((u) => `${TAB1}${u}\n`).join('');
}
