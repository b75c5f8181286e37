/**
 * HealthServer: the broker's HTTP endpoints (express) — /metrics (Prometheus text from the
 * broker's registry), /healthz (the process answers) and /readyz (200 "ready", or 503 with the
 * reason the broker is not ready yet; see Broker.readinessProblem).
 */
import type { Server } from 'node:http';
import express from 'express';
import type { Registry } from 'prom-client';
import type { Endpoint } from '../listeners.ts';

export interface HealthServerOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  registry: Registry;
  /** Null when ready, else why not. */
  readinessProblem: () => string | null;
}

export class HealthServer {
  private readonly server: Server;
  /** The bound address. */
  readonly address: Endpoint;

  private constructor(server: Server, address: Endpoint) {
    this.server = server;
    this.address = address;
  }

  static async start(opts: HealthServerOptions): Promise<HealthServer> {
    const app = express();
    app.get('/metrics', async (_req, res) => {
      try {
        res.set('Content-Type', opts.registry.contentType);
        res.send(await opts.registry.metrics());
      } catch (err) {
        res.status(500).send(String(err));
      }
    });
    app.get('/healthz', (_req, res) => { res.send('ok\n'); });
    app.get('/readyz', (_req, res) => {
      const problem = opts.readinessProblem();
      if (problem) res.status(503).send(`${problem}\n`);
      else res.send('ready\n');
    });
    const server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(opts.port, opts.host, (err?: Error) => (err ? reject(err) : resolve(s)));
      s.on('error', reject);
    });
    const address = server.address();
    return new HealthServer(server, { host: opts.host, port: typeof address === 'object' && address ? address.port : opts.port });
  }

  /** Drops open connections and stops listening; resolves once closed. */
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
