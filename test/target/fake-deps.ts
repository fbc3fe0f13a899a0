// Small stand-ins for the lower layers, so the target model can be tested on its own: devices record
// what they were asked, stores have a chosen size.
import type { BackingStore, BackingStoreOpenOptions } from '../../src/backing/backing-store';
import type { DiskParams } from '../../src/scsi/device-params';
import {
  ScsiStatus,
  type ItNexus,
  type ScsiDevice,
  type ScsiResult,
  type ScsiTask,
} from '../../src/scsi/scsi-types';
import type { ControllerParams, TargetDeps } from '../../src/target/target-deps';

export class FakeStore implements BackingStore {
  readonly capabilities = { unmap: false, compareAndWrite: false, lbaStatus: false, volatileCache: false };
  closed = false;
  constructor(
    readonly type: string,
    private readonly bytes: number,
  ) {}
  size(): number {
    return this.bytes;
  }
  read(_o: number, length: number): Promise<Buffer> {
    return Promise.resolve(Buffer.alloc(length));
  }
  write(): Promise<void> {
    return Promise.resolve();
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  unmap(): Promise<void> {
    return Promise.resolve();
  }
  writeZeroes(): Promise<void> {
    return Promise.resolve();
  }
  refreshSize(): Promise<number> {
    return Promise.resolve(this.bytes);
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

export class FakeDevice implements ScsiDevice {
  executed: ScsiTask[] = [];
  resets: Array<ItNexus | undefined> = [];
  gone: ItNexus[] = [];
  updates: unknown[] = [];
  /** When set, execute() waits for it (to hold a task in flight). */
  gate: Promise<void> | undefined;
  constructor(
    readonly kind: 'disk' | 'controller',
    readonly params: DiskParams | ControllerParams,
  ) {}
  async execute(task: ScsiTask): Promise<ScsiResult> {
    this.executed.push(task);
    if (this.gate) await this.gate;
    return { status: ScsiStatus.Good, dataIn: Buffer.from(this.kind) };
  }
  reset(nexus: ItNexus | undefined): void {
    this.resets.push(nexus);
  }
  nexusGone(nexus: ItNexus): void {
    this.gone.push(nexus);
  }
}

export class UpdatableFakeDevice extends FakeDevice {
  update(change: unknown): void {
    this.updates.push(change);
  }
}

export interface FakeDeps extends TargetDeps {
  devices: FakeDevice[];
  stores: FakeStore[];
  opened: Array<{ type: string; opts: BackingStoreOpenOptions }>;
  reportLunsCalls: number[][];
  unknownLunCalls: number[][];
}

/** Stores: `null` is 1 TiB like tgt's; rdwr/mem are 64 MiB; a path containing "missing" fails to open. */
export function fakeDeps(opts: { updatable?: boolean } = {}): FakeDeps {
  const deps: FakeDeps = {
    devices: [],
    stores: [],
    opened: [],
    reportLunsCalls: [],
    unknownLunCalls: [],
    backingStoreTypes: () => ['rdwr', 'null', 'mem'],
    openBackingStore: (type, o) => {
      deps.opened.push({ type, opts: o });
      if (o.path.includes('missing')) return Promise.reject(new Error('ENOENT'));
      const s = new FakeStore(type, type === 'null' ? 2 ** 40 : 64 * 1024 * 1024);
      deps.stores.push(s);
      return Promise.resolve(s);
    },
    createDisk: (p) => {
      const d = opts.updatable ? new UpdatableFakeDevice('disk', p) : new FakeDevice('disk', p);
      deps.devices.push(d);
      return d;
    },
    createController: (p) => {
      const d = new FakeDevice('controller', p);
      deps.devices.push(d);
      return d;
    },
    reportLuns: (_t, luns) => {
      deps.reportLunsCalls.push(luns);
      return { status: ScsiStatus.Good, dataIn: Buffer.from('report') };
    },
    unknownLun: (_t, luns) => {
      deps.unknownLunCalls.push(luns);
      return { status: ScsiStatus.CheckCondition };
    },
  };
  return deps;
}

export function nexus(id: number, initiatorName = 'iqn.1994-05.com.redhat:client1'): ItNexus {
  return {
    id,
    initiatorPortName: `${initiatorName},i,0x00023d000001`,
    initiatorName,
    targetPortName: 'iqn.t,t,0x1',
    relativeTargetPortId: 1,
    targetPortGroup: 1,
  };
}

export function task(lun: number, cdb: number[], n: ItNexus = nexus(1)): ScsiTask {
  return {
    nexus: n,
    lun,
    cdb: Buffer.from(cdb),
    attr: 1,
    tag: 1,
    expectedDataTransferLength: 0,
    readExpected: false,
    writeExpected: false,
    aborted: false,
  };
}
