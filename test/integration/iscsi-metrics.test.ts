// tgtd's iSCSI transport metrics, end to end: commands and bytes counted by sessions as plain numbers
// reach tgtd_scsi_commands_total / tgtd_scsi_bytes_total at scrape time, exactly once, per target.
import t from 'tap';
import { addTarget, freePort, requireTool, run, startTgtd } from '../helpers/daemon';
import { metricValue as value, scrapeMetrics as scrape } from '../helpers/metrics';

const qemuImg = requireTool('qemu-img');
const IQN = 'iqn.2026-11.io.curve.test:metrics';

t.test('commands and bytes of a session reach the counters once, at scrape time', async (t) => {
  const metricsPort = await freePort();
  const d = await startTgtd({ impl: 'ours', args: ['--metrics', `127.0.0.1:${metricsPort}`] });
  t.teardown(() => d.stop());
  await addTarget(d, { tid: 1, iqn: IQN, store: 'null', path: 'null' });
  const image = `driver=raw,file.driver=iscsi,file.transport=tcp,file.portal=127.0.0.1:${d.port},file.target=${IQN},file.lun=1`;
  const bench = async (write: boolean, count: number): Promise<void> => {
    const args = ['bench', '--image-opts', '-t', 'none', '-d', '4', '-s', '65536', '-c', String(count)];
    if (write) args.push('-w');
    const r = await run(qemuImg, [...args, image], { timeoutMs: 60_000 });
    t.equal(r.code, 0, `qemu-img bench ${write ? 'write' : 'read'}: ${r.stderr.trim().slice(-200)}`);
  };
  await bench(true, 64);
  await bench(false, 32);

  const first = await scrape(metricsPort);
  const written = value(first, `tgtd_scsi_bytes_total{target="${IQN}",direction="write"}`);
  const read = value(first, `tgtd_scsi_bytes_total{target="${IQN}",direction="read"}`);
  const good = value(first, `tgtd_scsi_commands_total{target="${IQN}",status="0"}`);
  t.equal(written, 64 * 65536, 'every Data-Out byte counted (64 x 64 KiB)');
  t.ok(
    read >= 32 * 65536,
    `Data-In bytes counted (${read}: 32 x 64 KiB and what the initiator reads at login)`,
  );
  t.ok(good >= 96, `${good} commands with GOOD status`);
  t.equal(value(first, 'tgtd_iscsi_buffered_data_bytes'), 0, 'no command data held once the I/O is done');

  const second = await scrape(metricsPort);
  t.equal(
    value(second, `tgtd_scsi_bytes_total{target="${IQN}",direction="write"}`),
    written,
    'a second scrape reports the same total (taken in once, not again)',
  );
  await bench(true, 16);
  const third = await scrape(metricsPort);
  t.equal(
    value(third, `tgtd_scsi_bytes_total{target="${IQN}",direction="write"}`),
    written + 16 * 65536,
    'later I/O adds to it',
  );
});
