// One chunkserver process with a one-replica copyset: malformed frames, wrong magic, oversized lengths,
// unknown methods, attachment mismatches and invalid requests are refused for that request or that
// connection only; the pool running dry answers NOSPACE; a corrupt chunk file is detected and refused.
import t from 'tap';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { serializeFrame } from '../../../src/curve/rpc/frame-serializer';
import { FRAME_HEADER_SIZE, FrameFlag, writeFrameHeader } from '../../../src/curve/rpc/frame';
import { RpcStatus, decodeErrorBody } from '../../../src/curve/rpc/rpc-status';
import {
  ChunkClient,
  FAST_ARGS,
  STATUS,
  closeGrpcClients,
  copysetCall,
  createCopyset,
  freePort,
  pattern,
  startChunkserver,
  stopChunkserver,
  tempDir,
  waitLeader,
  type CsProc,
} from './cs-harness';
import { metricValue, scrapeMetrics } from '../../helpers/metrics';

const PAGE = 4096;
// A "disk" holding 4 chunks: the fifth new chunk finds it full.
const ARGS = [...FAST_ARGS, '--max-chunks', '4'];

/** Sends raw bytes on a fresh connection; resolves with what came back and whether the server closed it. */
function raw(port: number, bytes: Buffer, waitMs = 400): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let closed = false;
    s.on('data', (d) => got.push(d));
    s.on('error', () => undefined);
    s.on('close', () => (closed = true));
    s.write(bytes);
    setTimeout(() => {
      s.destroy();
      resolve({ data: Buffer.concat(got), closed });
    }, waitMs);
  });
}

