// Named attributes of a volume (GetFileXattr / SetFileXattr): compare-and-set by version, owner checks,
// kept across an MDS restart, removed with the file.
import t from 'tap';
import { startMds } from './mds-harness';

const GiB = 1024 ** 3;
type R = Record<string, unknown> & { statusCode: number };

t.test('volume attributes', async (t) => {
  const h = await startMds();
  t.teardown(() => h.stop());
  const call = (m: string, req: Record<string, unknown>): Promise<R> =>
    h.client.call<R>('nameserver', m, req);
  const get = (name: string, owner = 'alice', fileName = '/vol'): Promise<R> =>
    call('GetFileXattr', { fileName, owner, name });
  const set = (name: string, text: string, expectVersion: number, owner = 'alice'): Promise<R> =>
    call('SetFileXattr', { fileName: '/vol', owner, name, value: Buffer.from(text), expectVersion });
  t.equal(
    (await call('CreateFile', { fileName: '/vol', owner: 'alice', fileType: 1, fileLength: 10 * GiB }))
      .statusCode,
    0,
  );

  const empty = await get('scsi.pr');
  t.same(
    [empty.statusCode, empty.version, Buffer.from(empty.value as Buffer).length],
    [0, 0, 0],
    'never set: version 0, empty',
  );
  t.same(
    [(await set('scsi.pr', 'one', 0)).statusCode, (await get('scsi.pr')).version],
    [0, 1],
    'first set: version 1',
  );
  const stale = await set('scsi.pr', 'stale', 0);
  t.same(
    [stale.statusCode, stale.version],
    [141, 1],
    'a set from an old version: kXattrVersionMismatch with the current one',
  );
  t.equal((await set('scsi.pr', 'two', 1)).version, 2, 'a set from the current version succeeds');
  t.equal(
    Buffer.from((await get('scsi.pr')).value as Buffer).toString(),
    'two',
    'the value is the last one set',
  );
  t.equal((await set('other', 'x', 0)).statusCode, 0, 'attributes are independent');

  t.equal((await get('scsi.pr', 'bob')).statusCode, 111, "bob may not read alice's volume attributes");
  t.equal((await set('scsi.pr', 'x', 2, 'bob')).statusCode, 111, 'nor set them');
  t.equal((await get('bad/name')).statusCode, 104, 'a name with a slash is refused');
  t.equal((await set('big', 'x'.repeat(64 * 1024 + 1), 0)).statusCode, 104, 'values are small records');
  t.equal((await get('scsi.pr', 'alice', '/none')).statusCode, 102, 'no such volume');

  await h.restart();
  t.equal(
    Buffer.from((await get('scsi.pr')).value as Buffer).toString(),
    'two',
    'kept across an MDS restart',
  );

  t.equal((await call('DeleteFile', { fileName: '/vol', owner: 'alice', forceDelete: true })).statusCode, 0);
  t.equal(
    (await call('CreateFile', { fileName: '/vol', owner: 'alice', fileType: 1, fileLength: 10 * GiB }))
      .statusCode,
    0,
  );
  t.equal((await get('scsi.pr')).version, 0, 'a new volume of the same name starts without attributes');
});
