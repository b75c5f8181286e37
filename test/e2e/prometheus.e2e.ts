/**
 * The chart's dashboards and alerts against a real Prometheus (Debian's, started on the host by
 * ./prometheus.ts) scraping a Brook cluster installed the way users install it: `helm install` of the
 * operator chart, a Cluster (examples/cluster.yaml with a smaller CPU request, see CLUSTER_CPU), two
 * Topics, and client traffic from the host through the external listener.
 *
 * Prometheus discovers the brokers and the operator as their ServiceMonitors would (EndpointSlices of
 * the `metrics` ports, job = Service name; through HTTP discovery, see ./prometheus.ts) and loads the chart's PrometheusRule, rendered by `helm
 * template`, as its rule file. The test's copy of the rules shortens the `for:` durations and the
 * consumer-lag floor (RULE_OVERRIDES), and Prometheus scrapes and evaluates every 2 s.
 *
 * Then every PromQL expression of every dashboard panel, dashboard variable and alert rule is run:
 * each returns data, or is listed in CONDITIONAL with the condition it needs; each condition that can
 * be produced is produced (a consumer group whose lag grows, a malformed frame, a broker down) and its
 * queries are run again and return data. The broker down is a real one: its pod deleted while a
 * ResourceQuota stops the StatefulSet from recreating it (the operator does not fight that, and the
 * broker stays down for as long as the test needs); BrookUnderReplicatedPartitions is seen firing in
 * /api/v1/alerts, and resolved once the quota is gone and the broker is back in every ISR.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import kafkajs from 'kafkajs';
import { repoRoot } from '../harness/paths.ts';
import { operatorChart, only, render } from '../helm/helm.ts';
import { dashboardQueries, ruleQueries, type GrafanaDashboard, type Query, type RuleGroup } from '../helm/promql.ts';
import {
  createNamespace, deleteBrookObjects, deleteNamespace, getJson, helm, images, kubectl, ok, podReady, uniqueName, waitFor,
  type Pod,
} from './kube.ts';
import { startPrometheus, type Alert, type Prometheus } from './prometheus.ts';

const { Kafka, logLevel } = kafkajs;

const CLUSTER = 'demo'; // examples/cluster.yaml
const BROKERS = 3;
/** examples/cluster.yaml asks 500m per broker; two engineers share this 2-core machine's cluster. */
const CLUSTER_CPU = '100m';
const INTERVAL = '2s';
/** What Grafana's $__rate_interval would be for a 2 s scrape interval over a short time range. */
const RATE_INTERVAL = '30s';
const TOPIC_RF3 = 'metrics-rf3';
const TOPIC_RF2 = 'metrics-rf2'; // min.insync.replicas 2: a broker down leaves some partitions under min ISR
const GROUP = 'prometheus-lag';
/** The test's copy of the rules: short `for:` durations, a low consumer-lag floor. */
const RULE_OVERRIDES = [
  'prometheusRule.underReplicatedFor=4s', 'prometheusRule.underMinIsrFor=4s', 'prometheusRule.offlineFor=4s',
  'prometheusRule.noControllerFor=4s', 'prometheusRule.consumerLag.for=4s', 'prometheusRule.consumerLag.minRecords=10',
  'prometheusRule.disk.for=4s', 'prometheusRule.operator.reconcileErrorsFor=4s',
];

type Condition = 'lag-growing' | 'malformed-frame' | 'unsupported-version' | 'broker-down' | 'not-produced';
interface Conditional { source: string; metric: string; needs: string; produced: Condition }

/**
 * Queries that return no data on a healthy cluster with traffic, the condition under which they do,
 * and how the test produces it ('not-produced': why not). Matched by source and a metric the
 * expression reads.
 */
