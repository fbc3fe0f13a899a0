// End to end: the client on the real MDS and three real curve-chunkserver processes (Raft replicated).
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { CurveVolume } from '../../../src/curve/client/curve-volume';
import { startMds } from '../mds/mds-harness';
import { freePort, startChunkserver, stopChunkserver, tempDir, type CsProc } from '../chunkserver/cs-harness';
import { GiB, MiB, OWNER, pattern } from './harness';

t.test('client on three real chunkservers', async (t) => {
  const h = await startMds({ sessionLeaseMs: 2000 });
  const procs: CsProc[] = [];
  const dirs: string[] = [];
  const volumes: CurveVolume[] = [];
  t.teardown(async () => {
    for (const v of volumes) await v.close().catch(() => undefined);
    for (const p of procs) await stopChunkserver(p);
    await h.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });
  const ok = (r: Record<string, unknown>, what: string): void => {
    if (r.statusCode !== 0) throw new Error(`${what}: ${String(r.statusCode)}`);
  };
  ok(await h.client.call('topology', 'CreatePhysicalPool', { physicalPoolName: 'pool1' }), 'pool');
  for (let z = 1; z <= 3; z++) {
    ok(
      await h.client.call('topology', 'CreateZone', { zoneName: `zone${z}`, physicalPoolName: 'pool1' }),
      'zone',
    );
    ok(
      await h.client.call('topology', 'RegistServer', {
        hostName: `server${z}`,
        internalIp: '127.0.0.1',
        internalPort: 9100 + z,
        zoneName: `zone${z}`,
        physicalPoolName: 'pool1',
      }),
      'server',
    );
    const dir = tempDir('client-e2e-cs-');
    dirs.push(dir);
    procs.push(
      await startChunkserver(dir, await freePort(), [
        '--chunk-size',
        String(16 * MiB),
        '--page-size',
        '4096',
        '--pool-target-count',
        '2',
        '--tick-ms',
        '50',
        '--election-ticks',
        '10',
        '--mds',
        h.mds.address(),
        '--server-name',
        `server${z}`,
        '--heartbeat-interval-ms',
        '500',
      ]),
    );
  }
  const until = Date.now() + 15_000;
  while (!dirs.every((d) => fs.existsSync(path.join(d, 'chunkserver.dat'))) && Date.now() < until)
    await new Promise((r) => setTimeout(r, 100));
  ok(
    await h.client.call('topology', 'CreateLogicalPool', {
      logicalPoolName: 'lp1',
      physicalPoolName: 'pool1',
      copysetNum: 3,
    }),
    'logical pool',
  );
  ok(
    await h.client.call('nameserver', 'CreateFile', {
      fileName: '/e2e',
      owner: OWNER,
      fileType: 1,
      fileLength: 10 * GiB,
    }),
    'volume',
  );
  const vol = await CurveVolume.open({
    mdsAddresses: [h.mds.address()],
    fileName: '/e2e',
    owner: OWNER,
    holdLimitMs: 30_000,
  });
  volumes.push(vol);
  // chunk 0, a span over chunks 1-2 (other copysets) and the next segment
  const writes: Array<[number, Buffer]> = [
    [0, pattern(64 * 1024, 1)],
    [32 * MiB - MiB, pattern(2 * MiB + 4096, 2)],
    [GiB + 512, pattern(3000, 3)],
  ];
  for (const [off, d] of writes) await vol.write(off, d);
  for (const [off, d] of writes) t.ok((await vol.read(off, d.length)).equals(d), `read back at ${off}`);
  t.ok((await vol.read(48 * MiB, 8192)).equals(Buffer.alloc(8192)), 'unwritten chunk reads zeros');
  await vol.discard(32 * MiB - MiB, MiB);
  t.ok((await vol.read(32 * MiB - MiB, MiB)).equals(Buffer.alloc(MiB)), 'discarded range reads zeros');
  t.ok((await vol.read(32 * MiB, MiB + 4096)).equals(pattern(2 * MiB + 4096, 2).subarray(MiB)), 'rest kept');
});
