import t from 'tap';
import { encodePdu, numberToLun, senseSegment, type EncodeOptions } from '../../src/iscsi/pdu-codec';
import { PduParser, type ParseEvent, type ParserOptions } from '../../src/iscsi/pdu-parser';
import { Opcode, type DataIn, type Pdu, type ScsiCommand } from '../../src/iscsi/pdu-types';

const ALL_OPTS: EncodeOptions[] = [
  { headerDigest: false, dataDigest: false },
  { headerDigest: true, dataDigest: false },
  { headerDigest: false, dataDigest: true },
  { headerDigest: true, dataDigest: true },
];

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function dataOut(itt: number, size: number, fill = itt & 0xff): Pdu {
  return {
    opcode: Opcode.DataOut,
    immediate: false,
    itt,
    data: Buffer.alloc(size, fill),
    final: true,
    lun: numberToLun(1),
    ttt: itt + 1,
    expStatSN: itt + 2,
    dataSN: itt + 3,
    bufferOffset: itt * 512,
  };
}

function command(itt: number, cdbLength = 16, data = Buffer.alloc(0)): ScsiCommand {
  const cdb = Buffer.alloc(cdbLength);
  for (let i = 0; i < cdbLength; i++) cdb[i] = (itt + i) & 0xff;
  return {
    opcode: Opcode.ScsiCommand,
    immediate: false,
    itt,
    data,
    final: true,
    read: false,
    write: data.length > 0,
    attr: 1,
    lun: numberToLun(3),
    expectedDataTransferLength: data.length,
    cmdSN: itt,
    expStatSN: itt,
    cdb,
  };
}

/** A mixed stream: no data, odd data lengths (padding), AHS, both directions. */
function mixedPdus(): Pdu[] {
  return [
    command(1),
    dataOut(2, 1),
    command(3, 32, Buffer.from('abcdefg')),
    dataOut(4, 0),
    {
      opcode: Opcode.NopOut,
      immediate: true,
      itt: 5,
      data: Buffer.from('xyz'),
      lun: 0n,
      ttt: 0xffffffff,
      cmdSN: 6,
      expStatSN: 7,
    },
    {
      opcode: Opcode.ScsiResponse,
      immediate: false,
      itt: 6,
      data: senseSegment(Buffer.from('7000050000000000', 'hex')),
      bidiOverflow: false,
      bidiUnderflow: false,
      overflow: false,
      underflow: true,
      response: 0,
      status: 2,
      snackTag: 0,
      statSN: 1,
      expCmdSN: 2,
      maxCmdSN: 3,
      expDataSN: 0,
      bidiResidualCount: 0,
      residualCount: 9,
    },
    dataOut(7, 130),
    command(8, 20),
    dataOut(9, 4),
  ];
}

function wireOf(pdus: Pdu[], opts: EncodeOptions): Buffer {
  return Buffer.concat(pdus.flatMap((p) => encodePdu(p, opts)));
}

function parserOpts(opts: EncodeOptions, max = 1 << 20): ParserOptions {
  return { maxDataSegmentLength: max, ...opts };
}

/** A canonical text form of an event, so whole runs compare cheaply. */
function describe(ev: ParseEvent): string {
  const replacer = (_k: string, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v);
  if (ev.kind === 'pdu') return `pdu ${JSON.stringify(ev.pdu, replacer)} ${ev.header.toString('hex')}`;
  return `error ${ev.error} ${ev.reason} ${ev.fatal} ${ev.header.toString('hex')}`;
}

function parseChunks(chunks: Buffer[], opts: ParserOptions): ParseEvent[] {
  const parser = new PduParser(opts);
  const events: ParseEvent[] = [];
  const emit = (ev: ParseEvent) => events.push(ev);
  for (const c of chunks) parser.push(c, emit);
  return events;
}

/** A copy in its own ArrayBuffer (not Node's shared pool), as a socket read delivers it. */
function ownChunk(b: Buffer): Buffer {
  const c = Buffer.allocUnsafeSlow(b.length);
  b.copy(c);
  return c;
}

