/**
 * KafkaConnection: Brook's own minimal Kafka client connection — one TCP socket, requests
 * encoded with the schema codec, responses matched to requests in order (Kafka answers a
 * connection's requests in order). Used by the replica fetcher and by admin tooling.
 * Security (ClientSecurity, the broker's own on the inter-broker listener): TLS with the
 * listener's trust store (and its key store, for brokers that require client certificates), then
 * SASL — SaslHandshake v1 and SaslAuthenticate v2 with PLAIN or SCRAM-SHA-256/512 — before the
 * first request; a refused authentication fails the connection with BROOK_ERR_AUTHENTICATION.
 * Errors: a socket error or close fails every outstanding request with BROOK_ERR_CONNECTION;
 * a request that gets no answer within `requestTimeoutMs` fails with BROOK_ERR_REQUEST_TIMEOUT
 * and closes the connection (its response could no longer be matched).
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { decodeResponse, encodeRequest } from '../protocol/index.ts';
import type { ClientSecurity } from '../security/listener-security.ts';
import { isScramMechanism, ScramClient } from '../security/scram.ts';

export class ConnectionError extends Error {
  readonly code: string;
  constructor(code: 'BROOK_ERR_CONNECTION' | 'BROOK_ERR_REQUEST_TIMEOUT' | 'BROOK_ERR_AUTHENTICATION', message: string) {
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
  private readonly security: ClientSecurity;
  private socket: Socket | null = null;
  /** The socket is connected and, with SASL, authenticated. */
  private ready = false;
  private connecting: Promise<void> | null = null;
  private readonly pending: Pending[] = [];
  private nextCorrelationId = 1;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private closed = false;

  constructor(opts: { host: string; port: number; clientId: string; requestTimeoutMs?: number; security?: ClientSecurity }) {
    this.security = opts.security ?? {};
    this.host = opts.host;
    this.port = opts.port;
    this.clientId = opts.clientId;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  }

  get isConnected(): boolean { return this.ready && this.socket !== null && !this.socket.destroyed; }

  /** Sends one request and resolves with the decoded response body. */
  async send(apiKey: number, version: number, body: unknown, timeoutMs = this.requestTimeoutMs): Promise<any> {
    await this.ensureConnected();
    return this.sendNow(apiKey, version, body, timeoutMs);
  }

  private sendNow(apiKey: number, version: number, body: unknown, timeoutMs: number): Promise<any> {
    if (!this.socket) return Promise.reject(new ConnectionError('BROOK_ERR_CONNECTION', `${this.host}:${this.port}: not connected`));
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
    this.connecting ??= new Promise<Socket>((resolve, reject) => {
      const tls = this.security.tls;
      const s = tls ? connectTls({ ...tls(this.host), port: this.port }) : connect({ host: this.host, port: this.port });
      s.setNoDelay(true);
      const onError = (err: Error): void => {
        reject(new ConnectionError('BROOK_ERR_CONNECTION', `cannot connect to ${this.host}:${this.port}${tls ? ' (TLS)' : ''}: ${err.message}`));
      };
      s.once('error', onError);
      s.once(tls ? 'secureConnect' : 'connect', () => {
        s.off('error', onError);
        resolve(s);
      });
    }).then(async (s) => {
      this.socket = s;
      s.on('data', (chunk: Buffer) => this.onData(chunk));
      s.on('error', (err) => this.fail(new ConnectionError('BROOK_ERR_CONNECTION', `${this.host}:${this.port}: ${err.message}`)));
      s.on('close', () => this.fail(new ConnectionError('BROOK_ERR_CONNECTION', `${this.host}:${this.port} closed the connection`)));
      if (this.security.sasl) {
        try {
          await this.authenticate(this.security.sasl);
        } catch (err) {
          this.fail(err as Error);
          throw err;
        }
      }
      this.ready = true;
    }).finally(() => { this.connecting = null; });
    return this.connecting;
  }

  /** SaslHandshake v1 then SaslAuthenticate v2 rounds (PLAIN: one; SCRAM: two, the server's signature checked). */
  private async authenticate(sasl: NonNullable<ClientSecurity['sasl']>): Promise<void> {
    const refused = (what: string) => new ConnectionError('BROOK_ERR_AUTHENTICATION', `${this.host}:${this.port} refused ${sasl.mechanism} authentication as ${sasl.username}: ${what}`);
    const handshake = await this.sendNow(17, 1, { mechanism: sasl.mechanism }, this.requestTimeoutMs) as { errorCode: number; mechanisms: string[] };
    if (handshake.errorCode !== 0) throw refused(`SaslHandshake error ${handshake.errorCode} (enabled: ${handshake.mechanisms.join(',')})`);
    const round = async (token: string): Promise<string> => {
      const r = await this.sendNow(36, 2, { authBytes: Buffer.from(token, 'utf8') }, this.requestTimeoutMs) as { errorCode: number; errorMessage: string | null; authBytes: Buffer };
      if (r.errorCode !== 0) throw refused(r.errorMessage ?? `error ${r.errorCode}`);
      return Buffer.from(r.authBytes).toString('utf8');
    };
    if (sasl.mechanism === 'PLAIN') {
      await round(`\u0000${sasl.username}\u0000${sasl.password}`);
      return;
    }
    if (!isScramMechanism(sasl.mechanism)) throw refused('mechanism not supported by Brook\'s client');
    const scram = new ScramClient(sasl.mechanism, sasl.username, sasl.password);
    const serverFirst = await round(scram.first());
    const serverFinal = await round(scram.final(serverFirst));
    scram.verify(serverFinal);
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
    this.ready = false;
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
