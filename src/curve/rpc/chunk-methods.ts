// The ChunkService methods (proto/chunk.proto) as data-plane RPC methods, loaded once per process.
// Shared by the chunkserver (which serves them) and the client (which calls them).

import { loadProtoRoot, serviceMethods, type RpcMethod } from './rpc-method';

export const CHUNK_SERVICE = 'curve.chunkserver.ChunkService';

let cached: Record<string, RpcMethod> | undefined;

/** WriteChunk, ReadChunk, DeleteChunk, ... keyed by method name. */
export function chunkServiceMethods(): Record<string, RpcMethod> {
  cached ??= serviceMethods(loadProtoRoot(['chunk.proto']), CHUNK_SERVICE);
  return cached;
}
