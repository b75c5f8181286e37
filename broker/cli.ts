/**
 * The `brook` command line.
 *
 *   brook broker   one broker (the container entrypoint)
 *   brook local    the quick-start default: a local broker on localhost:9092, data in ./data
 *
 * Exit codes: 0 after a graceful shutdown (SIGTERM/SIGINT), 1 on a start-up failure, 2 on bad usage.
 */
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Broker } from './broker.ts';
import type { Endpoint } from './broker.ts';
import { explicitlyAdvertised, parseAdvertisedOverrides, resolveListeners } from './listeners.ts';
import type { ListenerPlan } from './listeners.ts';
import { watchAdvertisedListenersFile, watchRackFile } from './rack-file.ts';
import { BrokerSettings, ConfigError, readPropertiesFile } from './config.ts';
import { createLogger } from './logger.ts';
import type { Logger } from './logger.ts';
import { FileStore, MemoryStore } from './metadata/index.ts';
import { LocalFleet } from './local-fleet.ts';
import { createInterface } from 'node:readline';
import type { MetadataStore } from './metadata/index.ts';

const DEFAULT_METRICS_PORT = 9464;

const brokerHelp = `Usage: brook broker [options]

Runs one Kafka-compatible broker.

Options:
  --id N                       Broker (node) id. Default 0.
  --listen HOST:PORT           Address the Kafka listener binds (a single PLAINTEXT listener;
                               for several, use the listeners settings below). Default
                               0.0.0.0:9092. Port 0 picks a free port (printed when ready).
  --advertised-listener HOST:PORT
                               Address clients are told to connect to (Metadata responses).
                               Default: the listen address; for 0.0.0.0 this host's first
                               non-loopback address (else its host name); the real port when
                               the port is 0.
  --data-dir DIR               Where partition logs (and the file metadata store) live.
                               Default ./data/broker-<id>.
  --metrics-port N             Port of the HTTP server with /metrics, /healthz and /readyz.
                               Default ${DEFAULT_METRICS_PORT}; 0 picks a free port; 'none' disables it.
  --metrics-host HOST          Address the metrics server binds. Default: the listen host.
  --store file|memory|kubernetes
                               Metadata store. file (default) keeps topics in DATA_DIR/metadata
                               across restarts; memory forgets them on exit; kubernetes keeps
                               topics as Topic resources and liveness/controller in Leases, so
                               brokers in several processes form one cluster.
  --cluster NAME               With --store kubernetes: the Cluster resource these brokers form.
  --namespace NS               With --store kubernetes: its namespace. Default: the pod's
                               namespace (POD_NAMESPACE, or the service account's), else default.
  --kubeconfig PATH            With --store kubernetes: a kubeconfig; default $KUBECONFIG,
                               ~/.kube/config, or the in-cluster service account.
  --config FILE                A Kafka-style properties file of broker settings (key=value).
  --rack-file PATH             Use the first line of PATH as broker.rack (the operator mounts the
                               node's zone there). Missing or empty: the broker starts without a
                               rack and takes it when the file gets one (polled every 2 s).
  --advertised-listeners-file PATH
                               Advertised addresses learnt after start, NAME://HOST:PORT entries
                               (the operator writes a node port's or a load balancer's address
                               there). A listener that neither advertised.listeners nor this file
                               names is not advertised until the file names it; re-read every 2 s.
  --set KEY=VALUE              One broker setting; repeatable; wins over --config.
                               Run 'brook settings' to list the settings and their defaults.
  -h, --help                   This help.

The broker prints "brook broker <id> listening on HOST:PORT" once it accepts clients.
SIGTERM or SIGINT stops it gracefully: in-flight requests finish, logs are flushed and closed.

Several listeners, Kafka's way (--set or --config; instead of --listen/--advertised-listener):
  listeners=INTERNAL://0.0.0.0:9092,EXTERNAL://0.0.0.0:9094
  advertised.listeners=INTERNAL://broker-0.internal:9092,EXTERNAL://203.0.113.7:31000
  listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT
  inter.broker.listener.name=INTERNAL
A client gets, in Metadata, the advertised addresses of the listener it connected on. Every
Kafka security protocol is served (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL; see the ssl.* and
sasl.* settings in 'brook settings'). With several
listeners the broker prints one "listening on HOST:PORT (NAME)" line per listener.
`;

