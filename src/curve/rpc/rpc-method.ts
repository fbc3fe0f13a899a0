// Methods of the data-plane RPC: a protobuf request/response pair and a 32-bit id derived from the
// method's full name (CRC32C of "package.Service.Method"), so both ends agree without a shared registry.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { crc32c } from '../../iscsi/crc32c';

export interface RpcMethod<Req = Record<string, unknown>, Res = Record<string, unknown>> {
  readonly id: number;
  /** "package.Service.Method" */
  readonly name: string;
  readonly requestType: protobuf.Type;
  readonly responseType: protobuf.Type;
  /** Phantom fields so TypeScript carries the message shapes; never set. */
  readonly _req?: Req;
  readonly _res?: Res;
}

/** How decoded messages are presented: uint64 as numbers, enums as numbers, absent fields as defaults. */
export const DECODE_OPTIONS: protobuf.IConversionOptions = { longs: Number, enums: Number, defaults: true };

/** The project's proto/ directory (from dist-X/src/curve/rpc or src/curve/rpc alike). */
export function defaultProtoDir(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'proto');
    if (fs.existsSync(path.join(candidate, 'chunk.proto'))) return candidate;
    dir = path.dirname(dir);
  }
  return path.resolve('proto');
}

export function methodId(fullName: string): number {
  return crc32c(Buffer.from(fullName, 'utf8'));
}

export function defineMethod<Req = Record<string, unknown>, Res = Record<string, unknown>>(
  name: string,
  requestType: protobuf.Type,
  responseType: protobuf.Type,
): RpcMethod<Req, Res> {
  return { id: methodId(name), name, requestType, responseType };
}

/** Loads .proto files (names relative to protoDir, imports resolved there too). */
export function loadProtoRoot(files: string[], protoDir = defaultProtoDir()): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(protoDir, target));
  root.loadSync(files, { keepCase: true });
  root.resolveAll();
  return root;
}

/** Every method of a service, by short name ("WriteChunk"). */
export function serviceMethods(root: protobuf.Root, serviceFullName: string): Record<string, RpcMethod> {
  const service = root.lookupService(serviceFullName);
  const out: Record<string, RpcMethod> = {};
  for (const m of service.methodsArray) {
    m.resolve();
    out[m.name] = defineMethod(
      `${serviceFullName}.${m.name}`,
      m.resolvedRequestType as protobuf.Type,
      m.resolvedResponseType as protobuf.Type,
    );
  }
  return out;
}

/** Id -> method lookup for a server; refuses two names hashing to one id. */
export class MethodTable<T> {
  private readonly byId = new Map<number, { method: RpcMethod; value: T }>();

  add(method: RpcMethod, value: T): void {
    const prev = this.byId.get(method.id);
    if (prev && prev.method.name !== method.name) {
      throw new Error(`method id collision: ${prev.method.name} and ${method.name}`);
    }
    this.byId.set(method.id, { method, value });
  }

  get(id: number): { method: RpcMethod; value: T } | undefined {
    return this.byId.get(id);
  }
}
