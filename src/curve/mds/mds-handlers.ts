// gRPC handlers of the MDS services: translate requests to topology/namespace/heartbeat calls and back.
// A standby (or a leader whose lease may have expired) answers UNAVAILABLE with the leader's address.
import * as grpc from '@grpc/grpc-js';
import { grpcService } from '../common/protos';
import { FencedError } from './kv-store';
import type { LeaderState, MdsServer } from './mds-server';
import { metricRpcs } from './mds-server';
import { FileInfo, Status } from './namespace-types';
import { pushEpoch } from './epoch-push';
import { HeartbeatRequest } from './heartbeat';
import type { Operator } from './schedule-types';
import { planLeaderBalance } from './schedulers';
import { copysetKeyOf, TopoCode } from './topology-types';

type Req = Record<string, unknown> & { [k: string]: never | unknown };
type Handler = (req: Req, s: LeaderState) => Promise<Record<string, unknown>>;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0));

function unary(
  mds: MdsServer,
  method: string,
  fn: Handler,
): grpc.handleUnaryCall<Req, Record<string, unknown>> {
  return (call, callback) => {
    const s = mds.leaderState();
    if (!s) {
      void mds.leaderAddress().then((leader) => {
        metricRpcs.inc({ method, outcome: 'not_leader' });
        callback({ code: grpc.status.UNAVAILABLE, details: `not leader; leader=${leader ?? 'unknown'}` });
      });
      return;
    }
    fn(call.request, s).then(
      (res) => {
        metricRpcs.inc({ method, outcome: 'ok' });
        callback(null, res);
      },
      (err: Error) => {
        metricRpcs.inc({ method, outcome: 'error' });
        if (err instanceof FencedError) {
          callback({ code: grpc.status.UNAVAILABLE, details: `not leader; ${err.message}` });
          return;
        }
        mds.log.error('rpc failed', { method, err });
        callback({ code: grpc.status.INTERNAL, details: err.message });
      },
    );
  };
}

const fileInfoOut = (f: FileInfo | undefined): FileInfo | null => f ?? null;

