// Transport-level outcomes of a data-plane call (distinct from application statuses such as
// CHUNK_OP_STATUS, which travel inside a successful response), and the error-frame body.

import * as protobuf from 'protobufjs';

export enum RpcStatus {
  OK = 0,
  UNKNOWN_METHOD = 1,
  /** The request message could not be decoded. */
  BAD_REQUEST = 2,
  /** The attachment did not match its CRC32C. */
  CRC_MISMATCH = 3,
  /** The handler threw something that is not an RpcError. */
  INTERNAL = 4,
  CANCELLED = 5,
  TIMEOUT = 6,
  /** The connection closed with the call in flight; it may or may not have been executed. */
  CONNECTION_LOST = 7,
  /** Could not connect to the peer. */
  UNAVAILABLE = 8,
  /** Too many calls waiting for an in-flight slot. */
  OVERLOAD = 9,
  /** The client or server is shutting down. */
  SHUTDOWN = 10,
  /** The peer's answer could not be decoded. */
  BAD_RESPONSE = 11,
}

export class RpcError extends Error {
  constructor(
    readonly status: RpcStatus,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

/** Body of an ERROR frame: { status = 1, message = 2 }. */
export const RpcErrorBody = new protobuf.Type('RpcErrorBody')
  .add(new protobuf.Field('status', 1, 'uint32'))
  .add(new protobuf.Field('message', 2, 'string'));

export function encodeErrorBody(status: RpcStatus, message: string): Uint8Array {
  return RpcErrorBody.encode({ status, message }).finish();
}

export function decodeErrorBody(buf: Uint8Array): RpcError {
  try {
    const m = RpcErrorBody.toObject(RpcErrorBody.decode(buf), { defaults: true }) as {
      status: number;
      message: string;
    };
    return new RpcError(m.status as RpcStatus, m.message);
  } catch {
    return new RpcError(RpcStatus.BAD_RESPONSE, 'undecodable error frame');
  }
}
