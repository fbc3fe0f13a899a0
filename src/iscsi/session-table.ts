// Every live iSCSI session of the daemon, by TSIH and by (initiator, ISID, target): what login needs for
// session reinstatement (RFC 7143 6.3.5) and adding connections, and what admin needs to close sessions.
import type { Session } from './session';

export class SessionTable {
  private byTsih = new Map<number, Session>();
  private nextTsih = 1;

  get(tsih: number): Session | undefined {
    return this.byTsih.get(tsih);
  }

  /** A new non-zero TSIH not in use (16-bit, wraps). */
  allocateTsih(): number {
    for (let i = 0; i < 0xffff; i++) {
      const t = this.nextTsih;
      this.nextTsih = this.nextTsih >= 0xffff ? 1 : this.nextTsih + 1;
      if (!this.byTsih.has(t)) return t;
    }
    throw new Error('no free TSIH');
  }

  add(s: Session): void {
    this.byTsih.set(s.tsih, s);
  }

  remove(s: Session): void {
    if (this.byTsih.get(s.tsih) === s) this.byTsih.delete(s.tsih);
  }

  /** The session an initiator port (name + ISID) has with a target, for reinstatement. */
  findByInitiatorPort(
    initiatorName: string,
    isid: Buffer,
    targetName: string | undefined,
  ): Session | undefined {
    for (const s of this.byTsih.values()) {
      if (s.initiatorName === initiatorName && s.isid.equals(isid) && s.targetName === targetName) return s;
    }
    return undefined;
  }

  all(): Session[] {
    return [...this.byTsih.values()];
  }

  ofTarget(tid: number): Session[] {
    return this.all().filter((s) => s.target?.tid === tid);
  }

  size(): number {
    return this.byTsih.size;
  }
}
