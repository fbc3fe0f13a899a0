// The daemon's target directory (tgt usr/target.c + usr/iscsi/target.c): every target, the account
// store and the portals. Each operation checks everything first and only then mutates, so a refused
// request leaves the model unchanged. Events tell the transport what to do with live sessions:
//   'target-removed' (tid)       close the target's sessions
//   'target-offline' (tid)       the target went offline (close sessions / refuse logins)
//   'lun-added' / 'lun-removed' (tid, lun)   REPORTED LUNS DATA HAS CHANGED (Async message / UA)
import { EventEmitter } from 'node:events';
import type { BackingStore } from '../backing/backing-store';
import type { ChapAccount, IscsiTargetDirectory, PortalAddress } from '../iscsi/target-port';
import type { DiskParams } from '../scsi/device-params';
import type { ScsiDevice } from '../scsi/scsi-types';
import { AccountStore, DISCOVERY_TID } from './accounts';
import { isAluaKey, updateAlua } from './alua-params';
import { resolveCopyTarget } from './copy-targets';
import { defaultTargetDeps } from './default-deps';
import { atoi, canonicalIscsiValue, findIscsiKey } from './iscsi-target-params';
import { LogicalUnit } from './logical-unit';
import { applyLuParams, modePageOverrides, type LuAttrs } from './lu-params';
import { defaultScsiId, defaultScsiSn, deriveNaa } from './lu-identity';
import { NoMediumStore } from './no-medium-store';
import { Target, type SessionInfo, type SessionSource, type SystemState } from './target';
import { isUpdatableDevice, type TargetDeps } from './target-deps';
import { TgtErrno, TgtError } from './tgt-error';

export interface LogicalUnitSpec {
  lun: number;
  /** `--backing-store`; undefined creates an offline, removable LU with no medium (as tgt does). */
  path?: string;
  bstype?: string;
  /** `--bsoflags`, tgt syntax: `sync`, `direct` or `sync:direct`. */
  bsoflags?: string;
  bsopts?: string;
  blockSize?: number;
  deviceType?: string;
}

const DEFAULT_BSTYPE = 'rdwr';
const BLOCK_SIZES = [512, 1024, 2048, 4096];
const OFLAGS = ['sync', 'direct'];

export interface TargetRegistryOptions {
  /** Lower layers; default: the real backing stores and SCSI devices (default-deps.ts). */
  deps?: TargetDeps;
  /** Daemon-wide NOP-In defaults for new targets (tgtd `--iscsi nop_interval=S,nop_count=N`). */
  nopInterval?: number;
  nopCount?: number;
  /** Where LUs keep persistent state (reservations); passed to the SCSI layer as DiskParams.stateDir. */
  stateDir?: string;
}

/** Ends one connection (cid given) or a whole session of a target (`tgtadm --op delete --mode conn`). */
export type ConnectionCloser = (
  tid: number,
  sid: number,
  cid: number | undefined,
) => 'ok' | 'no-session' | 'no-connection';

/** Opening and closing listening portals at runtime (`tgtadm --mode portal --op new|delete`). */
export interface PortalControl {
  add(address: string, port: number): Promise<void>;
  /** false when no such portal is listening. */
  remove(address: string, port: number): Promise<boolean>;
  list(): PortalAddress[];
}

export class TargetRegistry extends EventEmitter implements IscsiTargetDirectory {
  private readonly targets = new Map<number, Target>();
  readonly accounts = new AccountStore();
  private portalList: PortalAddress[] = [];
  private readonly globalParams = new Map<string, string>();
  private readonly deps: TargetDeps;
  private sessionSource: SessionSource | undefined;
  private portalControl: PortalControl | undefined;
  private connectionCloser: ConnectionCloser | undefined;
  /** `--mode lld --op stop|start`: a stopped driver refuses logins. */
  lldState: 'ready' | 'stopped' = 'ready';
  /** `--mode system -n State`: while offline, logins to every target are refused. */
  readonly system: SystemState = { state: 'ready' };
  /** `--mode system -n debug -v on|off`; the daemon listens for 'debug' events. */
  debug = false;

