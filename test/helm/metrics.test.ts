/**
 * Every metric the chart's dashboards and alerts query exists: the broker ones on a running
 * broker (after produce, a consumer group commit and more produce, so lag metrics have samples),
 * the operator ones on a running operator (`brook operator` against the envtest API server, after
 * it reconciled examples/cluster.yaml). Names come from parsing every PromQL expression in
 * dashboards/*.json and in the rendered PrometheusRule (./promql.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { startBackground, type BackgroundProcess } from '../harness/background.ts';
import { startBroker, stopAllBrokers, type BrokerHandle } from '../harness/brook.ts';
import { repoRoot } from '../harness/paths.ts';
import { createTopicAndWait } from '../harness/topics.ts';
import { expectSuccess } from '../harness/tools.ts';
import { kubectl } from '../k8s/envtest.ts';
import { useApiServer } from '../k8s/jest.ts';
import { only, operatorChart, render } from './helm.ts';
import { dashboardQueries, metricNames, ruleQueries, type GrafanaDashboard, type Query, type RuleGroup } from './promql.ts';

const { Kafka, logLevel } = kafkajs;

/** The operator's metric names as agreed with the operator (operator/metrics.ts), plus prom-client's process metrics. */
const operatorContract = new Set([
  'brook_operator_reconcile_total', 'brook_operator_reconcile_duration_seconds', 'brook_operator_workqueue_depth',
  'brook_operator_workqueue_latency_seconds', 'brook_operator_managed_resources', 'brook_operator_leader',
  'brook_operator_api_requests_total',
  'brook_operator_rebalance_partitions_to_move', 'brook_operator_rebalance_partitions_done', 'brook_operator_rebalance_partitions_in_flight',
  'brook_operator_rebalance_bytes_to_move', 'brook_operator_rebalance_estimated_seconds', 'brook_operator_rebalance_state',
]);
/** Metrics that come from Kubernetes itself (kubelet's volume stats), not from Brook. */
const fromKubernetes = new Set(['kubelet_volume_stats_capacity_bytes', 'kubelet_volume_stats_used_bytes']);
/**
 * Broker families that one broker serving one consumer legitimately has no samples of: errors that
 * did not happen, followers a single broker does not have, a cleaner that had nothing to compact,
 * garbage collections that have not happened yet in a young process (prom-client samples GC
 * durations only after the first collection). They must still be declared (# TYPE) by the broker.
 */
const declaredOnly = new Set([
  'brook_request_errors_total', 'brook_produce_errors_total', 'brook_connections_closed_malformed_total',
  'brook_replica_lag_messages', 'brook_replica_lag_seconds',
  'nodejs_gc_duration_seconds_sum', 'nodejs_gc_duration_seconds_count', 'nodejs_gc_duration_seconds_bucket',
]);

const dashboardsDir = join(operatorChart, 'dashboards');
const operatorDashboard = 'operator.json';

interface Queried { name: string; sources: string[] }

function collect(queries: Query[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const q of queries) for (const n of metricNames(q.expr)) out.set(n, [...(out.get(n) ?? []), q.source]);
  return out;
}

/** Sample names and declared families of a Prometheus text exposition. */
function parseExposition(text: string): { samples: Set<string>; families: Map<string, string> } {
  const samples = new Set<string>();
  const families = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) families.set(type[1], type[2]);
    else if (line && !line.startsWith('#')) samples.add(/^[^{\s]+/.exec(line)![0]);
  }
  return { samples, families };
}

