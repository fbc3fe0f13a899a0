// Pushes new copysets to chunkservers (CopysetService.CreateCopysetNode2) with retries. The chunkserver
// answers EXIST for copysets it already has, so a retried push is harmless.
import * as grpc from '@grpc/grpc-js';
import { grpcService } from '../common/protos';

export interface CopysetToCreate {
  logicalPoolId: number;
  copysetId: number;
  peers: { id: number; address: string }[];
}

export interface CopysetPusher {
  /** Resolves when the chunkserver at `address` has all `copysets`; rejects after the last retry. */
  createCopysets(address: string, copysets: CopysetToCreate[]): Promise<void>;
}

const SUCCESS = 0;
const EXIST = 1;

export interface GrpcPusherOptions {
  retries?: number;
  retryDelayMs?: number;
  timeoutMs?: number;
}

export class GrpcCopysetPusher implements CopysetPusher {
  private readonly clients = new Map<string, grpc.Client>();
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly timeoutMs: number;

  constructor(opts: GrpcPusherOptions = {}) {
    this.retries = opts.retries ?? 3;
    this.retryDelayMs = opts.retryDelayMs ?? 200;
    this.timeoutMs = opts.timeoutMs ?? 3000;
  }

  private client(address: string): grpc.Client {
    let c = this.clients.get(address);
    if (!c) {
      const Ctor = grpcService('copyset.proto', 'curve.chunkserver.CopysetService');
      c = new Ctor(address, grpc.credentials.createInsecure());
      this.clients.set(address, c);
    }
    return c;
  }

  private callOnce(address: string, copysets: CopysetToCreate[]): Promise<void> {
    const client = this.client(address) as unknown as Record<
      string,
      (
        req: unknown,
        opts: grpc.CallOptions,
        cb: (err: grpc.ServiceError | null, res?: { status: number }) => void,
      ) => void
    >;
    return new Promise((resolve, reject) => {
      client.CreateCopysetNode2(
        // copyset.proto spells the pool field logicPoolId (as Curve does)
        {
          copysets: copysets.map((c) => ({
            logicPoolId: c.logicalPoolId,
            copysetId: c.copysetId,
            peers: c.peers,
          })),
        },
        { deadline: Date.now() + this.timeoutMs },
        (err: grpc.ServiceError | null, res?: { status: number }) => {
          if (err) return reject(err);
          if (res && (res.status === SUCCESS || res.status === EXIST)) return resolve();
          reject(new Error(`CreateCopysetNode2 on ${address}: status ${res?.status}`));
        },
      );
    });
  }

  async createCopysets(address: string, copysets: CopysetToCreate[]): Promise<void> {
    let lastErr: unknown;
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      try {
        return await this.callOnce(address, copysets);
      } catch (err) {
        lastErr = err;
        if (attempt < this.retries)
          await new Promise((r) => setTimeout(r, this.retryDelayMs * (attempt + 1)));
      }
    }
    throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
