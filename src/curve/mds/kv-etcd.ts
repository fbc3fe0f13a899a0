// Metadata store on etcd (etcd3 client, raw KV RPCs). When a fence is set (the MDS leader key and the
// value this process wrote there), every write is a transaction that first checks the fence, so a
// deposed leader that has not noticed yet cannot change anything.
import { Etcd3, IOptions } from 'etcd3';
import { FencedError, KvCompare, KvOp, KvPair, KvStore, KvWatchEvent, prefixEnd } from './kv-store';

type RpcCompare = NonNullable<Parameters<Etcd3['kv']['txn']>[0]['compare']>[number];
type RpcOp = NonNullable<Parameters<Etcd3['kv']['txn']>[0]['success']>[number];

export interface Fence {
  key: string;
  value: Buffer;
}

function toRpcCompare(c: KvCompare): RpcCompare {
  const key = Buffer.from(c.key);
  if (c.value === null) return { key, target: 'Create', result: 'Equal', create_revision: 0 };
  return { key, target: 'Value', result: 'Equal', value: c.value };
}

function toRpcOp(op: KvOp): RpcOp {
  return op.type === 'put'
    ? { request_put: { key: Buffer.from(op.key), value: op.value } }
    : { request_delete_range: { key: Buffer.from(op.key) } };
}

export class EtcdKvStore implements KvStore {
  readonly client: Etcd3;
  private fence: Fence | undefined;

  constructor(options: IOptions | Etcd3) {
    this.client = options instanceof Etcd3 ? options : new Etcd3(options);
  }

  /** Fence every later write on `key` holding `value` (undefined: unfenced). */
  setFence(fence: Fence | undefined): void {
    this.fence = fence;
  }

  async get(key: string): Promise<Buffer | undefined> {
    const res = await this.client.kv.range({ key: Buffer.from(key) });
    return res.kvs.length > 0 ? Buffer.from(res.kvs[0].value) : undefined;
  }

  async put(key: string, value: Buffer): Promise<void> {
    await this.txn([], [{ type: 'put', key, value }]);
  }

  async delete(key: string): Promise<void> {
    await this.txn([], [{ type: 'delete', key }]);
  }

  async scan(prefix: string, limit?: number): Promise<KvPair[]> {
    const res = await this.client.kv.range({
      key: Buffer.from(prefix),
      range_end: Buffer.from(prefixEnd(prefix)),
      sort_order: 'Ascend',
      sort_target: 'Key',
      limit: limit ?? 0,
    });
    return res.kvs.map((kv) => ({ key: Buffer.from(kv.key).toString(), value: Buffer.from(kv.value) }));
  }

  async txn(compares: KvCompare[], ops: KvOp[]): Promise<boolean> {
    const inner = { compare: compares.map(toRpcCompare), success: ops.map(toRpcOp), failure: [] };
    if (!this.fence) return (await this.client.kv.txn(inner)).succeeded;
    const fence = this.fence;
    // The fence is the outer compare, the caller's compares an inner txn: "fenced" and "compare
    // failed" are told apart.
    const res = await this.client.kv.txn({
      compare: [{ key: Buffer.from(fence.key), target: 'Value', result: 'Equal', value: fence.value }],
      success: [{ request_txn: inner }],
      failure: [],
    });
    if (!res.succeeded) throw new FencedError();
    return res.responses[0].response_txn.succeeded;
  }

  async watch(prefix: string, onEvent: (ev: KvWatchEvent) => void): Promise<() => Promise<void>> {
    const watcher = await this.client.watch().prefix(prefix).create();
    watcher.on('put', (kv) => onEvent({ type: 'put', key: kv.key.toString(), value: Buffer.from(kv.value) }));
    watcher.on('delete', (kv) => onEvent({ type: 'delete', key: kv.key.toString() }));
    return async () => {
      await watcher.cancel();
    };
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
