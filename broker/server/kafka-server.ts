/**
 * KafkaServer: one of the broker's TCP listeners (one per entry of `listeners`). It frames connections (Connection), parses request
 * headers, checks the API and version against the handler table, decodes bodies with the
 * schema codec, runs the handler and encodes its response at the request's version.
 *
 * Rules: an API or version the broker does not implement gets UNSUPPORTED_VERSION (ApiVersions
 * gets Kafka's v0-shaped error body listing its own range); a body that does not decode closes
 * that connection and is counted; a handler that throws closes that connection and is logged.
 * Handlers learn the listener a request came in on (RequestContext.listener): Metadata answers
 * with that listener's advertised addresses.
 *
 * Security (ListenerSecurity): an SSL or SASL_SSL listener is a TLS server whose certificate is
 * swapped in place when its files change (setSecureContext: new handshakes get the new one,
 * established connections keep theirs); a failed handshake is counted and closes that socket.
 * With ssl.client.auth=requested, a client certificate that is presented but not trusted
 * closes the connection (as Java's SSLEngine refuses it). On SASL listeners each connection has
 * a SaslAuthenticator that gates every request until the client authenticated (see
 * sasl-authenticator.ts) and, until then, frames above sasl.server.max.receive.size close it.
 * Every request carries its connection's principal (RequestContext.principal).
 *
 * socket.send.buffer.bytes (Kafka's setting, -1 by default here: the OS's autotuned buffer) sets
 * SO_SNDBUF on every accepted TCP connection, before TLS if any, through the native add-on.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { ErrorCode } from '../errors.ts';
import { fetchReadBuffers } from '../log/index.ts';
import { apiSchema, decodeRequest, encodeApiVersionsError, encodeResponse, encodeResponseChunks, FileRegion, parseRequestHeader, ProtocolDecodeError, type Chunk } from '../protocol/index.ts';
import { handlerFor } from '../handlers/index.ts';
import type { BrokerServices, RequestContext } from '../handlers/index.ts';
import type { BrokerMetrics } from '../metrics.ts';
import { Connection } from './connection.ts';
import { sendFileBinding, socketFd } from '../native/index.ts';
import type { FrameSink } from './connection.ts';
import { ANONYMOUS, certificatePrincipal } from '../security/principal.ts';
import type { KafkaPrincipal } from '../security/principal.ts';
import { SASL_AUTHENTICATE, SASL_HANDSHAKE, SaslAuthenticator } from '../security/sasl-authenticator.ts';
import type { ListenerSecurity } from '../security/listener-security.ts';
import type { ScramMechanism } from '../security/scram.ts';

/** Per-connection security state. */
interface Session {
  /** From the TLS client certificate (SSL listeners with client auth), else ANONYMOUS. */
  readonly transportPrincipal: KafkaPrincipal;
  readonly sasl: SaslAuthenticator | null;
}

/** A request that the SASL state does not allow: the connection closes (counted as 'sasl_state'). */
class SaslStateError extends Error {
  readonly code = 'BROOK_ERR_SASL_STATE';
  constructor(message: string) { super(message); this.name = 'SaslStateError'; }
}

const API_VERSIONS = 18;
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** The counters the server itself keeps (per connection and per request). */
export type ServerMetrics = Pick<BrokerMetrics, 'connectionsOpened' | 'connectionsClosedMalformed' | 'requests' | 'requestErrors' | 'requestSeconds' | 'authentications'>;

/** socket.send.buffer.bytes: null for -1 (the OS default); the bytes; an error for anything else. */
function sendBufferSetting(broker: BrokerServices): number | null {
  const bytes = broker.settings.int('socket.send.buffer.bytes');
  if (bytes === -1) return null;
  if (!Number.isInteger(bytes) || bytes <= 0) {
    throw new Error(`socket.send.buffer.bytes must be -1 (the operating system's default) or a positive number of bytes, got ${bytes}`);
  }
  if (sendFileBinding === null) {
    broker.log.warn(`socket.send.buffer.bytes=${bytes} is not applied: the native add-on is not loaded (node scripts/build-native.mjs)`);
    return null;
  }
  return bytes;
}

const PLAINTEXT_SECURITY: ListenerSecurity = { listener: 'PLAINTEXT', protocol: 'PLAINTEXT', ssl: null, sasl: null };

export class KafkaServer implements FrameSink {
  private readonly broker: BrokerServices;
  private readonly metrics: ServerMetrics;
  /** The listener name (upper case) this server serves. */
  readonly listener: string;
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private readonly sessions = new Map<Connection, Session>();
  private readonly maxFrameBytes: number;
  private readonly security: ListenerSecurity;
  private boundPort = 0;

