// Acknowledged writes of the embedded store survive kill -9 of the writing process.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { LevelKvStore } from '../../../src/curve/mds/kv-level';

t.test('every acknowledged put is there after SIGKILL', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mds-dur-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [path.join(__dirname, 'level-writer-child.js'), dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  let acked = -1;
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const l of lines) acked = Number(l);
      if (acked >= 300) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.once('exit', (code, sig) => {
      if (sig !== 'SIGKILL') reject(new Error(`writer exited early: ${code}`));
    });
  });
  await new Promise((r) =>
    child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r),
  );
  t.equal(child.signalCode, 'SIGKILL');
  const store = await LevelKvStore.open(dir);
  t.teardown(() => store.close());
  const all = await store.scan('dur/');
  t.ok(all.length >= acked + 1, `${all.length} keys on disk, ${acked + 1} acknowledged`);
  let missing = 0;
  for (let i = 0; i <= acked; i++) {
    const v = await store.get(`dur/${String(i).padStart(8, '0')}`);
    if (!v || v.toString() !== `value-${i}`) missing++;
  }
  t.equal(missing, 0, 'no acknowledged write lost or corrupted');
});
