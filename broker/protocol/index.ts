/**
 * Brook's Kafka wire protocol: framing, request/response headers and message bodies for every
 * API in apis/, driven by the schema data (schema.ts) through one generic codec (codec.ts).
 *
 * Frames: a request or response on the wire is int32 size + frame. `frame` below always means
 * the bytes after the size prefix. Encoders return Buffer[] *including* the size prefix, ready
 * for socket writev; records are passed through uncopied. Decoders return plain objects whose
 * bytes/records fields are slices of the frame.
 *
 * Headers: request header v1 = apiKey int16, apiVersion int16, correlationId int32, clientId
 * (int16-length nullable string, even when flexible); v2 = v1 + tagged fields (flexible API
 * versions). Response header v0 = correlationId; v1 = v0 + tagged fields (flexible versions),
 * except ApiVersions, whose responses always use header v0.
 *
 * Errors: decoding throws only ProtocolDecodeError (stable `code`); encoding a bad value throws
 * ProtocolEncodeError.
 */
import { ErrorCode } from '../errors.ts';
import { ALL_APIS } from './apis/index.ts';
import type {
  addOffsetsToTxn, addPartitionsToTxn, endTxn, txnOffsetCommit, writeTxnMarkers, describeProducers, describeTransactions, listTransactions,
  alterClientQuotas, describeClientQuotas,
  alterConfigs, alterPartitionReassignments, apiVersions, consumerGroupDescribe, consumerGroupHeartbeat, createAcls, createPartitions, createTopics, deleteAcls, deleteGroups,
  deleteRecords, deleteTopics, describeAcls, describeCluster, describeConfigs, describeGroups, describeLogDirs, describeTopicPartitions, electLeaders, fetch,
  findCoordinator, heartbeat, incrementalAlterConfigs, initProducerId, joinGroup, leaveGroup, listGroups, listOffsets,
  listPartitionReassignments, metadata,
  offsetCommit, offsetDelete, offsetFetch, offsetForLeaderEpoch, produce, saslAuthenticate, saslHandshake, syncGroup,
  describeUserScramCredentials, alterUserScramCredentials,
} from './apis/index.ts';
import type { CompiledStruct } from './codec.ts';
import {
  compileStruct, readClientId, readInt32, Reader, skipTaggedFields, writeInt16, writeInt32,
  writeNullableString16, Writer,
} from './codec.ts';
import { ProtocolDecodeError, ProtocolEncodeError } from './errors.ts';
import { buffersOnly, type Chunk } from './file-region.ts';
import type { ApiSpec, RequestInput, RequestOf, ResponseInput, ResponseOf, VersionRange } from './schema.ts';
import { inRange, parseVersions } from './schema.ts';

export { ProtocolDecodeError, ProtocolEncodeError } from './errors.ts';
export { FileRegion, buffersOnly, type Chunk } from './file-region.ts';
export type { ProtocolDecodeErrorCode } from './errors.ts';
export { ZERO_UUID } from './schema.ts';
export type { ApiSpec, FieldSpec, Decoded, Encodable, RequestOf, ResponseOf, RequestInput, ResponseInput } from './schema.ts';

/** Kafka API keys by name. */
export const ApiKey = {
  Produce: 0, Fetch: 1, ListOffsets: 2, Metadata: 3, OffsetCommit: 8, OffsetFetch: 9,
  FindCoordinator: 10, JoinGroup: 11, Heartbeat: 12, LeaveGroup: 13, SyncGroup: 14,
  DescribeGroups: 15, ListGroups: 16, ApiVersions: 18, CreateTopics: 19, DeleteTopics: 20,
  DeleteRecords: 21, InitProducerId: 22, OffsetForLeaderEpoch: 23, DescribeAcls: 29, CreateAcls: 30, DeleteAcls: 31, DescribeConfigs: 32,
  AlterConfigs: 33, CreatePartitions: 37, DeleteGroups: 42, ElectLeaders: 43,
  IncrementalAlterConfigs: 44, OffsetDelete: 47, DescribeCluster: 60, DescribeTopicPartitions: 75, SaslHandshake: 17, SaslAuthenticate: 36,
  DescribeUserScramCredentials: 50, AlterUserScramCredentials: 51,
  DescribeLogDirs: 35, AlterPartitionReassignments: 45, ListPartitionReassignments: 46,
  AddPartitionsToTxn: 24, AddOffsetsToTxn: 25, EndTxn: 26, WriteTxnMarkers: 27, TxnOffsetCommit: 28,
  DescribeProducers: 61, DescribeTransactions: 65, ListTransactions: 66,
  ConsumerGroupHeartbeat: 68, ConsumerGroupDescribe: 69, DescribeClientQuotas: 48, AlterClientQuotas: 49,
} as const;

