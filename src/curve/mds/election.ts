// Active/standby MDS by etcd election. The leader key is bound to a short lease; the leader considers
// itself leader only while its own clock says the lease cannot have expired (time the last successful
// keep-alive was SENT + TTL - margin), never waiting for the client library's late "lost" event. Its
// writes are fenced on the leader key's value (see EtcdKvStore.setFence), so a deposed leader that has
// not noticed yet cannot change the store.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Etcd3, Lease } from 'etcd3';
import { Logger } from '../../common/log';

export interface ElectionOptions {
  key: string;
  /** this MDS's client-facing address, published as the leader's address */
  address: string;
  ttlSec: number;
  /** stop serving this long before the lease could expire */
  marginMs: number;
  /** how often a standby checks whether the leader key is gone */
  pollMs: number;
}

/** The leader key's value: "<address>#<nonce>" (the nonce makes each term's fence unique). */
export const leaderAddressOf = (value: string): string => value.split('#')[0];

export class LeaderElection extends EventEmitter {
  private lease: Lease | undefined;
  private leading = false;
  private validUntilMs = 0;
  private stopped = false;
  private value = '';
  private checkTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: Etcd3,
    private readonly opts: ElectionOptions,
    private readonly log: Logger,
  ) {
    super();
  }

  /** Leader by this process's own clock. */
  isLeader(nowMs = Date.now()): boolean {
    return this.leading && nowMs < this.validUntilMs;
  }

  fenceValue(): Buffer {
    return Buffer.from(this.value);
  }

  async currentLeader(): Promise<string | undefined> {
    const v = await this.client.get(this.opts.key).string();
    return v ? leaderAddressOf(v) : undefined;
  }

  start(): void {
    void this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        if (await this.campaignOnce()) return;
      } catch (err) {
        this.log.warn('campaign failed', { err: err as Error });
      }
      await new Promise((r) => setTimeout(r, this.opts.pollMs));
    }
  }

  private async campaignOnce(): Promise<boolean> {
    if ((await this.client.get(this.opts.key).string()) !== null) return false;
    const ttlMs = this.opts.ttlSec * 1000;
    const lease = this.client.lease(this.opts.ttlSec);
    const sentMs = Date.now();
    await lease.grant();
    const value = `${this.opts.address}#${randomBytes(8).toString('hex')}`;
    const res = await this.client
      .if(this.opts.key, 'Create', '==', 0)
      .then(lease.put(this.opts.key).value(value))
      .commit();
    if (!res.succeeded || this.stopped) {
      await lease.revoke().catch(() => undefined);
      return false;
    }
    this.lease = lease;
    this.value = value;
    this.leading = true;
    this.validUntilMs = sentMs + ttlMs - this.opts.marginMs;
    let firedMs = sentMs;
    lease.on('keepaliveFired', () => {
      firedMs = Date.now();
    });
    lease.on('keepaliveSucceeded', () => {
      this.validUntilMs = Math.max(this.validUntilMs, firedMs + ttlMs - this.opts.marginMs);
    });
    lease.on('lost', () => this.stepDown('lease lost'));
    // our own clock decides: check often, independent of keep-alive events
    this.checkTimer = setInterval(
      () => {
        if (this.leading && !this.isLeader()) this.stepDown('lease may have expired');
      },
      Math.max(50, Math.floor(this.opts.marginMs / 4)),
    );
    this.log.info('elected leader', { key: this.opts.key, address: this.opts.address });
    this.emit('elected');
    return true;
  }

  private stepDown(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.checkTimer = undefined;
    const lease = this.lease;
    this.lease = undefined;
    this.log.warn('stepping down', { reason });
    this.emit('lost');
    if (lease) void lease.revoke().catch(() => lease.release());
    if (!this.stopped) void this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.checkTimer) clearInterval(this.checkTimer);
    const lease = this.lease;
    this.leading = false;
    this.lease = undefined;
    if (lease) await lease.revoke().catch(() => lease.release());
  }
}
