// zeroFillFile: zeros written by the worker thread, creating or overwriting, in pieces of a chosen size,
// errors with their errno.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { zeroFillFile } from '../../src/common/zero-fill';

t.test('creates, overwrites (keeping what lies beyond), fills in parallel, reports errno', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zero-fill-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const a = path.join(dir, 'a');
  await zeroFillFile(a, 1 << 20, 'w');
  t.equal(fs.statSync(a).size, 1 << 20);
  t.ok(
    fs.readFileSync(a).every((b) => b === 0),
    'all zeros',
  );

  const b = path.join(dir, 'b');
  fs.writeFileSync(b, Buffer.alloc(3 * 4096 + 100, 0x5a));
  await zeroFillFile(b, 2 * 4096 + 10, 'r+'); // a size that is not a multiple of 4 KiB
  const got = fs.readFileSync(b);
  t.equal(got.length, 3 * 4096 + 100, 'r+ does not truncate');
  t.ok(
    got.subarray(0, 2 * 4096 + 10).every((x) => x === 0),
    'the range is zeroed',
  );
  t.ok(
    got.subarray(2 * 4096 + 10).every((x) => x === 0x5a),
    'the rest is untouched',
  );

  const many = Array.from({ length: 8 }, (_, i) => path.join(dir, `m${i}`));
  await Promise.all(many.map((f) => zeroFillFile(f, 64 << 10, 'w')));
  for (const f of many) t.equal(fs.statSync(f).size, 64 << 10);

  // Larger pieces (the Raft journal's 64 KiB), with a size that is not a multiple of them.
  const c = path.join(dir, 'c');
  fs.writeFileSync(c, Buffer.alloc(200 << 10, 0x5a));
  await zeroFillFile(c, (128 << 10) + 7, 'r+', 64 << 10);
  const gotC = fs.readFileSync(c);
  t.ok(
    gotC.subarray(0, (128 << 10) + 7).every((x) => x === 0) &&
      gotC.subarray((128 << 10) + 7).every((x) => x === 0x5a),
    'exactly the range is zeroed in 64 KiB pieces',
  );
  t.throws(() => zeroFillFile(c, 4096, 'r+', 2 << 20), /piece/, 'a piece above 1 MiB is refused');

  await t.rejects(zeroFillFile(path.join(dir, 'missing'), 4096, 'r+'), { code: 'ENOENT' });
  await zeroFillFile(path.join(dir, 'after-error'), 4096, 'w');
  t.pass('the worker keeps serving after an error');
});
