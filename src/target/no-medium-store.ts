// The store of a logical unit created without `--backing-store` (tgt allows it: the LU is offline,
// removable, size 0, until a medium is set). Every I/O fails; the SCSI layer reports NOT READY
// because the LU is offline before it ever gets here.
import { BackingStoreError, type BackingStore } from '../backing/backing-store';

export class NoMediumStore implements BackingStore {
  readonly type = 'none';
  readonly capabilities = { unmap: false, compareAndWrite: false, lbaStatus: false, volatileCache: false };

  size(): number {
    return 0;
  }
  private fail(): Promise<never> {
    return Promise.reject(new BackingStoreError('no medium', 'range'));
  }
  read(): Promise<Buffer> {
    return this.fail();
  }
  write(): Promise<void> {
    return this.fail();
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  unmap(): Promise<void> {
    return this.fail();
  }
  writeZeroes(): Promise<void> {
    return this.fail();
  }
  refreshSize(): Promise<number> {
    return Promise.resolve(0);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
