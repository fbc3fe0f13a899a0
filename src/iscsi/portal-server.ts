// The iSCSI transport's listening side: one TCP server per portal, the daemon-wide session table and
// data budget, and the hooks the daemon uses when targets or LUNs change.
import * as net from 'node:net';
import type { Logger } from '../common/log';
import { ByteBudget } from './byte-budget';
import { Connection, type ConnectionContext } from './connection';
import { sharedBufferPool } from '../common/data-buffer-pool';
import { addBufferedBytesSource } from './iscsi-metrics';
import { numberToLun } from './pdu-codec';
import { SessionTable } from './session-table';
import { readIntoSharedBuffer } from '../common/shared-read-buffer';
import type { IscsiTargetDirectory, PortalAddress } from './target-port';

/**
 * Default bound on command data in memory. 32 MiB keeps 32 x 1 MiB commands in flight (more than a
 * single initiator at queue depth 32 can use), and under heavy load from many sessions keeps the daemon's
 * peak RSS below 200 MB (measured: 16 initiators x 32 outstanding 1 MiB writes, about 177 MB).
 */
export const DEFAULT_DATA_BUDGET = 32 * 1024 * 1024;

export interface IscsiServerOptions {
  directory: IscsiTargetDirectory;
  log: Logger;
  /** Bytes of command data held in memory at once, all sessions together. */
  dataBudgetBytes?: number;
  /** Commands each session may have outstanding (CmdSN window). */
  cmdWindow?: number;
  loginTimeoutMs?: number;
}

export class IscsiServer {
  readonly sessions = new SessionTable();
  private servers: Array<{ server: net.Server; portal: PortalAddress }> = [];
  private readonly ctx: ConnectionContext;
  private readonly sockets = new Set<net.Socket>();
  private readonly stopReporting: () => void;

  constructor(opts: IscsiServerOptions) {
    this.ctx = {
      directory: opts.directory,
      sessions: this.sessions,
      budget: new ByteBudget(opts.dataBudgetBytes ?? DEFAULT_DATA_BUDGET),
      buffers: sharedBufferPool,
      log: opts.log,
      cmdWindow: opts.cmdWindow ?? 128,
      loginTimeoutMs: opts.loginTimeoutMs ?? 30_000,
    };
    const budget = this.ctx.budget;
    this.stopReporting = addBufferedBytesSource(() => budget.inUse());
  }

  /** Listen on one portal; resolves with the bound address (port 0 picks a free port). */
  listen(address: string, port: number, tpgt = 1): Promise<PortalAddress> {
    return new Promise((resolve, reject) => {
      const portal: PortalAddress = { address, port, tpgt };
      const server = net.createServer({ pauseOnConnect: true }, (accepted) => {
        // Reads are delivered from a later event-loop turn, after `conn` exists.
        const taken = readIntoSharedBuffer(accepted, (chunk) => conn.receive(chunk));
        const socket = taken ?? accepted;
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        const conn = new Connection(socket, portal, this.ctx, taken !== undefined);
        if (taken === undefined) accepted.resume();
      });
      server.maxConnections = 4096;
      server.once('error', reject);
      const ipv6 = address.includes(':');
      server.listen({ host: address, port, ipv6Only: ipv6 }, () => {
        server.removeListener('error', reject);
        server.on('error', (err) => this.ctx.log.error('portal error', { err, address, port }));
        const bound = server.address() as net.AddressInfo;
        portal.port = bound.port;
        this.servers.push({ server, portal });
        this.ctx.log.info('listening', { address, port: bound.port, tpgt });
        resolve(portal);
      });
    });
  }

  portals(): PortalAddress[] {
    return this.servers.map((s) => s.portal);
  }

  /**
   * Stop listening on a portal (tgtadm --op delete --mode portal). Sessions already logged in through
   * it go on, as in tgt. Returns false when no such portal is open.
   */
  closePortal(address: string, port: number): Promise<boolean> {
    const i = this.servers.findIndex((s) => s.portal.address === address && s.portal.port === port);
    if (i < 0) return Promise.resolve(false);
    const [entry] = this.servers.splice(i, 1);
    // close() stops accepting at once; its callback would wait for the portal's live sessions to end.
    entry.server.close();
    this.ctx.log.info('portal closed', { address, port });
    return Promise.resolve(true);
  }

  /** A target was deleted or set offline: end its sessions. */
  closeTargetSessions(tid: number, why: string): void {
    for (const s of this.sessions.ofTarget(tid)) s.close(why);
  }

  /** The LUN inventory of a target changed: tell its initiators (Async Message). */
  notifyLunChange(tid: number, lun: number): void {
    for (const s of this.sessions.ofTarget(tid)) s.notifyLunsChanged(numberToLun(lun));
  }

  async close(): Promise<void> {
    this.stopReporting();
    for (const s of this.sessions.all()) s.close('shutdown');
    for (const sock of this.sockets) sock.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.server.close(() => r()))));
    this.servers = [];
  }
}
