/**
 * Listeners, Kafka's way: the broker settings `listeners` (what it binds),
 * `advertised.listeners` (what clients are told), `listener.security.protocol.map` (each
 * listener's security protocol) and `inter.broker.listener.name` (what replication uses), turned
 * into one checked list. A client gets, in Metadata, the advertised addresses of the listener it
 * connected on, so each network (pod DNS inside the cluster, node ports or a load balancer
 * outside) sees addresses it can reach.
 *
 *   listeners=INTERNAL://0.0.0.0:9092,EXTERNAL://0.0.0.0:9094
 *   advertised.listeners=INTERNAL://demo-0.demo-brokers.kafka.svc:9092,EXTERNAL://203.0.113.7:31000
 *   listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT
 *   inter.broker.listener.name=INTERNAL
 *
 * Rules (Kafka's, with its error cases as ConfigErrors): listener names are case-insensitive
 * and normalised to upper case; names are unique; every listener has a security protocol (the
 * default map names each protocol after itself: PLAINTEXT://... needs no map); an advertised
 * listener names a listener and never advertises 0.0.0.0 or ::. Differences: a listener missing
 * from advertised.listeners advertises its bind address (a wildcard or empty host becomes
 * `defaultAdvertisedHost()`, as Kafka uses the canonical host name); port 0 binds any free port
 * and advertises the bound one; inter.broker.listener.name defaults to the listener named
 * PLAINTEXT, else the first listener.
 *
 * Security protocols: all four of Kafka's are served; what each needs (key stores, SASL
 * mechanisms) is resolved per listener by broker/security/listener-security.ts.
 */
import { hostname, networkInterfaces } from 'node:os';
import type { NetworkInterfaceInfo } from 'node:os';
import { ConfigError } from './config.ts';

export interface Endpoint { host: string; port: number }

export const securityProtocols = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type SecurityProtocol = (typeof securityProtocols)[number];
/** The protocols KafkaServer serves. */
export const servedProtocols: ReadonlySet<SecurityProtocol> = new Set<SecurityProtocol>(securityProtocols);

export interface Listener {
  /** Upper case (Kafka normalises listener names). */
  readonly name: string;
  readonly protocol: SecurityProtocol;
  /** What the server binds; host 0.0.0.0 or :: for every interface. Port 0: any free port. */
  readonly bind: Endpoint;
  /** What clients are told; port 0: the bound port. */
  readonly advertised: Endpoint;
}

export interface ListenerPlan {
  readonly listeners: readonly Listener[];
  /** The listener other brokers replicate from (its advertised address is the registration's host:port). */
  readonly interBroker: string;
}

/** The single-listener shorthand of `brook broker --listen/--advertised-listener`. */
export const shorthandListenerName = 'PLAINTEXT';
export const defaultListen: Endpoint = { host: '0.0.0.0', port: 9092 };

const wildcard = (host: string) => host === '' || host === '0.0.0.0' || host === '::' || host === '[::]';

/**
 * The address to advertise when a listener binds every interface and nothing more precise was
 * given: the first non-loopback IPv4 address, else the first non-loopback, non-link-local IPv6
 * address, else the host name, else 127.0.0.1. Injected interfaces and host name make it testable.
 */
export function defaultAdvertisedHost(
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
  host: string = hostname(),
): string {
  const all = Object.values(interfaces).flatMap((list) => list ?? []).filter((a) => !a.internal);
  const v4 = all.find((a) => a.family === 'IPv4' && !a.address.startsWith('127.'));
  if (v4) return v4.address;
  const v6 = all.find((a) => a.family === 'IPv6' && a.address !== '::1' && !/^fe80:/i.test(a.address));
  if (v6) return v6.address;
  if (host && host !== 'localhost') return host;
  return '127.0.0.1';
}

/** `NAME://host:port` (host may be empty or [IPv6]). */
export function parseListenerList(setting: string, value: string): Array<{ name: string; endpoint: Endpoint }> {
  const out: Array<{ name: string; endpoint: Endpoint }> = [];
  for (const raw of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9_.-]+):\/\/(\[[0-9a-fA-F:.%]+\]|[^:\s[\]/]*):(\d+)$/.exec(raw);
    if (!m) throw new ConfigError(`${setting}: '${raw}' is not NAME://HOST:PORT (e.g. PLAINTEXT://0.0.0.0:9092)`);
    const port = Number(m[3]);
    if (port > 65535) throw new ConfigError(`${setting}: port ${port} of '${raw}' is above 65535`);
    out.push({ name: m[1]!.toUpperCase(), endpoint: { host: m[2]!.replace(/^\[(.*)\]$/, '$1'), port } });
  }
  if (out.length === 0) throw new ConfigError(`${setting} is empty`);
  return out;
}

/** `NAME:PROTOCOL,...` */
export function parseProtocolMap(value: string): Map<string, SecurityProtocol> {
  const out = new Map<string, SecurityProtocol>();
  for (const raw of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9_.-]+):([A-Za-z_]+)$/.exec(raw);
    if (!m) throw new ConfigError(`listener.security.protocol.map: '${raw}' is not NAME:PROTOCOL (e.g. INTERNAL:PLAINTEXT)`);
    const protocol = m[2]!.toUpperCase();
    if (!(securityProtocols as readonly string[]).includes(protocol)) {
      throw new ConfigError(`listener.security.protocol.map: unknown security protocol '${m[2]}' (Kafka's are ${securityProtocols.join(', ')})`);
    }
    out.set(m[1]!.toUpperCase(), protocol as SecurityProtocol);
  }
  return out;
}