const CONDITIONAL: Conditional[] = [
  { source: 'alert BrookUnderReplicatedPartitions', metric: 'brook_under_replicated_partitions', produced: 'broker-down', needs: 'a partition with fewer in-sync replicas than replicas: a broker down' },
  { source: 'alert BrookUnderMinIsrPartitions', metric: 'brook_under_min_isr_partitions', produced: 'broker-down', needs: `a partition below min.insync.replicas: a broker down under ${TOPIC_RF2} (replication factor 2, min ISR 2)` },
  { source: 'cluster-overview.json: Request errors', metric: 'brook_request_errors_total', produced: 'unsupported-version', needs: 'a request at an API version the broker does not serve (the only request-level error the broker counts; newer clients send ApiVersions at their newest version first)' },
  { source: 'cluster-overview.json: Request errors', metric: 'brook_produce_errors_total', produced: 'broker-down', needs: `a produce that fails: acks=all to ${TOPIC_RF2} while it is under min ISR (NOT_ENOUGH_REPLICAS)` },
  { source: 'topics.json: Produce errors by topic', metric: 'brook_produce_errors_total', produced: 'broker-down', needs: 'a produce that fails (as above)' },
  { source: 'alert BrookConsumerLagGrowing', metric: 'brook_consumer_group_lag_sum', produced: 'lag-growing', needs: 'a consumer group whose lag is above the floor and grows: records produced and not consumed' },
  { source: 'broker-resources.json: Connections closed for malformed frames', metric: 'brook_connections_closed_malformed_total', produced: 'malformed-frame', needs: 'a client sending a frame that is not Kafka: an absurd size prefix' },
  { source: 'alert BrookOfflinePartitions', metric: 'brook_offline_partitions', produced: 'not-produced', needs: 'a partition hosted by a running broker whose only in-sync replica is down (no unclean election): two brokers stopped one after the other, the follower first; not produced here (one broker stop per run keeps the run short on a shared 2-core machine)' },
  { source: 'alert BrookNoActiveController', metric: 'brook_controller_active', produced: 'not-produced', needs: 'running brokers of which none holds the controller Lease: only for the Lease duration after the controller dies (a running broker takes it over), and with no broker running there is nothing to scrape' },
  { source: 'alert BrookDiskFilling', metric: 'kubelet_volume_stats_capacity_bytes', produced: 'not-produced', needs: "kubelet's volume stats, scraped from the kubelet (kube-prometheus-stack does): this Prometheus scrapes only Brook, and hostPath volumes (the local cluster's PVs, kind's local-path) have no volume stats" },
  { source: 'broker-resources.json: Volume usage', metric: 'kubelet_volume_stats_used_bytes', produced: 'not-produced', needs: "kubelet's volume stats (as above)" },
  { source: 'alert BrookOperatorReconcileErrors', metric: 'brook_operator_reconcile_total', produced: 'not-produced', needs: 'reconciles that fail (an exception, e.g. the API server refusing a write); not produced here' },
  { source: 'operator.json: Reconcile errors (5m)', metric: 'brook_operator_reconcile_total', produced: 'not-produced', needs: 'a reconcile that failed in the last 5 minutes (as above)' },
  { source: 'alert BrookRebalanceStalled', metric: 'brook_operator_rebalance_state', produced: 'not-produced', needs: 'a running rebalance plan that completed no move for prometheusRule.rebalance.stalledFor (30 minutes by default): not produced here (test/helm checks the rule with promtool)' },
  { source: 'alert BrookRebalanceRefused', metric: 'brook_operator_rebalance_state', produced: 'not-produced', needs: 'a scale-down or plan refused (ScaleDownRefused, PlanRefused) for prometheusRule.rebalance.refusedFor: rebalance.e2e.ts makes a refusal, not held that long' },
  { source: 'alert BrookOperatorNoLeader', metric: 'brook_operator_leader', produced: 'not-produced', needs: 'running operator replicas of which none leads: only while the leader Lease changes hands; with no replica running there is nothing to scrape' },
];

