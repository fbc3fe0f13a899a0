// Applies one management request to the target registry. Every handler validates the whole request
// before changing anything (the registry's operations are check-then-mutate), so a refused request
// leaves the daemon as it was. Errors come back with tgt's texts.
import type { TargetRegistry } from '../target/registry';
import { showAccounts, showTargetParams, showTargets } from '../target/show';
import { TgtErrno, TgtError, tgtErrorText } from '../target/tgt-error';
import { MGMT_EINVAL, MGMT_OK, type MgmtRequest, type MgmtResponse } from './mgmt-protocol';

const invalid = (detail?: string): TgtError => new TgtError(TgtErrno.InvalidRequest, detail);

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw invalid(`missing ${what}`);
  return v;
}

async function targetMode(reg: TargetRegistry, req: MgmtRequest): Promise<string | undefined> {
  switch (req.op) {
    case 'new':
      reg.createTarget(need(req.tid, 'tid'), need(req.targetName, 'targetname'));
      return;
    case 'delete':
      await reg.deleteTarget(need(req.tid, 'tid'), req.force === true);
      return;
    case 'show':
      if (req.tid === undefined)
        return showTargets(reg.listTargets(), reg.accounts, (tid) => reg.sessionsOf(tid));
      return showTargetParams(reg.getTarget(req.tid));
    case 'bind':
      reg.bindInitiators(need(req.tid, 'tid'), { address: req.initiatorAddress, name: req.initiatorName });
      return;
    case 'unbind':
      reg.unbindInitiators(need(req.tid, 'tid'), { address: req.initiatorAddress, name: req.initiatorName });
      return;
    case 'update':
      reg.updateTarget(need(req.tid, 'tid'), need(req.name, 'name'), need(req.value, 'value'));
      return;
    default:
      throw new TgtError(TgtErrno.UnsupportedOperation);
  }
}

async function logicalUnitMode(reg: TargetRegistry, req: MgmtRequest): Promise<undefined> {
  const tid = need(req.tid, 'tid');
  const lun = need(req.lun, 'lun');
  switch (req.op) {
    case 'new':
      await reg.addLogicalUnit(tid, {
        lun,
        path: req.backingStore,
        bstype: req.bstype,
        bsoflags: req.bsoflags,
        bsopts: req.bsopts,
        blockSize: req.blockSize,
        deviceType: req.deviceType,
      });
      return;
    case 'delete':
      await reg.deleteLogicalUnit(tid, lun);
      return;
    case 'update':
      reg.updateLogicalUnit(tid, lun, req.params ?? '');
      return;
    default:
      throw new TgtError(TgtErrno.UnsupportedOperation);
  }
}

function accountMode(reg: TargetRegistry, req: MgmtRequest): string | undefined {
  switch (req.op) {
    case 'new':
      reg.accounts.add(need(req.user, 'user'), need(req.password, 'password'));
      return;
    case 'delete':
      reg.accounts.delete(need(req.user, 'user'));
      return;
    case 'show':
      return showAccounts(reg.accounts);
    case 'bind':
      reg.bindAccount(req.tid, need(req.user, 'user'), req.outgoing === true);
      return;
    case 'unbind':
      reg.unbindAccount(req.tid, need(req.user, 'user'), req.outgoing === true);
      return;
    default:
      throw new TgtError(TgtErrno.UnsupportedOperation);
  }
}

function systemShow(reg: TargetRegistry, storeTypes: string[]): string {
  return (
    'System:\n    State: ready\n    debug: off\nLLDs:\n    iscsi: ready\nBacking stores:\n' +
    storeTypes.map((t) => `    ${t}\n`).join('') +
    'Device types:\n    disk\n    controller\n' +
    `Targets: ${reg.listTargets().length}\n`
  );
}

function portalShow(reg: TargetRegistry): string {
  return reg
    .portals()
    .map((p) => `Portal: ${p.address.includes(':') ? `[${p.address}]` : p.address}:${p.port},${p.tpgt}\n`)
    .join('');
}

function connectionShow(reg: TargetRegistry, tid: number): string {
  reg.getTarget(tid);
  let out = '';
  for (const s of reg.sessionsOf(tid) ?? []) {
    for (const c of s.connections) {
      out += `Session: ${s.tsih}\n    Connection: ${c.cid}\n        Initiator: ${s.initiator}\n        IP Address: ${c.address}\n`;
    }
  }
  return out;
}

async function dispatch(reg: TargetRegistry, req: MgmtRequest): Promise<string | undefined> {
  if (req.lld !== undefined && req.lld !== 'iscsi') throw new TgtError(TgtErrno.NoDriver);
  switch (req.mode) {
    case 'target':
      return targetMode(reg, req);
    case 'logicalunit':
      return logicalUnitMode(reg, req);
    case 'account':
      return accountMode(reg, req);
    case 'system':
      if (req.op === 'show') return systemShow(reg, reg.backingStoreTypes());
      // The server stops the daemon after answering (ManagementServer onSystem).
      if (req.op === 'delete') return;
      throw new TgtError(TgtErrno.UnsupportedOperation);
    case 'portal':
      if (req.op === 'show') return portalShow(reg);
      throw new TgtError(TgtErrno.UnsupportedOperation);
    case 'connection':
      if (req.op === 'show') return connectionShow(reg, need(req.tid, 'tid'));
      throw new TgtError(TgtErrno.UnsupportedOperation);
    default:
      throw new TgtError(TgtErrno.UnsupportedOperation);
  }
}

/** Apply one request; never throws: failures become `{ code: 22, error: <tgt text> }`. */
export async function applyMgmtRequest(reg: TargetRegistry, req: MgmtRequest): Promise<MgmtResponse> {
  try {
    const output = await dispatch(reg, req);
    return output === undefined ? { code: MGMT_OK } : { code: MGMT_OK, output };
  } catch (err) {
    if (err instanceof TgtError) return { code: MGMT_EINVAL, error: err.message };
    return { code: MGMT_EINVAL, error: tgtErrorText(TgtErrno.UnknownErr) };
  }
}
