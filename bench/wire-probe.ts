/**
 * Wire probe: the smallest Kafka client the benchmark needs to decide that a broker is up.
 *
 * Sends, on one TCP connection, ApiVersions v0 (key 18) and then Metadata v1 (key 3) with an
 * empty topic list, both in the classic (non-flexible) encoding that every Kafka broker since
 * 0.10 accepts:
 *
 *   request  = int32 size, int16 api_key, int16 api_version, int32 correlation_id,
 *              int16-length client_id, body
 *   response = int32 size, int32 correlation_id, body
 *
 * ApiVersions v0 body is empty; its response starts with int16 error_code. Metadata v1 body is
 * int32 topic count (0 = no topics); its response starts with an int32 broker count. The broker
 * is "ready" when ApiVersions answers with error 0 and Metadata lists at least one broker (a
 * KRaft broker does not list itself until the controller has unfenced it).
 *
 * One probe at a time per call; each call opens and closes its own connection.
 */
import { connect, type Socket } from 'node:net';

const API_METADATA = 3;
const API_VERSIONS = 18;
const CLIENT_ID = 'brook-bench-probe';

export type ProbeResult = { ready: true } | { ready: false; reason: string };

function encodeRequest(apiKey: number, apiVersion: number, correlationId: number, body: Buffer): Buffer {
  const clientId = Buffer.from(CLIENT_ID, 'utf8');
  const header = Buffer.alloc(4 + 2 + 2 + 4 + 2);
  header.writeInt32BE(header.length - 4 + clientId.length + body.length, 0);
  header.writeInt16BE(apiKey, 4);
  header.writeInt16BE(apiVersion, 6);
  header.writeInt32BE(correlationId, 8);
  header.writeInt16BE(clientId.length, 12);
  return Buffer.concat([header, clientId, body]);
}

/** Reads size-prefixed frames from a socket, in order. */
class FrameReader {
  #buffered: Buffer = Buffer.alloc(0);
  #waiting: ((frame: Buffer) => void) | undefined;
  #failed: ((err: Error) => void) | undefined;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#buffered = Buffer.concat([this.#buffered, chunk]);
      this.#deliver();
    });
    socket.on('error', (err) => this.#failed?.(err));
    socket.on('close', () => this.#failed?.(new Error('connection closed')));
  }

  next(): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#waiting = resolve;
      this.#failed = reject;
      this.#deliver();
    });
  }

  #deliver(): void {
    if (this.#waiting === undefined || this.#buffered.length < 4) return;
    const size = this.#buffered.readInt32BE(0);
    if (this.#buffered.length < 4 + size) return;
    const frame = this.#buffered.subarray(4, 4 + size);
    this.#buffered = this.#buffered.subarray(4 + size);
    const resolve = this.#waiting;
    this.#waiting = undefined;
    this.#failed = undefined;
    resolve(frame);
  }
}

/** One readiness probe against host:port; never throws, resolves within timeoutMs. */
export async function probeBroker(host: string, port: number, timeoutMs = 1000): Promise<ProbeResult> {
  const socket = connect({ host, port });
  const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const reader = new FrameReader(socket);

    socket.write(encodeRequest(API_VERSIONS, 0, 1, Buffer.alloc(0)));
    const versions = await reader.next();
    if (versions.readInt32BE(0) !== 1) return { ready: false, reason: 'ApiVersions: wrong correlation id' };
    const versionsError = versions.readInt16BE(4);
    if (versionsError !== 0) return { ready: false, reason: `ApiVersions: error code ${versionsError}` };

    const emptyTopicList = Buffer.alloc(4); // int32 0
    socket.write(encodeRequest(API_METADATA, 1, 2, emptyTopicList));
    const metadata = await reader.next();
    if (metadata.readInt32BE(0) !== 2) return { ready: false, reason: 'Metadata: wrong correlation id' };
    const brokerCount = metadata.readInt32BE(4);
    if (brokerCount < 1) return { ready: false, reason: 'Metadata: no brokers listed yet' };
    return { ready: true };
  } catch (err) {
    return { ready: false, reason: (err as Error).message };
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}
