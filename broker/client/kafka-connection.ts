/**
 * KafkaConnection: Brook's own minimal Kafka client connection — one TCP socket, requests
 * encoded with the schema codec, responses matched to requests in order (Kafka answers a
 * connection's requests in order). Used by the replica fetcher and by admin tooling.
 * Errors: a socket error or close fails every outstanding request with BROOK_ERR_CONNECTION;
 * a request that gets no answer within `requestTimeoutMs` fails with BROOK_ERR_REQUEST_TIMEOUT
 * and closes the connection (its response could no longer be matched).
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { decodeResponse, encodeRequest } from '../protocol/index.ts';

export class ConnectionError extends Error {
  readonly code: string;
  constructor(code: 'BROOK_ERR_CONNECTION' | 'BROOK_ERR_REQUEST_TIMEOUT', message: string) {
    super(message);
    this.name = 'ConnectionError';
    this.code = code;
  }
}

interface Pending {
  apiKey: number;
  version: number;
  correlationId: number;
  resolve: (body: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class KafkaConnection {
  readonly host: string;
  readonly port: number;
  private readonly clientId: string;
  private readonly requestTimeoutMs: number;
  private socket: Socket | null = null;
  private connecting: Promise<void> | null = null;
  private readonly pending: Pending[] = [];
  private nextCorrelationId = 1;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private closed = false;

  constructor(opts: { host: string; port: number; clientId: string; requestTimeoutMs?: number }) {
    this.host = opts.host;
    this.port = opts.port;
    this.clientId = opts.clientId;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  }

  get isConnected(): boolean { return this.socket !== null && !this.socket.destroyed; }

  /** Sends one request and resolves with the decoded response body. */
  async send(apiKey: number, version: number, body: unknown, timeoutMs = this.requestTimeoutMs): Promise<any> {
    await this.ensureConnected();
    const correlationId = this.nextCorrelationId++ & 0x7fffffff;
    const frames = encodeRequest(apiKey, version, correlationId, this.clientId, body as never);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new ConnectionError('BROOK_ERR_REQUEST_TIMEOUT', `no response to API ${apiKey} v${version} from ${this.host}:${this.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.push({ apiKey, version, correlationId, resolve, reject, timer });
      const s = this.socket!;
      s.cork();
      for (const f of frames) s.write(f);
      s.uncork();
    });
  }

  private ensureConnected(): Promise<void> {
    if (this.closed) return Promise.reject(new ConnectionError('BROOK_ERR_CONNECTION', 'connection closed'));
    if (this.isConnected) return Promise.resolve();
    this.connecting ??= new Promise<void>((resolve, reject) => {
      const s = connect({ host: this.host, port: this.port });
      s.setNoDelay(true);
      const onError = (err: Error): void => {
        this.connecting = null;
        reject(new ConnectionError('BROOK_ERR_CONNECTION', `cannot connect to ${this.host}:${this.port}: ${err.message}`));
      };
      s.once('error', onError);
      s.once('connect', () => {
        s.off('error', onError);
        this.socket = s;
        this.connecting = null;
        s.on('data', (chunk: Buffer) => this.onData(chunk));
        s.on('error', (err) => this.fail(new ConnectionError('BROOK_ERR_CONNECTION', `${this.host}:${this.port}: ${err.message}`)));
        s.on('close', () => this.fail(new ConnectionError('BROOK_ERR_CONNECTION', `${this.host}:${this.port} closed the connection`)));
        resolve();
      });
    });
    return this.connecting;
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < 4) return;
      if (this.chunks[0]!.length < 4) this.chunks = [Buffer.concat(this.chunks)];
      const size = this.chunks[0]!.readInt32BE(0);
      if (this.buffered < size + 4) return;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      const frame = all.subarray(4, size + 4);
      const rest = all.subarray(size + 4);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      const p = this.pending.shift();
      if (!p) {
        this.fail(new ConnectionError('BROOK_ERR_CONNECTION', `unexpected response from ${this.host}:${this.port}`));
        return;
      }
      clearTimeout(p.timer);
      try {
        const { correlationId, body } = decodeResponse(p.apiKey, p.version, frame);
        if (correlationId !== p.correlationId) throw new Error(`correlation id ${correlationId}, expected ${p.correlationId}`);
        p.resolve(body);
      } catch (err) {
        p.reject(err as Error);
        this.fail(new ConnectionError('BROOK_ERR_CONNECTION', `bad response from ${this.host}:${this.port}: ${(err as Error).message}`));
        return;
      }
    }
  }

  private fail(err: Error): void {
    const s = this.socket;
    this.socket = null;
    s?.destroy();
    this.chunks = [];
    this.buffered = 0;
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }

  close(): void {
    this.closed = true;
    this.fail(new ConnectionError('BROOK_ERR_CONNECTION', 'connection closed'));
  }
}