const localHelp = `Usage: brook local [options]

The quick-start default: a local fleet of replicated brokers on localhost (9092, 9093, 9094 for
three), data in ./data kept across restarts, metadata shared in ./data/metadata. No Kubernetes
needed. Topics, and __consumer_offsets, default to replication factor min(3, brokers): the
fleet size you ask for is the cluster (set offsets.topic.replication.factor to override).

While it runs, type a command and Enter to watch failover live:
  status       brokers, controller, and the leader and ISR of every partition
  stop N       controlled shutdown of broker N (leaderships move first)
  crash N      broker N stops dead; the others notice when its lease expires
  start N      starts broker N again on its data
Ctrl-C stops everything gracefully.

Options:
  --brokers N         Brokers in the fleet. Default 3.
  --port N            Kafka port of broker 0; broker i uses N+i. Default 9092; 0 picks free ports.
  --data-dir DIR      Default ./data.
  --metrics-port N    Metrics port of broker 0; broker i uses N+i. Default ${DEFAULT_METRICS_PORT};
                      'none' disables metrics.
  --set KEY=VALUE     A broker setting for every broker; repeatable (see 'brook settings').
  -h, --help          This help.
`;

const mainHelp = `Usage: brook <command> [options]

Commands:
  local      Run a local fleet of 3 replicated brokers on localhost:9092-9094 (the quick start).
  broker     Run one broker (the container entrypoint).
  settings   List the broker settings Brook understands, with defaults.
  operator   Run the Kubernetes operator (bin/brook operator; see 'brook operator --help').
  help       This help.

'brook <command> --help' explains each command's options.
`;

class UsageError extends Error {}

function parseEndpoint(flag: string, value: string): Endpoint {
  const m = /^(.*):(\d+)$/.exec(value);
  if (!m || Number(m[2]) > 65535) throw new UsageError(`${flag} expects HOST:PORT, got '${value}'`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1') || '0.0.0.0', port: Number(m[2]) };
}

function parseInteger(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) throw new UsageError(`${flag} expects a whole number, got '${value}'`);
  return Number(value);
}

function parseMetricsPort(value: string | undefined): number | null {
  if (value === 'none') return null;
  const port = parseInteger('--metrics-port', value, DEFAULT_METRICS_PORT);
  if (port < 0 || port > 65535) throw new UsageError(`--metrics-port expects 0-65535 or 'none', got '${value}'`);
  return port;
}

