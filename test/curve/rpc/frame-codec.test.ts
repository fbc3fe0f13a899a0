import t from 'tap';
import { crc32c } from '../../../src/iscsi/crc32c';
import {
  DEFAULT_FRAME_LIMITS,
  FRAME_HEADER_SIZE,
  FrameError,
  FrameFlag,
  type Frame,
} from '../../../src/curve/rpc/frame';
import { FrameParser } from '../../../src/curve/rpc/frame-parser';
import { attachmentLength, serializeFrame } from '../../../src/curve/rpc/frame-serializer';

/** One request frame on the wire: no message, a 2000-byte attachment. */
function frameWith2000ByteAttachment(): Buffer {
  return Buffer.concat(
    serializeFrame({
      flags: 0,
      correlationId: 1,
      methodId: 1,
      message: Buffer.alloc(0),
      attachment: Buffer.alloc(2000),
    }),
  );
}

function parseAll(parser: FrameParser, chunks: Buffer[]): Frame[] {
  const out: Frame[] = [];
  for (const c of chunks) parser.push(c, (f) => out.push(f));
  return out;
}

t.test('serializer writes the documented header byte for byte', async (t) => {
  const message = Buffer.from([0x08, 0x02, 0x10, 0x07]);
  const attachment = Buffer.from('abcd');
  const parts = serializeFrame({
    flags: FrameFlag.RESPONSE,
    correlationId: 0x01020304,
    methodId: 0xa0b0c0d0,
    message,
    attachment,
  });
  t.equal(parts.length, 2);
  t.equal(parts[1], attachment, 'attachment is passed through, not copied');
  const head = parts[0];
  t.equal(head.length, FRAME_HEADER_SIZE + 4);
  const crcAtt = crc32c(attachment);
  const expected = Buffer.alloc(28);
  expected.write('CRPC', 0, 'latin1');
  expected[4] = 1;
  expected[5] = 0x01;
  expected.writeUInt16BE(0, 6);
  expected.writeUInt32BE(0x01020304, 8);
  expected.writeUInt32BE(0xa0b0c0d0, 12);
  expected.writeUInt32BE(4, 16);
  expected.writeUInt32BE(4, 20);
  expected.writeUInt32BE(crcAtt, 24);
  t.same(head.subarray(0, 28), expected);
  t.equal(head.readUInt32BE(28), crc32c(expected), 'header CRC covers bytes 0..27');
  t.same(head.subarray(32), message);
  // The well-known CRC32C check value pins the attachment checksum algorithm.
  t.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
});

t.test('an attachment in pieces: sent as they are, length and CRC of the whole', async (t) => {
  const pieces = [Buffer.from('ab'), Buffer.alloc(0), Buffer.alloc(5000, 3), Buffer.from('z')];
  const whole = Buffer.concat(pieces);
  const frameWith = (attachment: Buffer | Buffer[]): Buffer[] =>
    serializeFrame({ flags: 0, correlationId: 5, methodId: 6, message: Buffer.from([1]), attachment });
  const parts = frameWith(pieces);
  t.equal(parts.length, 4, 'header, then the non-empty pieces');
  t.equal(parts[1], pieces[0]);
  t.equal(parts[3], pieces[3]);
  const one = frameWith(whole);
  t.same(Buffer.concat(parts), Buffer.concat(one), 'the same bytes as one buffer');
  t.equal(attachmentLength(pieces), whole.length);
  t.equal(attachmentLength(whole), whole.length);
  t.equal(attachmentLength(undefined), 0);
  const frames: Frame[] = [];
  new FrameParser().push(Buffer.concat(parts), (f) => frames.push(f));
  t.ok(frames[0].attachmentCrcOk, 'the receiver verifies the CRC over the whole attachment');
  t.same(frames[0].attachment, whole);
});

t.test('frame without attachment: one buffer, zero CRC', async (t) => {
  const parts = serializeFrame({ flags: 0, correlationId: 7, methodId: 9, message: Buffer.alloc(0) });
  t.equal(parts.length, 1);
  t.equal(parts[0].length, 32);
  t.equal(parts[0].readUInt32BE(20), 0);
  t.equal(parts[0].readUInt32BE(24), 0);
});