  constructor(broker: BrokerServices, metrics: ServerMetrics, listener: string, security: ListenerSecurity = { ...PLAINTEXT_SECURITY, listener }) {
    this.broker = broker;
    this.metrics = metrics;
    this.listener = listener;
    this.security = security;
    this.maxFrameBytes = broker.settings.int('socket.request.max.bytes');
    const ssl = security.ssl;
    if (ssl) {
      const clientAuth = ssl.current.clientAuth;
      // handshakeTimeout: Node keeps a handshake that stalls (even one the client half-closed
      // mid-record) until this fires; Node's default is 120 s.
      const tlsServer = createTlsServer({ ...ssl.current.context, requestCert: clientAuth !== 'none', rejectUnauthorized: clientAuth === 'required', handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS },
        (socket) => this.accept(socket));
      tlsServer.on('tlsClientError', (err, socket) => {
        metrics.connectionsClosedMalformed.inc({ reason: 'tls_handshake' });
        broker.log.debug(`${listener}: TLS handshake with ${socket.remoteAddress}:${socket.remotePort} failed: ${err.message}`);
        socket.destroy();
      });
      ssl.onChange((m) => tlsServer.setSecureContext({ ...m.context }));
      this.server = tlsServer;
    } else {
      this.server = createServer((socket) => this.accept(socket));
    }
    const sendBufferBytes = sendBufferSetting(broker);
    if (sendBufferBytes !== null) {
      // the raw TCP socket of every connection, TLS or not, before anything is written to it
      this.server.prependListener('connection', (socket: Socket) => this.sizeSendBuffer(socket, sendBufferBytes));
    }
  }

  private sizeSendBuffer(socket: Socket, bytes: number): void {
    const fd = socketFd(socket);
    if (sendFileBinding === null || fd === null) return;
    try {
      sendFileBinding.setSendBuffer(fd, bytes);
    } catch (err) {
      this.broker.log.warn(`${this.listener}: socket.send.buffer.bytes=${bytes} not applied to ${socket.remoteAddress}:${socket.remotePort}: ${(err as Error).message}`);
    }
  }

  private accept(socket: Socket): void {
    let transportPrincipal = ANONYMOUS;
    if (this.security.ssl) {
      const tlsSocket = socket as TLSSocket;
      const peer = tlsSocket.getPeerCertificate(false);
      const presented = peer !== null && peer !== undefined && Object.keys(peer).length > 0 && peer.raw !== undefined;
      if (presented) {
        if (!tlsSocket.authorized) {
          // ssl.client.auth=requested: an untrusted certificate is refused, as Java's SSLEngine does.
          this.metrics.connectionsClosedMalformed.inc({ reason: 'tls_untrusted_client' });
          this.metrics.authentications.inc({ listener: this.listener, mechanism: 'SSL', result: 'failure' });
          this.broker.log.debug(`${this.listener}: client certificate of ${socket.remoteAddress} not trusted: ${String(tlsSocket.authorizationError)}`);
          socket.destroy();
          return;
        }
        transportPrincipal = certificatePrincipal(peer.raw);
        this.metrics.authentications.inc({ listener: this.listener, mechanism: 'SSL', result: 'success' });
      }
    }
    const sasl = this.security.sasl;
    const conn = new Connection(socket, this, sasl ? Math.min(sasl.maxReceiveBytes, this.maxFrameBytes) : this.maxFrameBytes,
      { sendFiles: this.broker.settings.bool('brook.fetch.sendfile') });
    this.connections.add(conn);
    this.sessions.set(conn, {
      transportPrincipal,
      sasl: sasl ? new SaslAuthenticator({
        mechanisms: sasl.mechanisms, plainUsers: sasl.plainUsers, reauthMs: sasl.reauthMs, clock: this.broker.clock,
        scramCredential: (user: string, mechanism: ScramMechanism) => this.broker.scramCredential(user, mechanism),
      }) : null,
    });
    this.metrics.connectionsOpened.inc();
  }

