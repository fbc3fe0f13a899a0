// Client sessions on open volumes: soft state with leases, kept in memory by the leader. A refresh of a
// session the MDS does not know (after a failover) re-adopts it, so a leader change does not fail I/O.
import { randomUUID } from 'node:crypto';

export interface Session {
  sessionID: string;
  fileName: string;
  fileId: number;
  clientIP: string;
  clientPort: number;
  createTime: number;
  lastRefreshMs: number;
}

export class SessionTable {
  private readonly sessions = new Map<string, Session>();

  constructor(readonly leaseMs: number) {}

  open(fileName: string, fileId: number, clientIP: string, clientPort: number, nowMs = Date.now()): Session {
    const s: Session = {
      sessionID: randomUUID(),
      fileName,
      fileId,
      clientIP,
      clientPort,
      createTime: nowMs,
      lastRefreshMs: nowMs,
    };
    this.sessions.set(s.sessionID, s);
    return s;
  }

  get(sessionID: string): Session | undefined {
    return this.sessions.get(sessionID);
  }

  /** Extends the lease; adopts an unknown id (a session opened on a previous leader). */
  refresh(
    sessionID: string,
    fileName: string,
    fileId: number,
    ip: string,
    port: number,
    nowMs = Date.now(),
  ): Session {
    let s = this.sessions.get(sessionID);
    if (!s || s.fileId !== fileId) {
      s = {
        sessionID,
        fileName,
        fileId,
        clientIP: ip,
        clientPort: port,
        createTime: nowMs,
        lastRefreshMs: nowMs,
      };
      this.sessions.set(sessionID, s);
    }
    s.lastRefreshMs = nowMs;
    if (ip) s.clientIP = ip;
    if (port) s.clientPort = port;
    return s;
  }

  close(sessionID: string): boolean {
    return this.sessions.delete(sessionID);
  }

  /** Live (unexpired) sessions; expired ones are dropped. */
  live(nowMs = Date.now()): Session[] {
    const out: Session[] = [];
    for (const [id, s] of this.sessions) {
      if (nowMs - s.lastRefreshMs > this.leaseMs) this.sessions.delete(id);
      else out.push(s);
    }
    return out;
  }

  liveOnFile(fileId: number, nowMs = Date.now()): Session[] {
    return this.live(nowMs).filter((s) => s.fileId === fileId);
  }

  /** Moves sessions when their file is renamed. */
  renameFile(fileId: number, newName: string): void {
    for (const s of this.sessions.values()) if (s.fileId === fileId) s.fileName = newName;
  }
}