interface Resolved extends Query { promql: string }

let ns = '';
let release = '';
let prom: Prometheus | undefined;
let quota = false;
let bootstrap = '';
let queries: Resolved[] = [];
const dashboardsDir = join(operatorChart, 'dashboards');

function conditionOf(q: Query): Conditional | undefined {
  return CONDITIONAL.find((c) => c.source === q.source && q.expr.includes(c.metric));
}

/** Sends one raw frame to the broker at `bootstrap` and resolves with what it answered until it closed or went quiet. */
function rawExchange(frame: Buffer, until: (answer: Buffer) => boolean): Promise<Buffer> {
  const [host, port] = bootstrap.split(',')[0].split(':');
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = connect(Number(port), host, () => s.write(frame));
    const done = () => { s.destroy(); resolve(Buffer.concat(chunks)); };
    s.on('data', (b: Buffer) => { chunks.push(b); if (until(Buffer.concat(chunks))) done(); });
    s.on('error', reject);
    s.on('close', done);
    s.setTimeout(30_000, () => { s.destroy(); reject(new Error(`no answer from ${host}:${port} within 30 s`)); });
  });
}

function kafka(clientId: string) {
  return new Kafka({ brokers: bootstrap.split(','), clientId, logLevel: logLevel.NOTHING, retry: { retries: 3 } });
}

async function produce(topic: string, n: number, tag: string): Promise<void> {
  const producer = kafka('prometheus-e2e').producer();
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `${tag}-${i}` })) });
  } finally {
    await producer.disconnect();
  }
}

/**
 * A dashboard's variables resolved as Grafana resolves them, against this Prometheus: each query
 * variable's label_values() in order; namespace and cluster/job pick this test's (which must be among
 * the values), the others (broker, topic, group) take "All" (a regex of every value).
 */
async function dashboardVariables(file: string, d: GrafanaDashboard & { templating?: { list: Array<{ name: string; type: string; query?: string | { query?: string } }> } }): Promise<Record<string, string>> {
  const vars: Record<string, string> = { __rate_interval: RATE_INTERVAL, __interval: INTERVAL, __range: '5m' };
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const raw = typeof v.query === 'string' ? v.query : v.query?.query ?? '';
    const m = /^\s*label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)\s*$/.exec(substitute(raw, vars));
    if (!m) throw new Error(`${file}: variable $${v.name} is not label_values(selector, label): ${raw}`);
    const values = await prom!.labelValues(m[1], m[2]);
    if (values.length === 0) throw new Error(`${file}: variable $${v.name} (${raw}) has no values`);
    if (v.name === 'namespace') {
      expect(values).toContain(ns);
      vars[v.name] = ns;
    } else if (v.name === 'cluster' || v.name === 'job') {
      expect(values).toHaveLength(1);
      vars[v.name] = values[0];
    } else {
      vars[v.name] = `(${values.map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`;
    }
  }
  return vars;
}

function substitute(expr: string, vars: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (all, a: string | undefined, b: string | undefined) => vars[(a ?? b)!] ?? all);
}

/** Every dashboard and alert expression, as runnable PromQL (variables resolved; label_values() as its selector). */
async function allQueries(ruleGroups: RuleGroup[]): Promise<Resolved[]> {
  const out: Resolved[] = [];
  for (const file of ['broker-resources.json', 'cluster-overview.json', 'consumer-lag.json', 'operator.json', 'topics.json']) {
    const d = JSON.parse(readFileSync(join(dashboardsDir, file), 'utf8')) as GrafanaDashboard;
    const vars = await dashboardVariables(file, d);
    for (const q of dashboardQueries(file, d)) {
      const sub = substitute(q.expr, vars);
      const lv = /^\s*label_values\(\s*(.+?)\s*,\s*\w+\s*\)\s*$/.exec(sub);
      out.push({ ...q, promql: lv ? lv[1] : sub });
    }
  }
  for (const q of ruleQueries(ruleGroups)) out.push({ ...q, promql: q.expr });
  return out;
}