  constructor(private readonly options: TargetRegistryOptions = {}) {
    super();
    this.deps = options.deps ?? defaultTargetDeps();
  }

  /** The transport's live sessions of a target, for `show` (real TSIHs, connection ids, addresses).
   *  Without it, show uses the nexus list the transport reports through nexusAdded/nexusRemoved. */
  setSessionSource(source: SessionSource): void {
    this.sessionSource = source;
  }

  setConnectionCloser(closer: ConnectionCloser): void {
    this.connectionCloser = closer;
  }

  /** tgt: `--tid --sid [--cid]`; an unknown session or connection is an error. */
  closeConnection(tid: number, sid: number | undefined, cid: number | undefined): void {
    this.getTarget(tid);
    if (sid === undefined || !this.connectionCloser) throw new TgtError(TgtErrno.NoSession);
    const r = this.connectionCloser(tid, sid, cid);
    if (r === 'no-session') throw new TgtError(TgtErrno.NoSession);
    if (r === 'no-connection') throw new TgtError(TgtErrno.NoConnection);
  }

  /** tgt refuses to stop a driver that still has targets. */
  setLldState(state: 'ready' | 'stopped'): void {
    if (state === 'stopped' && this.targets.size > 0) throw new TgtError(TgtErrno.DriverBusy);
    this.lldState = state;
    this.system.lldStopped = state === 'stopped';
  }

  setPortalControl(control: PortalControl): void {
    this.portalControl = control;
    this.portalList = control.list();
  }

  /** `tgtadm --op new --mode portal -P portal=ADDR[:PORT]`. */
  async addPortal(spec: string): Promise<void> {
    const ctl = this.portalControl;
    const p = parsePortalParam(spec);
    if (!ctl || !p) throw new TgtError(TgtErrno.InvalidRequest, `portal ${spec}`);
    if (ctl.list().some((x) => x.address === p.address && x.port === p.port))
      throw new TgtError(TgtErrno.InvalidRequest, 'portal exists');
    try {
      await ctl.add(p.address, p.port);
    } catch (err) {
      throw new TgtError(TgtErrno.InvalidRequest, `cannot listen on ${spec}: ${(err as Error).message}`);
    }
    this.portalList = ctl.list();
  }

  /** `tgtadm --op delete --mode portal -P portal=ADDR[:PORT]`. */
  async removePortal(spec: string): Promise<void> {
    const ctl = this.portalControl;
    const p = parsePortalParam(spec);
    if (!ctl || !p) throw new TgtError(TgtErrno.InvalidRequest, `portal ${spec}`);
    if (!(await ctl.remove(p.address, p.port))) throw new TgtError(TgtErrno.InvalidRequest, 'no such portal');
    this.portalList = ctl.list();
  }

  /** `tgtadm --op update --mode system -n State|debug -v ...` (tgt: State ready|offline, debug on|off). */
  updateSystem(name: string, value: string): void {
    if (name === 'State' && (value === 'ready' || value === 'offline')) {
      this.system.state = value;
      this.emit('system-state', value);
      return;
    }
    if (name === 'debug' && (value === 'on' || value === 'off')) {
      this.debug = value === 'on';
      this.emit('debug', this.debug);
      return;
    }
    throw new TgtError(TgtErrno.InvalidRequest, `system ${name}=${value}`);
  }

  backingStoreTypes(): string[] {
    return this.deps.backingStoreTypes();
  }

  sessionsOf(tid: number): SessionInfo[] | undefined {
    return this.sessionSource?.(tid);
  }

  // ---- IscsiTargetDirectory ----
  findTarget(name: string): Target | undefined {
    return this.listTargets().find((t) => t.name === name);
  }

  listTargets(): Target[] {
    return [...this.targets.values()].sort((a, b) => a.tid - b.tid);
  }

  discoveryAccounts(): ChapAccount[] {
    return this.accounts.incomingOf(DISCOVERY_TID);
  }

