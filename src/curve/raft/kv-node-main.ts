// One replica of a replicated KV store (one Raft group) as a process, for the crash test and the
// cross-process benchmark:
//   node kv-node-main.js --id 1 --dir D --peers 1=127.0.0.1:7001,2=...,3=... --client-port 8001 [--groups N]
//     [--tick-ms 50] [--fsync on|off] [--journal on|off]   (fsync off: benchmarks only, a crash loses
//     acknowledged writes; journal off: each group's files are fsynced on their own)
//     [--journal-checkpoint-bytes N]   (the crash test makes it small so kills meet checkpoints)
//     [--snapshot-bytes N]   (snapshot the map and compact the log after N bytes of applied entries;
//     default 16 MiB, half the journal's checkpoint interval, so most entries are covered by a snapshot
//     before a checkpoint would copy them to the group's segment files; 0 never: without snapshots the
//     log, in memory and on disk, grows without bound)
// Clients speak length-prefixed JSON frames on --client-port:
//   {"id":n,"op":"put","group":g,"key":k,"value":v} -> {"id":n,"ok":true,"index":i} | {"id":n,"ok":false,"leader":l}
//   {"id":n,"op":"get","group":g,"key":k}           -> {"id":n,"ok":true,"value":v|null}
//   {"id":n,"op":"load","group":g,"inflight":c,"ms":t} -> {"id":n,"ok":true,"commits":k,"p50ms":x,"p99ms":y}
//       (benchmark: this replica, the leader, keeps c proposals of 4 KiB running for t ms; kv-load.ts)
//   {"id":n,"op":"state","group":g}                 -> {"id":n,"ok":true,"applied":i,"role":r,"map":[[k,v]...]}
// or, for puts on the hot path, the binary frames of kv-client-codec.ts (first byte 0x01; JSON starts '{').
// Each group's log is its own file, so one flush may fsync hundreds of files: let them run in parallel (the
// filesystem journal commits them together). Must be set before the first thread-pool request.
process.env.UV_THREADPOOL_SIZE ??= '64';
import * as net from 'node:net';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { bootstrapState } from './bootstrap';
import { FileStorage } from './file-storage';
import { HostJournal } from './host-journal';
import { BINARY_PUT, decodeBinaryPut, encodeBinaryReplyInto, FRAMED_REPLY_LENGTH } from './kv-client-codec';
import { encodeKvCommand, encodeKvPut, KvStateMachine } from './kv-state-machine';
import { GroupStorage, MultiRaftHost, NotLeaderError } from './multi-raft-host';
import { proposeLoad, validLoad } from './kv-load';
import { FrameReader, frame, PeerAddress, TcpTransport } from './tcp-transport';
import { RaftCore } from './raft-core';
import { NodeId } from './types';

interface Args {
  id: NodeId;
  dir: string;
  peers: Map<NodeId, PeerAddress>;
  clientPort: number;
  groups: number;
  tickMs: number;
  /** off: benchmark only. Entries are still written, but nothing is fsynced (and the hard state not saved). */
  fsync: boolean;
  /** on: one host journal makes appends of all groups durable with one fsync per flush. */
  journal: boolean;
  /** Journal checkpoint interval (undefined: HostJournal's default); tests make it small. */
  journalCheckpointBytes?: number;
  /** Take a snapshot after this many bytes of applied entries (0: never). */
  snapshotBytes: number;
}

/** Entries kept below a snapshot, so a follower a little behind catches up from the log, not a snapshot. */
const SNAPSHOT_RETAIN_ENTRIES = 1024;

