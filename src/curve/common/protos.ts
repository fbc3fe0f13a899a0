// Loading the project's .proto files: gRPC service definitions (@grpc/proto-loader) and plain message
// codecs (protobufjs) for values kept in the metadata store. Both read the same files from proto/.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as protobuf from 'protobufjs';

let cachedDir: string | undefined;

/** The repository's proto/ directory, found by walking up from this file (works from src and dist-*). */
export function protoDir(): string {
  if (cachedDir) return cachedDir;
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'proto');
    if (fs.existsSync(path.join(candidate, 'common.proto'))) return (cachedDir = candidate);
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`proto/ directory not found above ${__dirname}`);
    dir = up;
  }
}

/** Numbers for 64-bit fields (lengths and ids stay below 2^53), enums as numbers, defaults filled in. */
const loaderOptions: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: Number,
  defaults: true,
  oneofs: true,
};

const grpcCache = new Map<string, grpc.GrpcObject>();

export function loadGrpcPackage(files: string[]): grpc.GrpcObject {
  const cacheKey = files.join(',');
  const hit = grpcCache.get(cacheKey);
  if (hit) return hit;
  const def = protoLoader.loadSync(files, { ...loaderOptions, includeDirs: [protoDir()] });
  const obj = grpc.loadPackageDefinition(def);
  grpcCache.set(cacheKey, obj);
  return obj;
}

/** A service constructor by its full name, e.g. 'curve.mds.CurveFSService'. */
export function grpcService(file: string, fullName: string): grpc.ServiceClientConstructor {
  let node: unknown = loadGrpcPackage([file]);
  for (const part of fullName.split('.')) node = (node as Record<string, unknown>)[part];
  if (typeof node !== 'function') throw new Error(`service ${fullName} not found in ${file}`);
  return node as grpc.ServiceClientConstructor;
}

let root: protobuf.Root | undefined;

function messageRoot(): protobuf.Root {
  if (root) return root;
  const r = new protobuf.Root();
  const dir = protoDir();
  r.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(dir, target));
  r.loadSync(['common.proto', 'topology.proto', 'nameserver.proto', 'heartbeat.proto'], { keepCase: true });
  r.resolveAll();
  return (root = r);
}

/** Encoder/decoder of one message type, objects shaped like the gRPC loader's (numbers, defaults). */
export interface MessageCodec<T> {
  encode(value: T): Buffer;
  decode(bytes: Uint8Array): T;
}

export function messageCodec<T>(fullName: string): MessageCodec<T> {
  const type = messageRoot().lookupType(fullName);
  return {
    encode(value: T): Buffer {
      const err = type.verify(value as Record<string, unknown>);
      if (err) throw new Error(`${fullName}: ${err}`);
      return Buffer.from(type.encode(type.fromObject(value as Record<string, unknown>)).finish());
    },
    decode(bytes: Uint8Array): T {
      return type.toObject(type.decode(bytes), {
        longs: Number,
        enums: Number,
        defaults: true,
        arrays: true,
      }) as T;
    },
  };
}