async function empties(qs: Resolved[]): Promise<Resolved[]> {
  const out: Resolved[] = [];
  for (const q of qs) if ((await prom!.query(q.promql)).length === 0) out.push(q);
  return out;
}

const describeQ = (q: Resolved) => `${q.source}: ${q.promql}`;

/** Polls until every query of `qs` returns data; throws naming the ones that do not. */
async function expectData(what: string, qs: Resolved[], timeoutMs: number, meanwhile?: () => Promise<void>): Promise<void> {
  let left = qs;
  await waitFor(`${what}: data from ${qs.map((q) => q.source).join(', ')}`, ns, timeoutMs, async () => {
    if (meanwhile) await meanwhile();
    left = await empties(left);
    if (left.length) throw new Error(`still no data:\n  ${left.map(describeQ).join('\n  ')}`);
    return true;
  });
}

function ours(a: Alert, name: string): boolean {
  return a.labels.alertname === name && a.labels.namespace === ns;
}

beforeAll(async () => {
  ns = await createNamespace('brook-prom');
  release = uniqueName('brook');
}, 60_000);

afterAll(async () => {
  await prom?.stop();
  if (!ns) return;
  if (quota) await kubectl(['delete', 'resourcequota', 'hold-broker-down', '-n', ns]);
  const stuck = await deleteBrookObjects(ns, 120_000);
  if (release) await helm(['uninstall', release, '-n', ns, '--wait', '--timeout', '120s']);
  await deleteNamespace(ns);
  if (stuck.length) throw new Error(`teardown: objects stuck on finalizers (removed by force so the namespace could go): ${stuck.join(', ')}`);
}, 600_000);

