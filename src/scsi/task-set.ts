// The task set of one logical unit (SAM-5 8.6): SIMPLE tasks run concurrently, an ORDERED task waits for
// every task that entered before it and holds back every SIMPLE or ORDERED task that enters after it,
// HEAD OF QUEUE tasks run at once. ACA is not supported (NACA is rejected), so ACA tasks count as SIMPLE.
// The common case (no ORDERED task around) costs a counter increment and no await.
import { TaskAttr } from './scsi-types';

export class TaskSet {
  private running = 0;
  private drained: Array<() => void> = [];
  /** Settles when the most recent ORDERED task has completed. */
  private barrier: Promise<void> | undefined;

  /** Number of tasks executing now (for tests). */
  active(): number {
    return this.running;
  }

  /** Run `fn` under the task attribute's ordering rules. */
  run<T>(attr: TaskAttr, fn: () => Promise<T>): Promise<T> {
    if (attr === TaskAttr.HeadOfQueue || (attr !== TaskAttr.Ordered && this.barrier === undefined)) {
      this.running++;
      return fn().finally(() => this.leave());
    }
    if (attr === TaskAttr.Ordered) return this.ordered(fn);
    return this.afterBarrier(fn);
  }

  private async afterBarrier<T>(fn: () => Promise<T>): Promise<T> {
    while (this.barrier) await this.barrier;
    this.running++;
    try {
      return await fn();
    } finally {
      this.leave();
    }
  }

  private async ordered<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.barrier;
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    this.barrier = mine;
    try {
      if (previous) await previous;
      while (this.running > 0) await new Promise<void>((r) => this.drained.push(r));
      this.running++;
      try {
        return await fn();
      } finally {
        this.leave();
      }
    } finally {
      if (this.barrier === mine) this.barrier = undefined;
      release();
    }
  }

  private leave(): void {
    this.running--;
    if (this.running === 0 && this.drained.length) {
      const waiters = this.drained;
      this.drained = [];
      for (const w of waiters) w();
    }
  }
}
