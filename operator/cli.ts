/**
 * `brook operator`: the Kubernetes operator's entrypoint (bin/brook operator ...).
 * Exit codes: 0 after SIGTERM/SIGINT, 1 on a start-up failure or lost leadership, 2 on bad usage.
 */
import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger, type Level } from './log.ts';
import { OperatorMetrics, startMetricsServer } from './metrics.ts';
import { Operator } from './operator.ts';
import { defaultBrokerImage } from './cluster-resources.ts';

const help = `Usage: brook operator [options]

Runs the Brook operator: reconciles Cluster and Topic resources (brook.dev/v1alpha1).

Options:
  --namespace NS                   Watch one namespace. Default: all namespaces.
  --metrics-port N                 Port of /metrics, /healthz, /readyz. Default 8080; 0 picks one.
  --metrics-host HOST              Address the metrics server binds. Default 0.0.0.0.
  --kubeconfig PATH                Kubeconfig file. Default: $KUBECONFIG, ~/.kube/config, else the
                                   in-cluster service account.
  --leader-election-namespace NS   Namespace of the leader Lease. Default: $POD_NAMESPACE, else the
                                   namespace of the service account, else 'default'.
  --leader-election-name NAME      Name of the leader Lease. Default brook-operator.
  --no-leader-election             Reconcile without a lease (one replica only).
  --lease-duration SECONDS         Leader lease duration. Default 15 (renew deadline 2/3 of it).
  --broker-image IMAGE             Broker image for Clusters without spec.image. Default
                                   $BROOK_BROKER_IMAGE, else ${defaultBrokerImage}.
  --roll-stuck-after SECONDS       A broker pod a rolling restart deleted that is not back Ready after
                                   this long stops the roll with Degraded RollingRestartStuck. Default 600.
  --log-level debug|info|warn|error  Default info.
  -h, --help                       This help.

Logs are JSON lines on stdout.
`;

class UsageError extends Error {}

function saNamespace(): string | undefined {
  const f = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
  return existsSync(f) ? readFileSync(f, 'utf8').trim() : undefined;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv, allowPositionals: false, options: {
      namespace: { type: 'string' }, 'metrics-port': { type: 'string' }, 'metrics-host': { type: 'string' },
      kubeconfig: { type: 'string' }, 'leader-election-namespace': { type: 'string' }, 'leader-election-name': { type: 'string' },
      'no-leader-election': { type: 'boolean' }, 'lease-duration': { type: 'string' }, 'broker-image': { type: 'string' },
      'roll-stuck-after': { type: 'string' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { process.stdout.write(help); return; }
  const port = Number(values['metrics-port'] ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--metrics-port expects 0-65535, got '${values['metrics-port']}'`);
  const leaseSeconds = Number(values['lease-duration'] ?? 15);
  if (!(leaseSeconds >= 1)) throw new UsageError(`--lease-duration expects seconds ≥ 1, got '${values['lease-duration']}'`);
  const rollStuckSeconds = Number(values['roll-stuck-after'] ?? 600);
  if (!(rollStuckSeconds >= 1)) throw new UsageError(`--roll-stuck-after expects seconds ≥ 1, got '${values['roll-stuck-after']}'`);
  const level = (values['log-level'] ?? 'info') as Level;
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new UsageError(`--log-level expects debug, info, warn or error, got '${level}'`);

  const log = createLogger({ level, fields: { logger: 'operator' } });
  const kc = new KubeConfig();
  if (values.kubeconfig) kc.loadFromFile(values.kubeconfig);
  else kc.loadFromDefault();
  const metrics = new OperatorMetrics();
  const operator = new Operator({
    kubeConfig: kc,
    namespace: values.namespace,
    settings: { defaultImage: values['broker-image'] ?? process.env.BROOK_BROKER_IMAGE ?? defaultBrokerImage, rollStuckAfterMs: rollStuckSeconds * 1000 },
    leaderElection: values['no-leader-election'] ? false : {
      namespace: values['leader-election-namespace'] ?? process.env.POD_NAMESPACE ?? saNamespace() ?? 'default',
      name: values['leader-election-name'],
      identity: process.env.POD_NAME ? `${process.env.POD_NAME}_${process.pid}` : undefined,
      leaseDurationMs: leaseSeconds * 1000,
      renewDeadlineMs: Math.round(leaseSeconds * 1000 * 2 / 3),
      retryPeriodMs: Math.max(200, Math.round(leaseSeconds * 1000 / 7.5)),
    },
    onLostLeadership: () => { log.error('exiting: lost leadership'); process.exit(1); },
    metrics, log,
  });
  const server = await startMetricsServer(metrics, { healthy: () => true, ready: () => operator.ready }, port, values['metrics-host'] ?? '0.0.0.0');
  const addr = server.address();
  log.info('metrics server listening', { port: typeof addr === 'object' && addr ? addr.port : port });
  log.info('starting', { namespace: values.namespace ?? '(all)', identity: operator.identity, server: kc.getCurrentCluster()?.server });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info(`${signal}: shutting down`);
    operator.stop().then(() => { server.close(); log.info('stopped'); process.exit(0); }, (err: Error) => { log.error('shutdown failed', { error: err.message }); process.exit(1); });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await operator.start();
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`brook operator: ${(err as Error).message}\n\n${help}`);
    process.exit(2);
  }
  process.stderr.write(`brook operator: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
