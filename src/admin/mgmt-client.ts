// Client side of the management protocol: one request, one response, over tgtd's control socket.
import * as net from 'node:net';
import { type MgmtRequest, type MgmtResponse } from './mgmt-protocol';

/** tgtd is not answering on the control socket (tgtadm exits 107, ENOTCONN, like tgt's). */
export class MgmtConnectError extends Error {
  constructor(readonly reason: Error) {
    super('failed to send request hdr to tgt daemon, Transport endpoint is not connected');
    this.name = 'MgmtConnectError';
  }
}

export function sendMgmtRequest(
  socketPath: string,
  req: MgmtRequest,
  timeoutMs = 30_000,
): Promise<MgmtResponse> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    let connected = false;
    let data = '';
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error('timed out waiting for tgtd')));
    sock.setEncoding('utf8');
    sock.once('connect', () => {
      connected = true;
      sock.write(JSON.stringify(req) + '\n');
    });
    sock.on('data', (chunk: string) => (data += chunk));
    sock.once('error', (err) => reject(connected ? err : new MgmtConnectError(err)));
    sock.once('close', () => {
      if (!connected) return;
      const line = data.split('\n')[0];
      try {
        const rsp = JSON.parse(line) as MgmtResponse;
        if (typeof rsp.code !== 'number') throw new Error('malformed response');
        resolve(rsp);
      } catch {
        reject(new Error('tgtd closed the socket'));
      }
    });
  });
}
