// Bad input to every MDS service as one table: each request gets its clear status, and the store is
// byte-for-byte unchanged afterwards (a refused request leaves nothing half-written).
import t from 'tap';
import { buildCluster, startMds } from './mds-harness';

const GiB = 1024 ** 3;
type R = Record<string, unknown> & { statusCode: number };

interface Case {
  what: string;
  service: 'nameserver' | 'topology' | 'heartbeat';
  method: string;
  req: Record<string, unknown>;
  status: number;
}

t.test('bad input: clear statuses, nothing half-written', async (t) => {
  const h = await startMds();
  t.teardown(() => h.stop());
  await buildCluster(h, 3);
  const call = (s: Case['service'], m: string, req: Record<string, unknown>): Promise<R> =>
    h.client.call<R>(s, m, req);
  t.equal(
    (
      await call('topology', 'CreateLogicalPool', {
        logicalPoolName: 'lp1',
        physicalPoolName: 'pool1',
        copysetNum: 3,
      })
    ).statusCode,
    0,
  );
  t.equal(
    (
      await call('nameserver', 'CreateFile', {
        fileName: '/v',
        owner: 'u',
        fileType: 1,
        fileLength: 10 * GiB,
      })
    ).statusCode,
    0,
  );
  t.equal(
    (await call('nameserver', 'CreateFile', { fileName: '/d', owner: 'u', fileType: 0 })).statusCode,
    0,
  );
  t.equal((await call('nameserver', 'IncreaseFileEpoch', { fileName: '/v', owner: 'u' })).statusCode, 0);
  t.equal((await call('nameserver', 'IncreaseFileEpoch', { fileName: '/v', owner: 'u' })).statusCode, 0);
  const cs = h.fakes[0];
  const file = (req: Record<string, unknown>): Record<string, unknown> => ({
    owner: 'u',
    fileType: 1,
    fileLength: 10 * GiB,
    ...req,
  });
  const seg = (req: Record<string, unknown>): Record<string, unknown> => ({
    fileName: '/v',
    owner: 'u',
    allocateIfNotExist: true,
    ...req,
  });
  const beat = (req: Record<string, unknown>): Record<string, unknown> => ({
    chunkServerID: cs.id,
    token: cs.token,
    ip: '127.0.0.1',
    port: cs.port,
    copysetInfos: [],
    ...req,
  });

  const cases: Case[] = [
    // names
    {
      what: 'relative path',
      service: 'nameserver',
      method: 'CreateFile',
      req: file({ fileName: 'v2' }),
      status: 104,
    },
    {
      what: 'dot-dot component',
      service: 'nameserver',
      method: 'CreateFile',
      req: file({ fileName: '/a/../v2' }),
      status: 104,
    },
    {
      what: 'empty name',
      service: 'nameserver',
      method: 'CreateFile',
      req: file({ fileName: '' }),
      status: 104,
    },
    {
      what: 'root itself',
      service: 'nameserver',
      method: 'CreateFile',
      req: file({ fileName: '/' }),
      status: 104,
    },
    {
      what: 'no owner',
      service: 'nameserver',
      method: 'CreateFile',
      req: file({ fileName: '/v2', owner: '' }),
      status: 104,
    },
    {
      what: 'duplicate name',
      service: 'nameserver',
      method: 'CreateFile',
      req: file({ fileName: '/v' }),
      status: 101,
    },
    {
      what: 'parent missing',
      service: 'nameserver',
      method: 'CreateFile',
      req: file({ fileName: '/nodir/v' }),
      status: 109,
    },
    {
      what: 'parent is a file',
      service: 'nameserver',
      method: 'CreateFile',
      req: file({ fileName: '/v/x' }),
      status: 103,
    },
    {
      what: 'unknown file type',
      service: 'nameserver',
      method: 'CreateFile',
      req: file({ fileName: '/v2', fileType: 7 }),
      status: 110,
    },
    // sizes
    {
      what: 'too small',
      service: 'nameserver',
      method: 'CreateFile',
      req: file({ fileName: '/v2', fileLength: GiB }),
      status: 132,
    },
    {
      what: 'not segment aligned',
      service: 'nameserver',
      method: 'CreateFile',
      req: file({ fileName: '/v2', fileLength: 10 * GiB + 512 }),
      status: 106,
    },
    {
      what: 'shrink',
      service: 'nameserver',
      method: 'ExtendFile',
      req: { fileName: '/v', owner: 'u', newSize: GiB },
      status: 105,
    },
    {
      what: 'extend unaligned',
      service: 'nameserver',
      method: 'ExtendFile',
      req: { fileName: '/v', owner: 'u', newSize: 11 * GiB + 1 },
      status: 106,
    },
    {
      what: 'extend a directory',
      service: 'nameserver',
      method: 'ExtendFile',
      req: { fileName: '/d', owner: 'u', newSize: 20 * GiB },
      status: 110,
    },
    // segments and epochs
    {
      what: 'segment beyond the end',
      service: 'nameserver',
      method: 'GetOrAllocateSegment',
      req: seg({ offset: 10 * GiB }),
      status: 104,
    },
    {
      what: 'unaligned segment offset',
      service: 'nameserver',
      method: 'GetOrAllocateSegment',
      req: seg({ offset: 4096 }),
      status: 104,
    },
    {
      what: 'stale epoch allocating',
      service: 'nameserver',
      method: 'GetOrAllocateSegment',
      req: seg({ offset: 0, epoch: 1 }),
      status: 140,
    },
    {
      what: 'segment of a directory',
      service: 'nameserver',
      method: 'GetOrAllocateSegment',
      req: seg({ fileName: '/d', offset: 0 }),
      status: 110,
    },
    {
      what: 'free a never-allocated segment',
      service: 'nameserver',
      method: 'DeAllocateSegment',
      req: { fileName: '/v', owner: 'u', offset: 0 },
      status: 107,
    },
    // ownership and ids
    {
      what: "another owner's file",
      service: 'nameserver',
      method: 'DeleteFile',
      req: { fileName: '/v', owner: 'mallory' },
      status: 111,
    },
    {
      what: 'wrong file id',
      service: 'nameserver',
      method: 'DeleteFile',
      req: { fileName: '/v', owner: 'u', fileId: 424242 },
      status: 130,
    },
    {
      what: 'delete the recycle bin',
      service: 'nameserver',
      method: 'DeleteFile',
      req: { fileName: '/RecycleBin', owner: 'root' },
      status: 104,
    },
    {
      what: 'rename onto an existing file',
      service: 'nameserver',
      method: 'RenameFile',
      req: { oldFileName: '/d', newFileName: '/v', owner: 'u' },
      status: 101,
    },
    {
      what: 'close an unknown session',
      service: 'nameserver',
      method: 'CloseFile',
      req: { fileName: '/v', owner: 'u', sessionID: 'nope' },
      status: 125,
    },
    // topology
    {
      what: 'zone in an unknown pool',
      service: 'topology',
      method: 'CreateZone',
      req: { zoneName: 'z9', physicalPoolName: 'nopool' },
      status: -9,
    },
    {
      what: 'duplicate zone',
      service: 'topology',
      method: 'CreateZone',
      req: { zoneName: 'zone1', physicalPoolName: 'pool1' },
      status: -16,
    },
    {
      what: 'duplicate physical pool',
      service: 'topology',
      method: 'CreatePhysicalPool',
      req: { physicalPoolName: 'pool1' },
      status: -16,
    },
    {
      what: 'server in an unknown zone',
      service: 'topology',
      method: 'RegistServer',
      req: {
        hostName: 's9',
        internalIp: '127.0.0.1',
        internalPort: 1,
        zoneName: 'nozone',
        physicalPoolName: 'pool1',
      },
      status: -8,
    },
    {
      what: 'logical pool on an unknown physical pool',
      service: 'topology',
      method: 'CreateLogicalPool',
      req: { logicalPoolName: 'lp9', physicalPoolName: 'nopool', copysetNum: 3 },
      status: -9,
    },
    {
      what: 'duplicate logical pool',
      service: 'topology',
      method: 'CreateLogicalPool',
      req: { logicalPoolName: 'lp1', physicalPoolName: 'pool1', copysetNum: 3 },
      status: -19,
    },
    {
      what: 'another disk on a registered ip:port',
      service: 'topology',
      method: 'RegistChunkServer',
      req: {
        diskType: 'nvme',
        diskPath: '/other',
        hostIp: '127.0.0.1',
        port: cs.port,
        serverName: 'server1',
      },
      status: -15,
    },
    {
      what: 'chunkserver of an unknown server',
      service: 'topology',
      method: 'RegistChunkServer',
      req: { diskType: 'nvme', diskPath: '/x', hostIp: '127.0.0.1', port: 1, serverName: 'noserver' },
      status: -7,
    },
    {
      what: 'copysets of an unknown pool',
      service: 'topology',
      method: 'GetChunkServerListInCopySets',
      req: { logicalPoolId: 99, copysetId: [1] },
      status: -11,
    },
    // heartbeats
    {
      what: 'heartbeat: unknown chunkserver',
      service: 'heartbeat',
      method: 'ChunkServerHeartbeat',
      req: beat({ chunkServerID: 9999 }),
      status: 1,
    },
    {
      what: 'heartbeat: wrong token',
      service: 'heartbeat',
      method: 'ChunkServerHeartbeat',
      req: beat({ token: 'forged' }),
      status: 3,
    },
    {
      what: 'heartbeat: wrong ip:port',
      service: 'heartbeat',
      method: 'ChunkServerHeartbeat',
      req: beat({ port: 1 }),
      status: 2,
    },
  ];

  const before = await h.mds.store.scan('');
  for (const c of cases) {
    const r = await call(c.service, c.method, c.req);
    t.equal(r.statusCode, c.status, `${c.what}: ${c.method} -> ${c.status}`);
  }
  const after = await h.mds.store.scan('');
  t.same(
    after.map((kv) => [kv.key, kv.value.toString('hex')]),
    before.map((kv) => [kv.key, kv.value.toString('hex')]),
    'the store is unchanged by every refused request',
  );
});
