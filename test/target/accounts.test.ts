import t from 'tap';
import { AccountStore, DISCOVERY_TID } from '../../src/target/accounts';
import { TgtError } from '../../src/target/tgt-error';

const errText = (fn: () => void): string => {
  try {
    fn();
  } catch (e) {
    if (e instanceof TgtError) return e.message;
    throw e;
  }
  return 'no error';
};

t.test('accounts: create, list newest first, duplicates refused', async (t) => {
  const a = new AccountStore();
  a.add('alice', 'alicepass12');
  a.add('bob', 'bobpass12345');
  t.same(a.users(), ['bob', 'alice']);
  t.equal(
    errText(() => a.add('alice', 'x')),
    'this account already exists',
  );
  t.equal(
    errText(() => a.delete('zed')),
    "can't find the account",
  );
});

t.test('binding: incoming list, one outgoing, tgt error texts', async (t) => {
  const a = new AccountStore();
  a.add('alice', 'alicepass12');
  a.add('bob', 'bobpass12345');
  a.add('carol', 'carolpass123');
  a.bind(1, 'alice', false);
  a.bind(1, 'bob', false);
  t.equal(
    errText(() => a.bind(1, 'alice', false)),
    'this account already exists',
  );
  t.equal(
    errText(() => a.bind(1, 'zed', false)),
    "can't find the account",
  );
  a.bind(1, 'alice', true); // the same account may also be the outgoing one (tgt allows it)
  t.equal(
    errText(() => a.bind(1, 'carol', true)),
    'this target already has an outgoing account',
  );
  t.same(
    a.incomingOf(1).map((x) => x.user),
    ['alice', 'bob'],
  );
  t.same(a.outgoingOf(1), { user: 'alice', password: 'alicepass12' });
  t.same(a.incomingOf(2), []);
  t.equal(a.outgoingOf(2), undefined);

  t.equal(
    errText(() => a.unbind(1, 'carol', false)),
    "can't find the account",
    'not bound',
  );
  t.equal(
    errText(() => a.unbind(1, 'bob', true)),
    "can't find the account",
    'bob is not the outgoing one',
  );
  a.unbind(1, 'alice', true);
  t.equal(a.outgoingOf(1), undefined);
  t.same(
    a.incomingOf(1).map((x) => x.user),
    ['alice', 'bob'],
    'unbinding outgoing keeps incoming',
  );
  a.bind(1, 'carol', true);
  t.equal(a.outgoingOf(1)?.user, 'carol');
});

t.test('deleting an account unbinds it everywhere; discovery bindings', async (t) => {
  const a = new AccountStore();
  a.add('alice', 'alicepass12');
  a.add('dave', 'davepass1234');
  a.bind(1, 'alice', false);
  a.bind(2, 'alice', true);
  a.bind(DISCOVERY_TID, 'alice', false);
  a.bind(DISCOVERY_TID, 'dave', false);
  a.delete('alice');
  t.same(a.incomingOf(1), []);
  t.equal(a.outgoingOf(2), undefined);
  t.same(
    a.incomingOf(DISCOVERY_TID).map((x) => x.user),
    ['dave'],
  );
  a.forgetTarget(DISCOVERY_TID);
  t.same(a.incomingOf(DISCOVERY_TID), []);
});
