/**
 * The `brook` command line.
 *
 *   brook broker   one broker (the container entrypoint)
 *   brook local    the quick-start default: a local broker on localhost:9092, data in ./data
 *
 * Exit codes: 0 after a graceful shutdown (SIGTERM/SIGINT), 1 on a start-up failure, 2 on bad usage.
 */
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { Broker } from './broker.ts';
import type { Endpoint } from './broker.ts';
import { BrokerSettings, ConfigError, readPropertiesFile } from './config.ts';
import { createLogger } from './logger.ts';
import { FileStore, MemoryStore } from './metadata/index.ts';
import type { MetadataStore } from './metadata/index.ts';

const DEFAULT_METRICS_PORT = 9464;

const brokerHelp = `Usage: brook broker [options]

Runs one Kafka-compatible broker.

Options:
  --id N                       Broker (node) id. Default 0.
  --listen HOST:PORT           Address the Kafka listener binds. Default 0.0.0.0:9092.
                               Port 0 picks a free port (printed when ready).
  --advertised-listener HOST:PORT
                               Address clients are told to connect to (Metadata responses).
                               Default: the listen address, with 127.0.0.1 for 0.0.0.0 and the
                               real port when the port is 0.
  --data-dir DIR               Where partition logs (and the file metadata store) live.
                               Default ./data/broker-<id>.
  --metrics-port N             Port of the HTTP server with /metrics, /healthz and /readyz.
                               Default ${DEFAULT_METRICS_PORT}; 0 picks a free port; 'none' disables it.
  --metrics-host HOST          Address the metrics server binds. Default: the listen host.
  --store file|memory          Metadata store. file (default) keeps topics in DATA_DIR/metadata
                               across restarts; memory forgets them on exit.
  --config FILE                A Kafka-style properties file of broker settings (key=value).
  --set KEY=VALUE              One broker setting; repeatable; wins over --config.
                               Run 'brook settings' to list the settings and their defaults.
  -h, --help                   This help.

The broker prints "brook broker <id> listening on HOST:PORT" once it accepts clients.
SIGTERM or SIGINT stops it gracefully: in-flight requests finish, logs are flushed and closed.
`;

const localHelp = `Usage: brook local [options]

The quick-start default: a local broker on localhost:9092 with its data in ./data, kept across
restarts. No Kubernetes needed. Stop it with Ctrl-C.

Options:
  --port N            Kafka port. Default 9092.
  --data-dir DIR      Default ./data.
  --metrics-port N    Default ${DEFAULT_METRICS_PORT}; 'none' disables metrics.
  --set KEY=VALUE     A broker setting; repeatable (see 'brook settings').
  -h, --help          This help.
`;

const mainHelp = `Usage: brook <command> [options]

Commands:
  local      Run a local broker on localhost:9092 (the quick start).
  broker     Run one broker (the container entrypoint).
  settings   List the broker settings Brook understands, with defaults.
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
  listen: Endpoint;
  advertised?: Endpoint;
  dataDir: string;
  metricsPort: number | null;
  metricsHost?: string;
  store: 'file' | 'memory';
  settings: Record<string, string>;
}

async function runBroker(o: RunOptions): Promise<void> {
  const log = createLogger(`broker-${o.nodeId}`);
  const settings = new BrokerSettings(o.settings);
  const store: MetadataStore = o.store === 'file' ? FileStore.open(join(o.dataDir, 'metadata')) : new MemoryStore();
  const advertised = o.advertised ?? { host: o.listen.host === '0.0.0.0' || o.listen.host === '::' ? '127.0.0.1' : o.listen.host, port: o.listen.port };
  const started = Date.now();
  const broker = await Broker.start({
    nodeId: o.nodeId, listen: o.listen, advertised, dataDir: o.dataDir, store, settings,
    metricsPort: o.metricsPort, metricsHost: o.metricsHost, logger: log,
  });
  const a = broker.advertised;
  process.stdout.write(`brook broker ${o.nodeId} listening on ${a.host}:${a.port}\n`);
  const m = broker.metricsAddress;
  if (m) process.stdout.write(`brook broker ${o.nodeId} metrics on http://${m.host}:${m.port}/metrics\n`);
  log.info(`ready in ${Date.now() - started} ms (data ${o.dataDir}, cluster ${broker.clusterId})`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      log.warn(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
    log.info(`${signal}: shutting down`);
    broker.stop().then(() => store.close()).then(() => {
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
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(brokerHelp);
    return null;
  }
  const nodeId = parseInteger('--id', values.id, 0);
  if (nodeId < 0) throw new UsageError('--id must be 0 or more');
  const store = values.store ?? 'file';
  if (store !== 'file' && store !== 'memory') throw new UsageError(`--store must be file or memory, got '${store}'`);
  const metricsPort = parseMetricsPort(values['metrics-port']);
  return {
    nodeId,
    listen: parseEndpoint('--listen', values.listen ?? '0.0.0.0:9092'),
    advertised: values['advertised-listener'] ? parseEndpoint('--advertised-listener', values['advertised-listener']) : undefined,
    dataDir: resolve(values['data-dir'] ?? `./data/broker-${nodeId}`),
    metricsPort,
    metricsHost: values['metrics-host'],
    store,
    settings: { ...(values.config ? readPropertiesFile(values.config) : {}), ...parseSets(values.set) },
  };
}

function localCommand(args: string[]): RunOptions | null {
  const { values } = parseArgs({
    args, allowPositionals: false, options: {
      port: { type: 'string' }, 'data-dir': { type: 'string' }, 'metrics-port': { type: 'string' },
      set: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(localHelp);
    return null;
  }
  const port = parseInteger('--port', values.port, 9092);
  const metricsPort = parseMetricsPort(values['metrics-port']);
  return {
    nodeId: 0,
    listen: { host: '127.0.0.1', port },
    advertised: { host: 'localhost', port },
    dataDir: resolve(values['data-dir'] ?? './data'),
    metricsPort,
    store: 'file',
    settings: parseSets(values.set),
  };
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  let options: RunOptions | null;
  switch (command) {
    case 'broker': options = brokerCommand(rest); break;
    case 'local': options = localCommand(rest); break;
    case 'settings': {
      const { brokerSettings } = await import('./config.ts');
      for (const s of brokerSettings) process.stdout.write(`${s.name} (${s.type}, default ${s.default ?? 'unset'})\n    ${s.doc}\n`);
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
