// Login, CHAP (one-way and mutual), header digests and discovery, driven by libiscsi's command-line
// initiators against a private tgtd (TGTD_IMPL=ours|debian).
import t from 'tap';
import * as net from 'node:net';
import * as path from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { addTarget, makeSparseFile, requireTool, run, startTgtd, Daemon, freePort } from '../helpers/daemon';

const inq = requireTool('iscsi-inq');
const ls = requireTool('iscsi-ls');
const readcap = requireTool('iscsi-readcapacity16');

const MiB = 1024 * 1024;
const IQN_BASE = 'iqn.2026-11.io.curve.test';
const targets = {
  open: { tid: 1, iqn: `${IQN_BASE}:open`, size: 64 * MiB },
  chap: { tid: 2, iqn: `${IQN_BASE}:chap`, size: 32 * MiB },
  mutual: { tid: 3, iqn: `${IQN_BASE}:mutual`, size: 48 * MiB },
  digest: { tid: 4, iqn: `${IQN_BASE}:digest`, size: 16 * MiB },
};
const INITIATOR = { user: 'alice', secret: 'alice-secret-1' };
const TARGET = { user: 'tgtuser', secret: 'target-secret-2' };

let d: Daemon;

t.before(async () => {
  d = await startTgtd({});
  for (const [name, tg] of Object.entries(targets)) {
    const file = path.join(d.dir, `${name}.img`);
    makeSparseFile(file, tg.size);
    await addTarget(d, { tid: tg.tid, iqn: tg.iqn, store: 'rdwr', path: file });
  }
  await d.tgtadmOk([
    '--op',
    'new',
    '--mode',
    'account',
    '--user',
    INITIATOR.user,
    '--password',
    INITIATOR.secret,
  ]);
  await d.tgtadmOk(['--op', 'new', '--mode', 'account', '--user', TARGET.user, '--password', TARGET.secret]);
  for (const tg of [targets.chap, targets.mutual]) {
    await d.tgtadmOk([
      '--op',
      'bind',
      '--mode',
      'account',
      '--tid',
      String(tg.tid),
      '--user',
      INITIATOR.user,
    ]);
  }
  await d.tgtadmOk([
    '--op',
    'bind',
    '--mode',
    'account',
    '--tid',
    String(targets.mutual.tid),
    '--user',
    TARGET.user,
    '--outgoing',
  ]);
  await d.tgtadmOk([
    '--op',
    'update',
    '--mode',
    'target',
    '--tid',
    String(targets.digest.tid),
    '-n',
    'HeaderDigest',
    '-v',
    'CRC32C',
  ]);
});

t.teardown(async () => {
  if (d) await d.stop();
});

const lunUrl = (iqn: string, creds = '', query = ''): string =>
  `iscsi://${creds}127.0.0.1:${d.port}/${iqn}/1${query}`;
const chapCreds = (secret = INITIATOR.secret): string => `${INITIATOR.user}%${secret}@`;
const readCapacity = (url: string, port?: number) =>
  run(readcap, ['-s', port === undefined ? url : url.replace(`:${d.port}/`, `:${port}/`)], {
    timeoutMs: 30_000,
  });

t.test('login without authentication: INQUIRY and READ CAPACITY(16)', async (t) => {
  const r = await run(inq, [lunUrl(targets.open.iqn)], { timeoutMs: 30_000 });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /Peripheral Device Type:DIRECT_ACCESS/);
  const cap = await readCapacity(lunUrl(targets.open.iqn));
  t.equal(cap.code, 0, cap.stderr);
  t.equal(cap.stdout.trim(), String(targets.open.size), 'capacity equals the LUN file size');
});

t.test('one-way CHAP', async (t) => {
  const ok = await readCapacity(lunUrl(targets.chap.iqn, chapCreds()));
  t.equal(ok.code, 0, ok.stderr);
  t.equal(ok.stdout.trim(), String(targets.chap.size));

  const none = await readCapacity(lunUrl(targets.chap.iqn));
  t.not(none.code, 0, 'no credentials: login refused');
  t.match(none.stderr, /Authentication failure|Authorization failure/);

  const wrong = await readCapacity(lunUrl(targets.chap.iqn, chapCreds('wrong-secret-9')));
  t.not(wrong.code, 0, 'wrong initiator secret: login refused');
  t.match(wrong.stderr, /Authentication failure/);
  t.equal(wrong.stdout.trim(), '', 'nothing read after a refused login');
});

