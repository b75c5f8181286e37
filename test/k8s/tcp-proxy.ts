/**
 * A TCP proxy on loopback that a test can cut, to put one client of the API server (one store)
 * on the wrong side of a network failure while everyone else still reaches the server:
 *
 * - `blackhole()`: bytes stop flowing both ways on every connection, new connections are accepted
 *   and held — a partition, or a paused peer: requests already sent wait in the proxy, and go
 *   out (in order) on `heal()`, exactly like writes delayed on the wire.
 * - `refuse()`: every connection is reset and new ones are refused — the server is down.
 * - `heal()`: back to normal.
 *
 * It forwards bytes, so TLS passes through untouched (the serving certificate is for 127.0.0.1).
 * `connections` counts accepted connections (how often a client tried).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

type Mode = 'open' | 'blackhole' | 'refuse';

interface Pair { client: Socket; upstream: Socket; held: Array<{ to: Socket; data: Buffer }> }

export class TcpProxy {
  connections = 0;
  private mode: Mode = 'open';
  private readonly pairs = new Set<Pair>();
  private server: Server | null = null;
  private readonly target: { host: string; port: number };
  private readonly listenHost: string;
  port = 0;

  constructor(target: { host: string; port: number }, listenHost = '127.0.0.1') {
    this.target = target;
    this.listenHost = listenHost;
  }

  async start(): Promise<number> {
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, this.listenHost, resolve); });
    this.server = server;
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    return this.port;
  }

  blackhole(): void { this.mode = 'blackhole'; }

  refuse(): void {
    this.mode = 'refuse';
    for (const p of this.pairs) { p.client.resetAndDestroy(); p.upstream.destroy(); }
    this.pairs.clear();
  }

  heal(): void {
    this.mode = 'open';
    for (const p of this.pairs) {
      for (const { to, data } of p.held) if (!to.destroyed) to.write(data);
      p.held.length = 0;
    }
  }

  async close(): Promise<void> {
    for (const p of this.pairs) { p.client.destroy(); p.upstream.destroy(); }
    this.pairs.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(client: Socket): void {
    this.connections++;
    if (this.mode === 'refuse') { client.resetAndDestroy(); return; }
    const upstream = connect(this.target.port, this.target.host);
    const pair: Pair = { client, upstream, held: [] };
    this.pairs.add(pair);
    const forward = (to: Socket) => (data: Buffer) => {
      if (this.mode === 'blackhole') pair.held.push({ to, data });
      else if (!to.destroyed) to.write(data);
    };
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
    const end = () => { this.pairs.delete(pair); client.destroy(); upstream.destroy(); };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  }
}
