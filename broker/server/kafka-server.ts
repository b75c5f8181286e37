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
 */
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { ErrorCode } from '../errors.ts';
import { apiSchema, decodeRequest, encodeApiVersionsError, encodeResponse, parseRequestHeader, ProtocolDecodeError } from '../protocol/index.ts';
import { handlerFor } from '../handlers/index.ts';
import type { BrokerServices, RequestContext } from '../handlers/index.ts';
import type { BrokerMetrics } from '../metrics.ts';
import { Connection } from './connection.ts';
import type { FrameSink } from './connection.ts';

const API_VERSIONS = 18;

/** The counters the server itself keeps (per connection and per request). */
export type ServerMetrics = Pick<BrokerMetrics, 'connectionsOpened' | 'connectionsClosedMalformed' | 'requests' | 'requestErrors' | 'requestSeconds'>;

export class KafkaServer implements FrameSink {
  private readonly broker: BrokerServices;
  private readonly metrics: ServerMetrics;
  /** The listener name (upper case) this server serves. */
  readonly listener: string;
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private readonly maxFrameBytes: number;
  private boundPort = 0;

  constructor(broker: BrokerServices, metrics: ServerMetrics, listener: string) {
    this.broker = broker;
    this.metrics = metrics;
    this.listener = listener;
    this.maxFrameBytes = broker.settings.int('socket.request.max.bytes');
    this.server = createServer((socket) => {
      const conn = new Connection(socket, this, this.maxFrameBytes);
      this.connections.add(conn);
      metrics.connectionsOpened.inc();
    });
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

  handleFrame(frame: Buffer, conn: Connection): Promise<Buffer[] | null> | Buffer[] | null {
    const header = parseRequestHeader(frame);
    const { apiKey, apiVersion, correlationId } = header;
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
    const ctx: RequestContext = { broker: this.broker, apiVersion, clientId: header.clientId, correlationId, remote: conn.remote, listener: this.listener };
    const finish = (body: unknown): Buffer[] | null => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.metrics.requests.inc({ api: schema.name });
      this.metrics.requestSeconds.observe({ api: schema.name }, seconds);
      return body === null ? null : encodeResponse(apiKey, apiVersion, correlationId, body);
    };
    const result = handler.handle(request, ctx);
    return result instanceof Promise ? result.then(finish) : finish(result);
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
    this.metrics.connectionsClosedMalformed.inc({ reason: 'handler_error' });
    this.broker.log.error(`closing ${conn.remote} after a failed request: ${(err as Error)?.stack ?? String(err)}`);
  }

  closed(conn: Connection): void {
    this.connections.delete(conn);
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