function randomChunks(next: () => number, wire: Buffer, maxChunk: number): Buffer[] {
  const chunks: Buffer[] = [];
  let pos = 0;
  while (pos < wire.length) {
    const n = 1 + (next() % maxChunk);
    chunks.push(ownChunk(wire.subarray(pos, pos + n)));
    pos += n;
  }
  return chunks;
}

t.test('a whole stream in one chunk yields the encoded PDUs', async (t) => {
  for (const opts of ALL_OPTS) {
    const pdus = mixedPdus();
    const events = parseChunks([wireOf(pdus, opts)], parserOpts(opts));
    t.equal(events.length, pdus.length);
    events.forEach((ev, i) => {
      if (ev.kind !== 'pdu') return t.fail(`event ${i} is ${describe(ev)}`);
      const { ahs: _ahs, ...rest } = ev.pdu;
      const expected = pdus[i] as Pdu & { bidiReadLength?: number };
      t.strictSame(rest, expected, `pdu ${i} ${JSON.stringify(opts)}`);
      t.equal(ev.header.length, 48);
      t.equal(ev.header[0] & 0x3f, expected.opcode);
    });
  }
});

t.test('splitting at every byte boundary gives identical results', async (t) => {
  for (const opts of ALL_OPTS) {
    const wire = wireOf(mixedPdus(), opts);
    const reference = parseChunks([wire], parserOpts(opts)).map(describe);
    let bad = 0;
    for (let k = 1; k < wire.length; k++) {
      const got = parseChunks(
        [Buffer.from(wire.subarray(0, k)), Buffer.from(wire.subarray(k))],
        parserOpts(opts),
      );
      if (got.map(describe).join('\n') !== reference.join('\n')) bad++;
    }
    t.equal(bad, 0, `${wire.length - 1} two-way splits, ${JSON.stringify(opts)}`);
    const bytewise = [...wire].map((b) => Buffer.from([b]));
    t.strictSame(parseChunks(bytewise, parserOpts(opts)).map(describe), reference, 'one byte at a time');
  }
});

t.test('random chunkings give identical results', async (t) => {
  const next = rng(7143);
  for (const opts of ALL_OPTS) {
    const pdus: Pdu[] = [];
    for (let i = 0; i < 60; i++) {
      const kind = next() % 3;
      if (kind === 0) pdus.push(dataOut(100 + i, next() % 3000));
      else if (kind === 1) pdus.push(command(100 + i, 16 + (next() % 40), Buffer.alloc(next() % 10, i)));
      else pdus.push(...mixedPdus());
    }
    const wire = wireOf(pdus, opts);
    const reference = parseChunks([wire], parserOpts(opts)).map(describe);
    t.equal(reference.length, pdus.length);
    let bad = 0;
    for (let round = 0; round < 100; round++) {
      const chunks = randomChunks(next, wire, [7, 50, 600, 5000][round % 4]);
      if (parseChunks(chunks, parserOpts(opts)).map(describe).join('\n') !== reference.join('\n')) bad++;
    }
    t.equal(bad, 0, `100 random chunkings of ${wire.length} bytes, ${JSON.stringify(opts)}`);
  }
});

t.test('zero copy when the data lies within one chunk', async (t) => {
  const opts = ALL_OPTS[3];
  const wire = wireOf([dataOut(1, 1001)], opts);
  const chunk = ownChunk(wire);
  const [ev] = parseChunks([chunk], parserOpts(opts));
  t.equal(ev.kind, 'pdu');
  if (ev.kind !== 'pdu') return;
  t.equal(ev.pdu.data.buffer, chunk.buffer, 'data is a slice of the chunk');
  t.equal(ev.pdu.data.byteOffset, chunk.byteOffset + 52);
  t.equal(ev.header.buffer, chunk.buffer, 'header too');

  // Header in one chunk, data whole in the next, padding and digest split off into a third.
  const headerLen = 52;
  const c1 = ownChunk(wire.subarray(0, 30));
  const c2 = ownChunk(wire.subarray(30, headerLen + 1001 + 1));
  const c3 = ownChunk(wire.subarray(headerLen + 1001 + 1));
  const [ev2] = parseChunks([c1, c2, c3], parserOpts(opts));
  if (ev2.kind !== 'pdu') return t.fail('expected a pdu');
  t.equal(ev2.pdu.data.buffer, c2.buffer, 'data slice of the chunk it arrived in');
  t.not(ev2.header.buffer, c1.buffer, 'a split header is our own copy');
  t.same(ev2.pdu.data, Buffer.alloc(1001, 1));

  // Data spanning chunks is copied once into a buffer of exactly its length.
  const big = wireOf([dataOut(2, 200000)], opts);
  const chunks = randomChunks(rng(3), big, 65536);
  const [ev3] = parseChunks(chunks, parserOpts(opts));
  if (ev3.kind !== 'pdu') return t.fail('expected a pdu');
  t.equal(ev3.pdu.data.length, 200000);
  t.equal(ev3.pdu.data.buffer.byteLength, 200000, 'own exact-size buffer');
  t.ok(
    chunks.every((c) => c.buffer !== ev3.pdu.data.buffer),
    'not a chunk',
  );
  t.same(ev3.pdu.data, Buffer.alloc(200000, 2));
});

