// Registration and heartbeat against a minimal in-test MDS stub (gRPC TopologyService.RegistChunkServer,
// HeartbeatService.ChunkServerHeartbeat): the id and token survive a restart without re-registering;
// heartbeats report copysets; config changes in the heartbeat answer (TRANSFER_LEADER, ADD_PEER) are
// carried out by the copyset's leader and reported back as finished.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { loadGrpcPackage, lookupService, startGrpcServer, stopGrpcServer } from '../../../src/curve/rpc/grpc';
import {
  FAST_ARGS,
  closeGrpcClients,
  copysetCall,
  createCopyset,
  freePort,
  startChunkserver,
  stopChunkserver,
  tempDir,
  waitLeader,
  type CsProc,
} from './cs-harness';

interface Beat {
  chunkServerID: number;
  token: string;
  port: number;
  copysetCount: number;
  copysetInfos: {
    logicalPoolID: number;
    copysetID: number;
    peers: { address: string }[];
    epoch: number;
    leaderPeer: { address: string } | null;
    configChangeInfo: { type: number; finished: boolean; peer: { address: string } } | null;
  }[];
}

t.test('registration, heartbeat and config changes from the MDS', async (t) => {
  const registrations: { port: number }[] = [];
  const beats: Beat[] = [];
  const pending: Record<string, unknown>[] = [];
  const topo = lookupService(loadGrpcPackage(['topology.proto']), 'curve.mds.topology.TopologyService');
  const hb = lookupService(loadGrpcPackage(['heartbeat.proto']), 'curve.mds.heartbeat.HeartbeatService');
  const { server, port: mdsPort } = await startGrpcServer(
    [
      {
        service: topo,
        impl: {
          RegistChunkServer: (req: { port: number }) => {
            registrations.push(req);
            return {
              statusCode: 0,
              chunkServerID: registrations.length,
              token: `tok${registrations.length}`,
            };
          },
        },
      },
      {
        service: hb,
        impl: {
          ChunkServerHeartbeat: (req: Beat) => {
            beats.push(req);
            const mine = pending.filter((p) => (p.forPort as number) === req.port);
            for (const m of mine) pending.splice(pending.indexOf(m), 1);
            return { statusCode: 0, needUpdateCopysets: mine.map((m) => m.conf) };
          },
        },
      },
    ],
    '127.0.0.1',
    0,
  );
  const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
  const dirs = ports.map(() => tempDir('c3-mds-'));
  const args = [...FAST_ARGS, '--mds', `127.0.0.1:${mdsPort}`, '--heartbeat-interval-ms', '200'];
  const cs: CsProc[] = await Promise.all(ports.map((p, i) => startChunkserver(dirs[i], p, args)));
  t.teardown(async () => {
    closeGrpcClients();
    for (const c of cs) await stopChunkserver(c, 'SIGKILL');
    await stopGrpcServer(server as grpc.Server);
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });
  t.equal(registrations.length, 4, 'each chunkserver registered once');
  t.ok(fs.existsSync(path.join(dirs[0], 'chunkserver.dat')), 'identity persisted');

  const eps = cs.slice(0, 3).map((c) => c.endpoint);
  await createCopyset(eps, 1, 5);
  const leader = await waitLeader(eps, 1, 5);
  const leaderPort = Number(leader.split(':')[1]);

  const waitBeat = async (pred: (b: Beat) => boolean, what: string): Promise<Beat> => {
    const until = Date.now() + 8000;
    while (Date.now() < until) {
      const b = beats.slice().reverse().find(pred);
      if (b) return b;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no heartbeat with ${what}`);
  };
  const b = await waitBeat(
    (x) => x.port === leaderPort && x.copysetInfos.some((c) => c.leaderPeer?.address === `${leader}:0`),
    'the leader',
  );
  const info = b.copysetInfos[0];
  t.equal(b.token, `tok${b.chunkServerID}`, 'heartbeat carries id and token');
  t.equal(info.peers.length, 3, 'three peers reported');
  t.ok(info.epoch >= 3, `epoch reported (${info.epoch})`);

  // TRANSFER_LEADER to another member.
  const other = eps.find((e) => e !== leader)!;
  pending.push({
    forPort: leaderPort,
    conf: {
      logicalPoolID: 1,
      copysetID: 5,
      peers: [],
      epoch: info.epoch,
      type: 3,
      configchangeItem: { id: 0, address: `${other}:0` },
    },
  });
  let now = '';
  for (const until = Date.now() + 8000; Date.now() < until && now !== other;) {
    now = await waitLeader([other], 1, 5, 8000);
    await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(now, other, 'TRANSFER_LEADER carried out');

  // ADD_PEER: the fourth chunkserver joins.
  const newPort = Number(other.split(':')[1]);
  const fourth = cs[3].endpoint;
  pending.push({
    forPort: newPort,
    conf: {
      logicalPoolID: 1,
      copysetID: 5,
      peers: [],
      epoch: info.epoch,
      type: 1,
      configchangeItem: { id: 0, address: `${fourth}:0` },
    },
  });
  const done = await waitBeat
    .call(
      null,
      (x) =>
        x.port === newPort &&
        x.copysetInfos.some((c) => c.configChangeInfo?.finished === true && c.peers.length === 4),
      'a finished ADD_PEER',
    )
    .catch((err: Error) => {
      for (const c of cs)
        t.comment(
          c.endpoint + '\n' + c.logs.filter((l) => /config|transfer|warn|error|peer/i.test(l)).join('\n'),
        );
      throw err;
    });
  t.equal(done.copysetInfos[0].configChangeInfo!.type, 1, 'reported as ADD_PEER, finished');
  const st = await copysetCall<{ status: number; knownAppliedIndex: number }>(fourth, 'GetCopysetStatus', {
    logicPoolId: 1,
    copysetId: 5,
  });
  t.equal(st.status, 0, 'the new member has the copyset');
  const fourthBeat = await waitBeat(
    (x) => x.port === cs[3].port && x.copysetInfos[0]?.peers.length === 4,
    'the new member reporting 4 peers',
  );
  t.equal(fourthBeat.copysetInfos[0].peers.length, 4, 'the new member knows the 4-peer configuration');

  // Restart: no second registration.
  await stopChunkserver(cs[0], 'SIGTERM');
  cs[0] = await startChunkserver(dirs[0], ports[0], args);
  t.equal(registrations.length, 4, 'restart reuses the stored identity');
});