describe('Prometheus scraping a Brook cluster (KUBECONFIG): dashboards and alerts', () => {
  test('helm install, a 3-broker Cluster and two Topics; Prometheus discovers and scrapes the 3 brokers and the operator', async () => {
    const img = images();
    ok(await helm(['install', release, operatorChart, '-n', ns,
      '--set', `image.repository=${img.brook.repository}`, '--set', `image.tag=${img.brook.tag}`, '--set', 'image.pullPolicy=IfNotPresent',
      // Its own namespace only: another suite's operator on the same cluster must not fight over Clusters.
      '--set', `watchNamespaces={${ns}}`,
      '--wait', '--timeout', '180s'], { timeoutMs: 200_000 }));
    const cluster = yaml.load(readFileSync(join(repoRoot, 'examples', 'cluster.yaml'), 'utf8')) as { spec: { resources: { requests: { cpu: string } } } };
    cluster.spec.resources.requests.cpu = CLUSTER_CPU;
    ok(await kubectl(['apply', '-n', ns, '-f', '-'], { input: JSON.stringify(cluster) }));
    const topic = (name: string, rf: number, config: Record<string, string> = {}) => ({
      apiVersion: 'brook.dev/v1alpha1', kind: 'Topic', metadata: { name }, spec: { cluster: CLUSTER, partitions: 3, replicationFactor: rf, config },
    });
    ok(await kubectl(['apply', '-n', ns, '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [topic(TOPIC_RF3, 3), topic(TOPIC_RF2, 2, { 'min.insync.replicas': '2' })] }) }));
    await waitFor(`${BROKERS} Ready broker pods`, ns, 300_000, async () => {
      const list = await getJson<{ items: Pod[] }>(['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/instance=${CLUSTER}`]);
      const brokers = list.items.filter((p) => p.metadata.labels?.['statefulset.kubernetes.io/pod-name']);
      return brokers.length === BROKERS && brokers.every(podReady) ? brokers : undefined;
    });

    // The chart's alert rules, as `helm template` renders them for this release, with the test's overrides.
    const rule = only(await render(operatorChart, { release, namespace: ns, set: ['prometheusRule.force=true', ...RULE_OVERRIDES] }), 'PrometheusRule');
    const groups = (rule.spec as { groups: RuleGroup[] }).groups;
    prom = await startPrometheus({ namespace: ns, ruleGroups: groups, interval: INTERVAL });
    const targets = await waitFor('Prometheus scraping 3 brokers and the operator', ns, 120_000, async () => {
      const t = await prom!.activeTargets();
      const up = t.filter((x) => x.health === 'up');
      if (up.length !== BROKERS + 1) throw new Error(`targets: ${JSON.stringify(t.map((x) => [x.labels.job, x.labels.pod, x.health, x.lastError]))}`);
      return up;
    });
    const jobs = targets.map((t) => `${t.labels.job}/${t.labels.pod}`).sort();
    expect(jobs.filter((j) => j.startsWith(`${CLUSTER}-brokers/`))).toEqual([0, 1, 2].map((i) => `${CLUSTER}-brokers/${CLUSTER}-${i}`));
    expect(jobs.filter((j) => j.startsWith(`${release}-brook-operator-metrics/`))).toHaveLength(1);
    // The rules loaded are the chart's, every one of them.
    const loaded = await fetch(`${prom.url}/api/v1/rules`).then((r) => r.json()) as { data: { groups: Array<{ name: string; rules: Array<{ name: string; health: string }> }> } };
    expect(loaded.data.groups.map((g) => g.name).sort()).toEqual(groups.map((g) => g.name).sort());
    expect(loaded.data.groups.flatMap((g) => g.rules.map((r) => r.name)).sort()).toEqual(groups.flatMap((g) => g.rules.map((r) => String(r.alert))).sort());

    // Traffic from the host through the external listener: produce to both topics, a group that
    // consumes and commits, then more records it has not consumed (so it has lag).
    const node = await getJson<{ items: Array<{ status: { addresses: Array<{ type: string; address: string }> } }> }>(['get', 'nodes']);
    const address = node.items[0].status.addresses.find((a) => a.type === 'InternalIP')!.address;
    const nodePorts = await Promise.all([0, 1, 2].map(async (i) =>
      (await getJson<{ spec: { ports: Array<{ nodePort: number }> } }>(['get', 'service', `${CLUSTER}-${i}-external`, '-n', ns])).spec.ports[0].nodePort));
    bootstrap = nodePorts.map((p) => `${address}:${p}`).join(',');
    await waitFor('both topics writable', ns, 120_000, async () => {
      await produce(TOPIC_RF3, 100, 'first');
      await produce(TOPIC_RF2, 100, 'first');
      return true;
    });
    const consumer = kafka('prometheus-e2e').consumer({ groupId: GROUP, sessionTimeout: 10_000, heartbeatInterval: 500 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [TOPIC_RF3], fromBeginning: true });
      let seen = 0;
      await consumer.run({ autoCommit: false, eachMessage: async () => { seen++; } });
      await waitFor('the group to consume the first 100 records', ns, 60_000, async () => (seen >= 100 ? true : undefined));
      const admin = kafka('prometheus-e2e').admin();
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(TOPIC_RF3);
      await admin.disconnect();
      await consumer.commitOffsets(offsets.map((o) => ({ topic: TOPIC_RF3, partition: o.partition, offset: o.offset })));
    } finally {
      await consumer.disconnect();
    }
    await produce(TOPIC_RF3, 20, 'lag');
    queries = await allQueries(groups);
  }, 600_000);

  test('every dashboard panel, dashboard variable and alert query returns data, except those listed as needing a condition', async () => {
    expect(queries.length).toBeGreaterThan(60);
    // Every listed condition names a query that exists (the list does not rot when a panel changes).
    for (const c of CONDITIONAL) expect(queries.filter((q) => conditionOf(q) === c).map((q) => q.source)).toContain(c.source);
    let unexpected: Resolved[] = [];
    // Counters need two scrapes in the rate window before rate() has a sample: poll.
    await waitFor('data from every unlisted query', ns, 90_000, async () => {
      unexpected = (await empties(queries)).filter((q) => !conditionOf(q));
      if (unexpected.length) throw new Error(`no data:\n  ${unexpected.map(describeQ).join('\n  ')}`);
      return true;
    });
    expect(unexpected.map(describeQ)).toEqual([]);
    process.stderr.write(`[e2e] ${queries.length} queries; ${queries.filter((q) => !conditionOf(q)).length} returned data as they are; conditional:\n`
      + CONDITIONAL.map((c) => `  ${c.source} (${c.produced}): ${c.needs}\n`).join(''));
  }, 180_000);

  test('condition "lag-growing": records produced that the group does not consume; the lag alert expression returns data', async () => {
    const qs = queries.filter((q) => conditionOf(q)?.produced === 'lag-growing');
    expect(qs.length).toBeGreaterThan(0);
    await expectData('a growing consumer lag', qs, 90_000, () => produce(TOPIC_RF3, 20, 'more-lag'));
    const firing = await waitFor('BrookConsumerLagGrowing firing', ns, 60_000, async () => {
      await produce(TOPIC_RF3, 20, 'more-lag');
      return (await prom!.alerts()).find((a) => ours(a, 'BrookConsumerLagGrowing') && a.state === 'firing');
    });
    expect(firing.labels.group).toBe(GROUP);
  }, 200_000);

  test('condition "malformed-frame": a frame with an absurd size prefix; the malformed-connections panel returns data', async () => {
    const qs = queries.filter((q) => conditionOf(q)?.produced === 'malformed-frame');
    expect(qs.length).toBeGreaterThan(0);
    // The broker closes the connection (it never reads 2 GiB).
    await rawExchange(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]), () => false);
    await expectData('a malformed frame', qs, 60_000);
  }, 120_000);

  test('condition "unsupported-version": ApiVersions v99; the broker answers UNSUPPORTED_VERSION and the request-errors panel returns data', async () => {
    const qs = queries.filter((q) => conditionOf(q)?.produced === 'unsupported-version');
    expect(qs.length).toBeGreaterThan(0);
    // Request header v1: int16 api key 18 (ApiVersions), int16 version 99, int32 correlation id, int16 null client id.
    const body = Buffer.alloc(10);
    body.writeInt16BE(18, 0);
    body.writeInt16BE(99, 2);
    body.writeInt32BE(4242, 4);
    body.writeInt16BE(-1, 8);
    const size = Buffer.alloc(4);
    size.writeInt32BE(body.length);
    const answer = await rawExchange(Buffer.concat([size, body]), (a) => a.length >= 4 && a.length >= 4 + a.readInt32BE(0));
    expect(answer.readInt32BE(4)).toBe(4242); // correlation id
    expect(answer.readInt16BE(8)).toBe(35); // UNSUPPORTED_VERSION
    await expectData('an unsupported request version', qs, 60_000);
  }, 120_000);

  test(`condition "broker-down": a broker deleted and held down; BrookUnderReplicatedPartitions fires, the under-replicated and produce-error queries return data; the alert resolves once it is back`, async () => {
    const qs = queries.filter((q) => conditionOf(q)?.produced === 'broker-down');
    expect(qs.length).toBeGreaterThan(0);
    // The broker with the most replicas of the min-ISR-2 topic: its partitions drop below min ISR.
    const rf2 = await getJson<{ status: { partitions: Array<{ replicas: number[] }> } }>(['get', `topics.brook.dev/${TOPIC_RF2}`, '-n', ns]);
    const counts = [0, 1, 2].map((b) => rf2.status.partitions.filter((p) => p.replicas.includes(b)).length);
    const stopped = `${CLUSTER}-${counts.indexOf(Math.max(...counts))}`;
    process.stderr.write(`[e2e] stopping ${stopped} (${TOPIC_RF2} replicas: ${JSON.stringify(rf2.status.partitions.map((p) => p.replicas))})\n`);
    // Hold the broker down: a quota of the pods running now, minus one, so the StatefulSet cannot recreate it.
    const running = (await getJson<{ items: Pod[] }>(['get', 'pods', '-n', ns, '--field-selector=status.phase=Running'])).items.length;
    quota = true;
    ok(await kubectl(['create', 'quota', 'hold-broker-down', '-n', ns, `--hard=pods=${running - 1}`]));
    await waitFor('the quota counted', ns, 60_000, async () => {
      const q = await getJson<{ status?: { used?: { pods?: string } } }>(['get', 'resourcequota', 'hold-broker-down', '-n', ns]);
      return q.status?.used?.pods === String(running) ? true : undefined;
    });
    const stoppedAt = Date.now();
    ok(await kubectl(['delete', 'pod', stopped, '-n', ns, '--wait=true', '--timeout=120s'], { timeoutMs: 130_000 }));
    const firing = await waitFor('BrookUnderReplicatedPartitions firing', ns, 180_000, async () =>
      (await prom!.alerts()).find((a) => ours(a, 'BrookUnderReplicatedPartitions') && a.state === 'firing'));
    process.stderr.write(`[e2e] ${stopped} deleted → BrookUnderReplicatedPartitions firing: ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s\n`);
    expect(firing.labels.job).toBe(`${CLUSTER}-brokers`);
    expect(Number(firing.value)).toBeGreaterThan(0);
    // The broker is still down (the quota holds it), and acks=all produce to the min-ISR-2 topic fails.
    expect((await getJson<{ items: Pod[] }>(['get', 'pods', '-n', ns, '-l', `statefulset.kubernetes.io/pod-name=${stopped}`])).items).toEqual([]);
    const failedProduce = async () => {
      const producer = kafka('prometheus-e2e-fail').producer({ retry: { retries: 0 } });
      await producer.connect();
      try {
        for (let p = 0; p < 3; p++) await producer.send({ topic: TOPIC_RF2, acks: -1, messages: [{ partition: p, value: 'under-min-isr' }] }).catch(() => undefined);
      } finally {
        await producer.disconnect();
      }
    };
    await expectData('a broker down', qs, 120_000, failedProduce);

    // Back: the quota goes, the StatefulSet is nudged (its controller backs off after refused creates).
    ok(await kubectl(['delete', 'resourcequota', 'hold-broker-down', '-n', ns]));
    quota = false;
    ok(await kubectl(['annotate', 'statefulset', CLUSTER, '-n', ns, `brook.dev/e2e-nudge=${Date.now()}`, '--overwrite']));
    await waitFor(`${stopped} Ready again`, ns, 240_000, async () => {
      const p = (await getJson<{ items: Pod[] }>(['get', 'pods', '-n', ns, '-l', `statefulset.kubernetes.io/pod-name=${stopped}`])).items[0];
      return p && podReady(p) ? p : undefined;
    });
    const back = Date.now();
    await waitFor('BrookUnderReplicatedPartitions resolved', ns, 240_000, async () => {
      const still = (await prom!.alerts()).filter((a) => ours(a, 'BrookUnderReplicatedPartitions'));
      if (still.length) throw new Error(`still ${still.map((a) => `${a.state} (${a.value})`).join(', ')}`);
      const sum = await prom!.query(`sum(brook_under_replicated_partitions{namespace="${ns}"})`);
      return sum.length === 1 && sum[0].value[1] === '0' ? true : undefined;
    });
    process.stderr.write(`[e2e] ${stopped} Ready → BrookUnderReplicatedPartitions resolved: ${((Date.now() - back) / 1000).toFixed(1)} s\n`);
  }, 600_000);
});
