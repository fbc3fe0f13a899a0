// Data-plane methods chunkservers call on each other (not part of Curve's ChunkService): Raft message
// batches, and the copy of chunk files for a Raft snapshot install. Defined here with protobufjs types
// so no .proto file is shared with clients.
import * as protobuf from 'protobufjs';
import { defineMethod, type RpcMethod } from '../rpc/rpc-method';

const RaftBatchRequest = new protobuf.Type('RaftBatchRequest')
  .add(new protobuf.Field('from', 1, 'uint32'))
  .add(new protobuf.Field('fromAddress', 2, 'string'));
const Empty = new protobuf.Type('Empty');

const ListChunksRequest = new protobuf.Type('ListChunksRequest')
  .add(new protobuf.Field('group', 1, 'uint32'))
  .add(new protobuf.Field('minApplied', 2, 'uint64'));
const ListChunksResponse = new protobuf.Type('ListChunksResponse')
  .add(new protobuf.Field('status', 1, 'uint32'))
  .add(new protobuf.Field('chunkIds', 2, 'uint64', 'repeated'))
  .add(new protobuf.Field('chunkSns', 3, 'uint64', 'repeated'))
  .add(new protobuf.Field('chunkSize', 4, 'uint32'));

const ReadPieceRequest = new protobuf.Type('ReadPieceRequest')
  .add(new protobuf.Field('group', 1, 'uint32'))
  .add(new protobuf.Field('chunkId', 2, 'uint64'))
  .add(new protobuf.Field('offset', 3, 'uint32'))
  .add(new protobuf.Field('length', 4, 'uint32'));
const ReadPieceResponse = new protobuf.Type('ReadPieceResponse').add(
  new protobuf.Field('status', 1, 'uint32'),
);

new protobuf.Root().define('curve.chunkserver.internal').add(RaftBatchRequest).add(Empty);
for (const t of [ListChunksRequest, ListChunksResponse, ReadPieceRequest, ReadPieceResponse]) {
  RaftBatchRequest.parent!.add(t);
}

export interface RaftBatchRequestMsg {
  from: number;
  fromAddress: string;
}
export interface ListChunksRequestMsg {
  group: number;
  minApplied: number;
}
export interface ListChunksResponseMsg {
  status: number;
  chunkIds: number[];
  chunkSns: number[];
  chunkSize: number;
}
export interface ReadPieceRequestMsg {
  group: number;
  chunkId: number;
  offset: number;
  length: number;
}
export interface ReadPieceResponseMsg {
  status: number;
}

/** Raft batch: the encoded GroupMessage[] travels as the attachment. */
export const RAFT_BATCH: RpcMethod<RaftBatchRequestMsg, Record<string, never>> = defineMethod(
  'curve.chunkserver.internal.RaftService.Batch',
  RaftBatchRequest,
  Empty,
);

/**
 * The same batch, one-way (RpcClient.post / RpcServer.handleOneWay): Raft needs no answer to a batch (the
 * peer's replies are batches of their own), so the empty response frame and its wake-up are saved.
 */
export const RAFT_BATCH_POST: RpcMethod<RaftBatchRequestMsg, Record<string, never>> = defineMethod(
  'curve.chunkserver.internal.RaftService.Post',
  RaftBatchRequest,
  Empty,
);

/** Chunks of a copyset once the source has applied minApplied (snapshot install, step 1). */
export const SNAPSHOT_LIST_CHUNKS: RpcMethod<ListChunksRequestMsg, ListChunksResponseMsg> = defineMethod(
  'curve.chunkserver.internal.SnapshotService.ListChunks',
  ListChunksRequest,
  ListChunksResponse,
);

/** A piece of one chunk's data as the attachment (snapshot install, step 2). */
export const SNAPSHOT_READ_PIECE: RpcMethod<ReadPieceRequestMsg, ReadPieceResponseMsg> = defineMethod(
  'curve.chunkserver.internal.SnapshotService.ReadPiece',
  ReadPieceRequest,
  ReadPieceResponse,
);
