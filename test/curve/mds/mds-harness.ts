// An in-process MDS on the embedded store plus fake chunkservers, for service-level tests.
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { setLogLevel } from '../../../src/common/log';
import { defaultMdsConfig, MdsConfig } from '../../../src/curve/mds/mds-config';
import { MdsClient } from '../../../src/curve/mds/mds-client';
import { MdsServer } from '../../../src/curve/mds/mds-server';
import { FakeChunkServer, RecordingCommander } from './fake-chunkserver';

setLogLevel('error');

export interface Harness {
  mds: MdsServer;
  client: MdsClient;
  dir: string;
  fakes: FakeChunkServer[];
  config: MdsConfig;
  /** Records the MDS's DeleteChunk / UpdateEpoch calls (fake chunkservers serve no data plane). */
  commander: RecordingCommander;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startMds(overrides: Partial<MdsConfig> = {}): Promise<Harness> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mds-test-'));
  const config: MdsConfig = {
    ...defaultMdsConfig,
    listen: '127.0.0.1:0',
    dataDir: path.join(dir, 'db'),
    recoverIntervalMs: 0,
    replicaIntervalMs: 0,
    leaderIntervalMs: 0,
    copysetIntervalMs: 0,
    copysetPushRetries: 2,
    metrics: 'off',
    ...overrides,
  };
  const commander = new RecordingCommander();
  const h: Harness = {
    mds: new MdsServer(config, undefined, commander),
    client: undefined as unknown as MdsClient,
    dir,
    fakes: [],
    config,
    commander,
    async restart() {
      await h.mds.stop();
      h.client.close();
      h.mds = new MdsServer({ ...config, listen: `127.0.0.1:${h.mds.boundPort}` }, undefined, commander);
      await h.mds.start();
      h.client = new MdsClient([h.mds.address()]);
    },
    async stop() {
      h.client.close();
      await h.mds.stop();
      for (const f of h.fakes) await f.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await h.mds.start();
  h.client = new MdsClient([h.mds.address()]);
  return h;
}

/** One physical pool, `zones` zones with one server and one fake chunkserver each. */
export async function buildCluster(h: Pick<Harness, 'client' | 'fakes'>, zones = 4): Promise<void> {
  const c = h.client;
  const ok = (r: Record<string, unknown>, what: string): void => {
    if (r.statusCode !== 0) throw new Error(`${what}: status ${String(r.statusCode)}`);
  };
  ok(await c.call('topology', 'CreatePhysicalPool', { physicalPoolName: 'pool1' }), 'pool');
  for (let z = 1; z <= zones; z++) {
    ok(await c.call('topology', 'CreateZone', { zoneName: `zone${z}`, physicalPoolName: 'pool1' }), 'zone');
    ok(
      await c.call('topology', 'RegistServer', {
        hostName: `server${z}`,
        internalIp: '127.0.0.1',
        internalPort: 9000 + z,
        zoneName: `zone${z}`,
        physicalPoolName: 'pool1',
      }),
      'server',
    );
    const fake = new FakeChunkServer();
    await fake.start();
    const reg = await c.call<{ statusCode: number; chunkServerID: number; token: string }>(
      'topology',
      'RegistChunkServer',
      {
        diskType: 'nvme',
        diskPath: `/data/cs${z}`,
        hostIp: '127.0.0.1',
        port: fake.port,
        serverName: `server${z}`,
        diskCapacity: 2 ** 40,
      },
    );
    ok(reg, 'chunkserver');
    fake.id = reg.chunkServerID;
    fake.token = reg.token;
    h.fakes.push(fake);
  }
}
