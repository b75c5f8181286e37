/**
 * A raw Kafka-protocol connection over node:net for tests that send hand-made or deliberately
 * broken bytes. Frames are `int32 size` + payload; responses are matched by correlation id
 * (the first int32 of every response header). Requests can be built with kafkajs's own encoders
 * (`kafkajs/src/protocol/requests/<api>/v<N>/request.js`), framed by `frameKafkajsRequest`.
 */
import net from 'node:net';
import tls from 'node:tls';
import kafkaRequest from 'kafkajs/src/protocol/request.js';

export interface WireResponse {
  correlationId: number;
  /** The response bytes after the correlation id (header v0). */
  body: Buffer;
}

/** What kafkajs's request factories return. */
export interface KafkajsRequest {
  apiKey: number;
  apiVersion: number;
  encode(): Promise<{ buffer: Buffer }>;
}

export class WireConnection {
  readonly socket: net.Socket;
  private buffered = Buffer.alloc(0);
  private readonly waiting: Array<(r: WireResponse) => void> = [];
  private readonly responses: WireResponse[] = [];
  private readonly closedPromise: Promise<void>;
  private isClosed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => { /* surfaces as close */ });
    this.closedPromise = new Promise((resolve) => socket.on('close', () => {
      this.isClosed = true;
      resolve();
    }));
  }

  static connect(bootstrap: string, timeoutMs = 5000): Promise<WireConnection> {
    const [host, port] = splitHostPort(bootstrap);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`connect to ${bootstrap} timed out`)); }, timeoutMs);
      socket.once('connect', () => { clearTimeout(timer); resolve(new WireConnection(socket)); });
      socket.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
  }

  /** A TLS connection (an SSL or SASL_SSL listener); rejects if the handshake fails. */
  static connectTls(bootstrap: string, options: tls.ConnectionOptions, timeoutMs = 5000): Promise<WireConnection> {
    const [host, port] = splitHostPort(bootstrap);
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host, port, ...options });
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`TLS connect to ${bootstrap} timed out`)); }, timeoutMs);
      socket.once('secureConnect', () => { clearTimeout(timer); resolve(new WireConnection(socket)); });
      socket.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
  }

  private onData(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 4) {
      const size = this.buffered.readInt32BE(0);
      if (this.buffered.length < 4 + size) break;
      const frame = this.buffered.subarray(4, 4 + size);
      this.buffered = this.buffered.subarray(4 + size);
      const response = { correlationId: frame.readInt32BE(0), body: Buffer.from(frame.subarray(4)) };
      const waiter = this.waiting.shift();
      if (waiter) waiter(response);
      else this.responses.push(response);
    }
  }

  /** Writes raw bytes (already framed, or deliberately not). */
  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Next response, or `'closed'` if the broker closed the connection first, or `'timeout'`. */
  next(timeoutMs = 10_000): Promise<WireResponse | 'closed' | 'timeout'> {
    const queued = this.responses.shift();
    if (queued) return Promise.resolve(queued);
    if (this.isClosed) return Promise.resolve('closed');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(onResponse);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve('timeout');
      }, timeoutMs);
      const onResponse = (r: WireResponse) => { clearTimeout(timer); resolve(r); };
      this.waiting.push(onResponse);
      void this.closedPromise.then(() => {
        clearTimeout(timer);
        const i = this.waiting.indexOf(onResponse);
        if (i >= 0) { this.waiting.splice(i, 1); resolve('closed'); }
      });
    });
  }

  /** Sends a request and returns its response, failing on close/timeout or a correlation mismatch. */
  async roundTrip(frame: Buffer, correlationId: number, timeoutMs = 10_000): Promise<Buffer> {
    this.write(frame);
    const r = await this.next(timeoutMs);
    if (r === 'closed' || r === 'timeout') throw new Error(`no response to correlation id ${correlationId}: connection ${r}`);
    if (r.correlationId !== correlationId) throw new Error(`response correlation id ${r.correlationId}, expected ${correlationId}`);
    return r.body;
  }

  /** Resolves true once the broker has closed the connection, false after `timeoutMs`. */
  async waitClosed(timeoutMs = 10_000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      this.closedPromise.then(() => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); }),
    ]);
    clearTimeout(timer);
    return result;
  }

  get closed(): boolean { return this.isClosed; }

  close(): void { this.socket.destroy(); }
}

export function splitHostPort(hostPort: string): [string, number] {
  const i = hostPort.lastIndexOf(':');
  return [hostPort.slice(0, i), Number(hostPort.slice(i + 1))];
}

/** Frames a request built by a kafkajs request factory (request header v1). */
export async function frameKafkajsRequest(request: KafkajsRequest, correlationId: number, clientId = 'brook-wire-test'): Promise<Buffer> {
  const encoder = await kafkaRequest({ correlationId, clientId, request });
  return Buffer.from(encoder.buffer);
}

