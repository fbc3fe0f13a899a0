// Child process for the kill -9 durability test: writes keys one by one into a LevelKvStore and
// prints each key on stdout only after its put resolved (acknowledged).
import { LevelKvStore } from '../../../src/curve/mds/kv-level';

async function main(): Promise<void> {
  const store = await LevelKvStore.open(process.argv[2]);
  for (let i = 0; ; i++) {
    const key = `dur/${String(i).padStart(8, '0')}`;
    await store.txn([{ key, value: null }], [{ type: 'put', key, value: Buffer.from(`value-${i}`) }]);
    process.stdout.write(`${i}\n`);
  }
}

void main();