function parseSets(values: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of values ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set expects KEY=VALUE, got '${kv}'`);
    out[kv.slice(0, eq).trim()] = kv.slice(eq + 1).trim();
  }
  return out;
}

interface RunOptions {
  nodeId: number;
  listen?: Endpoint;
  advertised?: Endpoint;
  dataDir: string;
  metricsPort: number | null;
  metricsHost?: string;
  store: 'file' | 'memory' | 'kubernetes';
  cluster?: string;
  namespace?: string;
  kubeconfig?: string;
  rackFile?: string;
  advertisedListenersFile?: string;
  settings: Record<string, string>;
}

async function runBroker(o: RunOptions): Promise<void> {
  const log = createLogger(`broker-${o.nodeId}`);
  let broker: Broker | undefined;
  // Files the operator fills after start: a change before the broker is up is applied once it is.
  let latestRack: string | null | undefined;
  const rack = o.rackFile ? await watchRackFile(o.rackFile, { log, onChange: (r) => { latestRack = r; broker?.setRack(r); } }) : undefined;
  if (rack?.initial) o.settings['broker.rack'] = rack.initial;
  const settings = new BrokerSettings(o.settings);
  // Bad listeners fail here, before a store is opened.
  const listenerSettings = {
    listeners: settings.get('listeners'), advertisedListeners: settings.get('advertised.listeners'),
    protocolMap: settings.get('listener.security.protocol.map'), interBrokerListenerName: settings.get('inter.broker.listener.name'),
  };
  let listeners = resolveListeners(listenerSettings, { listen: o.listen, advertised: o.advertised });
  let pendingListeners: string[] = [];
  let learnt: Awaited<ReturnType<typeof watchAdvertisedListenersFile>> | undefined;
  let applyLearnt = (_text: string | null): void => {};
  let latestLearnt: string | null | undefined;
  if (o.advertisedListenersFile) {
    const plan = listeners;
    const overrides = (text: string | null) => {
      try {
        return parseAdvertisedOverrides(plan, text ?? '');
      } catch (err) {
        if (text) log.warn(`ignoring ${o.advertisedListenersFile}: ${(err as Error).message}`);
        return new Map<string, Endpoint>();
      }
    };
    applyLearnt = (text) => {
      for (const [name, endpoint] of overrides(text)) {
        try {
          broker?.setAdvertisedListener(name, endpoint);
        } catch (err) {
          log.warn(`ignoring ${name} in ${o.advertisedListenersFile}: ${(err as Error).message}`);
        }
      }
    };
    learnt = await watchAdvertisedListenersFile(o.advertisedListenersFile, { log, onChange: (text) => { latestLearnt = text; applyLearnt(text); } });
    const initial = overrides(learnt.initial);
    initial.delete(plan.interBroker);
    listeners = withAdvertised(plan, initial);
    const known = explicitlyAdvertised(listenerSettings);
    pendingListeners = plan.listeners.map((l) => l.name).filter((n) => n !== plan.interBroker && !known.has(n) && !initial.has(n));
    if (pendingListeners.length) log.info(`listeners ${pendingListeners.join(', ')} are advertised once ${o.advertisedListenersFile} gives their address`);
  }
  const store: MetadataStore = o.store === 'kubernetes' ? await openKubernetesStore(o)
    : o.store === 'file' ? FileStore.open(join(o.dataDir, 'metadata')) : new MemoryStore();
  const started = Date.now();
  broker = await Broker.start({
    nodeId: o.nodeId, listeners, pendingListeners, dataDir: o.dataDir, store, settings,
    metricsPort: o.metricsPort, metricsHost: o.metricsHost, logger: log,
  });
  if (latestRack !== undefined) broker.setRack(latestRack);
  if (latestLearnt !== undefined) applyLearnt(latestLearnt);
  const advertised = broker.advertisedListeners();
  for (const a of advertised) {
    process.stdout.write(`brook broker ${o.nodeId} listening on ${a.host}:${a.port}${advertised.length > 1 ? ` (${a.name})` : ''}\n`);
  }
  const m = broker.metricsAddress;
  if (m) process.stdout.write(`brook broker ${o.nodeId} metrics on http://${m.host}:${m.port}/metrics\n`);
  log.info(`ready in ${Date.now() - started} ms (data ${o.dataDir}, cluster ${broker.clusterId})`);

  const running = broker;
  stopOnSignals(log, () => {
    rack?.stop();
    learnt?.stop();
    return running.stop().then(() => store.close());
  });
}

function withAdvertised(plan: ListenerPlan, overrides: Map<string, Endpoint>): ListenerPlan {
  return { ...plan, listeners: plan.listeners.map((l) => ({ ...l, advertised: overrides.get(l.name) ?? l.advertised })) };
}

async function openKubernetesStore(o: RunOptions): Promise<MetadataStore> {
  const { loadKubeConfig } = await import('./k8s/kubeconfig.ts');
  const kubeConfig = await loadKubeConfig(o.kubeconfig);
  const { KubernetesStore } = await import('./metadata/kubernetes-store.ts');
  let namespace = o.namespace ?? process.env.POD_NAMESPACE;
  if (!namespace) {
    namespace = await readFile('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').then((t) => t.trim(), () => 'default');
  }
  return KubernetesStore.open({ kubeConfig, namespace, cluster: o.cluster!, fieldManager: `brook-broker-${o.nodeId}` });
}

