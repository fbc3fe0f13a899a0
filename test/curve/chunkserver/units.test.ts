// Pure pieces of the chunkserver: the log entry codec, copyset/peer naming, checksummed state files,
// configuration validation, a proposal's outcome.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Proposal, type ProposalListener } from '../../../src/curve/chunkserver/proposal';
import {
  allocateWithEntryHeadroom,
  ChunkLogOp,
  decodeChunkLogEntry,
  encodeChunkLogEntry,
} from '../../../src/curve/chunkserver/chunk-op-codec';
import {
  CorruptFileError,
  readChecksummedJson,
  writeChecksummedJson,
  writeChecksummedJsonAsync,
} from '../../../src/curve/chunkserver/checksummed-file';
import {
  copysetKeyOfGroup,
  endpointOf,
  groupIdOf,
  nodeIdOf,
  peerIdOf,
} from '../../../src/curve/chunkserver/copyset-id';
import {
  bindHost,
  ConfigError,
  parseListen,
  DEFAULT_CONFIG,
  resolveConfig,
} from '../../../src/curve/chunkserver/chunkserver-config';

t.test('chunk log entry codec', async (t) => {
  const data = Buffer.from('0123456789abcdef'.repeat(256));
  const e = {
    op: ChunkLogOp.WRITE,
    chunkId: 2 ** 40 + 3,
    offset: 8192,
    size: data.length,
    sn: 7,
    correctedSn: 0,
    location: '',
    data,
  };
  const buf = encodeChunkLogEntry(e);
  t.equal(buf.length, 36 + data.length, '36-byte header then the data');
  t.equal(buf[0], 2, 'op byte');
  t.equal(buf.readUInt32BE(4), 8192, 'offset');
  t.equal(buf.readUInt32BE(8), 4096, 'size');
  t.same(decodeChunkLogEntry(buf), e, 'round trip');
  const clone = {
    op: ChunkLogOp.CREATE_CLONE,
    chunkId: 5,
    offset: 0,
    size: 1 << 24,
    sn: 2,
    correctedSn: 1,
    location: 'cs://x@1',
    data: Buffer.alloc(0),
  };
  t.same(decodeChunkLogEntry(encodeChunkLogEntry(clone)), clone, 'clone with a location');
  t.throws(() => decodeChunkLogEntry(buf.subarray(0, 20)), /too short/, 'short entry');
  t.throws(() => decodeChunkLogEntry(buf.subarray(0, buf.length - 1)), /header says/, 'truncated data');
  const bad = Buffer.from(buf);
  bad[0] = 42;
  t.throws(() => decodeChunkLogEntry(bad), /unknown chunk log op/, 'unknown op');
});

t.test(
  'small data buffers share slabs without overlapping; each entry built in place stays intact',
  async (t) => {
    const bufs = Array.from({ length: 200 }, (_, i) => allocateWithEntryHeadroom(4096).fill(i & 0xff));
    t.equal(bufs[0].buffer, bufs[1].buffer, 'consecutive 4 KiB buffers come from one slab');
    const e = {
      op: ChunkLogOp.WRITE,
      chunkId: 1,
      offset: 0,
      size: 4096,
      sn: 1,
      correctedSn: 0,
      location: '',
    };
    const entries = bufs.map((data, i) => encodeChunkLogEntry({ ...e, chunkId: i, data }));
    t.ok(
      entries.every((x, i) => x.buffer === bufs[i].buffer),
      'every entry built in place',
    );
    t.ok(
      entries.every((x, i) => {
        const d = decodeChunkLogEntry(x);
        return d.chunkId === i && d.data.every((b) => b === (i & 0xff));
      }),
      'no header overwrote a neighbour',
    );
    t.ok(new Set(bufs.map((b) => b.buffer)).size > 1, '200 writes span several slabs');
    const big = allocateWithEntryHeadroom(64 << 10);
    t.not(big.buffer, bufs[bufs.length - 1].buffer, 'a 64 KiB buffer gets memory of its own');
    t.equal(big.length, 64 << 10);
  },
);

t.test('an entry of data with headroom is built in place, once', async (t) => {
  const data = allocateWithEntryHeadroom(4096).fill(0x61);
  const e = {
    op: ChunkLogOp.WRITE,
    chunkId: 9,
    offset: 4096,
    size: 4096,
    sn: 3,
    correctedSn: 0,
    location: '',
  };
  const first = encodeChunkLogEntry({ ...e, data });
  t.equal(first.buffer, data.buffer, 'same memory as the data');
  t.equal(first.byteOffset + 36, data.byteOffset, 'header right in front of it');
  t.same(decodeChunkLogEntry(first), { ...e, data }, 'decodes to the same entry');
  t.ok(
    data.every((b) => b === 0x61),
    'the data itself is untouched',
  );
  const second = encodeChunkLogEntry({ ...e, sn: 4, data });
  t.not(second.buffer, data.buffer, 'a second entry of the same data is a copy');
  t.equal(decodeChunkLogEntry(first).sn, 3, 'and leaves the first one alone');
  const plain = Buffer.alloc(4096, 0x62);
  t.not(encodeChunkLogEntry({ ...e, data: plain }).buffer, plain.buffer, 'other buffers are copied');
  const withLocation = allocateWithEntryHeadroom(4096);
  const pasted = encodeChunkLogEntry({ ...e, op: ChunkLogOp.PASTE, location: 'x', data: withLocation });
  t.not(pasted.buffer, withLocation.buffer, 'a location does not fit the headroom: copied');
});

