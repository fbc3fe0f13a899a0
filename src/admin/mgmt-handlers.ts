// Applies one management request to the target registry. Every handler validates the whole request
// before changing anything (the registry's operations are check-then-mutate), so a refused request
// leaves the daemon as it was. Errors come back with tgt's texts.
import { createLogger } from '../common/log';
import type { TargetRegistry } from '../target/registry';
import { showAccounts, showTargetParams, showTargets } from '../target/show';
import { STAT_HEADER, sidMapper, statLu, statTarget } from '../target/stat';
import { TgtErrno, TgtError, tgtErrorText } from '../target/tgt-error';
import { MGMT_EINVAL, MGMT_OK, type MgmtRequest, type MgmtResponse } from './mgmt-protocol';

const log = createLogger('mgmt');

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
      if (req.withStoreOptions)
        return JSON.stringify(
          reg.listTargets().flatMap((t) =>
            t
              .sortedLuns()
              .filter((lu) => lu.bsopts !== '')
              .map((lu) => ({ tid: t.tid, lun: lu.lun, bsopts: lu.bsopts })),
          ),
        );
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
    case 'stat': {
      const t = reg.getTarget(need(req.tid, 'tid'));
      return STAT_HEADER + statTarget(t, sidMapper(t, reg.sessionsOf(t.tid)));
    }
    default:
      throw new TgtError(TgtErrno.UnsupportedOperation);
  }
}

async function logicalUnitMode(reg: TargetRegistry, req: MgmtRequest): Promise<string | undefined> {
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
      await reg.updateLogicalUnit(tid, lun, req.params ?? '');
      return;
    case 'stat': {
      const t = reg.getTarget(tid);
      const lu = t.luns.get(lun);
      if (!lu) throw new TgtError(TgtErrno.NoLun);
      return STAT_HEADER + statLu(t, lu, sidMapper(t, reg.sessionsOf(tid)));
    }
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
      if (req.withPasswords)
        return reg.accounts
          .users()
          .map((u) => `${u} ${reg.accounts.find(u)?.password ?? ''}\n`)
          .join('');
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

function systemShow(reg: TargetRegistry): string {
  return (
    `System:\n    State: ${reg.system.state}\n    debug: ${reg.debug ? 'on' : 'off'}\n` +
    `LLDs:\n    iscsi: ${reg.lldState}\nBacking stores:\n` +
    reg
      .backingStoreTypes()
      .map((t) => `    ${t}\n`)
      .join('') +
    'Device types:\n    disk\n    controller\n' +
    'iSNS:\n    iSNS=Off\n    iSNSServerIP=\n    iSNSServerPort=3205\n    iSNSAccessControl=Off\n'
  );
}

function systemMode(reg: TargetRegistry, req: MgmtRequest): string | undefined {
  switch (req.op) {
    case 'show':
      return systemShow(reg);
    case 'update':
      reg.updateSystem(need(req.name, 'name'), need(req.value, 'value'));
      return;
    case 'stat':
      return (
        STAT_HEADER +
        reg
          .listTargets()
          .map((t) => statTarget(t, sidMapper(t, reg.sessionsOf(t.tid))))
          .join('')
      );
    case 'delete':
      // tgt: only a bare request stops the daemon; the server does it after answering (onSystem).
      if (req.tid !== undefined) throw invalid('system delete takes no tid');
      // tgt refuses to shut down while targets exist (remove them first, as the unit's ExecStop does).
      if (reg.listTargets().length > 0) throw invalid('targets exist');
      return;
    default:
      throw new TgtError(TgtErrno.UnsupportedOperation);
  }
}

function portalShow(reg: TargetRegistry): string {
  return reg
    .portals()
    .map((p) => `Portal: ${p.address.includes(':') ? `[${p.address}]` : p.address}:${p.port},${p.tpgt}\n`)
    .join('');
}

async function portalMode(reg: TargetRegistry, req: MgmtRequest): Promise<string | undefined> {
  switch (req.op) {
    case 'show':
      return portalShow(reg);
    case 'new':
      await reg.addPortal(need(req.params, 'portal'));
      return;
    case 'delete':
      await reg.removePortal(need(req.params, 'portal'));
      return;
    default:
      throw new TgtError(TgtErrno.UnsupportedOperation);
  }
}

function connectionMode(reg: TargetRegistry, req: MgmtRequest): string | undefined {
  const tid = need(req.tid, 'tid');
  switch (req.op) {
    case 'show': {
      reg.getTarget(tid);
      let out = '';
      for (const s of reg.sessionsOf(tid) ?? []) {
        if (req.sid !== undefined && s.tsih !== req.sid) continue;
        for (const c of s.connections)
          out += `Session: ${s.tsih}\n    Connection: ${c.cid}\n        Initiator: ${s.initiator}\n        IP Address: ${c.address}\n`;
      }
      return out;
    }
    case 'delete':
      reg.closeConnection(tid, req.sid, req.cid);
      return;
    case 'stat': {
      reg.getTarget(tid);
      const s = (reg.sessionsOf(tid) ?? []).find((x) => x.tsih === req.sid);
      if (!s) throw new TgtError(TgtErrno.NoSession);
      return s.connections.map((c) => `Session: ${s.tsih}\n    Connection: ${c.cid}\n`).join('');
    }
    default:
      throw new TgtError(TgtErrno.UnsupportedOperation);
  }
}

function lldMode(reg: TargetRegistry, req: MgmtRequest): string | undefined {
  switch (req.op) {
    case 'show':
      return (
        `LLDs:\n    iscsi: ${reg.lldState}\n` +
        reg
          .listTargets()
          .map((t) => `        Target ${t.tid}: ${t.name}\n`)
          .join('')
      );
    case 'start':
      reg.setLldState('ready');
      return;
    case 'stop':
      reg.setLldState('stopped');
      return;
    default:
      throw new TgtError(TgtErrno.UnsupportedOperation);
  }
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
      return systemMode(reg, req);
    case 'portal':
      return portalMode(reg, req);
    case 'connection':
      return connectionMode(reg, req);
    case 'lld':
      return lldMode(reg, req);
    case 'session':
      // tgt 1.0.85's iSCSI driver implements no session operation: every one is an invalid request.
      throw invalid('session mode');
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
    if (err instanceof TgtError) {
      if (err.detail !== undefined)
        log.info('request refused', { mode: req.mode, op: req.op, why: err.detail });
      return { code: MGMT_EINVAL, error: err.message };
    }
    log.error('request failed', { mode: req.mode, op: req.op, err });
    return { code: MGMT_EINVAL, error: tgtErrorText(TgtErrno.UnknownErr) };
  }
}