export function registerServiceHandlers(server: grpc.Server, mds: MdsServer): void {
  const u = (method: string, fn: Handler): grpc.handleUnaryCall<Req, Record<string, unknown>> =>
    unary(mds, method, fn);

  server.addService(grpcService('nameserver.proto', 'curve.mds.CurveFSService').service, {
    CreateFile: u('CreateFile', async (r, s) => ({
      statusCode: (
        await s.namespace.createFile(
          str(r.fileName),
          str(r.owner),
          num(r.fileType),
          num(r.fileLength),
          str(r.poolset),
        )
      ).code,
    })),
    DeleteFile: u('DeleteFile', async (r, s) => ({
      statusCode: (
        await s.namespace.deleteFile(str(r.fileName), str(r.owner), num(r.fileId), r.forceDelete === true)
      ).code,
    })),
    RecoverFile: u('RecoverFile', async (r, s) => ({
      statusCode: (await s.namespace.recoverFile(str(r.fileName), str(r.owner), num(r.fileId))).code,
    })),
    GetFileInfo: u('GetFileInfo', async (r, s) => {
      const res = await s.namespace.getFileInfo(str(r.fileName), str(r.owner));
      return { statusCode: res.code, fileInfo: fileInfoOut(res.value) };
    }),
    GetOrAllocateSegment: u('GetOrAllocateSegment', async (r, s) => {
      const res = await s.namespace.getOrAllocateSegment(
        str(r.fileName),
        str(r.owner),
        num(r.offset),
        r.allocateIfNotExist === true,
        num(r.epoch),
      );
      return { statusCode: res.code, pageFileSegment: res.value ?? null };
    }),
    DeAllocateSegment: u('DeAllocateSegment', async (r, s) => ({
      statusCode: (await s.namespace.deAllocateSegment(str(r.fileName), str(r.owner), num(r.offset))).code,
    })),
    RenameFile: u('RenameFile', async (r, s) => ({
      statusCode: (
        await s.namespace.renameFile(
          str(r.oldFileName),
          str(r.newFileName),
          str(r.owner),
          num(r.oldFileID),
          num(r.newFileID),
        )
      ).code,
    })),
    ExtendFile: u('ExtendFile', async (r, s) => ({
      statusCode: (await s.namespace.extendFile(str(r.fileName), str(r.owner), num(r.newSize))).code,
    })),
    ListDir: u('ListDir', async (r, s) => {
      const res = await s.namespace.listDir(str(r.fileName), str(r.owner));
      return { statusCode: res.code, fileInfo: res.value ?? [] };
    }),
    OpenFile: u('OpenFile', async (r, s) => {
      const res = await s.namespace.openFile(
        str(r.fileName),
        str(r.owner),
        str(r.clientIP),
        num(r.clientPort),
      );
      if (!res.value) return { statusCode: res.code };
      const { session, info } = res.value;
      return {
        statusCode: res.code,
        fileInfo: info,
        protoSession: {
          sessionID: session.sessionID,
          leaseTime: s.namespace.sessions.leaseMs * 1000,
          createTime: session.createTime * 1000,
          sessionStatus: 0,
        },
      };
    }),
    CloseFile: u('CloseFile', async (r, s) => ({
      statusCode: (await s.namespace.closeFile(str(r.fileName), str(r.owner), str(r.sessionID))).code,
    })),
    RefreshSession: u('RefreshSession', async (r, s) => {
      const res = await s.namespace.refreshSession(
        str(r.fileName),
        str(r.owner),
        str(r.sessionID),
        str(r.clientIP),
        num(r.clientPort),
      );
      if (!res.value) return { statusCode: res.code, sessionID: str(r.sessionID) };
      const { session, info } = res.value;
      return {
        statusCode: res.code,
        sessionID: session.sessionID,
        fileInfo: info,
        protoSession: {
          sessionID: session.sessionID,
          leaseTime: s.namespace.sessions.leaseMs * 1000,
          createTime: session.createTime * 1000,
          sessionStatus: 0,
        },
      };
    }),
    IncreaseFileEpoch: u('IncreaseFileEpoch', async (r, s) => {
      const res = await s.namespace.increaseFileEpoch(str(r.fileName), str(r.owner));
      if (!res.value) return { statusCode: res.code };
      const csLocs = res.value.chunkServerIds.map((id) => {
        const cs = s.topology.chunkservers.get(id);
        return { chunkServerID: id, address: cs ? `${cs.hostIp}:${cs.port}` : '' };
      });
      // Fence the old writers on every chunkserver before the new owner gets its answer.
      const { info } = res.value;
      const pushed = await pushEpoch(
        mds.commander,
        csLocs.map((l) => l.address).filter(Boolean),
        info.id,
        info.epoch,
        mds.config.epochPushTimeoutMs,
      );
      if (pushed.failed.length > 0)
        mds.log.warn('UpdateEpoch not acknowledged', {
          fileId: info.id,
          epoch: info.epoch,
          by: pushed.failed,
        });
      return { statusCode: res.code, fileInfo: info, csLocs };
    }),
    GetAllocatedSize: u('GetAllocatedSize', async (r, s) => {
      const res = await s.namespace.allocatedSize(str(r.fileName));
      if (!res.value) return { statusCode: res.code };
      return {
        statusCode: res.code,
        allocatedSize: res.value.total,
        allocSizeMap: Object.fromEntries(res.value.byPool),
      };
    }),
    GetFileSize: u('GetFileSize', async (r, s) => {
      const res = await s.namespace.fileSize(str(r.fileName));
      return { statusCode: res.code, fileSize: res.value ?? 0 };
    }),
    GetFileXattr: u('GetFileXattr', async (r, s) => {
      const res = await s.namespace.getXattr(str(r.fileName), str(r.owner), str(r.name));
      return {
        statusCode: res.code,
        value: res.value?.value ?? Buffer.alloc(0),
        version: res.value?.version ?? 0,
      };
    }),
    SetFileXattr: u('SetFileXattr', async (r, s) => {
      const value = Buffer.isBuffer(r.value) ? r.value : Buffer.alloc(0);
      const res = await s.namespace.setXattr(
        str(r.fileName),
        str(r.owner),
        str(r.name),
        value,
        num(r.expectVersion),
      );
      return { statusCode: res.code, version: res.value ?? 0 };
    }),
    ListClient: u('ListClient', async (_r, s) => ({
      statusCode: Status.kOK,
      clientInfos: s.namespace.listClients(),
    })),
  });

  const topoReply = <T>(
    res: { code: number; value?: T; message?: string },
    field: string,
    map?: (v: T) => unknown,
  ) => {
    if (res.code !== 0) mds.log.info('topology request refused', { code: res.code, reason: res.message });
    return {
      statusCode: res.code,
      ...(res.value !== undefined ? { [field]: map ? map(res.value) : res.value } : {}),
    };
  };

  server.addService(grpcService('topology.proto', 'curve.mds.topology.TopologyService').service, {
    RegistChunkServer: u('RegistChunkServer', async (r, s) => {
      const res = await s.topology.registerChunkServer({
        diskType: str(r.diskType),
        diskPath: str(r.diskPath),
        hostIp: str(r.hostIp),
        port: num(r.port),
        externalIp: str(r.externalIp),
        diskCapacity: num(r.diskCapacity),
        serverName: str(r.serverName),
      });
      if (res.code !== 0) return topoReply(res, 'x');
      return { statusCode: 0, chunkServerID: res.value!.chunkServerID, token: res.value!.token };
    }),
    ListChunkServer: u('ListChunkServer', async (r, s) => {
      s.heartbeat.refreshStates();
      const copysetCounts = s.topology.copysetCountByChunkServer(); // one pass, not one per chunkserver
      const list = [...s.topology.chunkservers.values()]
        .filter(
          (cs) =>
            (!r.ip || cs.hostIp === r.ip) &&
            (!r.port || cs.port === r.port) &&
            (!r.serverID || cs.serverID === r.serverID),
        )
        .sort((a, b) => a.chunkServerID - b.chunkServerID)
        .map((cs) => ({
          ...cs,
          token: '',
          copysetNum: copysetCounts.get(cs.chunkServerID) ?? 0,
        }));
      return { statusCode: 0, chunkServerInfos: list };
    }),
    GetChunkServer: u('GetChunkServer', async (r, s) => {
      s.heartbeat.refreshStates();
      const cs = r.chunkServerID
        ? s.topology.chunkservers.get(num(r.chunkServerID))
        : s.topology.chunkServerAt(str(r.hostIp), num(r.port));
      if (!cs) return { statusCode: TopoCode.ChunkServerNotFound };
      return { statusCode: 0, chunkServerInfo: { ...cs, token: '' } };
    }),
    RegistServer: u('RegistServer', async (r, s) => {
      const res = await s.topology.registerServer({
        hostName: str(r.hostName),
        internalIp: str(r.internalIp),
        internalPort: num(r.internalPort),
        externalIp: str(r.externalIp),
        externalPort: num(r.externalPort),
        zoneName: str(r.zoneName),
        physicalPoolName: str(r.physicalPoolName),
        desc: str(r.desc),
      });
      return topoReply(res, 'serverId', (v) => v.serverID);
    }),
    ListZoneServer: u('ListZoneServer', async (r, s) => ({
      statusCode: 0,
      serverInfo: [...s.topology.servers.values()].filter(
        (sv) =>
          (!r.zoneID || sv.zoneID === r.zoneID) &&
          (!r.zoneName || sv.zoneName === r.zoneName) &&
          (!r.physicalPoolName || sv.physicalPoolName === r.physicalPoolName),
      ),
    })),
    CreateZone: u('CreateZone', async (r, s) =>
      topoReply(
        await s.topology.createZone(str(r.zoneName), str(r.physicalPoolName), str(r.desc)),
        'zoneInfo',
      ),
    ),
    ListPoolZone: u('ListPoolZone', async (r, s) => ({
      statusCode: 0,
      zones: [...s.topology.zones.values()].filter(
        (z) =>
          (!r.physicalPoolID || z.physicalPoolID === r.physicalPoolID) &&
          (!r.physicalPoolName || z.physicalPoolName === r.physicalPoolName),
      ),
    })),
    CreatePhysicalPool: u('CreatePhysicalPool', async (r, s) =>
      topoReply(
        await s.topology.createPhysicalPool(str(r.physicalPoolName), str(r.desc)),
        'physicalPoolInfo',
      ),
    ),
    ListPhysicalPool: u('ListPhysicalPool', async (_r, s) => ({
      statusCode: 0,
      physicalPoolInfos: [...s.topology.physicalPools.values()],
    })),
    CreateLogicalPool: u('CreateLogicalPool', async (r, s) =>
      topoReply(
        await s.topology.createLogicalPool({
          logicalPoolName: str(r.logicalPoolName),
          physicalPoolName: str(r.physicalPoolName),
          physicalPoolID: num(r.physicalPoolID),
          replicaNum: num(r.replicaNum),
          copysetNum: num(r.copysetNum),
          zoneNum: num(r.zoneNum),
          scatterWidth: num(r.scatterWidth),
          type: num(r.type),
        }),
        'logicalPoolInfo',
      ),
    ),
    ListLogicalPool: u('ListLogicalPool', async (r, s) => {
      const pool = r.physicalPoolName ? s.topology.findPhysicalPool(str(r.physicalPoolName)) : undefined;
      if (r.physicalPoolName && !pool) return { statusCode: TopoCode.PhysicalPoolNotFound };
      return {
        statusCode: 0,
        logicalPoolInfos: [...s.topology.logicalPools.values()].filter(
          (lp) =>
            (!r.physicalPoolID || lp.physicalPoolID === r.physicalPoolID) &&
            (!pool || lp.physicalPoolID === pool.physicalPoolID),
        ),
      };
    }),
    GetChunkServerListInCopySets: u('GetChunkServerListInCopySets', async (r, s) => {
      const ids = Array.isArray(r.copysetId) ? (r.copysetId as number[]) : [];
      const csInfo = [];
      for (const id of ids) {
        const c = s.topology.copysets.get(`${num(r.logicalPoolId)}.${id}`);
        if (!c) return { statusCode: TopoCode.CopySetNotFound };
        csInfo.push({
          copysetId: id,
          csLocs: c.chunkServerIDs.map((csId) => {
            const cs = s.topology.chunkservers.get(csId)!;
            return { chunkServerID: csId, hostIp: cs.hostIp, port: cs.port, externalIp: cs.externalIp };
          }),
        });
      }
      return { statusCode: 0, csInfo };
    }),
    GetCopySetsInChunkServer: u('GetCopySetsInChunkServer', async (r, s) => {
      const cs = r.chunkServerID
        ? s.topology.chunkservers.get(num(r.chunkServerID))
        : s.topology.chunkServerAt(str(r.hostIp), num(r.port));
      if (!cs) return { statusCode: TopoCode.ChunkServerNotFound };
      return {
        statusCode: 0,
        copysetInfos: s.topology
          .copysetsOnChunkServer(cs.chunkServerID)
          .map((c) => ({ logicalPoolId: c.logicalPoolId, copysetId: c.copysetId, epoch: c.epoch })),
      };
    }),
    ListCopySet: u('ListCopySet', async (r, s) => {
      s.heartbeat.refreshStates();
      const all = [...s.topology.copysets.values()]
        .filter((c) => !r.logicalPoolId || c.logicalPoolId === r.logicalPoolId)
        .sort((a, b) => a.logicalPoolId - b.logicalPoolId || a.copysetId - b.copysetId);
      return {
        statusCode: 0,
        copysets: all.map((c) => {
          const op = s.operators.get(c.logicalPoolId, c.copysetId);
          const step = op ? op.op.steps[op.step] : undefined;
          return { ...c, health: s.topology.healthOf(c), pending: step ? `${step.kind} ${step.target}` : '' };
        }),
      };
    }),
    GetClusterInfo: u('GetClusterInfo', async (_r, s) => ({
      statusCode: 0,
      clusterId: s.topology.clusterId,
    })),
    GetScheduleStatus: u('GetScheduleStatus', async (_r, s) => {
      const now = Date.now();
      s.operators.expire(now);
      const describe = (op: Operator): Record<string, unknown> => ({
        logicalPoolId: op.logicalPoolId,
        copysetId: op.copysetId,
        scheduler: op.scheduler,
        steps: op.steps.map((st) => `${st.kind} ${st.target}`).join(', '),
      });
      return {
        statusCode: 0,
        operators: s.operators
          .list()
          .map((f) => ({ ...describe(f.op), step: f.step, ageMs: now - f.createdMs })),
        finished: s.operators.finished.slice(-20).map((f) => ({ ...describe(f.op), outcome: f.outcome })),
        pendingChunkDeletes: await s.cleaner.pending(),
      };
    }),
    BalanceLeaders: u('BalanceLeaders', async (_r, s) => {
      const ops = s.driver.runOnce(planLeaderBalance);
      const moves = ops.map((op) => ({
        logicalPoolId: op.logicalPoolId,
        copysetId: op.copysetId,
        fromChunkServer: s.topology.copysets.get(copysetKeyOf(op.logicalPoolId, op.copysetId))?.leader ?? 0,
        toChunkServer: op.steps[0].target,
      }));
      if (moves.length > 0) mds.log.info('leader balance requested', { moves: moves.length });
      return { statusCode: 0, moves };
    }),
  });

  server.addService(grpcService('heartbeat.proto', 'curve.mds.heartbeat.HeartbeatService').service, {
    ChunkServerHeartbeat: u('ChunkServerHeartbeat', async (r, s) => {
      const res = await s.heartbeat.handle(r as unknown as HeartbeatRequest);
      return res as unknown as Record<string, unknown>;
    }),
  });

  server.addService(grpcService('topology.proto', 'curve.mds.topology.MdsStatusService').service, {
    GetMdsStatus: (_call: unknown, callback: grpc.sendUnaryData<Record<string, unknown>>) => {
      void mds.leaderAddress().then((leader) =>
        callback(null, {
          isLeader: mds.isLeader(),
          selfAddr: mds.address(),
          leaderAddr: leader ?? '',
          leaderId: leader ?? '',
        }),
      );
    },
  });
}