t.test('a partial header does not pin the chunk it came from', async (t) => {
  const opts = ALL_OPTS[0];
  const wire = wireOf([command(1, 32), dataOut(2, 10)], opts);
  // First chunk: a complete 48-byte BHS at its end, AHS still to come.
  const c1 = ownChunk(wire.subarray(0, 50));
  const parser = new PduParser(parserOpts(opts));
  const events: ParseEvent[] = [];
  parser.push(c1, (e) => events.push(e));
  t.equal(parser.bufferedBytes(), 50);
  parser.push(Buffer.from(wire.subarray(50)), (e) => events.push(e));
  t.equal(events.length, 2);
  if (events[0].kind !== 'pdu') return t.fail('expected pdu');
  t.not(events[0].header.buffer, c1.buffer);
  t.same((events[0].pdu as ScsiCommand).cdb, command(1, 32).cdb);
  t.equal(parser.bufferedBytes(), 0);
});

t.test('data digest error: PDU discarded, stream continues', async (t) => {
  const opts = ALL_OPTS[3];
  const pdus = [dataOut(1, 10), dataOut(2, 10), dataOut(3, 10)];
  const lens = pdus.map((p) => Buffer.concat(encodePdu(p, opts)).length);
  const cases: [string, number][] = [
    ['data byte', lens[0] + 52 + 3],
    ['padding byte', lens[0] + 52 + 10 + 1],
    ['digest byte', lens[0] + lens[1] - 1],
  ];
  for (const [what, offset] of cases) {
    const wire = wireOf(pdus, opts);
    wire[offset] ^= 0x20;
    for (const chunking of [[wire], [...wire].map((b) => Buffer.from([b]))]) {
      const events = parseChunks(chunking, parserOpts(opts));
      t.strictSame(
        events.map((e) =>
          e.kind === 'pdu' ? e.pdu.itt : `${e.error}:${e.reason}:${e.fatal}:${e.header.readUInt32BE(16)}`,
        ),
        [1, 'data-digest:2:false:2', 3],
        `corrupt ${what}`,
      );
    }
  }
  // Without DataDigest the same corruption goes through unnoticed (nothing to check).
  const wire = wireOf(pdus, ALL_OPTS[1]);
  wire[lens[0] + 52 + 3 - 4] ^= 0x20;
  t.equal(parseChunks([wire], parserOpts(ALL_OPTS[1])).filter((e) => e.kind === 'pdu').length, 3);
});

t.test('header digest error is fatal', async (t) => {
  for (const opts of [ALL_OPTS[1], ALL_OPTS[3]]) {
    for (const offset of [0, 5, 17, 47, 49, 51]) {
      const wire = wireOf([dataOut(1, 8), dataOut(2, 8), dataOut(3, 8)], opts);
      const second = Buffer.concat(encodePdu(dataOut(1, 8), opts)).length;
      wire[second + offset] ^= 0x01;
      const parser = new PduParser(parserOpts(opts));
      const events: ParseEvent[] = [];
      parser.push(wire, (e) => events.push(e));
      t.equal(events.length, 2, `corrupt header byte ${offset}`);
      t.equal(events[0].kind, 'pdu');
      const err = events[1];
      if (err.kind !== 'error') return t.fail('expected an error');
      t.equal(err.error, 'header-digest');
      t.equal(err.fatal, true);
      t.equal(err.header.length, 48);
      parser.push(wireOf([dataOut(4, 8)], opts), (e) => events.push(e));
      t.equal(events.length, 2, 'nothing parsed after a fatal error');
      t.equal(parser.bufferedBytes(), 0);
    }
  }
  // The header digest covers the AHS.
  const opts = ALL_OPTS[1];
  const wire = wireOf([command(1, 40)], opts);
  wire[60] ^= 0x80;
  const [ev] = parseChunks([wire], parserOpts(opts));
  t.equal(ev.kind === 'error' && ev.error, 'header-digest');
});