/** Schema by API key, for typing: `RequestOf<ApiByKey[0]>`. */
export interface ApiByKey {
  0: typeof produce; 1: typeof fetch; 2: typeof listOffsets; 3: typeof metadata;
  8: typeof offsetCommit; 9: typeof offsetFetch; 10: typeof findCoordinator; 11: typeof joinGroup;
  12: typeof heartbeat; 13: typeof leaveGroup; 14: typeof syncGroup; 15: typeof describeGroups;
  16: typeof listGroups; 18: typeof apiVersions; 19: typeof createTopics; 20: typeof deleteTopics;
  21: typeof deleteRecords; 22: typeof initProducerId; 23: typeof offsetForLeaderEpoch;
  29: typeof describeAcls; 30: typeof createAcls; 31: typeof deleteAcls;
  32: typeof describeConfigs; 33: typeof alterConfigs; 37: typeof createPartitions;
  42: typeof deleteGroups; 43: typeof electLeaders; 44: typeof incrementalAlterConfigs;
  47: typeof offsetDelete; 60: typeof describeCluster; 75: typeof describeTopicPartitions; 17: typeof saslHandshake; 36: typeof saslAuthenticate;
  50: typeof describeUserScramCredentials; 51: typeof alterUserScramCredentials;
  35: typeof describeLogDirs; 45: typeof alterPartitionReassignments; 46: typeof listPartitionReassignments;
  24: typeof addPartitionsToTxn; 25: typeof addOffsetsToTxn; 26: typeof endTxn; 27: typeof writeTxnMarkers; 28: typeof txnOffsetCommit;
  61: typeof describeProducers; 65: typeof describeTransactions; 66: typeof listTransactions;
  68: typeof consumerGroupHeartbeat; 69: typeof consumerGroupDescribe;
  48: typeof describeClientQuotas; 49: typeof alterClientQuotas;
}

type Req<K extends number> = K extends keyof ApiByKey ? RequestOf<ApiByKey[K]> : Record<string, unknown>;
type Res<K extends number> = K extends keyof ApiByKey ? ResponseOf<ApiByKey[K]> : Record<string, unknown>;
// With a non-literal apiKey the encoders accept anything and check it at run time.
type ReqIn<K extends number> = K extends keyof ApiByKey ? RequestInput<ApiByKey[K]> : unknown;
type ResIn<K extends number> = K extends keyof ApiByKey ? ResponseInput<ApiByKey[K]> : unknown;

export type ProduceRequest = RequestOf<typeof produce>;
export type ProduceResponse = ResponseOf<typeof produce>;
export type FetchRequest = RequestOf<typeof fetch>;
export type FetchResponse = ResponseOf<typeof fetch>;
export type MetadataRequest = RequestOf<typeof metadata>;
export type MetadataResponse = ResponseOf<typeof metadata>;
export type ListOffsetsRequest = RequestOf<typeof listOffsets>;
export type ListOffsetsResponse = ResponseOf<typeof listOffsets>;
export type ApiVersionsRequest = RequestOf<typeof apiVersions>;
export type ApiVersionsResponse = ResponseOf<typeof apiVersions>;

export interface ApiSchema {
  readonly apiKey: number;
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  isFlexible(version: number): boolean;
}

interface ApiEntry extends ApiSchema {
  readonly spec: ApiSpec;
  readonly flexible: VersionRange;
  readonly request: (CompiledStruct | undefined)[];
  readonly response: (CompiledStruct | undefined)[];
}

const byKey: (ApiEntry | undefined)[] = [];
for (const spec of ALL_APIS) {
  const valid = parseVersions(spec.validVersions);
  const flexible = parseVersions(spec.flexibleVersions);
  byKey[spec.apiKey] = {
    apiKey: spec.apiKey,
    name: spec.name,
    minVersion: valid.min,
    maxVersion: valid.max,
    isFlexible: (v: number) => inRange(flexible, v),
    spec,
    flexible,
    request: [],
    response: [],
  };
}

