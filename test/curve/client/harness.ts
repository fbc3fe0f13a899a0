// Real MDS (in process, embedded store) + fake chunkservers + one 10 GiB volume, for client tests.
import { MdsServer } from '../../../src/curve/mds/mds-server';
import { startMds, type Harness } from '../mds/mds-harness';
import { buildFakeTopology, FakeCluster } from './fake-cluster';

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;
export const OWNER = 'tester';

export interface ClientHarness {
  h: Harness;
  cluster: FakeCluster;
  mdsAddress: string;
  createVolume(name: string, size?: number): Promise<void>;
  /** Stops the MDS (clients lose it) and later starts it again on the same port and data. */
  stopMds(): Promise<void>;
  startMds(): Promise<void>;
  stop(): Promise<void>;
}

export async function startClientHarness(sessionLeaseMs = 1000): Promise<ClientHarness> {
  const h = await startMds({ sessionLeaseMs });
  const cluster = new FakeCluster();
  await cluster.start(3);
  await buildFakeTopology(h.client, cluster, 6);
  const port = h.mds.boundPort;
  const ch: ClientHarness = {
    h,
    cluster,
    mdsAddress: h.mds.address(),
    async createVolume(name, size = 10 * GiB) {
      const r = await h.client.call<{ statusCode: number }>('nameserver', 'CreateFile', {
        fileName: name,
        owner: OWNER,
        fileType: 1,
        fileLength: size,
      });
      if (r.statusCode !== 0) throw new Error(`CreateFile ${name}: ${r.statusCode}`);
    },
    async stopMds() {
      await h.mds.stop();
    },
    async startMds() {
      h.mds = new MdsServer({ ...h.config, listen: `127.0.0.1:${port}` });
      await h.mds.start();
    },
    async stop() {
      await h.stop();
      await cluster.stop();
    },
  };
  return ch;
}

/** Deterministic bytes so a mix-up of offsets is visible. */
export function pattern(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