export interface ListenerSettings {
  listeners?: string | null;
  advertisedListeners?: string | null;
  protocolMap?: string | null;
  interBrokerListenerName?: string | null;
}

/**
 * The listener plan from settings, or from the `--listen`/`--advertised-listener` shorthand
 * (a single PLAINTEXT listener). Giving both the shorthand and `listeners` is an error.
 */
export function resolveListeners(
  settings: ListenerSettings,
  shorthand: { listen?: Endpoint; advertised?: Endpoint } = {},
  defaultHost: () => string = defaultAdvertisedHost,
): ListenerPlan {
  let binds: Array<{ name: string; endpoint: Endpoint }>;
  let advertised: Array<{ name: string; endpoint: Endpoint }> = [];
  if (settings.listeners) {
    if (shorthand.listen || shorthand.advertised) {
      throw new ConfigError('give either --listen/--advertised-listener or the listeners setting, not both');
    }
    binds = parseListenerList('listeners', settings.listeners);
    if (settings.advertisedListeners) advertised = parseListenerList('advertised.listeners', settings.advertisedListeners);
  } else {
    if (settings.advertisedListeners) throw new ConfigError('advertised.listeners needs listeners (or use --advertised-listener with --listen)');
    binds = [{ name: shorthandListenerName, endpoint: shorthand.listen ?? defaultListen }];
    if (shorthand.advertised) advertised = [{ name: shorthandListenerName, endpoint: shorthand.advertised }];
  }

  const map = settings.protocolMap ? parseProtocolMap(settings.protocolMap) : new Map(securityProtocols.map((p) => [p, p]));
  const names = new Set<string>();
  const listeners: Listener[] = binds.map(({ name, endpoint }) => {
    if (names.has(name)) throw new ConfigError(`listeners: the listener name ${name} appears twice`);
    names.add(name);
    const protocol = map.get(name);
    if (!protocol) {
      throw new ConfigError(`listener ${name} has no security protocol: add ${name}:PLAINTEXT to listener.security.protocol.map`);
    }
    return { name, protocol, bind: endpoint, advertised: endpoint };
  });
  listeners.forEach((a, i) => listeners.slice(0, i).forEach((b) => {
    const overlap = wildcard(a.bind.host) || wildcard(b.bind.host) || a.bind.host === b.bind.host;
    if (a.bind.port !== 0 && a.bind.port === b.bind.port && overlap) throw new ConfigError(`listeners: ${b.name} and ${a.name} both bind port ${a.bind.port}`);
  }));

  const seen = new Set<string>();
  for (const a of advertised) {
    if (!names.has(a.name)) throw new ConfigError(`advertised.listeners names ${a.name}, which is not in listeners (${[...names].join(', ')})`);
    if (seen.has(a.name)) throw new ConfigError(`advertised.listeners: the listener name ${a.name} appears twice`);
    seen.add(a.name);
    if (a.endpoint.host !== '' && wildcard(a.endpoint.host)) {
      throw new ConfigError(`advertised.listeners: ${a.name} advertises ${a.endpoint.host}, which no client can connect to; give a host name or address`);
    }
  }
  const resolved = listeners.map((l) => {
    const a = advertised.find((x) => x.name === l.name)?.endpoint ?? l.bind;
    return { ...l, advertised: { host: wildcard(a.host) ? defaultHost() : a.host, port: a.port } };
  });

  const asked = settings.interBrokerListenerName?.toUpperCase();
  if (asked && !names.has(asked)) throw new ConfigError(`inter.broker.listener.name ${asked} is not in listeners (${[...names].join(', ')})`);
  const interBroker = asked ?? (names.has('PLAINTEXT') ? 'PLAINTEXT' : resolved[0]!.name);
  return { listeners: resolved, interBroker };
}

/**
 * Advertised addresses learnt after start (the operator's `--advertised-listeners-file`):
 * `NAME://host:port,...` entries for listeners of `plan`. Entries naming no listener, or
 * advertising a wildcard host, are ConfigErrors.
 */
export function parseAdvertisedOverrides(plan: ListenerPlan, text: string): Map<string, Endpoint> {
  const out = new Map<string, Endpoint>();
  for (const { name, endpoint } of parseListenerList('advertised listeners file', text)) {
    if (!plan.listeners.some((l) => l.name === name)) throw new ConfigError(`advertised listeners file names ${name}, which is not in listeners (${plan.listeners.map((l) => l.name).join(', ')})`);
    if (wildcard(endpoint.host)) throw new ConfigError(`advertised listeners file: ${name} advertises '${endpoint.host}', which no client can connect to`);
    out.set(name, endpoint);
  }
  return out;
}

/** Names of the listeners `advertised.listeners` gives an address. */
export function explicitlyAdvertised(settings: ListenerSettings): Set<string> {
  return new Set(settings.advertisedListeners ? parseListenerList('advertised.listeners', settings.advertisedListeners).map((a) => a.name) : []);
}
