// The receive low-water mark while solicited Data-Out is owed: the mark it picks, when it changes the
// socket option, and the guard that puts it back to 1 when a burst stops coming.
import * as net from 'node:net';
import t from 'tap';
import { nativeAddonPath } from '../../src/common/native-addon';
import { receiveLowWaterAvailable, setReceiveLowWater } from '../../src/common/socket-low-water';
import {
  GUARD_MS,
  lowWaterMark,
  MAX_LOW_WATER,
  MIN_LOW_WATER,
  ReceiveLowWater,
} from '../../src/iscsi/receive-low-water';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const PDU = 48 + 8 + 8192 + 3;

t.test('the mark: what is certain to come, within bounds', async (t) => {
  t.equal(lowWaterMark(0, PDU), 1, 'nothing owed');
  t.equal(lowWaterMark(2 * PDU + MIN_LOW_WATER - 1, PDU), 1, 'too little certain: wake per segment');
  t.equal(lowWaterMark(2 * PDU + MIN_LOW_WATER, PDU), MIN_LOW_WATER);
  t.equal(lowWaterMark(100_000, PDU), 100_000 - 2 * PDU, 'two PDUs of slack (one may be half read)');
  t.equal(lowWaterMark(4 << 20, PDU), MAX_LOW_WATER, 'capped');
  for (let awaited = 0; awaited < 1 << 20; awaited += 4093) {
    const m = lowWaterMark(awaited, PDU);
    t.ok(m === 1 || m <= awaited - 2 * PDU, `never beyond the owed bytes (${awaited})`);
  }
});

t.test('changes the option only when the mark changes; a guard lowers a stuck mark', async (t) => {
  const sets: number[] = [];
  const fake = {} as net.Socket;
  const lw = new ReceiveLowWater(fake, PDU, (_s, n) => (sets.push(n), true));
  lw.update(0);
  t.same(sets, [], 'already 1');
  lw.update(1 << 20);
  lw.update(1 << 20);
  t.same(sets, [MAX_LOW_WATER], 'raised once');
  // Reads keep coming: the guard re-arms and leaves the mark alone.
  for (let i = 0; i < 4; i++) {
    await sleep(GUARD_MS / 2);
    lw.update(1 << 20);
  }
  t.equal(lw.current, MAX_LOW_WATER, 'kept while reads come');
  // No read for a guard period: back to 1.
  await sleep(GUARD_MS * 4);
  t.equal(lw.current, 1, 'lowered by the guard');
  t.same(sets, [MAX_LOW_WATER, 1]);
  lw.update(40_000);
  t.equal(lw.current, 40_000 - 2 * PDU, 'raised again on the next read');
  lw.update(0);
  t.equal(lw.current, 1, 'the burst came: back to 1');
  lw.dispose();
  lw.update(1 << 20);
  t.equal(lw.current, 1, 'disposed: no more changes');
});

t.test('a socket option that cannot be set disables it', async (t) => {
  let calls = 0;
  const lw = new ReceiveLowWater({} as net.Socket, PDU, () => (calls++, false));
  lw.update(1 << 20);
  lw.update(1 << 20);
  t.equal(calls, 1, 'tried once');
  t.equal(lw.current, 1);
});

t.test('SO_RCVLOWAT on a real socket holds back readability', async (t) => {
  if (!receiveLowWaterAvailable) {
    t.comment(`native/sockopt not built here (${nativeAddonPath('sockopt')}): nothing to check`);
    t.equal(setReceiveLowWater(new net.Socket(), 100), false, 'unavailable answers false');
    return;
  }
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const peer = await accepted;
  t.teardown(() => {
    client.destroy();
    peer.destroy();
  });
  const got: number[] = [];
  peer.on('data', (c: Buffer) => got.push(c.length));
  t.ok(setReceiveLowWater(peer, 1000), 'set');
  client.write(Buffer.alloc(600));
  await sleep(50);
  t.same(got, [], '600 bytes below a mark of 1000: not readable yet');
  client.write(Buffer.alloc(600));
  await sleep(50);
  t.same(got, [1200], 'readable once 1000 are queued');
  t.ok(setReceiveLowWater(peer, 1), 'back to 1');
  client.write(Buffer.alloc(10));
  await sleep(50);
  t.same(got, [1200, 10]);
});