t.test('mutual CHAP', async (t) => {
  const mutual = (secret: string): string =>
    lunUrl(targets.mutual.iqn, chapCreds(), `?target_user=${TARGET.user}&target_password=${secret}`);
  const ok = await readCapacity(mutual(TARGET.secret));
  t.equal(ok.code, 0, ok.stderr);
  t.equal(ok.stdout.trim(), String(targets.mutual.size));

  const bad = await readCapacity(mutual('wrong-target-secret'));
  t.not(bad.code, 0, 'a target answering with the wrong secret is refused by the initiator');
  t.match(bad.stderr, /Invalid CHAP_R response from the target/);

  const wrongInitiator = await readCapacity(
    lunUrl(
      targets.mutual.iqn,
      chapCreds('wrong-secret-9'),
      `?target_user=${TARGET.user}&target_password=${TARGET.secret}`,
    ),
  );
  t.not(wrongInitiator.code, 0, 'wrong initiator secret refused on the mutual target too');
  t.match(wrongInitiator.stderr, /Authentication failure/);
});

/** A loopback TCP relay recording what the target sends, to inspect the PDUs on the wire. */
async function startRelay(
  targetPort: number,
): Promise<{ port: number; fromTarget: Buffer[]; close(): void }> {
  const fromTarget: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(client).add(upstream);
    client.on('data', (b) => upstream.write(b));
    upstream.on('data', (b) => {
      fromTarget.push(Buffer.from(b));
      client.write(b);
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    fromTarget,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/**
 * Walks the target's PDU stream. Login PDUs carry no digests; after the final Login Response
 * (Transit bit set, NSG = full feature phase) every PDU carries a 4-byte CRC32C header digest.
 * Returns the login text keys and, for each full-feature PDU, whether its digest was right.
 */
function walkTargetPdus(stream: Buffer): { loginText: string; digestsOk: boolean[] } {
  let off = 0;
  let fullFeature = false;
  let loginText = '';
  const digestsOk: boolean[] = [];
  while (off + 48 <= stream.length) {
    const bhs = stream.subarray(off, off + 48);
    const opcode = bhs[0] & 0x3f;
    const ahsLen = bhs[4] * 4;
    const dataLen = bhs.readUIntBE(5, 3);
    const digestLen = fullFeature ? 4 : 0;
    const dataStart = off + 48 + ahsLen + digestLen;
    if (fullFeature) {
      const want = crc32c(stream.subarray(off, off + 48 + ahsLen));
      digestsOk.push(stream.readUInt32LE(off + 48 + ahsLen) === want);
    }
    if (opcode === 0x23) {
      loginText += stream.subarray(dataStart, dataStart + dataLen).toString('latin1');
      const transit = (bhs[1] & 0x80) !== 0;
      if (transit && (bhs[1] & 0x03) === 3) fullFeature = true;
    }
    // Data digests are not negotiated here, so the payload is only padded to 4 bytes.
    off = dataStart + Math.ceil(dataLen / 4) * 4;
  }
  return { loginText, digestsOk };
}

t.test('header digest CRC32C negotiated and used on the wire', async (t) => {
  const relay = await startRelay(d.port);
  t.teardown(() => relay.close());
  const url = lunUrl(targets.digest.iqn, '', '?header_digest=crc32c');
  const cap = await readCapacity(url, relay.port);
  t.equal(cap.code, 0, cap.stderr);
  t.equal(cap.stdout.trim(), String(targets.digest.size));
  const { loginText, digestsOk } = walkTargetPdus(Buffer.concat(relay.fromTarget));
  t.match(loginText, /HeaderDigest=CRC32C\0/, 'target answered HeaderDigest=CRC32C');
  t.ok(digestsOk.length >= 1, `full-feature PDUs seen: ${digestsOk.length}`);
  t.ok(
    digestsOk.every((x) => x),
    'every full-feature PDU from the target carries a correct CRC32C header digest',
  );

  const inqr = await run(inq, [url], { timeoutMs: 30_000 });
  t.equal(inqr.code, 0, inqr.stderr);
  t.match(inqr.stdout, /Peripheral Device Type:DIRECT_ACCESS/);
});

t.test('discovery with iscsi-ls', async (t) => {
  const portal = `iscsi://127.0.0.1:${d.port}`;
  const list = await run(ls, [portal], { timeoutMs: 30_000 });
  t.equal(list.code, 0, list.stderr);
  for (const tg of Object.values(targets)) {
    t.match(
      list.stdout,
      new RegExp(`^Target:${tg.iqn.replace(/\./g, '\\.')} Portal:127\\.0\\.0\\.1:${d.port},\\d+$`, 'm'),
      `SendTargets lists ${tg.iqn} at ip:port,tpgt`,
    );
  }

  // -s logs into every target to list its LUNs; CHAP targets need the initiator's credentials.
  const withLuns = await run(ls, ['-s', `iscsi://${chapCreds()}127.0.0.1:${d.port}`], { timeoutMs: 60_000 });
  t.equal(withLuns.code, 0, withLuns.stderr);
  for (const tg of Object.values(targets)) {
    const block = withLuns.stdout.split(/^(?=Target:)/m).find((b) => b.startsWith(`Target:${tg.iqn} `));
    t.ok(block, `target ${tg.iqn} listed with -s`);
    t.match(block ?? '', /^Lun:1\s+Type:DIRECT_ACCESS/m, `LUN 1 of ${tg.iqn} is a disk`);
  }
});