/**
 * SIGTERM/SIGINT: run `shutdown` (graceful: in-flight requests finish, logs flush) and exit 0;
 * a second signal exits at once with 1.
 */
function stopOnSignals(log: Logger, shutdown: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      log.warn(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
    log.info(`${signal}: shutting down`);
    shutdown().then(() => {
      log.info('stopped');
      process.exit(0);
    }, (err: Error) => {
      log.error(`shutdown failed: ${err.stack}`);
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function brokerCommand(args: string[]): RunOptions | null {
  const { values } = parseArgs({
    args, allowPositionals: false, options: {
      id: { type: 'string' }, listen: { type: 'string' }, 'advertised-listener': { type: 'string' },
      'data-dir': { type: 'string' }, 'metrics-port': { type: 'string' }, 'metrics-host': { type: 'string' },
      store: { type: 'string' }, config: { type: 'string' }, set: { type: 'string', multiple: true },
      cluster: { type: 'string' }, namespace: { type: 'string' }, kubeconfig: { type: 'string' },
      'rack-file': { type: 'string' }, 'advertised-listeners-file': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(brokerHelp);
    return null;
  }
  const nodeId = parseInteger('--id', values.id, 0);
  if (nodeId < 0) throw new UsageError('--id must be 0 or more');
  const store = values.store ?? 'file';
  if (store !== 'file' && store !== 'memory' && store !== 'kubernetes') throw new UsageError(`--store must be file, memory or kubernetes, got '${store}'`);
  if (store === 'kubernetes' && !values.cluster) throw new UsageError('--store kubernetes needs --cluster NAME (the Cluster resource)');
  const metricsPort = parseMetricsPort(values['metrics-port']);
  return {
    nodeId,
    listen: values.listen ? parseEndpoint('--listen', values.listen) : undefined,
    advertised: values['advertised-listener'] ? parseEndpoint('--advertised-listener', values['advertised-listener']) : undefined,
    dataDir: resolve(values['data-dir'] ?? `./data/broker-${nodeId}`),
    metricsPort,
    metricsHost: values['metrics-host'],
    store,
    cluster: values.cluster,
    namespace: values.namespace,
    kubeconfig: values.kubeconfig,
    rackFile: values['rack-file'],
    advertisedListenersFile: values['advertised-listeners-file'],
    settings: { ...(values.config ? readPropertiesFile(values.config) : {}), ...parseSets(values.set) },
  };
}

interface LocalOptions {
  brokers: number;
  port: number;
  dataDir: string;
  metricsPort: number | null;
  settings: Record<string, string>;
}

function localCommand(args: string[]): LocalOptions | null {
  const { values } = parseArgs({
    args, allowPositionals: false, options: {
      brokers: { type: 'string' }, port: { type: 'string' }, 'data-dir': { type: 'string' }, 'metrics-port': { type: 'string' },
      set: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(localHelp);
    return null;
  }
  const brokers = parseInteger('--brokers', values.brokers, 3);
  if (brokers < 1 || brokers > 32) throw new UsageError('--brokers must be between 1 and 32');
  const sets = parseSets(values.set);
  return {
    brokers,
    port: parseInteger('--port', values.port, 9092),
    dataDir: resolve(values['data-dir'] ?? './data'),
    metricsPort: parseMetricsPort(values['metrics-port']),
    // the fleet size is the user's explicit choice: a 1- or 2-broker fleet still gets consumer groups
    settings: { 'default.replication.factor': String(Math.min(3, brokers)), 'offsets.topic.replication.factor': String(Math.min(3, brokers)),
      'transaction.state.log.replication.factor': String(Math.min(3, brokers)), 'transaction.state.log.min.isr': String(Math.min(2, brokers)), ...sets },
  };
}

async function runLocal(o: LocalOptions): Promise<void> {
  const log = createLogger('local');
  new BrokerSettings(o.settings); // fail fast on a bad --set
  const store = FileStore.open(join(o.dataDir, 'metadata'));
  const fleet = new LocalFleet({
    brokers: o.brokers, host: '127.0.0.1', advertisedHost: 'localhost', basePort: o.port, metricsBasePort: o.metricsPort,
    dataDir: o.dataDir, store, settings: o.settings,
  });
  const started = Date.now();
  await fleet.startAll();
  for (const b of fleet.brokers) {
    process.stdout.write(`brook broker ${b.nodeId} listening on ${b.advertised.host}:${b.advertised.port}\n`);
    const m = b.metricsAddress;
    if (m) process.stdout.write(`brook broker ${b.nodeId} metrics on http://${m.host}:${m.port}/metrics\n`);
  }
  log.info(`${o.brokers} broker(s) ready in ${Date.now() - started} ms; bootstrap ${fleet.bootstrap}; data ${o.dataDir}`);
  process.stdout.write(`Type 'status', 'stop N', 'crash N' or 'start N' and Enter; Ctrl-C to quit.\n`);

  const status = (): void => {
    const any = fleet.brokers[0];
    if (!any) {
      process.stdout.write('no broker is running\n');
      return;
    }
    const lines = [`brokers running: ${fleet.brokers.map((b) => b.nodeId).join(', ')}; live: ${any.liveBrokers().map((b) => b.id).join(', ')}; controller: ${any.controllerId()}`];
    for (const t of any.allTopics()) {
      for (const p of t.partitions) lines.push(`  ${t.spec.name}-${p.partition}: leader ${p.leader} (epoch ${p.leaderEpoch}) replicas [${p.replicas.join(',')}] isr [${p.isr.join(',')}]`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  };
  const commands = createInterface({ input: process.stdin, terminal: false });
  commands.on('line', (line) => {
    const [cmd, arg] = line.trim().split(/\s+/);
    const id = Number(arg);
    const known = Number.isInteger(id) && fleet.ids.includes(id);
    const run = (what: string, action: () => Promise<unknown>): void => {
      if (!known) {
        process.stdout.write(`${what} needs a broker id (${fleet.ids.join(', ')})\n`);
        return;
      }
      action().then(() => process.stdout.write(`${what} ${id}: done\n`), (err: Error) => process.stdout.write(`${what} ${id} failed: ${err.message}\n`));
    };
    switch (cmd) {
      case '': break;
      case 'status': status(); break;
      case 'stop': run('stop', () => fleet.stop(id)); break;
      case 'crash': run('crash', () => fleet.crash(id)); break;
      case 'start': run('start', () => fleet.start(id)); break;
      default: process.stdout.write(`unknown command '${line.trim()}': status, stop N, crash N, start N\n`);
    }
  });

  stopOnSignals(log, () => {
    commands.close();
    return fleet.stopAll().then(() => store.close());
  });
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  let options: RunOptions | null;
  switch (command) {
    case 'broker': options = brokerCommand(rest); break;
    case 'local': {
      const local = localCommand(rest);
      if (local) await runLocal(local);
      return;
    }
    case 'settings': {
      const { settingsReference } = await import('./config.ts');
      process.stdout.write(settingsReference());
      return;
    }
    case undefined: case 'help': case '--help': case '-h':
      process.stdout.write(mainHelp);
      return;
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
  if (options) await runBroker(options);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError || err instanceof ConfigError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
    || (err as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    process.stderr.write(`brook: ${(err as Error).message}\nRun 'brook --help' for usage.\n`);
    process.exit(2);
  }
  const e = err as Error & { code?: string };
  process.stderr.write(`brook: failed to start: ${e.code === 'EADDRINUSE' ? `${e.message} (is another broker running?)` : e.stack ?? String(err)}\n`);
  process.exit(1);
});