t.test('too-long data segments are skipped without buffering', async (t) => {
  for (const opts of ALL_OPTS) {
    const max = 1000;
    const pdus = [
      dataOut(1, 1000),
      dataOut(2, 100001),
      dataOut(3, 999),
      command(4, 16, Buffer.alloc(1001)),
      dataOut(5, 3),
    ];
    const wire = wireOf(pdus, opts);
    for (const chunkSize of [1, 100, 4096, wire.length]) {
      const parser = new PduParser(parserOpts(opts, max));
      const events: ParseEvent[] = [];
      let peak = 0;
      for (let pos = 0; pos < wire.length; pos += chunkSize) {
        parser.push(Buffer.from(wire.subarray(pos, pos + chunkSize)), (e) => events.push(e));
        peak = Math.max(peak, parser.bufferedBytes());
      }
      t.ok(peak <= 48 + 4 + max + 3 + 4, `peak buffered ${peak} for chunk ${chunkSize}`);
      t.strictSame(
        events.map((e) =>
          e.kind === 'pdu' ? e.pdu.itt : `${e.error}:${e.reason}:${e.fatal}:${e.header.readUInt32BE(16)}`,
        ),
        [1, 'too-long:4:false:2', 3, 'too-long:4:false:4', 5],
        `chunk ${chunkSize} ${JSON.stringify(opts)}`,
      );
    }
  }
});

t.test('decode errors are reported and the stream continues', async (t) => {
  const opts = ALL_OPTS[2];
  const unknown = Buffer.from(wireOf([dataOut(2, 9)], opts));
  unknown[0] = 0x1c; // no such opcode
  const badAhs = Buffer.from(wireOf([command(3, 32)], opts));
  badAhs.writeUInt16BE(0x99, 48); // AHSLength past the AHS area
  const wire = Buffer.concat([wireOf([dataOut(1, 5)], opts), unknown, badAhs, wireOf([dataOut(4, 6)], opts)]);
  for (const chunks of [[wire], [...wire].map((b) => Buffer.from([b]))]) {
    const events = parseChunks(chunks, parserOpts(opts));
    t.strictSame(
      events.map((e) =>
        e.kind === 'pdu' ? e.pdu.itt : `${e.error}:${e.reason}:${e.fatal}:${e.header.readUInt32BE(16)}`,
      ),
      [1, 'decode:5:false:2', 'decode:9:false:3', 4],
    );
  }
});

