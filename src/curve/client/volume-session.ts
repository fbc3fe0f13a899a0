// The volume's session with the MDS: OpenFile, a lease refreshed every lease/4, CloseFile. While the
// lease is lost (the MDS unreachable past the lease) chunk I/O waits in whenValid(); it resumes as soon as
// a refresh succeeds again, and fails only when the caller's own hold deadline passes.
import type { Logger } from '../../common/log';
import { CurveClientError } from './client-errors';
import type { FileInfo, MdsCall } from './mds-types';
import { MdsStatus, statusName } from './mds-types';

interface OpenFileResponse {
  statusCode: number;
  protoSession?: { sessionID: string; leaseTime: number } | null;
  fileInfo?: FileInfo | null;
}

interface RefreshResponse {
  statusCode: number;
  fileInfo?: FileInfo | null;
}

export interface SessionIdentity {
  fileName: string;
  owner: string;
  clientIp: string;
  clientPort: number;
}

export class VolumeSession {
  private validUntil: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<() => void>();
  private closed = false;
  private lost = false;
  private refreshing: Promise<void> | undefined;
  refreshes = 0;

  private constructor(
    private readonly call: MdsCall,
    private readonly id: SessionIdentity,
    readonly sessionId: string,
    readonly leaseMs: number,
    openedAt: number,
    private readonly onInfo: (info: FileInfo) => void,
    private readonly log: Logger,
  ) {
    this.validUntil = openedAt + leaseMs;
  }

  /** OpenFile; the answer's file info is returned with the session. */
  static async open(
    call: MdsCall,
    id: SessionIdentity,
    onInfo: (info: FileInfo) => void,
    log: Logger,
  ): Promise<{ session: VolumeSession; info: FileInfo }> {
    const sentAt = Date.now();
    const r = await call<OpenFileResponse>('nameserver', 'OpenFile', {
      fileName: id.fileName,
      owner: id.owner,
      clientIP: id.clientIp,
      clientPort: id.clientPort,
      date: sentAt,
    });
    if (r.statusCode !== MdsStatus.kOK || !r.protoSession || !r.fileInfo) {
      const kind =
        r.statusCode === MdsStatus.kFileNotExists || r.statusCode === MdsStatus.kOwnerAuthFail
          ? 'notfound'
          : 'io';
      throw new CurveClientError(kind, `open ${id.fileName}: ${statusName(r.statusCode)}`);
    }
    // leaseTime is in microseconds, as Curve reports it.
    const leaseMs = Math.max(1, Math.floor(r.protoSession.leaseTime / 1000));
    const session = new VolumeSession(call, id, r.protoSession.sessionID, leaseMs, sentAt, onInfo, log);
    session.schedule(session.interval());
    return { session, info: r.fileInfo };
  }

  valid(nowMs = Date.now()): boolean {
    return nowMs < this.validUntil;
  }

  /** Resolves while the lease is valid; otherwise once a refresh succeeds, or rejects at the deadline. */
  whenValid(deadlineMs: number): Promise<void> {
    if (this.valid()) return Promise.resolve();
    if (this.closed) return Promise.reject(new CurveClientError('closed', 'volume closed'));
    this.kick();
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        if (this.closed && !this.valid()) reject(new CurveClientError('closed', 'volume closed'));
        else resolve();
      };
      const timer = setTimeout(
        () => {
          this.waiters.delete(done);
          reject(
            new CurveClientError(
              'held-too-long',
              `${this.id.fileName}: session lease with the MDS lost for longer than the hold limit`,
            ),
          );
        },
        Math.max(0, deadlineMs - Date.now()),
      );
      this.waiters.add(done);
    });
  }

  private interval(): number {
    return Math.max(10, Math.floor(this.leaseMs / 4));
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), ms);
    this.timer.unref();
  }

  /** Runs one refresh now unless one is running. */
  private kick(): void {
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = undefined;
    });
  }

  private async refresh(): Promise<void> {
    if (this.closed) return;
    const sentAt = Date.now();
    let ok = false;
    try {
      const r = await this.call<RefreshResponse>('nameserver', 'RefreshSession', {
        fileName: this.id.fileName,
        owner: this.id.owner,
        sessionID: this.sessionId,
        clientIP: this.id.clientIp,
        clientPort: this.id.clientPort,
        date: sentAt,
      });
      if (r.statusCode === MdsStatus.kOK) {
        ok = true;
        this.refreshes++;
        this.validUntil = Math.max(this.validUntil, sentAt + this.leaseMs);
        if (r.fileInfo) this.onInfo(r.fileInfo);
      } else {
        this.log.warn('session refresh refused', { status: statusName(r.statusCode) });
      }
    } catch (err) {
      this.log.debug('session refresh failed', { err: err as Error });
    }
    if (ok) {
      if (this.lost) this.log.info('session lease regained', { session: this.sessionId });
      this.lost = false;
      for (const w of [...this.waiters]) w();
      this.schedule(this.interval());
      return;
    }
    if (!this.valid() && !this.lost) {
      this.lost = true;
      this.log.warn('session lease lost: holding I/O until the MDS answers', { session: this.sessionId });
    }
    // Retry sooner than the normal period so the lease is regained quickly.
    this.schedule(Math.max(10, Math.floor(this.leaseMs / 8)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    for (const w of [...this.waiters]) w();
    try {
      const r = await this.call<{ statusCode: number }>('nameserver', 'CloseFile', {
        fileName: this.id.fileName,
        owner: this.id.owner,
        sessionID: this.sessionId,
        clientIP: this.id.clientIp,
        clientPort: this.id.clientPort,
      });
      if (r.statusCode !== MdsStatus.kOK)
        this.log.warn('CloseFile refused', { status: statusName(r.statusCode) });
    } catch (err) {
      // The MDS lets the lease expire on its own.
      this.log.warn('CloseFile failed', { err: err as Error });
    }
  }
}