  discoveryOutgoingAccount(): ChapAccount | undefined {
    return this.accounts.outgoingOf(DISCOVERY_TID);
  }

  portals(): PortalAddress[] {
    return [...this.portalList];
  }

  setPortals(list: PortalAddress[]): void {
    this.portalList = [...list];
  }

  globalIscsiParams(): ReadonlyMap<string, string> {
    return this.globalParams;
  }

  // ---- targets ----
  getTarget(tid: number): Target {
    const t = this.targets.get(tid);
    if (!t) throw new TgtError(TgtErrno.NoTarget);
    return t;
  }

  createTarget(tid: number, name: string): Target {
    if (!Number.isInteger(tid) || tid <= 0) throw new TgtError(TgtErrno.InvalidRequest, 'tid must be > 0');
    if (name === '') throw new TgtError(TgtErrno.InvalidRequest, 'empty target name');
    if (this.targets.has(tid) || this.findTarget(name)) throw new TgtError(TgtErrno.TargetExist);
    const target = new Target(tid, name, this.deps, this.accounts, this.system);
    target.nopIntervalValue = this.options.nopInterval ?? 0;
    target.nopCountValue = this.options.nopCount ?? 0;
    const naa = deriveNaa(name, 0, '');
    const attrs = identityDefaults(tid, 0, 'Controller');
    const device = this.deps.createController({
      tid,
      vendorId: attrs.vendorId,
      productId: attrs.productId,
      productRev: attrs.productRev,
      naa,
      scsiSn: attrs.scsiSn,
      scsiId: attrs.scsiId,
    });
    target.luns.set(
      0,
      new LogicalUnit({
        lun: 0,
        type: 'controller',
        device,
        store: undefined,
        bstype: 'null',
        path: undefined,
        oflags: [],
        bsopts: '',
        blockSize: 1,
        naa,
        attrs,
      }),
    );
    this.targets.set(tid, target);
    return target;
  }

  /** tgt refuses while sessions exist unless forced; forcing closes them (via 'target-removed'). */
  async deleteTarget(tid: number, force: boolean): Promise<void> {
    const target = this.getTarget(tid);
    const active = target.nexuses.size > 0 || (this.sessionsOf(tid) ?? []).length > 0;
    if (!force && active) throw new TgtError(TgtErrno.TargetActive);
    this.targets.delete(tid);
    this.accounts.forgetTarget(tid);
    this.emit('target-removed', tid);
    await closeStores(target.sortedLuns());
  }

  updateTarget(tid: number, name: string, value: string): void {
    const target = this.getTarget(tid);
    if (name === 'state') {
      if (value !== 'ready' && value !== 'offline') throw new TgtError(TgtErrno.InvalidRequest);
      const wasReady = target.ownState === 'ready';
      target.ownState = value;
      if (value === 'offline' && wasReady) this.emit('target-offline', tid);
      return;
    }
    if (isAluaKey(name)) {
      updateAlua(target.alua, name, value);
      return;
    }
    // tgt matches these two by prefix and parses the value with atoi.
    if (name.startsWith('nop_count')) {
      target.nopCountValue = atoi(value);
      return;
    }
    if (name.startsWith('nop_interval')) {
      target.nopIntervalValue = atoi(value);
      return;
    }
    const key = findIscsiKey(name);
    const canonical = key ? canonicalIscsiValue(key, value) : undefined;
    if (!key || canonical === undefined) throw new TgtError(TgtErrno.InvalidRequest);
    target.params.set(key.name, canonical);
  }

  // ---- ACLs ----
  bindInitiators(tid: number, rules: { address?: string; name?: string }): void {
    const target = this.getTarget(tid);
    if (rules.address === undefined && rules.name === undefined) throw new TgtError(TgtErrno.InvalidRequest);
    if (rules.address !== undefined && target.addressRules.includes(rules.address))
      throw new TgtError(TgtErrno.AclExist);
    if (rules.name !== undefined && target.nameRules.includes(rules.name))
      throw new TgtError(TgtErrno.AclExist);
    if (rules.address !== undefined) target.addressRules.push(rules.address);
    if (rules.name !== undefined) target.nameRules.push(rules.name);
  }

