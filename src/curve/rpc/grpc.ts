// Control-plane helpers: the MDS, copyset and CLI services speak gRPC with the same proto/ files the data
// plane uses. Load a package, serve implementations, and call methods as promises with deadlines.

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { defaultProtoDir } from './rpc-method';

/** Same presentation as the data plane: uint64 as numbers, enums as numbers, defaults filled in. */
export const GRPC_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: Number,
  defaults: true,
  oneofs: true,
};

/** Loads proto files (relative to proto/) into a gRPC package object. */
export function loadGrpcPackage(files: string[], protoDir = defaultProtoDir()): grpc.GrpcObject {
  const def = protoLoader.loadSync(files, { ...GRPC_LOADER_OPTIONS, includeDirs: [protoDir] });
  return grpc.loadPackageDefinition(def);
}

/** Looks up a service constructor by full name, e.g. "curve.chunkserver.CopysetService". */
export function lookupService(pkg: grpc.GrpcObject, fullName: string): grpc.ServiceClientConstructor {
  let node: unknown = pkg;
  for (const part of fullName.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  if (typeof node !== 'function' || !('service' in node)) throw new Error(`no gRPC service ${fullName}`);
  return node as grpc.ServiceClientConstructor;
}

/** Handler shape for promise-returning unary implementations. */
export type UnaryImpl = Record<
  string,
  (request: never, call: grpc.ServerUnaryCall<unknown, unknown>) => Promise<unknown> | unknown
>;

/** Adapts promise-returning functions to grpc-js unary handlers; a thrown error becomes INTERNAL
 *  (or the error's own `code` when it carries a grpc status). */
export function unaryHandlers(impl: UnaryImpl): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [name, fn] of Object.entries(impl)) {
    out[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      Promise.resolve()
        .then(() => fn(call.request as never, call))
        .then(
          (res) => callback(null, res),
          (err: Error & { code?: number }) =>
            callback(
              { code: err.code ?? grpc.status.INTERNAL, details: err.message } as grpc.ServiceError,
              null,
            ),
        );
    };
  }
  return out;
}

/** Starts a server with the given services on host:port (port 0 picks one); resolves to the bound port. */
export async function startGrpcServer(
  services: Array<{ service: grpc.ServiceClientConstructor; impl: UnaryImpl }>,
  host: string,
  port: number,
): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  for (const s of services) server.addService(s.service.service, unaryHandlers(s.impl));
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { server, port: bound };
}

export function stopGrpcServer(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => server.tryShutdown(() => resolve()));
}

export function createGrpcClient(service: grpc.ServiceClientConstructor, address: string): grpc.Client {
  return new service(address, grpc.credentials.createInsecure());
}

/** Calls a unary method with a deadline (ms from now); rejects with the grpc ServiceError. */
export function grpcCall<Res>(
  client: grpc.Client,
  method: string,
  request: object,
  deadlineMs = 5000,
): Promise<Res> {
  const fn = (client as unknown as Record<string, unknown>)[method];
  if (typeof fn !== 'function') return Promise.reject(new Error(`no method ${method}`));
  return new Promise<Res>((resolve, reject) => {
    (
      fn as (req: object, meta: grpc.Metadata, opts: grpc.CallOptions, cb: grpc.requestCallback<Res>) => void
    ).call(client, request, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) =>
      err ? reject(err) : resolve(res as Res),
    );
  });
}
