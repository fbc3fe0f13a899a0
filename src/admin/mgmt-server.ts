// The management endpoint inside tgtd: a Unix stream socket at `<TGT_IPC_SOCKET>.<control port>`
// speaking mgmt-protocol.ts. Requests are applied one at a time, in arrival order, so each is atomic
// with respect to the others.
//
// Who may administer: tgt checks the peer's credentials (SO_PEERCRED, root only). Node cannot read
// peer credentials, so the socket is created with mode 0600 instead: only its owner (the user tgtd
// runs as, normally root) can connect, which is the same policy enforced by the kernel.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createLogger } from '../common/log';
import type { TargetRegistry } from '../target/registry';
import { applyMgmtRequest } from './mgmt-handlers';
import { MGMT_EINVAL, MGMT_MAX_REQUEST_BYTES, parseMgmtRequest, type MgmtResponse } from './mgmt-protocol';

const log = createLogger('mgmt');
const CLIENT_IDLE_MS = 10_000;

/** The control socket path of a control port; creates the parent directory if missing (the daemon
 *  side; clients pass `create: false`). */
export function controlSocketPath(controlPort: number, opts: { create?: boolean } = {}): string {
  const base = process.env.TGT_IPC_SOCKET ?? '/var/run/tgtd/socket';
  if (opts.create !== false) fs.mkdirSync(path.dirname(base), { recursive: true });
  return `${base}.${controlPort}`;
}

export interface ManagementServerOptions {
  /** `tgtadm --op delete --mode system` was answered: the daemon should shut down. */
  onSystem?: (event: 'delete') => void;
}

/** Is a daemon answering on this socket path? */
function socketIsLive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

export class ManagementServer {
  private server: net.Server | undefined;
  private socketPath: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly clients = new Set<net.Socket>();

  constructor(
    private readonly registry: TargetRegistry,
    private readonly opts: ManagementServerOptions = {},
  ) {}

  /** Listen on `socketPath`. Refuses if another daemon answers there; removes a stale socket file. */
  async listen(socketPath: string): Promise<void> {
    if (fs.existsSync(socketPath)) {
      if (await socketIsLive(socketPath))
        throw new Error(
          `the control socket ${socketPath} is in use: is another tgtd running on this control port?`,
        );
      fs.rmSync(socketPath, { force: true });
    }
    const server = net.createServer((sock) => this.onClient(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Create the socket owner-only from the start (no window where others could connect).
      const oldMask = process.umask(0o177);
      try {
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      } finally {
        process.umask(oldMask);
      }
    });
    fs.chmodSync(socketPath, 0o600);
    server.on('error', (err) => log.error('management socket error', { err }));
    this.server = server;
    this.socketPath = socketPath;
    log.info('management socket listening', { path: socketPath });
  }

  private onClient(sock: net.Socket): void {
    this.clients.add(sock);
    sock.setTimeout(CLIENT_IDLE_MS, () => sock.destroy());
    sock.on('close', () => this.clients.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = Buffer.alloc(0);
    let handled = false;
    sock.on('data', (chunk: Buffer) => {
      if (handled) return;
      buf = Buffer.concat([buf, chunk]);
      const nl = buf.indexOf(0x0a);
      if (nl < 0 && buf.length <= MGMT_MAX_REQUEST_BYTES) return;
      handled = true;
      const line = nl < 0 ? undefined : buf.subarray(0, nl).toString('utf8');
      this.queue = this.queue.then(() => this.handleLine(sock, line));
    });
  }

  private async handleLine(sock: net.Socket, line: string | undefined): Promise<void> {
    let decoded: unknown;
    try {
      decoded = line === undefined ? undefined : JSON.parse(line);
    } catch {
      decoded = undefined;
    }
    const req = parseMgmtRequest(decoded);
    let rsp: MgmtResponse;
    if (!req) {
      rsp = { code: MGMT_EINVAL, error: 'invalid request' };
    } else {
      rsp = await applyMgmtRequest(this.registry, req);
      const fields = {
        mode: req.mode,
        op: req.op,
        tid: req.tid,
        lun: req.lun,
        code: rsp.code,
        error: rsp.error,
      };
      if (req.op === 'show') log.debug('management request', fields);
      else log.info('management request', fields);
    }
    await new Promise<void>((resolve) => sock.end(JSON.stringify(rsp) + '\n', () => resolve()));
    if (req && req.mode === 'system' && req.op === 'delete' && rsp.code === 0) this.opts.onSystem?.('delete');
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const c of this.clients) c.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.socketPath) fs.rmSync(this.socketPath, { force: true });
  }
}