export function apiSchema(apiKey: number): ApiSchema | undefined {
  const e = byKey[apiKey];
  if (!e) return undefined;
  return { apiKey: e.apiKey, name: e.name, minVersion: e.minVersion, maxVersion: e.maxVersion, isFlexible: e.isFlexible };
}

export function allApiSchemas(): ApiSchema[] {
  return byKey.filter((e): e is ApiEntry => e !== undefined).map((e) => apiSchema(e.apiKey)!);
}

function entry(apiKey: number, version: number): ApiEntry {
  const e = Number.isInteger(apiKey) ? byKey[apiKey] : undefined;
  if (!e) throw new ProtocolDecodeError('BROOK_ERR_UNKNOWN_API', `unknown API key ${apiKey}`);
  if (!(version >= e.minVersion && version <= e.maxVersion && Number.isInteger(version))) {
    throw new ProtocolDecodeError('BROOK_ERR_UNSUPPORTED_VERSION', `${e.name} v${version} is not supported (${e.minVersion}-${e.maxVersion})`);
  }
  return e;
}

function body(e: ApiEntry, version: number, dir: 'request' | 'response'): CompiledStruct {
  const hit = e[dir][version];
  if (hit) return hit;
  const s = compileStruct(e.spec[dir], version, e.isFlexible(version), `${e.name}${dir === 'request' ? 'Request' : 'Response'}v${version}`);
  e[dir][version] = s;
  return s;
}

/** Compile every API/version now instead of on first use (call at server start). */
export function precompileAll(): void {
  for (const e of byKey) {
    if (!e) continue;
    for (let v = e.minVersion; v <= e.maxVersion; v++) {
      body(e, v, 'request');
      body(e, v, 'response');
    }
  }
}

function responseHeaderVersion(e: ApiEntry, version: number): 0 | 1 {
  if (e.apiKey === 18) return 0;
  return e.isFlexible(version) ? 1 : 0;
}

function asDecodeError(err: unknown, what: string): ProtocolDecodeError {
  if (err instanceof ProtocolDecodeError) return err;
  return new ProtocolDecodeError('BROOK_ERR_MALFORMED_FRAME', `${what}: ${(err as Error)?.message ?? String(err)}`);
}

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** Offset of the request body in the frame (best effort when !supported). */
  bodyOffset: number;
  /** False when the API key or version is unknown: answer UNSUPPORTED_VERSION (or close). */
  supported: boolean;
}

/** Parse a request header; `frame` is the bytes after the 4-byte size prefix. */
export function parseRequestHeader(frame: Buffer): RequestHeader {
  if (frame.length < 8) {
    throw new ProtocolDecodeError('BROOK_ERR_MALFORMED_FRAME', `request frame of ${frame.length} bytes is shorter than a header`);
  }
  const apiKey = frame.readInt16BE(0);
  const apiVersion = frame.readInt16BE(2);
  const correlationId = frame.readInt32BE(4);
  const e = byKey[apiKey];
  const supported = e !== undefined && apiVersion >= e.minVersion && apiVersion <= e.maxVersion;
  const r = new Reader(frame, 8, frame.length);
  let clientId: string | null = null;
  if (!supported) {
    try {
      clientId = readClientId(r);
    } catch {
      r.pos = 8;
    }
    return { apiKey, apiVersion, correlationId, clientId, bodyOffset: r.pos, supported };
  }
  try {
    clientId = readClientId(r);
    if (e.isFlexible(apiVersion)) skipTaggedFields(r);
  } catch (err) {
    throw asDecodeError(err, 'request header');
  }
  return { apiKey, apiVersion, correlationId, clientId, bodyOffset: r.pos, supported };
}

/** Decode a request body starting at `offset` (RequestHeader.bodyOffset) of `frame`. */
export function decodeRequest<K extends number>(apiKey: K, version: number, frame: Buffer, offset: number): Req<K> {
  const s = body(entry(apiKey, version), version, 'request');
  try {
    return s.decode(new Reader(frame, offset, frame.length)) as Req<K>;
  } catch (err) {
    throw asDecodeError(err, 'request body');
  }
}

