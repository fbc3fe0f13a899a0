import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import {
  createGrpcClient,
  grpcCall,
  loadGrpcPackage,
  lookupService,
  startGrpcServer,
  stopGrpcServer,
} from '../../../src/curve/rpc/grpc';
import { chunkServiceMethods } from '../../../src/curve/rpc/chunk-methods';
import { methodId } from '../../../src/curve/rpc/rpc-method';

t.test('control-plane gRPC over the project protos, with deadlines', async (t) => {
  const pkg = loadGrpcPackage(['copyset.proto', 'cli.proto']);
  const Copyset = lookupService(pkg, 'curve.chunkserver.CopysetService');
  const Cli = lookupService(pkg, 'curve.chunkserver.CliService2');
  const { server, port } = await startGrpcServer(
    [
      {
        service: Copyset,
        impl: {
          CreateCopysetNode: (req: { logicPoolId: number; copysetId: number; peerid: string[] }) => ({
            status: req.peerid.length === 3 ? 0 : 3,
          }),
          GetCopysetStatus: async () => {
            await new Promise((r) => setTimeout(r, 500));
            return { status: 0 };
          },
        },
      },
      {
        service: Cli,
        impl: {
          GetLeader: (req: { copysetId: number }) => ({
            leader: { id: req.copysetId, address: '127.0.0.1:8200:0' },
          }),
          TransferLeader: () => {
            throw Object.assign(new Error('not leader'), { code: grpc.status.FAILED_PRECONDITION });
          },
        },
      },
    ],
    '127.0.0.1',
    0,
  );
  const copysets = createGrpcClient(Copyset, `127.0.0.1:${port}`);
  const cli = createGrpcClient(Cli, `127.0.0.1:${port}`);
  const ok = await grpcCall<{ status: number }>(copysets, 'CreateCopysetNode', {
    logicPoolId: 1,
    copysetId: 2,
    peerid: ['a:1:0', 'b:1:0', 'c:1:0'],
  });
  t.same(ok, { status: 0, redirect: '' }, 'defaults filled in, enums as numbers');
  const leader = await grpcCall<{ leader: { id: number; address: string } }>(cli, 'GetLeader', {
    logicPoolId: 1,
    copysetId: 42,
  });
  t.same(
    leader.leader,
    { id: 42, address: '127.0.0.1:8200:0' },
    'uint64 as a number, curve.common.Peer shared',
  );
  await t.rejects(grpcCall(copysets, 'GetCopysetStatus', { logicPoolId: 1, copysetId: 2 }, 100), {
    code: grpc.status.DEADLINE_EXCEEDED,
  });
  await t.rejects(grpcCall(cli, 'TransferLeader', {}), {
    code: grpc.status.FAILED_PRECONDITION,
    details: 'not leader',
  });
  await t.rejects(grpcCall(cli, 'ResetPeer', {}), { code: grpc.status.UNIMPLEMENTED });
  copysets.close();
  cli.close();
  await stopGrpcServer(server);
});

t.test('ChunkService methods for the data plane come from chunk.proto', async (t) => {
  const m = chunkServiceMethods();
  t.same(Object.keys(m).sort(), [
    'CreateCloneChunk',
    'DeleteChunk',
    'DeleteChunkSnapshotOrCorrectSn',
    'GetChunkHash',
    'GetChunkInfo',
    'ReadChunk',
    'ReadChunkSnapshot',
    'RecoverChunk',
    'UpdateEpoch',
    'WriteChunk',
  ]);
  t.equal(m.WriteChunk.id, methodId('curve.chunkserver.ChunkService.WriteChunk'));
  t.equal(new Set(Object.values(m).map((x) => x.id)).size, 10, 'ids are distinct');
  const req = { opType: 2, logicPoolId: 1, copysetId: 3, chunkId: 2 ** 40, offset: 4096, size: 4096, sn: 1 };
  const back = m.WriteChunk.requestType.toObject(
    m.WriteChunk.requestType.decode(m.WriteChunk.requestType.encode(req).finish()),
    {
      longs: Number,
    },
  );
  t.match(back, req);
});