/** Frames `body` behind a request header v1 (api key, version, correlation id, client id). */
export function frameRequest(apiKey: number, apiVersion: number, correlationId: number, body: Buffer,
  opts: { clientId?: string; flexibleHeader?: boolean } = {}): Buffer {
  const clientId = Buffer.from(opts.clientId ?? 'brook-wire-test');
  const header = Buffer.alloc(10);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(apiVersion, 2);
  header.writeInt32BE(correlationId, 4);
  header.writeInt16BE(clientId.length, 8);
  const parts: Buffer[] = [header, clientId];
  if (opts.flexibleHeader) parts.push(Buffer.from([0])); // header v2: empty tagged fields
  parts.push(body);
  const payload = Buffer.concat(parts);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length, 0);
  return Buffer.concat([size, payload]);
}

/** ApiVersions v0-shaped response body: error code, [api key, min, max]. Fails on trailing bytes. */
export function parseApiVersionsV0(body: Buffer): { errorCode: number; apis: Array<{ apiKey: number; min: number; max: number }> } {
  const errorCode = body.readInt16BE(0);
  const n = body.readInt32BE(2);
  const apis = [];
  let pos = 6;
  for (let i = 0; i < n; i++) {
    apis.push({ apiKey: body.readInt16BE(pos), min: body.readInt16BE(pos + 2), max: body.readInt16BE(pos + 4) });
    pos += 6;
  }
  if (pos !== body.length) throw new Error(`ApiVersions v0 body has ${body.length - pos} trailing bytes`);
  return { errorCode, apis };
}

/** One partition of a Fetch v4 response. */
export interface FetchedPartition {
  errorCode: number;
  highWatermark: bigint;
  /** The raw record batches, exactly as served. */
  records: Buffer;
}

/** Builds a Fetch v4 request for one partition (replica id -1, read_uncommitted unless `isolationLevel` 1). */
export function fetchV4Request(topic: string, partition: number, offset: bigint, correlationId: number,
  opts: { maxWaitMs?: number; maxBytes?: number; isolationLevel?: 0 | 1 } = {}): Buffer {
  const name = Buffer.from(topic);
  const body = Buffer.alloc(4 + 4 + 4 + 4 + 1 + 4 + 2 + name.length + 4 + 4 + 8 + 4);
  let pos = 0;
  pos = body.writeInt32BE(-1, pos); // replica id
  pos = body.writeInt32BE(opts.maxWaitMs ?? 0, pos);
  pos = body.writeInt32BE(0, pos); // min bytes
  pos = body.writeInt32BE(opts.maxBytes ?? 50 * 1024 * 1024, pos);
  pos = body.writeInt8(opts.isolationLevel ?? 0, pos);
  pos = body.writeInt32BE(1, pos);
  pos = body.writeInt16BE(name.length, pos);
  pos += name.copy(body, pos);
  pos = body.writeInt32BE(1, pos);
  pos = body.writeInt32BE(partition, pos);
  pos = body.writeBigInt64BE(offset, pos);
  body.writeInt32BE(opts.maxBytes ?? 50 * 1024 * 1024, pos);
  return frameRequest(1, 4, correlationId, body);
}

/** Parses a Fetch v4 response body that holds exactly one topic and one partition. */
export function parseFetchV4(body: Buffer): FetchedPartition {
  let pos = 4; // throttle
  if (body.readInt32BE(pos) !== 1) throw new Error('expected one topic in the fetch response');
  pos += 4;
  pos += 2 + body.readInt16BE(pos);
  if (body.readInt32BE(pos) !== 1) throw new Error('expected one partition in the fetch response');
  pos += 4;
  pos += 4; // partition
  const errorCode = body.readInt16BE(pos); pos += 2;
  const highWatermark = body.readBigInt64BE(pos); pos += 8;
  pos += 8; // last stable offset
  const aborted = body.readInt32BE(pos); pos += 4;
  if (aborted > 0) pos += aborted * 16;
  const size = body.readInt32BE(pos); pos += 4;
  const records = size > 0 ? body.subarray(pos, pos + size) : Buffer.alloc(0);
  return { errorCode, highWatermark, records };
}

/** Headers of the complete record batches (magic v2) in `records`; a truncated tail is ignored. */
export function batchHeaders(records: Buffer): Array<{ baseOffset: bigint; lastOffsetDelta: number; attributes: number; recordsCount: number; size: number }> {
  const batches = [];
  let pos = 0;
  while (pos + 61 <= records.length) {
    const size = records.readInt32BE(pos + 8) + 12;
    if (pos + size > records.length) break;
    batches.push({
      baseOffset: records.readBigInt64BE(pos),
      attributes: records.readInt16BE(pos + 21),
      lastOffsetDelta: records.readInt32BE(pos + 23),
      recordsCount: records.readInt32BE(pos + 57),
      size,
    });
    pos += size;
  }
  return batches;
}

/** Fetches one partition from `offset` over a fresh connection (Fetch v4). */
export async function fetchPartition(bootstrap: string, topic: string, partition: number, offset: bigint): Promise<FetchedPartition> {
  const conn = await WireConnection.connect(bootstrap);
  try {
    return parseFetchV4(await conn.roundTrip(fetchV4Request(topic, partition, offset, 7), 7));
  } finally {
    conn.close();
  }
}