  get connectionCount(): number { return this.connections.size; }
  get port(): number { return this.boundPort; }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port, backlog: 1024 }, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        this.boundPort = typeof address === 'object' && address ? address.port : port;
        resolve(this.boundPort);
      });
    });
  }

  /** Stops accepting, lets every connection finish what it already received, then closes them. */
  async close(timeoutMs = 10_000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const drained = Promise.all([...this.connections].map((c) => c.drain()));
    await Promise.race([drained, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    for (const c of this.connections) c.socket.end();
    for (const c of this.connections) c.destroy();
    await closed;
  }

  handleFrame(frame: Buffer, conn: Connection): Promise<Chunk[] | null> | Chunk[] | null {
    const header = parseRequestHeader(frame);
    const { apiKey, apiVersion, correlationId } = header;
    const session = this.sessions.get(conn);
    const sasl = session?.sasl ?? null;
    if (sasl) {
      const gate = sasl.gate(apiKey);
      if (gate.kind === 'close') throw new SaslStateError(`${this.listener}: ${gate.reason}`);
      if (gate.kind === 'sasl') return this.handleSasl(sasl, frame, header, conn);
    }
    const handler = handlerFor(apiKey);
    const schema = apiSchema(apiKey);
    if (!handler || !schema || apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
      const name = schema?.name ?? `api-${apiKey}`;
      this.metrics.requestErrors.inc({ api: name, error: 'UNSUPPORTED_VERSION' });
      this.broker.log.debug(`${conn.remote}: unsupported ${name} v${apiVersion}`);
      if (apiKey === API_VERSIONS) {
        const own = handlerFor(API_VERSIONS)!;
        return encodeApiVersionsError(correlationId, { minVersion: own.minVersion, maxVersion: own.maxVersion });
      }
      return [unsupportedVersionResponse(correlationId)];
    }
    const request = decodeRequest(apiKey, apiVersion, frame, header.bodyOffset);
    const started = process.hrtime.bigint();
    const principal = sasl?.principal ?? session?.transportPrincipal ?? ANONYMOUS;
    const ctx: RequestContext = { broker: this.broker, apiVersion, clientId: header.clientId, correlationId, remote: conn.remote, listener: this.listener, principal, sendsFiles: conn.sendsFiles };
    const finish = (body: unknown): Chunk[] | null => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.metrics.requests.inc({ api: schema.name });
      this.metrics.requestSeconds.observe({ api: schema.name }, seconds);
      return body === null ? null : encodeResponseChunks(apiKey, apiVersion, correlationId, body);
    };
    const result = handler.handle(request, ctx);
    return result instanceof Promise ? result.then(finish) : finish(result);
  }

  /** SaslHandshake or SaslAuthenticate on a connection that is (re-)authenticating. */
  private handleSasl(sasl: SaslAuthenticator, frame: Buffer, header: ReturnType<typeof parseRequestHeader>, conn: Connection): Buffer[] {
    const { apiKey, apiVersion, correlationId } = header;
    const handler = handlerFor(apiKey)!;
    if (apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
      throw new SaslStateError(`${this.listener}: ${apiKey === SASL_HANDSHAKE ? 'SaslHandshake' : 'SaslAuthenticate'} v${apiVersion} is not supported`);
    }
    const request = decodeRequest(apiKey, apiVersion, frame, header.bodyOffset) as { mechanism?: string; authBytes?: Buffer };
    const answer = apiKey === SASL_HANDSHAKE ? sasl.handshake(request.mechanism ?? '', apiVersion) : sasl.authenticate(request.authBytes ?? Buffer.alloc(0), apiVersion);
    if (apiKey === SASL_AUTHENTICATE) {
      const failed = answer.body.errorCode !== 0;
      if (failed || sasl.authenticated) this.metrics.authentications.inc({ listener: this.listener, mechanism: sasl.mechanismName, result: failed ? 'failure' : 'success' });
      if (failed) this.broker.log.info(`${this.listener}: ${sasl.mechanismName} authentication of ${conn.remote} failed: ${sasl.failureDetail}`);
    }
    if (answer.close) conn.endAfterResponses();
    else if (sasl.authenticated) conn.maxFrameBytes = this.maxFrameBytes;
    this.metrics.requests.inc({ api: apiKey === SASL_HANDSHAKE ? 'SaslHandshake' : 'SaslAuthenticate' });
    return encodeResponse(apiKey, apiVersion, correlationId, answer.body as never);
  }

  malformed(conn: Connection, reason: string, detail: string): void {
    this.metrics.connectionsClosedMalformed.inc({ reason });
    this.broker.log.warn(`closing ${conn.remote}: ${detail}`);
  }

  failed(conn: Connection, err: unknown): void {
    if (err instanceof ProtocolDecodeError) {
      this.malformed(conn, 'decode', err.message);
      return;
    }
    if (err instanceof SaslStateError) {
      this.metrics.connectionsClosedMalformed.inc({ reason: 'sasl_state' });
      this.broker.log.info(`closing ${conn.remote}: ${err.message}`);
      return;
    }
    this.metrics.connectionsClosedMalformed.inc({ reason: 'handler_error' });
    this.broker.log.error(`closing ${conn.remote} after a failed request: ${(err as Error)?.stack ?? String(err)}`);
  }

  /** A written Fetch response gives its record buffers back to the read pool, and its file regions their segments (see handlers/fetch.ts). */
  written(response: Chunk[]): void {
    for (const chunk of response) {
      if (chunk instanceof FileRegion) chunk.release();
      else fetchReadBuffers.release(chunk);
    }
  }

  closed(conn: Connection): void {
    this.connections.delete(conn);
    this.sessions.delete(conn);
  }
}

/**
 * For an API or version the broker does not implement, there is no response schema to encode
 * with; the answer is the response header (correlation id) and an int16 UNSUPPORTED_VERSION,
 * which is what every Kafka response at its first field would carry as an error code.
 */
function unsupportedVersionResponse(correlationId: number): Buffer {
  const out = Buffer.alloc(10);
  out.writeInt32BE(6, 0);
  out.writeInt32BE(correlationId, 4);
  out.writeInt16BE(ErrorCode.UNSUPPORTED_VERSION, 8);
  return out;
}
