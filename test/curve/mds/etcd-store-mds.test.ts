// The MDS on etcd (one process, elected alone): large operations stay within etcd's per-transaction
// limit (a 300-copyset pool, force-deleting a file with 150 segments), and a restart keeps everything.
import t from 'tap';
import { startEtcd } from './etcd-harness';
import { buildCluster, startMds } from './mds-harness';

const GiB = 1024 ** 3;
type R = Record<string, unknown> & { statusCode: number };

t.test('MDS on etcd', async (t) => {
  const etcd = await startEtcd();
  t.teardown(() => etcd.stop());
  const h = await startMds({
    store: 'etcd',
    etcdEndpoints: [etcd.endpoint],
    leaseTtlSec: 2,
    leaseMarginMs: 700,
  });
  t.teardown(() => h.stop());
  await buildCluster(h, 3);
  const pool = await h.client.call<R>('topology', 'CreateLogicalPool', {
    logicalPoolName: 'big',
    physicalPoolName: 'pool1',
    copysetNum: 300,
  });
  t.equal(pool.statusCode, 0, 'a pool with more copysets than etcd allows ops per txn');
  const ns = (m: string, req: Record<string, unknown>): Promise<R> => h.client.call<R>('nameserver', m, req);
  t.equal(
    (await ns('CreateFile', { fileName: '/big', owner: 'u', fileType: 1, fileLength: 200 * GiB })).statusCode,
    0,
  );
  for (let i = 0; i < 150; i++) {
    const r = await ns('GetOrAllocateSegment', {
      fileName: '/big',
      owner: 'u',
      offset: i * GiB,
      allocateIfNotExist: true,
    });
    if (r.statusCode !== 0) t.fail(`segment ${i}: ${r.statusCode}`);
  }
  t.equal((await ns('GetAllocatedSize', { fileName: '/big' })).allocatedSize, 150 * GiB);
  const before = await h.client.call<{ copysets: unknown[] }>('topology', 'ListCopySet', {});
  t.equal(before.copysets.length, 300);
  await h.restart();
  t.same(await h.client.call('topology', 'ListCopySet', {}), before, 'copysets back after restart');
  t.equal((await ns('GetAllocatedSize', { fileName: '/big' })).allocatedSize, 150 * GiB, 'allocations back');
  t.equal((await ns('DeleteFile', { fileName: '/big', owner: 'u', forceDelete: true })).statusCode, 0);
  t.equal((await ns('GetFileInfo', { fileName: '/big', owner: 'u' })).statusCode, 102);
  t.equal((await ns('GetAllocatedSize', { fileName: '/' })).allocatedSize, 0, 'all 150 segments removed');
  const left = await h.mds.store.scan('02/');
  t.equal(left.length, 0, 'no segment keys left in etcd');
  t.equal((await h.mds.store.scan('09/')).length, 0, 'no deletion marker left');
});