t.test('round trip, whole and split at every byte boundary', async (t) => {
  const message = Buffer.from('hello message');
  const attachment = Buffer.alloc(300, 0x5a);
  const wire = Buffer.concat([
    ...serializeFrame({ flags: 0, correlationId: 1, methodId: 42, message, attachment }),
    ...serializeFrame({ flags: FrameFlag.CANCEL, correlationId: 2, methodId: 42, message: Buffer.alloc(0) }),
  ]);
  for (let cut = 0; cut <= wire.length; cut++) {
    const frames = parseAll(new FrameParser(), [wire.subarray(0, cut), wire.subarray(cut)]);
    if (frames.length !== 2) t.fail(`cut ${cut}: ${frames.length} frames`);
    else {
      if (
        !frames[0].message.equals(message) ||
        !frames[0].attachment.equals(attachment) ||
        !frames[0].attachmentCrcOk
      ) {
        t.fail(`cut ${cut}: frame 1 differs`);
      }
      if (
        frames[1].flags !== FrameFlag.CANCEL ||
        frames[1].correlationId !== 2 ||
        frames[1].attachment.length !== 0
      ) {
        t.fail(`cut ${cut}: frame 2 differs`);
      }
    }
  }
  // One byte at a time as well.
  const bytes = [...wire].map((b) => Buffer.from([b]));
  const frames = parseAll(new FrameParser(), bytes);
  t.equal(frames.length, 2);
  t.same(frames[0].attachment, attachment);
  t.equal(frames[0].methodId, 42);
});

t.test('attachment inside one chunk is a slice of it (zero copy)', async (t) => {
  const attachment = Buffer.alloc(4096, 1);
  const wire = Buffer.concat(
    serializeFrame({ flags: 0, correlationId: 3, methodId: 1, message: Buffer.from([1]), attachment }),
  );
  const [f] = parseAll(new FrameParser(), [wire]);
  t.equal(f.attachment.buffer, wire.buffer, 'shares memory with the received chunk');
  t.equal(f.attachment.byteOffset, wire.byteOffset + 33);
});

t.test('attachment CRC mismatch is a per-frame fault; the stream continues', async (t) => {
  const a = Buffer.concat(
    serializeFrame({
      flags: 0,
      correlationId: 1,
      methodId: 1,
      message: Buffer.alloc(0),
      attachment: Buffer.from('data'),
    }),
  );
  a[a.length - 1] ^= 0xff; // corrupt the attachment, not the header
  const b = Buffer.concat(
    serializeFrame({
      flags: 0,
      correlationId: 2,
      methodId: 1,
      message: Buffer.alloc(0),
      attachment: Buffer.from('good'),
    }),
  );
  const frames = parseAll(new FrameParser(), [Buffer.concat([a, b])]);
  t.equal(frames.length, 2);
  t.equal(frames[0].attachmentCrcOk, false);
  t.equal(frames[1].attachmentCrcOk, true);
});

t.test('stream faults throw FrameError and kill the parser', async (t) => {
  const good = Buffer.concat(
    serializeFrame({ flags: 0, correlationId: 1, methodId: 1, message: Buffer.from('m') }),
  );

  const badMagic = Buffer.from(good);
  badMagic[0] = 0x00;
  const p1 = new FrameParser();
  t.throws(
    () => p1.push(badMagic.subarray(0, 4), () => t.fail('no frame')),
    { name: 'FrameError', reason: 'magic' },
    'refused from the first 4 bytes',
  );
  t.throws(() => p1.push(good, () => t.fail('dead parser yields nothing')), FrameError);

  const badLen = Buffer.from(good);
  badLen.writeUInt32BE(5, 16); // message length changed without fixing the header CRC
  t.throws(() => new FrameParser().push(badLen, () => undefined), {
    name: 'FrameError',
    reason: 'header-crc',
  });

  const tooLong = frameWith2000ByteAttachment();
  const small = new FrameParser({ ...DEFAULT_FRAME_LIMITS, maxAttachmentLength: 1024 });
  // Rejected from the header alone, before the body is buffered.
  t.throws(() => small.push(tooLong.subarray(0, 32), () => undefined), {
    name: 'FrameError',
    reason: 'too-long',
  });

  const bigMsg = Buffer.concat(
    serializeFrame({ flags: 0, correlationId: 1, methodId: 1, message: Buffer.alloc(100) }),
  );
  t.throws(
    () => new FrameParser({ ...DEFAULT_FRAME_LIMITS, maxMessageLength: 99 }).push(bigMsg, () => undefined),
    {
      name: 'FrameError',
      reason: 'too-long',
    },
  );

  const badFlags = Buffer.concat(
    serializeFrame({ flags: 0x80, correlationId: 1, methodId: 1, message: Buffer.alloc(0) }),
  );
  t.throws(() => new FrameParser().push(badFlags, () => undefined), { name: 'FrameError', reason: 'flags' });

  const badVersion = Buffer.from(good);
  badVersion[4] = 2;
  badVersion.writeUInt32BE(crc32c(badVersion.subarray(0, 28)), 28);
  t.throws(() => new FrameParser().push(badVersion, () => undefined), {
    name: 'FrameError',
    reason: 'version',
  });
});