t.test('setOptions from inside emit applies from the next PDU', async (t) => {
  const plain = ALL_OPTS[0];
  const digests = ALL_OPTS[3];
  const login: Pdu = {
    opcode: Opcode.LoginRequest,
    immediate: true,
    itt: 1,
    data: Buffer.from('HeaderDigest=CRC32C\0DataDigest=CRC32C\0'),
    transit: true,
    continue: false,
    csg: 1,
    nsg: 3,
    versionMax: 0,
    versionMin: 0,
    isid: Buffer.from('400001370000', 'hex'),
    tsih: 0,
    cid: 0,
    cmdSN: 1,
    expStatSN: 0,
  };
  const after = [command(2, 16, Buffer.from('abc')), dataOut(3, 5), command(4, 24)];
  const wire = Buffer.concat([wireOf([login], plain), wireOf(after, digests)]);
  for (const chunks of [[wire], [...wire].map((b) => Buffer.from([b])), randomChunks(rng(9), wire, 40)]) {
    const parser = new PduParser(parserOpts(plain, 8192));
    const itts: (number | string)[] = [];
    for (const c of chunks) {
      parser.push(c, (ev) => {
        if (ev.kind !== 'pdu') return itts.push(ev.error);
        itts.push(ev.pdu.itt);
        if (ev.pdu.opcode === Opcode.LoginRequest)
          parser.setOptions({ headerDigest: true, dataDigest: true });
      });
    }
    t.strictSame(itts, [1, 2, 3, 4]);
  }
  // Called while a PDU is half received, it waits for that PDU to finish.
  const parser = new PduParser(parserOpts(plain, 8192));
  const got: Pdu[] = [];
  const w1 = wireOf([dataOut(1, 10)], plain);
  const w2 = wireOf([dataOut(2, 10)], digests);
  parser.push(w1.subarray(0, 20), (ev) => ev.kind === 'pdu' && got.push(ev.pdu));
  parser.setOptions({ headerDigest: true });
  parser.setOptions({ dataDigest: true });
  parser.push(Buffer.concat([w1.subarray(20), w2]), (ev) => ev.kind === 'pdu' && got.push(ev.pdu));
  t.strictSame(
    got.map((p) => p.itt),
    [1, 2],
  );
  // maxDataSegmentLength too.
  const p2 = new PduParser(parserOpts(plain, 100));
  const seen: string[] = [];
  p2.push(wireOf([dataOut(1, 50), dataOut(2, 500)], plain), (ev) => {
    seen.push(ev.kind === 'pdu' ? `pdu${ev.pdu.itt}` : ev.error);
    p2.setOptions({ maxDataSegmentLength: 1000 });
  });
  t.strictSame(seen, ['pdu1', 'pdu2']);
});

t.test('bufferedBytes tracks the partial PDU', async (t) => {
  const opts = ALL_OPTS[3];
  const wire = wireOf([dataOut(1, 10)], opts); // 52 header + 10 data + 2 pad + 4 digest = 68
  t.equal(wire.length, 68);
  const parser = new PduParser(parserOpts(opts));
  const events: ParseEvent[] = [];
  const expected = [10, 40, 52, 60, 62, 66, 0];
  const cuts = [10, 40, 52, 60, 62, 66, 68];
  let pos = 0;
  cuts.forEach((cut, i) => {
    parser.push(wire.subarray(pos, cut), (e) => events.push(e));
    pos = cut;
    t.equal(parser.bufferedBytes(), expected[i], `after ${cut} bytes`);
  });
  t.equal(events.length, 1);
});

t.test('a large PDU arriving in small chunks is assembled once', async (t) => {
  const opts = ALL_OPTS[2];
  const size = 1 << 20;
  const pdu: DataIn = {
    opcode: Opcode.DataIn,
    immediate: false,
    itt: 9,
    data: Buffer.alloc(size),
    final: true,
    ack: false,
    overflow: false,
    underflow: false,
    hasStatus: true,
    status: 0,
    lun: 0n,
    ttt: 0xffffffff,
    statSN: 1,
    expCmdSN: 2,
    maxCmdSN: 3,
    dataSN: 0,
    bufferOffset: 0,
    residualCount: 0,
  };
  for (let i = 0; i < size; i++) pdu.data[i] = (i * 31) & 0xff;
  const wire = wireOf([pdu, pdu], opts);
  const parser = new PduParser(parserOpts(opts, size));
  const events: ParseEvent[] = [];
  const started = process.hrtime.bigint();
  for (let pos = 0; pos < wire.length; pos += 1460)
    parser.push(wire.subarray(pos, pos + 1460), (e) => events.push(e));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.equal(events.length, 2);
  for (const ev of events) {
    if (ev.kind !== 'pdu') return t.fail(describe(ev));
    t.ok(ev.pdu.data.equals(pdu.data));
  }
  t.ok(ms < 2000, `2 MiB in 1460-byte chunks parsed in ${ms.toFixed(1)} ms`);
});

