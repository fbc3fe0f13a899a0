// One replica of a replicated KV store (one Raft group) as a process, for the crash test and the
// cross-process benchmark:
//   node kv-node-main.js --id 1 --dir D --peers 1=127.0.0.1:7001,2=...,3=... --client-port 8001 [--groups N]
// Clients speak length-prefixed JSON frames on --client-port:
//   {"id":n,"op":"put","group":g,"key":k,"value":v} -> {"id":n,"ok":true,"index":i} | {"id":n,"ok":false,"leader":l}
//   {"id":n,"op":"get","group":g,"key":k}           -> {"id":n,"ok":true,"value":v|null}
//   {"id":n,"op":"state","group":g}                 -> {"id":n,"ok":true,"applied":i,"role":r,"map":[[k,v]...]}
import * as net from 'node:net';
import * as path from 'node:path';
import { bootstrapState } from './bootstrap';
import { FileStorage } from './file-storage';
import { encodeKvCommand, KvStateMachine } from './kv-state-machine';
import { MultiRaftHost, NotLeaderError } from './multi-raft-host';
import { FrameReader, frame, PeerAddress, TcpTransport } from './tcp-transport';
import { NodeId } from './types';

interface Args {
  id: NodeId;
  dir: string;
  peers: Map<NodeId, PeerAddress>;
  clientPort: number;
  groups: number;
  tickMs: number;
}

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
  for (let g = 1; g <= args.groups; g++) {
    const storage = FileStorage.open(path.join(args.dir, `group-${g}`));
    const kv = new KvStateMachine();
    kvs.set(g, kv);
    const init = storage.initialState(bootstrapState(voters));
    host.addGroup(g, init, storage, {
      apply: (e) => void kv.apply(e),
      restore: (s) => kv.restore(s.data, s.meta.index),
    });
  }
  host.start();
  let seq = 0;
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    const reader = new FrameReader();
    const reply = (obj: unknown): void => void sock.write(frame(Buffer.from(JSON.stringify(obj))));
    sock.on('data', (chunk: Buffer) =>
      reader.push(chunk, (f) => {
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
    server.close();
    void host.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err) => {
  process.stderr.write(`kv-node: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
