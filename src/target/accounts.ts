// CHAP accounts and their bindings (tgt usr/target.c account_*): an account is created once, then
// bound to targets as an incoming (initiator authenticates) or outgoing (target authenticates, mutual
// CHAP; at most one per target) account. Binding to DISCOVERY_TID means discovery sessions.
import type { ChapAccount } from '../iscsi/target-port';
import { TgtErrno, TgtError } from './tgt-error';

/** tgtadm `--mode account --op bind` without `--tid` binds to discovery (tgt GLOBAL_TID). */
export const DISCOVERY_TID = -1;

export class AccountStore {
  /** Newest first, as tgt lists them (`Account list:`). */
  private accounts: ChapAccount[] = [];
  private incoming = new Map<number, string[]>();
  private outgoing = new Map<number, string>();

  users(): string[] {
    return this.accounts.map((a) => a.user);
  }

  find(user: string): ChapAccount | undefined {
    return this.accounts.find((a) => a.user === user);
  }

  private require(user: string): ChapAccount {
    const a = this.find(user);
    if (!a) throw new TgtError(TgtErrno.NoUser);
    return a;
  }

  checkAdd(user: string): void {
    if (this.find(user)) throw new TgtError(TgtErrno.UserExist);
  }

  add(user: string, password: string): void {
    this.checkAdd(user);
    this.accounts.unshift({ user, password });
  }

  /** Delete an account and every binding of it. */
  delete(user: string): void {
    this.require(user);
    this.accounts = this.accounts.filter((a) => a.user !== user);
    for (const [tid, list] of this.incoming)
      this.incoming.set(
        tid,
        list.filter((u) => u !== user),
      );
    for (const [tid, u] of this.outgoing) if (u === user) this.outgoing.delete(tid);
  }

  checkBind(tid: number, user: string, outgoing: boolean): void {
    this.require(user);
    if (outgoing) {
      if (this.outgoing.has(tid)) throw new TgtError(TgtErrno.OutAccountExist);
    } else if ((this.incoming.get(tid) ?? []).includes(user)) {
      throw new TgtError(TgtErrno.UserExist);
    }
  }

  bind(tid: number, user: string, outgoing: boolean): void {
    this.checkBind(tid, user, outgoing);
    if (outgoing) this.outgoing.set(tid, user);
    else this.incoming.set(tid, [...(this.incoming.get(tid) ?? []), user]);
  }

  checkUnbind(tid: number, user: string, outgoing: boolean): void {
    this.require(user);
    const bound = outgoing ? this.outgoing.get(tid) === user : (this.incoming.get(tid) ?? []).includes(user);
    if (!bound) throw new TgtError(TgtErrno.NoUser);
  }

  unbind(tid: number, user: string, outgoing: boolean): void {
    this.checkUnbind(tid, user, outgoing);
    if (outgoing) this.outgoing.delete(tid);
    else
      this.incoming.set(
        tid,
        (this.incoming.get(tid) ?? []).filter((u) => u !== user),
      );
  }

  /** Forget every binding of a target (it was deleted). */
  forgetTarget(tid: number): void {
    this.incoming.delete(tid);
    this.outgoing.delete(tid);
  }

  incomingOf(tid: number): ChapAccount[] {
    return (this.incoming.get(tid) ?? []).map((u) => this.require(u));
  }

  outgoingOf(tid: number): ChapAccount | undefined {
    const u = this.outgoing.get(tid);
    return u === undefined ? undefined : this.require(u);
  }
}