t.test(
  'a DataPlacer receives data segments in place, whatever the chunking; digests still checked',
  async (t) => {
    for (const opts of ALL_OPTS) {
      const pdus = [dataOut(7, 5000, 0x5a), dataOut(8, 3, 0x11), command(9, 16, Buffer.alloc(10, 0x22))];
      const wire = Buffer.concat(pdus.flatMap((p) => encodePdu(p, opts)));
      for (const step of [1, 7, 48, 1000, wire.length]) {
        const dest = Buffer.alloc(6000, 0xee);
        const parser = new PduParser({ ...opts, maxDataSegmentLength: 1 << 20 });
        const asked: number[] = [];
        // Data-Out lands in `dest` at its buffer offset; other PDUs keep the parser's own buffers.
        parser.setDataPlacer((bhs, length) => {
          asked.push(length);
          if ((bhs[0] & 0x3f) !== Opcode.DataOut) return undefined;
          const itt = bhs.readUInt32BE(16);
          return itt === 7 ? dest.subarray(100, 100 + length) : Buffer.alloc(length + 1); // wrong size: ignored
        });
        const got: Pdu[] = [];
        for (let i = 0; i < wire.length; i += step) {
          parser.push(wire.subarray(i, i + step), (ev) => {
            if (ev.kind === 'pdu') got.push(ev.pdu);
            else t.fail(ev.message);
          });
        }
        t.same(asked, [5000, 3, 10], `placer asked once per data segment (step ${step})`);
        t.equal(got.length, 3);
        t.equal(got[0].data.buffer, dest.buffer, 'placed data is the destination itself');
        t.equal(got[0].data.byteOffset, dest.byteOffset + 100);
        t.ok(dest.subarray(100, 5100).equals(Buffer.alloc(5000, 0x5a)), 'bytes in place');
        t.equal(dest[99], 0xee, 'nothing written before the slice');
        t.equal(dest[5100], 0xee, 'nothing written after the slice');
        t.ok(got[1].data.equals(Buffer.alloc(3, 0x11)), 'unplaced data intact');
        t.ok(got[2].data.equals(Buffer.alloc(10, 0x22)));
      }
    }
    // A corrupted data digest is still detected for placed data.
    const opts = { headerDigest: false, dataDigest: true };
    const wire = Buffer.concat(encodePdu(dataOut(7, 64, 1), opts));
    wire[48 + 10] ^= 0xff;
    const parser = new PduParser({ ...opts, maxDataSegmentLength: 8192 });
    const dest = Buffer.alloc(64);
    parser.setDataPlacer(() => dest);
    t.equal(parser.placingInto(), undefined, 'not placing before a header');
    const events: ParseEvent[] = [];
    parser.push(wire.subarray(0, 60), (ev) => events.push(ev));
    t.equal(parser.placingInto(), dest.buffer, 'mid-segment: placing into the destination');
    parser.push(wire.subarray(60), (ev) => events.push(ev));
    t.equal(events.length, 1);
    t.equal(events[0].kind === 'error' && events[0].error, 'data-digest');
    t.equal(parser.placingInto(), undefined, 'done placing');
  },
);

t.test('reusedChunks: PDUs survive the caller overwriting each chunk after push', async (t) => {
  // A socket reading into one shared buffer: every chunk lives in the same memory, scribbled over once
  // push() returns. Whatever the parser handed out must not change.
  for (const opts of ALL_OPTS) {
    const wire = wireOf(mixedPdus(), opts);
    const expected = parseChunks([ownChunk(wire)], parserOpts(opts)).map(describe);
    for (const maxChunk of [1, 7, 100, 5000, wire.length]) {
      const shared = Buffer.alloc(maxChunk);
      const parser = new PduParser(parserOpts(opts), true);
      const events: ParseEvent[] = [];
      const next = rng(maxChunk);
      for (let pos = 0; pos < wire.length;) {
        const n = Math.min(1 + (next() % maxChunk), wire.length - pos);
        wire.copy(shared, 0, pos, pos + n);
        parser.push(shared.subarray(0, n), (ev) => events.push(ev));
        shared.fill(0xee);
        pos += n;
      }
      t.strictSame(events.map(describe), expected, `chunks up to ${maxChunk}, ${JSON.stringify(opts)}`);
      for (const ev of events) {
        t.not(ev.header.buffer, shared.buffer, 'header is not a view of the reused memory');
        if (ev.kind === 'pdu' && ev.pdu.data.length > 0) t.not(ev.pdu.data.buffer, shared.buffer);
      }
    }
  }
});