/** The family a queried name belongs to (histogram series carry _bucket, _sum, _count). */
function familyOf(name: string, families: Map<string, string>): string | undefined {
  if (families.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return families.get(base) === 'histogram' || families.get(base) === 'summary' ? base : undefined;
}

function missing(queried: Queried[], exposition: string, requireSamples: (name: string) => boolean): string[] {
  const { samples, families } = parseExposition(exposition);
  const problems: string[] = [];
  for (const q of queried) {
    const family = familyOf(q.name, families);
    if (!family) problems.push(`${q.name} is not exported (queried by ${q.sources.join('; ')})`);
    else if (requireSamples(q.name) && !samples.has(q.name)) problems.push(`${q.name} has no samples (queried by ${q.sources.join('; ')})`);
  }
  return problems;
}

let broker: BrokerQueries;
let operator: Queried[];

interface BrokerQueries { queried: Queried[] }

beforeAll(async () => {
  const dashboards = readdirSync(dashboardsDir).filter((f) => f.endsWith('.json'));
  const queriesOf = (f: string) => dashboardQueries(f, JSON.parse(readFileSync(join(dashboardsDir, f), 'utf8')) as GrafanaDashboard);
  const rule = only(await render(operatorChart, { set: ['prometheusRule.force=true'] }), 'PrometheusRule');
  const alertQueries = ruleQueries((rule.spec as { groups: RuleGroup[] }).groups);
  const forOperator = collect([...queriesOf(operatorDashboard), ...alertQueries.filter((q) => q.expr.includes('brook_operator_'))]);
  const forBrokers = collect([...dashboards.filter((f) => f !== operatorDashboard).flatMap(queriesOf), ...alertQueries.filter((q) => !q.expr.includes('brook_operator_'))]);
  const toList = (m: Map<string, string[]>) => [...m].map(([name, sources]) => ({ name, sources })).filter((q) => !fromKubernetes.has(q.name));
  broker = { queried: toList(forBrokers) };
  operator = toList(forOperator);
});

describe('metric names the dashboards and alerts query', () => {
  test('are found in every dashboard and alert, and only Kubernetes ones are not Brook metrics', () => {
    const all = [...broker.queried, ...operator].map((q) => q.name);
    expect(all.length).toBeGreaterThan(40);
    for (const name of all) expect(name).toMatch(/^(brook_|process_|nodejs_)/);
    expect(operator.filter((q) => q.name.startsWith('brook_')).every((q) => q.name.startsWith('brook_operator_'))).toBe(true);
    expect(broker.queried.some((q) => q.name.startsWith('brook_operator_'))).toBe(false);
  });

  test("the operator's are the agreed names (operator/metrics.ts) or prom-client's process metrics", () => {
    const strays = operator.map((q) => q.name).filter((n) => n.startsWith('brook_') && !operatorContract.has(n.replace(/_(bucket|sum|count)$/, '')));
    expect(strays).toEqual([]);
  });
});

describe('a running broker exports every broker metric queried', () => {
  let b: BrokerHandle;
  beforeAll(async () => {
    b = await startBroker({ set: { 'auto.create.topics.enable': 'false', 'group.initial.rebalance.delay.ms': '0' } });
  }, 60_000);
  afterAll(async () => { await stopAllBrokers(); });

  test('after produce, a consumer group commit and more produce (so the group has lag)', async () => {
    const kafka = new Kafka({ brokers: [b.bootstrap], logLevel: logLevel.NOTHING, clientId: 'helm-metrics' });
    const admin = kafka.admin();
    const producer = kafka.producer();
    const consumer = kafka.consumer({ groupId: 'dashboards', sessionTimeout: 10_000, heartbeatInterval: 500 });
    await admin.connect();
    await producer.connect();
    try {
      const topic = 'dashboards';
      await createTopicAndWait(admin, { topic, numPartitions: 2 });
      const send = (n: number, tag: string) => producer.send({ topic, acks: -1, messages: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `${tag}-${i}` })) });
      await send(50, 'first');
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      let seen = 0;
      let resolveAll: () => void = () => {};
      const all = new Promise<void>((r) => { resolveAll = r; });
      await consumer.run({ autoCommit: false, eachMessage: async () => { if (++seen === 50) resolveAll(); } });
      await all;
      const offsets = await admin.fetchTopicOffsets(topic);
      await consumer.commitOffsets(offsets.map((o) => ({ topic, partition: o.partition, offset: o.offset })));
      await consumer.stop();
      await send(20, 'after-commit');

      const res = await fetch(b.metricsUrl);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(missing(broker.queried, text, (n) => !declaredOnly.has(n))).toEqual([]);
      // The lag the consumer-lag dashboard and the lag alert read: 20 records behind, across partitions.
      const lagSum = /^brook_consumer_group_lag_sum\{[^}]*group="dashboards"[^}]*\} (\d+)/m.exec(text);
      expect(Number(lagSum?.[1])).toBe(20);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  }, 90_000);
});

describe('a running operator exports every operator metric queried', () => {
  const api = useApiServer();
  let op: BackgroundProcess | undefined;
  afterAll(async () => { await op?.stop(); });

  test('`brook operator` after reconciling examples/cluster.yaml', async () => {
    const k = (args: string[]) => kubectl(api(), args, { timeoutMs: 60_000 });
    expectSuccess(await k(['apply', '--server-side', '-f', join(repoRoot, 'crds')]));
    expectSuccess(await k(['wait', '--for=condition=Established', '--timeout=60s', 'crd/topics.brook.dev', 'crd/clusters.brook.dev']));
    expectSuccess(await k(['create', 'namespace', 'kafka']));
    op = startBackground(process.execPath, [join(repoRoot, 'operator', 'cli.ts'), '--kubeconfig', api().kubeconfigPath,
      '--metrics-port', '0', '--metrics-host', '127.0.0.1', '--leader-election-namespace', 'default', '--lease-duration', '5']);
    const port = () => /"msg":"metrics server listening"[^\n]*"port":(\d+)/.exec(op!.stdout().toString())?.[1];
    await op.waitFor('the metrics server', () => port() !== undefined, 30_000);
    const url = `http://127.0.0.1:${port()}/metrics`;
    expectSuccess(await k(['apply', '-n', 'kafka', '-f', join(repoRoot, 'examples/cluster.yaml'), '-f', join(repoRoot, 'examples/topic.yaml')]));
    // Wait until it leads and has reconciled both kinds, so the labelled families have samples.
    let text = '';
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      text = await (await fetch(url)).text();
      if (/^brook_operator_leader(\{[^}]*\})? 1$/m.test(text) && /brook_operator_reconcile_total\{[^}]*kind="Cluster"/.test(text)
        && /brook_operator_reconcile_total\{[^}]*kind="Topic"/.test(text)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(missing(operator, text, () => true)).toEqual([]);
  }, 120_000);
});