function parseArgs(argv: string[]): Args {
  const get = (name: string, def?: string): string => {
    const i = argv.indexOf(`--${name}`);
    if (i >= 0 && i + 1 < argv.length) return argv[i + 1];
    if (def !== undefined) return def;
    throw new Error(`kv-node: --${name} is required`);
  };
  const peers = new Map<NodeId, PeerAddress>();
  for (const p of get('peers').split(',')) {
    const [id, addr] = p.split('=');
    const [host, port] = addr.split(':');
    peers.set(Number(id), { host, port: Number(port) });
  }
  return {
    id: Number(get('id')),
    dir: get('dir'),
    peers,
    clientPort: Number(get('client-port')),
    groups: Number(get('groups', '1')),
    tickMs: Number(get('tick-ms', '50')),
    fsync: get('fsync', 'on') !== 'off',
    journal: get('journal', 'on') !== 'off',
    journalCheckpointBytes: argv.includes('--journal-checkpoint-bytes')
      ? Number(get('journal-checkpoint-bytes'))
      : undefined,
    snapshotBytes: Number(get('snapshot-bytes', String(16 << 20))),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const self = args.peers.get(args.id)!;
  const transport = await TcpTransport.listen(args.id, self.host, self.port, args.peers);
  const host = new MultiRaftHost({
    transport,
    tickMs: args.tickMs,
    electionTicks: 10,
    seed: args.id * 7919 + Date.now(),
  });
  const voters = [...args.peers.keys()];
  const kvs = new Map<number, KvStateMachine>();
  const journal = args.journal
    ? HostJournal.open(path.join(args.dir, 'journal'), {
        checkpointBytes: args.journalCheckpointBytes,
        // Snapshots come every 16 MiB (half a checkpoint): one kept file lets them retire its entries.
        retainFiles: 1,
      })
    : null;
  for (let g = 1; g <= args.groups; g++) {
    const storage = FileStorage.open(path.join(args.dir, `group-${g}`), journal ? { journal, group: g } : {});
    const kv = new KvStateMachine();
    kvs.set(g, kv);
    const init = storage.initialState(bootstrapState(voters));
    const groupStorage: GroupStorage = args.fsync
      ? storage
      : {
          append: (entries) => storage.append(entries),
          setHardState: () => {},
          saveSnapshot: (s, compactTo, replaceLog) => storage.saveSnapshot(s, compactTo, replaceLog),
          syncAsync: async () => {},
        };
    const snapshots = new Snapshotter(args.snapshotBytes, kv, storage, () => host.core(g)!);
    host.addGroup(g, init, groupStorage, {
      apply: (e) => {
        kv.apply(e);
        snapshots.applied(e.data.length);
      },
      restore: (s) => {
        kv.restore(s.data, s.meta.index);
        snapshots.restored();
      },
    });
  }
  journal?.recoveryDone();
  host.start();
  const loopDelay = process.env.RAFT_KV_STATS ? monitorEventLoopDelay({ resolution: 5 }) : null;
  loopDelay?.enable();
  let seq = 0;
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    const reader = new FrameReader();
    // Replies produced by one flush (many proposals commit together) leave in one socket write.
    let corked = false;
    const send = (buf: Buffer): void => {
      if (!corked) {
        corked = true;
        sock.cork();
        process.nextTick(() => {
          corked = false;
          sock.uncork();
        });
      }
      sock.write(buf);
    };
    const reply = (obj: unknown): void => send(frame(Buffer.from(JSON.stringify(obj))));
    // Binary replies of one turn (a flush commits many puts at once) are encoded into one buffer.
    let replies: Buffer | null = null;
    let repliesLen = 0;
    const answer = (id: number, ok: boolean, n: number): void => {
      if (!replies) {
        replies = Buffer.allocUnsafe(64 * FRAMED_REPLY_LENGTH);
        process.nextTick(() => {
          send(replies!.subarray(0, repliesLen));
          replies = null;
          repliesLen = 0;
        });
      } else if (repliesLen + FRAMED_REPLY_LENGTH > replies.length) {
        const grown = Buffer.allocUnsafe(replies.length * 2);
        replies.copy(grown, 0, 0, repliesLen);
        replies = grown;
      }
      encodeBinaryReplyInto(replies, repliesLen, id, ok, n);
      repliesLen += FRAMED_REPLY_LENGTH;
    };
    const onBinaryPut = (f: Buffer): void => {
      const put = decodeBinaryPut(f);
      if (!kvs.has(put.group)) return answer(put.id, false, 0);
      const data = encodeKvPut(args.id, ++seq, put.key, put.value);
      host.propose(put.group, data).then(
        (index) => answer(put.id, true, index),
        (err: unknown) => answer(put.id, false, err instanceof NotLeaderError ? err.leader : 0),
      );
    };
    sock.on('data', (chunk: Buffer) =>
      reader.push(chunk, (f) => {
        if (f[0] === BINARY_PUT) return onBinaryPut(f);
        const req = JSON.parse(f.toString('utf8')) as {
          id: number;
          op: string;
          group?: number;
          key: string;
          value: string;
        };
        const g = req.group ?? 1;
        const kv = kvs.get(g);
        if (!kv) return reply({ id: req.id, ok: false, error: 'no such group' });
        const fail = (err: unknown): void =>
          reply({
            id: req.id,
            ok: false,
            leader: err instanceof NotLeaderError ? err.leader : 0,
            error: String(err),
          });
        if (req.op === 'put') {
          const data = encodeKvCommand({ client: args.id, seq: ++seq, key: req.key, value: req.value });
          host.propose(g, data).then((index) => reply({ id: req.id, ok: true, index }), fail);
        } else if (req.op === 'get') {
          host.read(g, 'lease').then(() => reply({ id: req.id, ok: true, value: kv.get(req.key) }), fail);
        } else if (req.op === 'load') {
          // Benchmark: proposals made here, in the leader's process (kv-load.ts).
          const { inflight, ms } = req as unknown as { inflight: unknown; ms: unknown };
          if (!validLoad(inflight, ms)) return reply({ id: req.id, ok: false, error: 'bad load request' });
          const core = host.core(g)!;
          if (core.role !== 'leader') return fail(new NotLeaderError(core.lead));
          proposeLoad((data) => host.propose(g, data), args.id, inflight, ms as number).then(
            (res) => reply({ id: req.id, ok: true, ...res }),
            fail,
          );
        } else if (req.op === 'state') {
          const core = host.core(g)!;
          reply({ id: req.id, ok: true, applied: kv.applied, role: core.role, map: [...kv.map].sort() });
        } else reply({ id: req.id, ok: false, error: 'unknown op' });
      }),
    );
    sock.on('error', () => sock.destroy());
  });
  server.listen(args.clientPort, '127.0.0.1', () => process.stdout.write(`kv-node ${args.id} ready\n`));
  const shutdown = (): void => {
    // RAFT_KV_STATS=1: say how the work was batched (benchmark diagnostics).
    if (process.env.RAFT_KV_STATS) {
      process.stderr.write(
        `kv-node ${args.id} ${JSON.stringify({
          host: host.counters,
          journal: journal?.counters,
          loopDelayMs: loopDelay && {
            p99: loopDelay.percentile(99) / 1e6,
            max: loopDelay.max / 1e6,
          },
        })}\n`,
      );
    }
    server.close();
    void host.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

/**
 * Snapshots one group's map every `everyBytes` of applied entries and compacts its log (in memory and on
 * disk), keeping the last SNAPSHOT_RETAIN_ENTRIES entries. The map is encoded at the applied index at
 * once; the file is written and fsynced on the thread pool.
 */
class Snapshotter {
  private sinceLast = 0;
  private running = false;

  constructor(
    private readonly everyBytes: number,
    private readonly kv: KvStateMachine,
    private readonly storage: FileStorage,
    private readonly core: () => RaftCore,
  ) {}

  applied(bytes: number): void {
    this.sinceLast += bytes;
    if (this.everyBytes > 0 && this.sinceLast >= this.everyBytes && !this.running) {
      this.running = true;
      // A failed snapshot write (a failed fsync) leaves the files in an unknown state: crash, as a failed
      // log fsync does.
      this.take().then(
        () => (this.running = false),
        (err: unknown) =>
          setImmediate(() => {
            throw err;
          }),
      );
    }
  }

  /** A snapshot from the leader replaced the map (and the log): count from here. */
  restored(): void {
    this.sinceLast = 0;
  }

  private async take(): Promise<void> {
    const index = this.kv.applied;
    const core = this.core();
    if (!core.canSnapshotAt(index)) return; // a configuration change is being applied: later
    const covered = this.sinceLast;
    const snap = core.createSnapshot(this.kv.snapshot(), SNAPSHOT_RETAIN_ENTRIES, index);
    await this.storage.saveSnapshotAsync(snap, Math.max(0, index - SNAPSHOT_RETAIN_ENTRIES));
    this.sinceLast = Math.max(0, this.sinceLast - covered);
  }
}

main().catch((err) => {
  process.stderr.write(`kv-node: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