  unbindInitiators(tid: number, rules: { address?: string; name?: string }): void {
    const target = this.getTarget(tid);
    if (rules.address === undefined && rules.name === undefined) throw new TgtError(TgtErrno.InvalidRequest);
    if (rules.address !== undefined && !target.addressRules.includes(rules.address))
      throw new TgtError(TgtErrno.AclNoExist);
    if (rules.name !== undefined && !target.nameRules.includes(rules.name))
      throw new TgtError(TgtErrno.AclNoExist);
    if (rules.address !== undefined) remove(target.addressRules, rules.address);
    if (rules.name !== undefined) remove(target.nameRules, rules.name);
  }

  // ---- accounts (tid undefined = discovery) ----
  bindAccount(tid: number | undefined, user: string, outgoing: boolean): void {
    if (tid !== undefined) this.getTarget(tid);
    this.accounts.bind(tid ?? DISCOVERY_TID, user, outgoing);
  }

  unbindAccount(tid: number | undefined, user: string, outgoing: boolean): void {
    if (tid !== undefined) this.getTarget(tid);
    this.accounts.unbind(tid ?? DISCOVERY_TID, user, outgoing);
  }

  // ---- logical units ----
  async addLogicalUnit(tid: number, spec: LogicalUnitSpec): Promise<void> {
    const target = this.getTarget(tid);
    if (!Number.isInteger(spec.lun) || spec.lun < 0) throw new TgtError(TgtErrno.InvalidRequest);
    if (target.luns.has(spec.lun)) throw new TgtError(TgtErrno.LunExist);
    const bstype = spec.bstype ?? DEFAULT_BSTYPE;
    if (!this.deps.backingStoreTypes().includes(bstype))
      throw new TgtError(TgtErrno.InvalidRequest, `unknown bstype ${bstype}`);
    if ((spec.deviceType ?? 'disk') !== 'disk') throw new TgtError(TgtErrno.InvalidRequest, 'device type');
    const blockSize = spec.blockSize ?? 512;
    if (!BLOCK_SIZES.includes(blockSize)) throw new TgtError(TgtErrno.InvalidRequest, 'block size');
    const oflags = parseOflags(spec.bsoflags);
    const bsopts = spec.bsopts ?? '';

    let store: BackingStore;
    if (spec.path === undefined) {
      store = new NoMediumStore();
    } else {
      try {
        store = await this.deps.openBackingStore(bstype, {
          path: spec.path,
          oflags,
          opts: bsopts,
          blockSize,
          readonly: false,
        });
      } catch (err) {
        throw new TgtError(TgtErrno.InvalidRequest, `cannot open ${spec.path}: ${(err as Error).message}`);
      }
    }
    // The store opened asynchronously: re-check that nothing it depends on changed meanwhile.
    if (this.targets.get(tid) !== target || target.luns.has(spec.lun)) {
      await store.close();
      throw new TgtError(target.luns.has(spec.lun) ? TgtErrno.LunExist : TgtErrno.NoTarget);
    }
    const attrs: LuAttrs = identityDefaults(tid, spec.lun, 'VIRTUAL-DISK');
    if (spec.path === undefined) {
      attrs.online = false;
      attrs.removable = true;
    }
    const naa = deriveNaa(target.name, spec.lun, spec.path ?? '');
    let device: ScsiDevice;
    try {
      device = this.deps.createDisk(this.diskParams(tid, spec.lun, store, blockSize, naa, attrs));
    } catch (err) {
      await store.close();
      throw new TgtError(TgtErrno.InvalidRequest, (err as Error).message);
    }
    target.luns.set(
      spec.lun,
      new LogicalUnit({
        lun: spec.lun,
        type: 'disk',
        device,
        store,
        bstype,
        path: spec.path,
        oflags,
        bsopts,
        blockSize,
        naa,
        attrs,
      }),
    );
    this.emit('lun-added', tid, spec.lun);
  }

