/**
 * The operator's Prometheus metrics (names are a contract with the Helm chart's dashboards and
 * alerts; change them only together) and its HTTP server: /metrics, /healthz, /readyz.
 */
import express from 'express';
import type { Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal = new Counter({
    name: 'brook_operator_reconcile_total', help: 'Reconciles by kind and result (success, error, requeue).',
    labelNames: ['kind', 'result'] as const, registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'brook_operator_reconcile_duration_seconds', help: 'Time one reconcile took, by kind.',
    labelNames: ['kind'] as const, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry],
  });
  readonly workqueueDepth = new Gauge({
    name: 'brook_operator_workqueue_depth', help: 'Keys waiting in the work queue, by kind.',
    labelNames: ['kind'] as const, registers: [this.registry],
  });
  readonly workqueueLatency = new Histogram({
    name: 'brook_operator_workqueue_latency_seconds', help: 'Time from a key being added to the work queue to its processing, by kind.',
    labelNames: ['kind'] as const, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [this.registry],
  });
  readonly managedResources = new Gauge({
    name: 'brook_operator_managed_resources', help: 'Resources the operator manages, by kind (Cluster, Topic, and the kinds it owns).',
    labelNames: ['kind'] as const, registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'brook_operator_leader', help: '1 on the operator replica that holds the leader lease, else 0.', registers: [this.registry],
  });
  readonly apiRequests = new Counter({
    name: 'brook_operator_api_requests_total', help: 'Requests this operator sent to the Kubernetes API server, by verb and resource.',
    labelNames: ['verb', 'resource'] as const, registers: [this.registry],
  });

  readonly rebalancePartitionsToMove = new Gauge({
    name: 'brook_operator_rebalance_partitions_to_move', help: 'Partitions the current rebalance plan of a cluster moves.',
    labelNames: ['namespace', 'cluster'] as const, registers: [this.registry],
  });
  readonly rebalancePartitionsDone = new Gauge({
    name: 'brook_operator_rebalance_partitions_done', help: 'Partitions of the current rebalance plan that have reached their target replicas.',
    labelNames: ['namespace', 'cluster'] as const, registers: [this.registry],
  });
  readonly rebalancePartitionsInFlight = new Gauge({
    name: 'brook_operator_rebalance_partitions_in_flight', help: 'Partitions of the current rebalance plan being reassigned now.',
    labelNames: ['namespace', 'cluster'] as const, registers: [this.registry],
  });
  readonly rebalanceBytesToMove = new Gauge({
    name: 'brook_operator_rebalance_bytes_to_move', help: 'Bytes the current rebalance plan copies (partition sizes when it was made).',
    labelNames: ['namespace', 'cluster'] as const, registers: [this.registry],
  });
  readonly rebalanceEstimatedSeconds = new Gauge({
    name: 'brook_operator_rebalance_estimated_seconds', help: 'Estimated copy time of the current rebalance plan at the throttle (0 without a throttle).',
    labelNames: ['namespace', 'cluster'] as const, registers: [this.registry],
  });
  readonly rebalanceState = new Gauge({
    name: 'brook_operator_rebalance_state', help: '1 for the state the current rebalance plan of a cluster is in (Proposed, Running, Completed, Refused), else 0.',
    labelNames: ['namespace', 'cluster', 'state'] as const, registers: [this.registry],
  });
  readonly rebalanceMovesStarted = new Counter({
    name: 'brook_operator_rebalance_moves_started_total', help: 'Partition reassignments the rebalancer started.',
    labelNames: ['namespace', 'cluster'] as const, registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.leader.set(0);
  }
}

export interface HealthSources {
  /** Liveness: false when the process should be restarted. */
  healthy: () => boolean;
  /** Readiness: informers synced. */
  ready: () => boolean;
}

/** Serves /metrics, /healthz and /readyz on host:port (port 0 picks one); resolves with the server. */
export function startMetricsServer(metrics: OperatorMetrics, health: HealthSources, port: number, host = '0.0.0.0'): Promise<Server> {
  const app = express();
  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  app.get('/healthz', (_req, res) => { if (health.healthy()) res.send('ok\n'); else res.status(500).send('unhealthy\n'); });
  app.get('/readyz', (_req, res) => { if (health.ready()) res.send('ok\n'); else res.status(503).send('informers not synced\n'); });
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(server)));
  });
}
