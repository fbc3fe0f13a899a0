// A small client for the MDS services that follows the leader: it tries the addresses it knows, and on
// UNAVAILABLE "not leader; leader=X" switches to X. Used by the `curve` CLI and tests.
import * as grpc from '@grpc/grpc-js';
import { grpcService } from '../common/protos';

export type MdsServiceName = 'nameserver' | 'topology' | 'heartbeat' | 'status';

const SERVICES: Record<MdsServiceName, [string, string]> = {
  nameserver: ['nameserver.proto', 'curve.mds.CurveFSService'],
  topology: ['topology.proto', 'curve.mds.topology.TopologyService'],
  heartbeat: ['heartbeat.proto', 'curve.mds.heartbeat.HeartbeatService'],
  status: ['topology.proto', 'curve.mds.topology.MdsStatusService'],
};

type Unary = (
  req: unknown,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res: unknown) => void,
) => void;

export class MdsClient {
  private readonly addresses: string[];
  private current = 0;
  private readonly clients = new Map<string, grpc.Client>();

  constructor(
    addresses: string[],
    private readonly timeoutMs = 5000,
    private readonly totalTimeoutMs = 15000,
  ) {
    if (addresses.length === 0) throw new Error('no MDS address given');
    this.addresses = [...addresses];
  }

  private client(service: MdsServiceName, address: string): grpc.Client {
    const key = `${service}@${address}`;
    let c = this.clients.get(key);
    if (!c) {
      const [file, name] = SERVICES[service];
      c = new (grpcService(file, name))(address, grpc.credentials.createInsecure());
      this.clients.set(key, c);
    }
    return c;
  }

  /** One call on one MDS, no leader following. */
  callAt<T = Record<string, unknown>>(
    address: string,
    service: MdsServiceName,
    method: string,
    req: unknown,
  ): Promise<T> {
    const c = this.client(service, address) as unknown as Record<string, Unary>;
    if (typeof c[method] !== 'function') return Promise.reject(new Error(`unknown method ${method}`));
    return new Promise((resolve, reject) =>
      c[method].call(c, req, { deadline: Date.now() + this.timeoutMs }, (err, res) =>
        err ? reject(err) : resolve(res as T),
      ),
    );
  }

  /** Calls the leader, following redirects and trying other addresses until totalTimeoutMs. */
  async call<T = Record<string, unknown>>(service: MdsServiceName, method: string, req: unknown): Promise<T> {
    const deadline = Date.now() + this.totalTimeoutMs;
    let lastErr: unknown;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      const address = this.addresses[this.current];
      try {
        return await this.callAt<T>(address, service, method, req);
      } catch (err) {
        lastErr = err;
        const e = err as grpc.ServiceError;
        if (e.code !== grpc.status.UNAVAILABLE && e.code !== grpc.status.DEADLINE_EXCEEDED) throw err;
        const leader = /leader=([^\s;]+)/.exec(e.details ?? '')?.[1];
        if (leader && leader !== 'unknown' && leader !== address) {
          if (!this.addresses.includes(leader)) this.addresses.push(leader);
          this.current = this.addresses.indexOf(leader);
          continue;
        }
        this.current = (this.current + 1) % this.addresses.length;
        if (attempt % this.addresses.length === this.addresses.length - 1)
          await new Promise((r) => setTimeout(r, Math.min(500, 50 * (attempt + 1))));
      }
    }
    throw lastErr instanceof Error ? lastErr : new Error('MDS unreachable');
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