t.test('bufferedBytes tracks partial frames', async (t) => {
  const wire = Buffer.concat(
    serializeFrame({
      flags: 0,
      correlationId: 1,
      methodId: 1,
      message: Buffer.alloc(10),
      attachment: Buffer.alloc(100),
    }),
  );
  const p = new FrameParser();
  p.push(wire.subarray(0, 50), () => t.fail('incomplete'));
  t.equal(p.bufferedBytes, 18, 'header consumed, 18 body bytes held');
  let n = 0;
  p.push(wire.subarray(50), () => n++);
  t.equal(n, 1);
  t.equal(p.bufferedBytes, 0);
});

t.test('reusedChunks: frames survive the caller overwriting each chunk after push', async (t) => {
  // A socket reading into one shared buffer: every chunk is the same memory, scribbled over once push()
  // returns. Frames handed out must keep their bytes.
  const frames = [
    {
      flags: 0,
      correlationId: 1,
      methodId: 7,
      message: Buffer.from('first'),
      attachment: Buffer.alloc(5000, 3),
    },
    { flags: FrameFlag.CANCEL, correlationId: 2, methodId: 7, message: Buffer.alloc(0) },
    { flags: 0, correlationId: 3, methodId: 9, message: Buffer.alloc(0), attachment: Buffer.from('att') },
    { flags: FrameFlag.RESPONSE, correlationId: 4, methodId: 9, message: Buffer.alloc(70000, 0x41) },
  ];
  const wire = Buffer.concat(frames.flatMap((f) => serializeFrame(f)));
  for (const maxChunk of [1, 5, 31, 33, 1000, 65536, wire.length]) {
    const shared = Buffer.alloc(maxChunk);
    const p = new FrameParser(DEFAULT_FRAME_LIMITS, true);
    const got: Frame[] = [];
    let seed = maxChunk;
    for (let pos = 0; pos < wire.length;) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const n = Math.min(1 + (seed % maxChunk), wire.length - pos);
      wire.copy(shared, 0, pos, pos + n);
      p.push(shared.subarray(0, n), (f) => got.push(f));
      shared.fill(0xee);
      pos += n;
    }
    t.equal(got.length, frames.length, `chunks up to ${maxChunk}`);
    got.forEach((f, i) => {
      const want = frames[i];
      t.ok(
        f.correlationId === want.correlationId &&
          f.flags === want.flags &&
          f.methodId === want.methodId &&
          f.message.equals(want.message) &&
          f.attachment.equals(want.attachment ?? Buffer.alloc(0)) &&
          f.attachmentCrcOk,
        `chunks up to ${maxChunk}: frame ${i + 1} intact`,
      );
      t.not(f.message.length > 0 && f.message.buffer, shared.buffer);
      t.not(f.attachment.length > 0 && f.attachment.buffer, shared.buffer);
    });
    t.equal(p.bufferedBytes, 0);
  }

  const partial = new FrameParser(DEFAULT_FRAME_LIMITS, true);
  partial.push(wire.subarray(0, 20), () => t.fail('incomplete'));
  t.equal(partial.bufferedBytes, 20, 'part of a header');
  partial.push(wire.subarray(20, FRAME_HEADER_SIZE + 5), () => t.fail('incomplete'));
  t.equal(partial.bufferedBytes, 5, 'header consumed, 5 body bytes held');

  // Stream faults are found as early as without the mode.
  const good = frameWith2000ByteAttachment();
  const badMagic = Buffer.from(good);
  badMagic[0] = 0;
  const p1 = new FrameParser(DEFAULT_FRAME_LIMITS, true);
  t.throws(() => p1.push(badMagic.subarray(0, 4), () => undefined), { name: 'FrameError', reason: 'magic' });
  t.throws(() => p1.push(good, () => undefined), FrameError, 'and the parser stays dead');
  const small = new FrameParser({ ...DEFAULT_FRAME_LIMITS, maxAttachmentLength: 1024 }, true);
  t.throws(() => small.push(good.subarray(0, 32), () => undefined), {
    name: 'FrameError',
    reason: 'too-long',
  });
  const badCrc = Buffer.from(good);
  badCrc.writeUInt32BE(5, 16);
  t.throws(() => new FrameParser(DEFAULT_FRAME_LIMITS, true).push(badCrc, () => undefined), {
    name: 'FrameError',
    reason: 'header-crc',
  });
  const corrupt = Buffer.from(good);
  corrupt[good.length - 1] ^= 1;
  const seen: Frame[] = [];
  new FrameParser(DEFAULT_FRAME_LIMITS, true).push(corrupt, (f) => seen.push(f));
  t.equal(seen.length, 1);
  t.equal(seen[0].attachmentCrcOk, false, 'attachment CRC mismatch is reported per frame');
});
