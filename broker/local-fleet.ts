/**
 * LocalFleet: several brokers in one process sharing one metadata store — the quick start's
 * `brook local --brokers 3`, and the in-process cluster of the replication tests. Each broker
 * has its own data directory (`<dataDir>/broker-<id>`) and port; brokers can be stopped
 * (controlled shutdown), crashed (no hand-off, lease left to expire) and started again on the
 * same data, to watch failover happen.
 */
import { join } from 'node:path';
import { Broker } from './broker.ts';
import { BrokerSettings } from './config.ts';
import { createLogger } from './logger.ts';
import type { LogLevel } from './logger.ts';
import type { MetadataStore } from './metadata/index.ts';

export interface LocalFleetOptions {
  brokers: number;
  host: string;
  /** Kafka port of broker 0; broker N listens on basePort + N. 0: any free ports. */
  basePort: number;
  advertisedHost?: string;
  /** Metrics port of broker 0 (broker N: + N); null for none; 0 for any free ports. */
  metricsBasePort: number | null;
  dataDir: string;
  store: MetadataStore;
  settings: Record<string, string>;
  logLevel?: LogLevel;
}

export class LocalFleet {
  private readonly opts: LocalFleetOptions;
  private readonly running = new Map<number, Broker>();
  private readonly ports = new Map<number, number>();

  constructor(opts: LocalFleetOptions) { this.opts = opts; }

  get ids(): number[] { return Array.from({ length: this.opts.brokers }, (_, i) => i); }
  broker(id: number): Broker | undefined { return this.running.get(id); }
  get brokers(): Broker[] { return [...this.running.values()]; }
  get bootstrap(): string { return this.ids.map((id) => `${this.opts.advertisedHost ?? this.opts.host}:${this.ports.get(id) ?? this.portFor(id)}`).join(','); }

  private portFor(id: number): number { return this.opts.basePort === 0 ? 0 : this.opts.basePort + id; }

  async startAll(): Promise<void> {
    await Promise.all(this.ids.map((id) => this.start(id)));
  }

  async start(id: number): Promise<Broker> {
    if (this.running.has(id)) return this.running.get(id)!;
    // a restarted broker keeps its port so clients' bootstrap lists stay valid
    const port = this.ports.get(id) ?? this.portFor(id);
    const broker = await Broker.start({
      nodeId: id,
      listen: { host: this.opts.host, port },
      advertised: { host: this.opts.advertisedHost ?? this.opts.host, port },
      dataDir: join(this.opts.dataDir, `broker-${id}`),
      store: this.opts.store,
      settings: new BrokerSettings(this.opts.settings),
      metricsPort: this.opts.metricsBasePort === null ? null : this.opts.metricsBasePort === 0 ? 0 : this.opts.metricsBasePort + id,
      logger: createLogger(`broker-${id}`, this.opts.logLevel),
    });
    this.ports.set(id, broker.listenPort);
    this.running.set(id, broker);
    return broker;
  }

  /** Controlled shutdown of one broker. */
  async stop(id: number): Promise<void> {
    const b = this.running.get(id);
    if (!b) return;
    this.running.delete(id);
    await b.stop();
  }

  /** Abrupt stop of one broker: no hand-off; the cluster notices when its lease expires. */
  async crash(id: number): Promise<void> {
    const b = this.running.get(id);
    if (!b) return;
    this.running.delete(id);
    await b.stop('crash');
  }

  async stopAll(): Promise<void> {
    for (const id of [...this.running.keys()]) await this.stop(id);
  }
}
