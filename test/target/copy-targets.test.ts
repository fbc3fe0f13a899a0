// Which LUs an EXTENDED COPY may reach: same target always; another target only when its ACL admits the
// initiator and it asks no CHAP the source did not.
import t from 'tap';
import type { ItNexus } from '../../src/scsi/scsi-types';
import type { CopyEndpoint } from '../../src/scsi/xcopy';
import { AccountStore } from '../../src/target/accounts';
import { resolveCopyTarget } from '../../src/target/copy-targets';
import type { LogicalUnit } from '../../src/target/logical-unit';
import { Target } from '../../src/target/target';
import type { TargetDeps } from '../../src/target/target-deps';

const naa = (n: number): Buffer =>
  Buffer.from(`60000000000000000000000000000${n.toString(16).padStart(3, '0')}`, 'hex');
const nexus: ItNexus = {
  id: 42,
  initiatorPortName: 'iqn.2026-11.test:host,i,0x400001370000',
  initiatorName: 'iqn.2026-11.test:host',
  targetPortName: 'iqn.src,t,0x0001',
  relativeTargetPortId: 1,
  targetPortGroup: 1,
};

function setup(): { accounts: AccountStore; src: Target; dst: Target; endpoints: CopyEndpoint[] } {
  const accounts = new AccountStore();
  const deps = {} as TargetDeps;
  const src = new Target(1, 'iqn.src', deps, accounts);
  const dst = new Target(2, 'iqn.dst', deps, accounts);
  const endpoints: CopyEndpoint[] = [];
  for (const [target, n] of [
    [src, 1],
    [src, 2],
    [dst, 3],
  ] as const) {
    const e = { naa: naa(n) } as CopyEndpoint;
    endpoints.push(e);
    target.luns.set(n, { naa: naa(n), device: { copyEndpoint: () => e } } as unknown as LogicalUnit);
  }
  // A LUN whose device cannot take part in copies (e.g. the controller).
  src.luns.set(0, { naa: naa(0), device: {} } as unknown as LogicalUnit);
  src.addressRules.push('ALL');
  src.nexusAdded(nexus, { address: '127.0.0.1', connections: 1 });
  return { accounts, src, dst, endpoints };
}

t.test('copy target resolution and its access rules', async (t) => {
  const { accounts, src, dst, endpoints } = setup();
  const resolve = (n: number, nx: ItNexus = nexus): CopyEndpoint | undefined =>
    resolveCopyTarget([src, dst], 1, naa(n), nx);
  t.equal(resolve(2), endpoints[1], 'same target');
  t.equal(resolve(0), undefined, 'a device without copy support');
  t.equal(resolve(9), undefined, 'no such LU');
  t.equal(resolve(3), undefined, 'other target, no ACL admitting us');
  dst.addressRules.push('127.0.0.0/8');
  t.equal(resolve(3), endpoints[2], 'other target, ACL admits our address');
  t.equal(resolve(3, { ...nexus, id: 7 }), undefined, 'a nexus the source target does not know');
  dst.ownState = 'offline';
  t.equal(resolve(3), undefined, 'other target offline');
  dst.ownState = 'ready';
  accounts.add('alice', 'alicepassword1');
  accounts.bind(2, 'alice', false);
  t.equal(resolve(3), undefined, 'other target asks CHAP the source did not');
  accounts.bind(1, 'alice', false);
  t.equal(resolve(3), endpoints[2], 'same CHAP accounts on both');
  accounts.add('bob', 'bobpassword123');
  accounts.bind(1, 'bob', false);
  t.equal(resolve(3), undefined, 'different account sets');
});