  async deleteLogicalUnit(tid: number, lun: number): Promise<void> {
    const target = this.getTarget(tid);
    if (lun === 0) throw new TgtError(TgtErrno.InvalidRequest, 'LUN 0 is the target controller');
    const lu = target.luns.get(lun);
    if (!lu) throw new TgtError(TgtErrno.NoLun);
    if (lu.inflight > 0) throw new TgtError(TgtErrno.LunActive);
    target.luns.delete(lun);
    this.emit('lun-removed', tid, lun);
    await closeStores([lu]);
  }

  /** `-P key=value,...`: all keys are checked (and a new medium opened) before anything is applied. */
  async updateLogicalUnit(tid: number, lun: number, params: string): Promise<void> {
    const target = this.getTarget(tid);
    const lu = target.luns.get(lun);
    if (!lu) throw new TgtError(TgtErrno.NoLun);
    const { attrs: next, actions } = applyLuParams(lu.attrs, params);
    if (lu.type === 'controller' && (actions.path !== undefined || actions.refreshSize))
      throw new TgtError(TgtErrno.InvalidRequest, 'LUN 0 has no medium');
    if (actions.path !== undefined) {
      // tgt only changes the medium of removable LUs.
      if (!lu.attrs.removable && !next.removable)
        throw new TgtError(TgtErrno.InvalidRequest, 'not removable');
      await this.replaceMedium(target, lu, actions.path, next);
      return;
    }
    if (actions.refreshSize) {
      const dev = lu.device;
      if (isUpdatableDevice(dev) && dev.refreshCapacity) await dev.refreshCapacity();
      else await lu.store?.refreshSize();
      this.emit('lun-resized', tid, lun);
    }
    this.applyAttrs(tid, lu, next);
  }

  private applyAttrs(tid: number, lu: LogicalUnit, next: LuAttrs): void {
    const lun = lu.lun;
    if (lu.type === 'controller') {
      lu.device = this.deps.createController({
        tid,
        vendorId: next.vendorId,
        productId: next.productId,
        productRev: next.productRev,
        naa: lu.naa,
        scsiSn: next.scsiSn,
        scsiId: next.scsiId,
      });
    } else if (isUpdatableDevice(lu.device) && sameIdentity(lu.attrs, next)) {
      lu.device.update({
        readonly: next.readonly,
        thinProvisioning: next.thinProvisioning,
        online: next.online,
        senseFormat: next.senseFormat,
        removable: next.removable,
        rotationRate: next.rotationRate,
        lbppbe: next.lbppbe,
        lowestAlignedLba: next.laLba,
        optimalTransferLengthGranularity: next.optimalXferGran,
        optimalTransferLength: next.optimalXferLen,
        modePages: modePageOverrides(next.modePages),
      });
    } else {
      // Identity strings are fixed at creation: replace the disk (its per-nexus SCSI state restarts).
      lu.device = this.deps.createDisk(
        this.diskParams(tid, lun, lu.store ?? new NoMediumStore(), lu.blockSize, lu.naa, next),
      );
    }
    lu.attrs = next;
  }

  /** Open the new medium first; only when that worked swap it in and close the old one. */
  private async replaceMedium(target: Target, lu: LogicalUnit, path: string, attrs: LuAttrs): Promise<void> {
    let store: BackingStore;
    try {
      store = await this.deps.openBackingStore(lu.bstype, {
        path,
        oflags: lu.oflags,
        opts: lu.bsopts,
        blockSize: lu.blockSize,
        readonly: false,
      });
    } catch (err) {
      throw new TgtError(TgtErrno.InvalidRequest, `cannot open ${path}: ${(err as Error).message}`);
    }
    if (target.luns.get(lu.lun) !== lu) {
      await store.close();
      throw new TgtError(TgtErrno.NoLun);
    }
    const next: LuAttrs = { ...attrs, online: true };
    const replacement = new LogicalUnit({
      lun: lu.lun,
      type: lu.type,
      device: this.deps.createDisk(this.diskParams(target.tid, lu.lun, store, lu.blockSize, lu.naa, next)),
      store,
      bstype: lu.bstype,
      path,
      oflags: lu.oflags,
      bsopts: lu.bsopts,
      blockSize: lu.blockSize,
      naa: lu.naa,
      attrs: next,
    });
    target.luns.set(lu.lun, replacement);
    await closeStores([lu]);
  }