t.test('bad input, NOSPACE and corrupt chunks on a real chunkserver', async (t) => {
  const port = await freePort();
  const metricsPort = await freePort();
  const dir = tempDir('c3-badinput-');
  const args = [...ARGS, '--metrics', `127.0.0.1:${metricsPort}`];
  let cs: CsProc = await startChunkserver(dir, port, args);
  const client = new ChunkClient([cs.endpoint]);
  t.teardown(async () => {
    await client.close();
    closeGrpcClients();
    await stopChunkserver(cs, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  t.same(await createCopyset([cs.endpoint], 1, 2), [0], 'one-replica copyset created');
  await waitLeader([cs.endpoint], 1, 2);
  const a = { pool: 1, copyset: 2, chunkId: 1 };
  t.equal((await client.write(a, 0, pattern(1, 0, 1, PAGE))).status, STATUS.SUCCESS, 'a good write works');

  await t.test('wrong magic closes that connection only', async (t) => {
    const bad = Buffer.alloc(64, 0x41);
    bad.write('CRPX', 0);
    const r = await raw(port, bad);
    t.ok(r.closed, 'connection closed');
    t.equal(r.data.length, 0, 'nothing answered');
    t.equal((await client.read(a, 0, PAGE)).status, STATUS.SUCCESS, 'other connections keep working');
  });

  await t.test('garbage that is not a frame nor HTTP/2 closes the connection', async (t) => {
    const r = await raw(port, Buffer.from('GET / HTTP/1.1\r\n\r\n'), 1500);
    t.ok(r.closed, 'connection closed');
  });

  await t.test('oversized lengths close the connection', async (t) => {
    const head = Buffer.alloc(FRAME_HEADER_SIZE);
    writeFrameHeader(
      {
        flags: 0,
        correlationId: 1,
        methodId: client.methods.WriteChunk.id,
        messageLength: 0x7fffffff,
        attachmentLength: 0,
        attachmentCrc: 0,
      },
      head,
    );
    let r = await raw(port, head);
    t.ok(r.closed, 'message length beyond the limit: closed');
    writeFrameHeader(
      {
        flags: 0,
        correlationId: 1,
        methodId: client.methods.WriteChunk.id,
        messageLength: 0,
        attachmentLength: 0xfffffff0,
        attachmentCrc: 0,
      },
      head,
    );
    r = await raw(port, head);
    t.ok(r.closed, 'attachment length beyond the limit: closed');
    const corrupt = Buffer.from(head);
    corrupt[17] ^= 1; // length changed after the header CRC was computed
    r = await raw(port, corrupt);
    t.ok(r.closed, 'header CRC mismatch: closed');
  });

  await t.test('unknown method gets an error answer; the connection stays usable', async (t) => {
    const unknown = Buffer.concat(
      serializeFrame({ flags: 0, correlationId: 7, methodId: 0x12345678, message: Buffer.alloc(0) }),
    );
    const msg = client.methods.GetChunkInfo.requestType
      .encode({ logicPoolId: 1, copysetId: 2, chunkId: 1 })
      .finish();
    const good = Buffer.concat(
      serializeFrame({ flags: 0, correlationId: 8, methodId: client.methods.GetChunkInfo.id, message: msg }),
    );
    const r = await raw(port, Buffer.concat([unknown, good]));
    t.notOk(r.closed, 'connection still open');
    t.ok(r.data.length >= 2 * FRAME_HEADER_SIZE, 'two answers');
    t.equal(r.data.readUInt32BE(8), 7, 'first answer is for the unknown call');
    t.ok(r.data[5] & FrameFlag.ERROR, 'flagged as an error');
    const len = r.data.readUInt32BE(16);
    const err = decodeErrorBody(r.data.subarray(FRAME_HEADER_SIZE, FRAME_HEADER_SIZE + len));
    t.equal(err.status, RpcStatus.UNKNOWN_METHOD, 'UNKNOWN_METHOD');
    const second = FRAME_HEADER_SIZE + len + r.data.readUInt32BE(20);
    t.equal(r.data.readUInt32BE(second + 8), 8, 'second answer is for the good call');
    t.notOk(r.data[second + 5] & FrameFlag.ERROR, 'and it succeeded');
  });

  await t.test('attachment CRC mismatch and size mismatch are refused per request', async (t) => {
    const msg = client.methods.WriteChunk.requestType
      .encode({ logicPoolId: 1, copysetId: 2, chunkId: 1, offset: 0, size: PAGE, sn: 1 })
      .finish();
    const frame = serializeFrame({
      flags: 0,
      correlationId: 9,
      methodId: client.methods.WriteChunk.id,
      message: msg,
      attachment: Buffer.alloc(PAGE, 7),
      attachmentCrc: 0xdeadbeef,
    });
    const r = await raw(port, Buffer.concat(frame));
    t.notOk(r.closed, 'connection kept');
    const len = r.data.readUInt32BE(16);
    t.equal(
      decodeErrorBody(r.data.subarray(FRAME_HEADER_SIZE, FRAME_HEADER_SIZE + len)).status,
      RpcStatus.CRC_MISMATCH,
      'CRC_MISMATCH',
    );
    const read = await client.read(a, 0, PAGE);
    t.ok(read.data.equals(pattern(1, 0, 1, PAGE)), 'the bad data was not written');
    const sz = await client.callAt(
      cs.endpoint,
      'WriteChunk',
      { logicPoolId: 1, copysetId: 2, chunkId: 1, offset: 0, size: 2 * PAGE, sn: 1 },
      Buffer.alloc(PAGE),
    );
    t.equal(
      (sz.response as { status: number }).status,
      STATUS.INVALID_REQUEST,
      'size != attachment length: INVALID_REQUEST',
    );
    const unaligned = await client.callAt(
      cs.endpoint,
      'WriteChunk',
      { logicPoolId: 1, copysetId: 2, chunkId: 1, offset: 100, size: PAGE, sn: 1 },
      Buffer.alloc(PAGE),
    );
    t.equal(
      (unaligned.response as { status: number }).status,
      STATUS.INVALID_REQUEST,
      'unaligned offset: INVALID_REQUEST',
    );
    const beyond = await client.callAt(cs.endpoint, 'ReadChunk', {
      logicPoolId: 1,
      copysetId: 2,
      chunkId: 1,
      offset: 256 << 10,
      size: PAGE,
    });
    t.equal(
      (beyond.response as { status: number }).status,
      STATUS.INVALID_REQUEST,
      'read beyond the chunk: INVALID_REQUEST',
    );
    const noCs = await client.callAt(cs.endpoint, 'ReadChunk', {
      logicPoolId: 1,
      copysetId: 99,
      chunkId: 1,
      offset: 0,
      size: PAGE,
    });
    t.equal(
      (noCs.response as { status: number }).status,
      STATUS.COPYSET_NOTEXIST,
      'unknown copyset: COPYSET_NOTEXIST',
    );
    const never = await client.read({ pool: 1, copyset: 2, chunkId: 777 }, 0, PAGE);
    t.equal(never.status, STATUS.CHUNK_NOTEXIST, 'never-written chunk: CHUNK_NOTEXIST');
    const empty = await client.callAt(cs.endpoint, 'WriteChunk', {
      logicPoolId: 1,
      copysetId: 2,
      chunkId: 1,
      offset: 0,
      size: 0,
      sn: 1,
    });
    t.equal(
      (empty.response as { status: number }).status,
      STATUS.INVALID_REQUEST,
      'empty write: INVALID_REQUEST',
    );
  });

  await t.test('sequence numbers and epochs fence stale writers', async (t) => {
    const c = { pool: 1, copyset: 2, chunkId: 1 };
    t.equal(
      (await client.write(c, 0, pattern(1, 0, 2, PAGE), 3)).status,
      STATUS.SUCCESS,
      'write at sn 3 (snapshot of sn 1 kept)',
    );
    t.equal(
      (await client.write(c, 0, pattern(1, 0, 3, PAGE), 2)).status,
      STATUS.BACKWARD,
      'write at older sn 2: BACKWARD',
    );
    const up = await client.callAt(cs.endpoint, 'UpdateEpoch', { fileId: 5, epoch: 4 });
    t.equal((up.response as { status: number }).status, STATUS.SUCCESS, 'UpdateEpoch 4');
    const old = await client.call(
      'WriteChunk',
      c,
      { offset: 0, size: PAGE, sn: 3, fileId: 5, epoch: 3 },
      pattern(1, 0, 4, PAGE),
    );
    t.equal(old.status, STATUS.EPOCH_TOO_OLD, 'write with epoch 3 after UpdateEpoch 4: EPOCH_TOO_OLD');
    const ok = await client.call(
      'WriteChunk',
      c,
      { offset: 0, size: PAGE, sn: 3, fileId: 5, epoch: 4 },
      pattern(1, 0, 5, PAGE),
    );
    t.equal(ok.status, STATUS.SUCCESS, 'write with the current epoch');
    const info = await client.call('GetChunkInfo', c, {});
    t.same(
      (info.response as { chunkSn: number[] }).chunkSn,
      [3, 1],
      'GetChunkInfo: sn 3 with a snapshot at sn 1',
    );
    const snap = await client.call('ReadChunkSnapshot', c, { offset: 0, size: PAGE, sn: 1 });
    t.ok(snap.data.equals(pattern(1, 0, 1, PAGE)), 'ReadChunkSnapshot(sn 1) returns the data as of sn 1');
  });

  await t.test('pool running dry answers NOSPACE; existing chunks still take writes', async (t) => {
    const statuses: number[] = [];
    for (let id = 100; id < 106; id++)
      statuses.push(
        (await client.write({ pool: 1, copyset: 2, chunkId: id }, 0, pattern(id, 0, 1, PAGE))).status,
      );
    t.ok(statuses.includes(STATUS.NOSPACE), `new chunks beyond the pool get NOSPACE (${statuses.join(',')})`);
    t.equal(
      statuses.indexOf(STATUS.NOSPACE),
      statuses.filter((s) => s === STATUS.SUCCESS).length,
      'successes first, then NOSPACE',
    );
    t.equal(
      (await client.write(a, PAGE, pattern(1, PAGE, 9, PAGE), 3)).status,
      STATUS.SUCCESS,
      'an existing chunk still takes writes',
    );
  });

  await t.test('requests, statuses, bytes and latency are counted in /metrics', async (t) => {
    const w = (status: number): string =>
      `curve_chunkserver_requests_total{method="WriteChunk",status="${status}"}`;
    const before = await scrapeMetrics(metricsPort);
    const was = (series: string): number => metricValue(before, series) || 0;
    t.ok(was(w(STATUS.SUCCESS)) >= 5, 'successful writes counted');
    t.ok(was(w(STATUS.INVALID_REQUEST)) >= 3, 'invalid writes counted by status');
    t.ok(was(w(STATUS.NOSPACE)) >= 1, 'NOSPACE counted');
    t.ok(was(w(STATUS.BACKWARD)) >= 1, 'BACKWARD counted');
    let all = 0;
    for (const line of before.split('\n'))
      if (line.startsWith('curve_chunkserver_requests_total{method="WriteChunk"'))
        all += Number(line.slice(line.lastIndexOf(' ') + 1));
    t.equal(
      was('curve_chunkserver_request_seconds_count{method="WriteChunk"}'),
      all,
      'one latency observation per request, whatever its status',
    );
    t.equal(
      was('curve_chunkserver_request_seconds_bucket{le="+Inf",method="WriteChunk"}'),
      all,
      '+Inf bucket holds every observation',
    );
    const bytes = was('curve_chunkserver_bytes_total{method="write"}');
    t.ok(bytes >= 5 * PAGE && bytes % PAGE === 0, `bytes written counted (${bytes})`);
    t.equal(metricValue(before, 'curve_chunkserver_inflight_requests'), 0, 'nothing in flight');

    t.equal((await client.write(a, 2 * PAGE, pattern(1, 2 * PAGE, 1, 2 * PAGE), 3)).status, STATUS.SUCCESS);
    const after = await scrapeMetrics(metricsPort);
    t.equal(metricValue(after, w(STATUS.SUCCESS)), was(w(STATUS.SUCCESS)) + 1, 'one more write, once');
    t.equal(
      metricValue(after, 'curve_chunkserver_bytes_total{method="write"}'),
      bytes + 2 * PAGE,
      'its bytes, once',
    );
    t.equal(
      metricValue(after, 'curve_chunkserver_request_seconds_count{method="WriteChunk"}'),
      all + 1,
      'one more latency observation',
    );
  });

  await t.test('a corrupt chunk file is detected at load and never served', async (t) => {
    await stopChunkserver(cs, 'SIGTERM');
    const file = path.join(dir, 'copysets', '1_2', 'data', 'chunk_100');
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0xff, 0xee]), 0, 2, 10); // inside the metapage
    fs.closeSync(fd);
    cs = await startChunkserver(dir, port, args);
    await waitLeader([cs.endpoint], 1, 2);
    const r = await client.read({ pool: 1, copyset: 2, chunkId: 100 }, 0, PAGE);
    t.equal(r.status, STATUS.CRC_FAIL, 'read of the corrupt chunk: CRC_FAIL');
    t.equal(r.data.length, 0, 'no data served');
    const w = await client.write({ pool: 1, copyset: 2, chunkId: 100 }, 0, pattern(100, 0, 2, PAGE));
    t.equal(w.status, STATUS.CRC_FAIL, 'write to the corrupt chunk: CRC_FAIL');
    t.ok(
      cs.logs.some((l) => /corrupt chunk file refused/.test(l) && /"chunkId":100/.test(l)),
      'reported in the log',
    );
    const good = await client.read(a, 0, PAGE);
    t.ok(
      good.status === STATUS.SUCCESS && good.data.equals(pattern(1, 0, 5, PAGE)),
      'other chunks intact after restart (replayed)',
    );
    const st = await copysetCall<{ status: number; state: number }>(cs.endpoint, 'GetCopysetStatus', {
      logicPoolId: 1,
      copysetId: 2,
    });
    t.equal(st.state, 1, 'GetCopysetStatus: leader');
  });
});
