import t from 'tap';
import { fileLabel, formatProfileSummary, summarizeCpuProfile, type CpuProfile } from './cpu-profile-summary';

const frame = (functionName: string, url = '', lineNumber = 0): CpuProfile['nodes'][number]['callFrame'] => ({
  functionName,
  url,
  lineNumber,
});

t.test('self time per function and per file from sample deltas, idle excluded', async (t) => {
  const p: CpuProfile = {
    startTime: 0,
    endTime: 10_000,
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 3, 4, 5] },
      { id: 2, callFrame: frame('(idle)') },
      { id: 3, callFrame: frame('encode', 'file:///w/dist/src/iscsi/pdu-codec.js', 9) },
      { id: 4, callFrame: frame('parse', 'file:///w/dist/src/iscsi/pdu-codec.js', 40) },
      { id: 5, callFrame: frame('(garbage collector)') },
    ],
    samples: [2, 3, 3, 4, 5, 2],
    timeDeltas: [4000, 1000, 1000, 1000, 1000, 2000],
  };
  const s = summarizeCpuProfile(p);
  t.equal(s.wallMs, 10);
  t.equal(s.busyMs, 4, 'idle samples are not busy time');
  t.same(
    s.files.map((f) => [f.name, f.ms]),
    [
      ['src/iscsi/pdu-codec.ts', 3],
      ['(garbage collector)', 1],
    ],
  );
  t.same(
    s.functions.map((f) => [f.name, f.share]),
    [
      ['encode src/iscsi/pdu-codec.ts:10', 0.5],
      ['parse src/iscsi/pdu-codec.ts:41', 0.25],
      ['(garbage collector)', 0.25],
    ],
  );
  t.match(formatProfileSummary('tgtd', s), /tgtd: busy 0\.0 s of 0\.0 s sampled\n {2}by file/);
});

t.test('hitCount fallback and file labels', async (t) => {
  const s = summarizeCpuProfile({
    startTime: 0,
    endTime: 3000,
    nodes: [
      { id: 1, callFrame: frame('a', 'node:net', 0), hitCount: 2 },
      { id: 2, callFrame: frame('b', 'file:///x/node_modules/@grpc/grpc-js/build/src/a.js', 0), hitCount: 1 },
    ],
  });
  t.same(
    s.files.map((f) => [f.name, f.ms]),
    [
      ['node:net', 2],
      ['npm:@grpc/grpc-js', 1],
    ],
  );
  t.equal(fileLabel(''), '(native)');
});

t.test('a native function is named with its JavaScript caller', async (t) => {
  const s = summarizeCpuProfile({
    startTime: 0,
    endTime: 2000,
    nodes: [
      { id: 1, callFrame: frame('writeSync', 'node:fs', 900), children: [2] },
      { id: 2, callFrame: frame('writeBuffer'), hitCount: 1 },
    ],
  });
  t.equal(s.functions[0].name, 'writeBuffer (native) <- writeSync node:fs:901');
  t.equal(s.files[0].name, '(native)');
});