  /** The SCSI device parameters of a disk LU. */
  private diskParams(
    tid: number,
    lun: number,
    store: BackingStore,
    blockSize: number,
    naa: Buffer,
    a: LuAttrs,
  ): DiskParams {
    const params: DiskParams = {
      tid,
      lun,
      store,
      blockSize,
      scsiId: a.scsiId,
      scsiSn: a.scsiSn,
      vendorId: a.vendorId,
      productId: a.productId,
      productRev: a.productRev,
      naa,
      readonly: a.readonly,
      removable: a.removable,
      thinProvisioning: a.thinProvisioning,
      online: a.online,
      senseFormat: a.senseFormat,
      rotationRate: a.rotationRate,
      lbppbe: a.lbppbe,
      lowestAlignedLba: a.laLba,
      optimalTransferLengthGranularity: a.optimalXferGran,
      optimalTransferLength: a.optimalXferLen,
      modePages: modePageOverrides(a.modePages),
    };
    const target = this.targets.get(tid);
    if (target) params.alua = target.alua;
    params.copyTargets = (id, nexus) => resolveCopyTarget(this.targets.values(), tid, id, nexus);
    // DiskParams.stateDir (persistent reservations, saved mode pages) is optional; set it only when
    // configured. A store with BackingStore.metadata (curve) keeps both with the volume instead.
    if (this.options.stateDir !== undefined) Object.assign(params, { stateDir: this.options.stateDir });
    return params;
  }

  /** Close every backing store (daemon shutdown). */
  async close(): Promise<void> {
    const all = this.listTargets();
    this.targets.clear();
    for (const t of all) await closeStores(t.sortedLuns());
  }
}

function sameIdentity(a: LuAttrs, b: LuAttrs): boolean {
  return (
    a.scsiId === b.scsiId &&
    a.scsiSn === b.scsiSn &&
    a.vendorId === b.vendorId &&
    a.productId === b.productId &&
    a.productRev === b.productRev
  );
}

function identityDefaults(tid: number, lun: number, productId: string): LuAttrs {
  return {
    scsiId: defaultScsiId(tid, lun),
    scsiSn: defaultScsiSn(tid, lun),
    vendorId: 'IET',
    productId,
    productRev: '0001',
    readonly: false,
    removable: false,
    online: true,
    thinProvisioning: false,
    senseFormat: 'fixed',
    rotationRate: 0,
    lbppbe: 0,
    laLba: 0,
    modePages: [],
  };
}

/** `portal=ADDR[:PORT]` (IPv6 in brackets; port 3260 by default), as tgt's portal mode takes it. */
export function parsePortalParam(spec: string): { address: string; port: number } | undefined {
  const m = /^portal=(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]]+))(?::(\d{1,5}))?$/.exec(spec);
  if (!m) return undefined;
  const port = m[3] === undefined ? 3260 : Number(m[3]);
  if (port > 65535) return undefined;
  return { address: m[1] ?? m[2], port };
}

/** tgt `--bsoflags`: `sync`, `direct`, `sync:direct`; anything else is refused. Canonical order. */
export function parseOflags(text: string | undefined): string[] {
  if (text === undefined || text === '') return [];
  const items = text.split(':');
  if (!items.every((f) => OFLAGS.includes(f)))
    throw new TgtError(TgtErrno.InvalidRequest, `bsoflags ${text}`);
  return OFLAGS.filter((f) => items.includes(f));
}

function remove(list: string[], item: string): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}

async function closeStores(luns: LogicalUnit[]): Promise<void> {
  for (const lu of luns) {
    try {
      await lu.store?.close();
    } catch {
      // A store that fails to close has nothing left to flush for us; the LU is gone either way.
    }
  }
}
