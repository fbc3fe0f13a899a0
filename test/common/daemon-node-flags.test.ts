// Every data-path daemon starts with DAEMON_NODE_FLAGS: through its shebang (how `tgtd`, systemd units
// and npm's bin links run it) and through the cluster launcher. Checked on the compiled files, and the
// shebang is executed the way the kernel would (interpreter + its one argument + the file).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DAEMON_NODE_FLAGS } from '../../src/common/daemon-node-flags';

const BIN = path.resolve(__dirname, '../../src/bin');

for (const daemon of ['tgtd', 'curve-mds', 'curve-chunkserver']) {
  t.test(`${daemon}: the shebang carries the daemon flags and runs`, async (t) => {
    const file = path.join(BIN, `${daemon}.js`);
    const first = fs.readFileSync(file, 'utf8').split('\n')[0];
    t.equal(first, `#!/usr/bin/env -S node ${DAEMON_NODE_FLAGS.join(' ')}`);
    const [interpreter, arg] = [first.slice(2, first.indexOf(' ')), first.slice(first.indexOf(' ') + 1)];
    // The env binary must find the node that runs the tests.
    const env = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` };
    const r = spawnSync(interpreter, [arg, file, '--help'], { env, encoding: 'utf8', timeout: 30_000 });
    t.equal(r.status, 0, `${interpreter} ${arg} ${daemon}.js --help exits 0 (${r.stderr.slice(0, 300)})`);
    t.match(r.stdout + r.stderr, /Usage|Options|--/, 'it printed its help');
  });
}

t.test('the cluster launcher passes the flags to the daemons it starts', async (t) => {
  const src = fs.readFileSync(path.join(BIN, 'curve-cluster.js'), 'utf8');
  t.match(
    src,
    /NODE_ARGS = \[\s*\.\.\.daemon_node_flags_1\.DAEMON_NODE_FLAGS/,
    'NODE_ARGS starts with DAEMON_NODE_FLAGS',
  );
});