t.test('a proposal tells its listener once: applied with both halves, or failed', async (t) => {
  const heard: string[] = [];
  const forgotten: Proposal[] = [];
  const owner = { forgetProposal: (p: Proposal) => forgotten.push(p) };
  const op = decodeChunkLogEntry(
    encodeChunkLogEntry({
      op: ChunkLogOp.WRITE,
      chunkId: 1,
      offset: 0,
      size: 8,
      sn: 1,
      correctedSn: 0,
      location: '',
      data: Buffer.alloc(8),
    }),
  );
  const listener = (name: string): ProposalListener => ({
    proposalApplied: (r) => heard.push(`${name} applied ${r.status}`),
    proposalFailed: (e) => heard.push(`${name} failed ${e.message}`),
  });
  // Inline apply: the state machine's result, then the host's resolve.
  const a = new Proposal(owner, listener('a'), op);
  a.applied({ status: 0 });
  t.same(heard, [], 'nothing until committed');
  a.resolve();
  a.resolve();
  a.reject(new Error('late'));
  // Async apply: committed first, the result later.
  const b = new Proposal(owner, listener('b'), op);
  b.resolve();
  t.same(heard, ['a applied 0'], 'b waits for its apply');
  b.applied({ status: 7 });
  // Overwritten at apply time: another entry's result arrives, then the host rejects.
  const c = new Proposal(owner, listener('c'), op);
  c.applied({ status: 0 });
  c.reject(new Error('proposal overwritten by a new leader'));
  c.resolve();
  // Leadership lost before commit.
  const d = new Proposal(owner, listener('d'), op);
  d.reject(new Error('not leader'));
  d.applied({ status: 0 });
  t.same(heard, [
    'a applied 0',
    'b applied 7',
    'c failed proposal overwritten by a new leader',
    'd failed not leader',
  ]);
  t.same(forgotten, [a, b, c, d], 'each forgotten by its owner once');
});

t.test('copyset and peer naming', async (t) => {
  t.equal(groupIdOf(1, 1), (1 << 20) + 1);
  t.same(copysetKeyOfGroup(groupIdOf(4095, 0xfffff)), { logicPoolId: 4095, copysetId: 0xfffff });
  t.throws(() => groupIdOf(4096, 1), RangeError);
  t.equal(endpointOf('127.0.0.1:8200:0'), '127.0.0.1:8200');
  t.equal(endpointOf('127.0.0.1:8200'), '127.0.0.1:8200');
  t.equal(endpointOf('127.0.0.1'), undefined);
  t.equal(endpointOf('127.0.0.1:99999:0'), undefined);
  t.equal(endpointOf('127.0.0.1:80:x'), undefined);
  t.equal(peerIdOf('10.0.0.1:1'), '10.0.0.1:1:0');
  t.equal(nodeIdOf('127.0.0.1:8200'), nodeIdOf('127.0.0.1:8200'), 'stable');
  t.not(nodeIdOf('127.0.0.1:8200'), nodeIdOf('127.0.0.1:8201'));
  t.ok(nodeIdOf('a:1') > 0 && nodeIdOf('a:1') <= 0xffffffff, '32-bit nonzero');
});

t.test('checksummed state files', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c3-units-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'chunkserver.dat');
  t.equal(readChecksummedJson(f), undefined, 'absent');
  writeChecksummedJson(f, { chunkServerId: 3, token: 'abc' });
  t.same(readChecksummedJson(f), { chunkServerId: 3, token: 'abc' }, 'round trip');
  const text = fs.readFileSync(f, 'utf8').replace('"abc', '"abd');
  fs.writeFileSync(f, text);
  t.throws(() => readChecksummedJson(f), CorruptFileError, 'a flipped byte is detected');
  fs.writeFileSync(f, 'not json');
  t.throws(() => readChecksummedJson(f), CorruptFileError, 'garbage is detected');
  await writeChecksummedJsonAsync(f, { index: 7 });
  t.same(readChecksummedJson(f), { index: 7 }, 'the thread-pool writer replaces it the same way');
  t.same(fs.readdirSync(dir), ['chunkserver.dat'], 'no temporary file is left');
});

t.test('configuration', async (t) => {
  t.same(resolveConfig({}), DEFAULT_CONFIG, 'defaults are valid');
  t.equal(resolveConfig({ port: 9000 }, { port: 9001 }).port, 9001, 'later layers win');
  t.throws(
    () => resolveConfig({ chunkSize: 5000 }),
    /multiple of pageSize/,
    'chunk size not a multiple of the page',
  );
  t.throws(() => resolveConfig({ electionTicks: 1 }), /electionTicks/);
  t.throws(() => resolveConfig({ metrics: 'nope' }), /metrics/);
  t.ok(new ConfigError('x') instanceof Error);
  // listen: the bind address; ip stays the address peers and the MDS use.
  t.equal(bindHost(resolveConfig({})), '127.0.0.1', 'binds ip by default');
  const all = resolveConfig({ ip: '10.0.0.5', port: 8201 }, { listen: '0.0.0.0' });
  t.same([bindHost(all), all.ip, all.port], ['0.0.0.0', '10.0.0.5', 8201], 'listen host only: port kept');
  const withPort = resolveConfig({ port: 8201, listen: '0.0.0.0:9300' });
  t.same([bindHost(withPort), withPort.port], ['0.0.0.0', 9300], "listen's port replaces port");
  t.same(parseListen('[::1]:9300'), { host: '::1', port: 9300 }, 'bracketed IPv6 with a port');
  t.same(parseListen('::'), { host: '::', port: undefined }, 'bare IPv6 host');
  t.throws(() => resolveConfig({ listen: 'a b' }), /listen must be host or host:port/);
  t.throws(() => resolveConfig({ listen: 'h:70000' }), /listen must be/);
  t.throws(() => resolveConfig({ ip: '0.0.0.0' }), /bind every interface with listen/);
});