function wrapEncode(fn: () => Chunk[], what: string): Chunk[] {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ProtocolEncodeError) throw err;
    throw new ProtocolEncodeError(`${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}

function finishFrame(w: Writer): Chunk[] {
  const chunks = w.finish();
  let total = 0;
  for (const c of chunks) total += c.length;
  // the size prefix was written before any pass-through chunk, so the first chunk holds it
  (chunks[0] as Buffer).writeInt32BE(total - 4, 0);
  return chunks;
}

function encodeEntry(apiKey: number, version: number): ApiEntry {
  try {
    return entry(apiKey, version);
  } catch (err) {
    throw new ProtocolEncodeError((err as Error).message);
  }
}

/** Encode a response: size prefix + response header + body, as chunks for writev. */
export function encodeResponse<K extends number>(apiKey: K, version: number, correlationId: number, payload: ResIn<K>): Buffer[] {
  return buffersOnly(encodeResponseChunks(apiKey, version, correlationId, payload), 'encodeResponse');
}

/**
 * As encodeResponse, for a connection that sends files: the records of a Fetch response may be
 * FileRegions (./file-region.ts), passed through as they are.
 */
export function encodeResponseChunks<K extends number>(apiKey: K, version: number, correlationId: number, payload: ResIn<K>): Chunk[] {
  const e = encodeEntry(apiKey, version);
  const s = body(e, version, 'response');
  return wrapEncode(() => {
    const w = new Writer(true);
    writeInt32(w, 0);
    writeInt32(w, correlationId);
    if (responseHeaderVersion(e, version) === 1) writeTagBufferEmpty(w);
    s.encode(w, payload);
    return finishFrame(w);
  }, `${e.name} v${version} response`);
}

/** Encode a request: size prefix + request header (v1, or v2 when flexible) + body. */
export function encodeRequest<K extends number>(apiKey: K, version: number, correlationId: number, clientId: string | null, payload: ReqIn<K>): Buffer[] {
  const e = encodeEntry(apiKey, version);
  const s = body(e, version, 'request');
  return buffersOnly(wrapEncode(() => {
    const w = new Writer(true);
    writeInt32(w, 0);
    writeInt16(w, apiKey);
    writeInt16(w, version);
    writeInt32(w, correlationId);
    writeNullableString16(w, clientId);
    if (e.isFlexible(version)) writeTagBufferEmpty(w);
    s.encode(w, payload);
    return finishFrame(w);
  }, `${e.name} v${version} request`), 'encodeRequest');
}

/**
 * Decode a response frame (bytes after the size prefix). An ApiVersions response carrying
 * UNSUPPORTED_VERSION is read as v0, whatever version was asked (Kafka's fallback).
 */
export function decodeResponse<K extends number>(apiKey: K, version: number, frame: Buffer): { correlationId: number; body: Res<K> } {
  if (apiKey === 18 && version > 0 && frame.length >= 6 && frame.readInt16BE(4) === ErrorCode.UNSUPPORTED_VERSION) version = 0;
  const e = entry(apiKey, version);
  const s = body(e, version, 'response');
  try {
    const r = new Reader(frame, 0, frame.length);
    const correlationId = readInt32(r);
    if (responseHeaderVersion(e, version) === 1) skipTaggedFields(r);
    return { correlationId, body: s.decode(r) as Res<K> };
  } catch (err) {
    throw asDecodeError(err, 'response');
  }
}

function writeTagBufferEmpty(w: Writer): void {
  w.ensure(1);
  w.buf[w.pos++] = 0;
}

/**
 * Kafka's answer to an ApiVersions request at a version the broker does not know: a v0-shaped
 * body (header v0) with UNSUPPORTED_VERSION (35) and only the ApiVersions key's range, so the
 * client can retry at a version both sides speak.
 */
export function encodeApiVersionsError(correlationId: number, apiVersionsRange: { minVersion: number; maxVersion: number }): Buffer[] {
  return encodeResponse(18, 0, correlationId, {
    errorCode: ErrorCode.UNSUPPORTED_VERSION,
    apiKeys: [{ apiKey: 18, minVersion: apiVersionsRange.minVersion, maxVersion: apiVersionsRange.maxVersion }],
  });
}

/** Internal for tests: decode and report where decoding stopped. */
export function decodeRequestBodyEnd(apiKey: number, version: number, frame: Buffer, offset: number): number {
  const s = body(entry(apiKey, version), version, 'request');
  const r = new Reader(frame, offset, frame.length);
  s.decode(r);
  return r.pos;
}
