import t from 'tap';
import { backingStoreTypes, openBackingStore, registerBackingStore } from '../../src/backing/registry';

t.test('builtin types are registered', async (t) => {
  t.same(backingStoreTypes().sort(), ['curve', 'mem', 'null', 'rdwr']);
});

t.test('unknown type fails like tgt', async (t) => {
  await t.rejects(
    openBackingStore('nosuch', { path: '', oflags: [], opts: '', blockSize: 512, readonly: false }),
    {
      message: 'failed to find bstype, nosuch',
    },
  );
});

t.test('open by name and register new types once', async (t) => {
  const s = await openBackingStore('mem', {
    path: '',
    oflags: [],
    opts: '',
    blockSize: 512,
    size: 4096,
    readonly: false,
  });
  t.equal(s.type, 'mem');
  t.throws(
    () => registerBackingStore({ name: 'mem', open: () => Promise.reject(new Error('x')) }),
    /already registered/,
  );
  registerBackingStore({ name: 'fake', open: () => Promise.reject(new Error('fake open')) });
  t.ok(backingStoreTypes().includes('fake'));
  await t.rejects(
    openBackingStore('fake', { path: '', oflags: [], opts: '', blockSize: 512, readonly: false }),
    /fake open/,
  );
});
