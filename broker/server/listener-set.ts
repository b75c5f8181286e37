/**
 * ListenerSet: the broker's Kafka listeners (one KafkaServer per entry of the listener plan) and
 * what each is advertised as. A listener bound to port 0 advertises the port it got; a pending
 * listener (a node port's or load balancer's address, learnt after start) is served but not
 * advertised until setAdvertised gives its address. The inter-broker listener is never pending
 * and keeps the address it started with: other brokers replicate from it.
 */
import { ConfigError } from '../config.ts';
import type { BrokerServices } from '../handlers/index.ts';
import type { Endpoint, ListenerPlan } from '../listeners.ts';
import type { Logger } from '../logger.ts';
import type { ListenerEndpoint } from '../metadata/index.ts';
import { KafkaServer } from './kafka-server.ts';
import type { ListenerSecurity } from '../security/listener-security.ts';
import type { ServerMetrics } from './kafka-server.ts';

export class ListenerSet {
  readonly plan: ListenerPlan;
  private readonly servers: KafkaServer[] = [];
  /** Advertised endpoint per listener name, with bound ports filled in once listening. */
  private readonly advertisedByName = new Map<string, Endpoint>();
  private readonly pending: Set<string>;
  private readonly log: Logger;

  constructor(plan: ListenerPlan, pending: readonly string[], log: Logger) {
    this.plan = plan;
    this.log = log;
    for (const l of plan.listeners) this.advertisedByName.set(l.name, l.advertised);
    this.pending = new Set(pending);
    if (this.pending.has(plan.interBroker)) {
      throw new ConfigError(`the inter-broker listener ${plan.interBroker} needs an address at start: other brokers replicate from it`);
    }
  }

  /** Binds every listener, in plan order, with its security (default: PLAINTEXT). */
  async start(services: BrokerServices, metrics: ServerMetrics, security: ReadonlyMap<string, ListenerSecurity> = new Map()): Promise<void> {
    for (const l of this.plan.listeners) {
      const server = new KafkaServer(services, metrics, l.name, security.get(l.name));
      this.servers.push(server);
      const port = await server.listen(bindHost(l.bind.host), l.bind.port);
      if (l.advertised.port === 0) this.advertisedByName.set(l.name, { host: l.advertised.host, port });
      const a = this.advertisedByName.get(l.name)!;
      this.log.info(`listener ${l.name} (${l.protocol}) on ${bindHost(l.bind.host)}:${port}, ${this.pending.has(l.name) ? 'advertised once its address is known' : `advertised as ${a.host}:${a.port}`}`);
    }
  }

  /** The inter-broker listener's advertised address. */
  get interBrokerAdvertised(): Endpoint { return this.advertisedByName.get(this.plan.interBroker)!; }

  /** `name`'s advertised address, or undefined while pending (or for an unknown name). */
  advertised(name: string): Endpoint | undefined { return this.pending.has(name) ? undefined : this.advertisedByName.get(name); }

  /** Every advertised listener's address, in plan order (pending ones left out). */
  advertisedListeners(): ListenerEndpoint[] {
    return this.plan.listeners.filter((l) => !this.pending.has(l.name)).map((l) => ({ name: l.name, ...this.advertisedByName.get(l.name)! }));
  }

  /** Sets a listener's advertised address; false when nothing changed. */
  setAdvertised(name: string, endpoint: Endpoint): boolean {
    if (!this.advertisedByName.has(name)) throw new ConfigError(`no listener named ${name}`);
    if (name === this.plan.interBroker) throw new ConfigError(`the inter-broker listener ${name} keeps the address it started with`);
    const before = this.advertisedByName.get(name)!;
    if (!this.pending.has(name) && before.host === endpoint.host && before.port === endpoint.port) return false;
    this.pending.delete(name);
    this.advertisedByName.set(name, endpoint);
    this.log.info(`listener ${name} now advertised as ${endpoint.host}:${endpoint.port}`);
    return true;
  }

  /** Bound port per listener name. */
  ports(): Map<string, number> { return new Map(this.servers.map((s) => [s.listener, s.port])); }

  get connectionCount(): number { return this.servers.reduce((n, s) => n + s.connectionCount, 0); }

  /** Closes every listener, letting connections finish what they received within `timeoutMs` (default: KafkaServer's). */
  async close(timeoutMs?: number): Promise<void> {
    await Promise.all(this.servers.map((s) => s.close(timeoutMs)));
  }
}

/** An empty listener host binds every interface. */
export function bindHost(host: string): string { return host === '' ? '0.0.0.0' : host.replace(/^\[(.*)\]$/, '$1'); }
