// A minimal in-memory target directory for transport tests: one target, a 512-byte-block RAM disk on
// LUN 1 that understands TEST UNIT READY, READ(10) and WRITE(10), and a controllable execution delay.
import type { DataBufferPool } from '../../src/common/data-buffer-pool';
import type { ItNexus, ScsiResult, ScsiTask } from '../../src/scsi/scsi-types';
import type {
  ChapAccount,
  IscsiTargetDirectory,
  IscsiTargetView,
  PortalAddress,
} from '../../src/iscsi/target-port';

export class FakeTarget implements IscsiTargetView {
  readonly tid = 1;
  state: 'ready' | 'offline' = 'ready';
  disk: Buffer;
  /** Delay before each command completes (ms); a promise gate can hold commands instead. */
  delayMs = 0;
  gate: Promise<void> | undefined;
  executed: ScsiTask[] = [];
  resets: string[] = [];
  nexuses = new Set<number>();
  accounts: ChapAccount[] = [];
  params = new Map<string, string>();
  /** When set, READ answers in buffers taken from this pool (as the Curve client's reads are). */
  readPool: DataBufferPool | undefined;

  constructor(
    readonly name = 'iqn.2026-11.test:target',
    blocks = 32768,
  ) {
    this.disk = Buffer.alloc(blocks * 512);
  }

  isAllowed(): boolean {
    return true;
  }
  incomingAccounts(): ChapAccount[] {
    return this.accounts;
  }
  outgoingAccount(): ChapAccount | undefined {
    return undefined;
  }
  iscsiParams(): ReadonlyMap<string, string> {
    return this.params;
  }
  nopIntervalSeconds = 0;
  nopCountLimit = 0;
  nopInterval(): number {
    return this.nopIntervalSeconds;
  }
  nopCount(): number {
    return this.nopCountLimit;
  }
  hasLun(lun: number): boolean {
    return lun === 0 || lun === 1;
  }
  resetLun(lun: number): void {
    this.resets.push(`lun${lun}`);
  }
  resetTarget(): void {
    this.resets.push('target');
  }
  nexusAdded(n: ItNexus): void {
    this.nexuses.add(n.id);
  }
  nexusRemoved(n: ItNexus): void {
    this.nexuses.delete(n.id);
  }

  async execute(task: ScsiTask): Promise<ScsiResult> {
    this.executed.push(task);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.gate) await this.gate;
    const op = task.cdb[0];
    if (op === 0x00) return { status: 0 };
    if (op === 0x5f && task.abortTasks) {
      // Stand-in for PERSISTENT RESERVE OUT / PREEMPT AND ABORT: abort every other nexus' tasks.
      const others = [...this.nexuses].filter((id) => id !== task.nexus.id);
      await task.abortTasks(others, task.lun);
      return { status: 0 };
    }
    if (op === 0x28 || op === 0x2a) {
      const lba = task.cdb.readUInt32BE(2);
      const n = task.cdb.readUInt16BE(7) * 512;
      if (lba * 512 + n > this.disk.length) return checkCondition(0x05, 0x21);
      if (op === 0x28) {
        const src = this.disk.subarray(lba * 512, lba * 512 + n);
        if (!this.readPool) return { status: 0, dataIn: Buffer.from(src) };
        const dataIn = this.readPool.take(n);
        src.copy(dataIn);
        return { status: 0, dataIn };
      }
      const data = task.dataOut ?? Buffer.alloc(0);
      data.copy(this.disk, lba * 512, 0, Math.min(n, data.length));
      return { status: 0, dataOutLength: n };
    }
    return checkCondition(0x05, 0x20);
  }
}

function checkCondition(key: number, asc: number): ScsiResult {
  const sense = Buffer.alloc(18);
  sense[0] = 0x70;
  sense[2] = key;
  sense[7] = 10;
  sense[12] = asc;
  return { status: 2, sense };
}

export class FakeDirectory implements IscsiTargetDirectory {
  targets: FakeTarget[];
  portalList: PortalAddress[] = [];
  constructor(...targets: FakeTarget[]) {
    this.targets = targets;
  }
  findTarget(name: string): IscsiTargetView | undefined {
    return this.targets.find((t) => t.name === name);
  }
  listTargets(): IscsiTargetView[] {
    return this.targets;
  }
  discoveryAccounts(): ChapAccount[] {
    return [];
  }
  portals(): PortalAddress[] {
    return this.portalList;
  }
  globalIscsiParams(): ReadonlyMap<string, string> {
    return new Map();
  }
}
