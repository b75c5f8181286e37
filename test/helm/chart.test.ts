/**
 * The Helm chart, with the `helm` built from the Go module proxy: `helm lint` and `helm template`
 * pass with the default values and with each charts/<chart>/ci/*.yaml file; bad values fail on
 * values.schema.json with a message naming the value; the chart's crds/ are byte-identical to the
 * repository's crds/; the rendered objects have the shape the issue asks for (non-root,
 * read-only root filesystem, probes, leader election with replicas > 1, dashboards labelled for
 * Grafana's sidecar, a helm test that produces and consumes with kcat); every alert and dashboard
 * expression is valid PromQL (promtool).
 */
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as yaml from 'js-yaml';
import { repoRoot } from '../harness/paths.ts';
import { describeRun, expectSuccess, run } from '../harness/tools.ts';
import {
  charts, ciValueFiles, find, helm, only, operatorChart, render, templateArgs, type KubeObject,
} from './helm.ts';
import { dashboardQueries, grafanaToPromql, metricNames, ruleQueries, type GrafanaDashboard, type RuleGroup } from './promql.ts';

const monitoringApis = ['monitoring.coreos.com/v1/PrometheusRule', 'monitoring.coreos.com/v1/ServiceMonitor'];

type Container = {
  name: string; image: string; args?: string[]; command?: string[];
  env?: Array<{ name: string; value?: string }>;
  securityContext?: Record<string, unknown>; resources?: { requests?: object; limits?: object };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  ports?: Array<{ name: string; containerPort: number }>;
};
type PodSpec = { securityContext?: Record<string, unknown>; serviceAccountName?: string; containers: Container[] };

const podSpec = (deployment: KubeObject) => (deployment.spec as { template: { spec: PodSpec } }).template.spec;

describe('helm lint and helm template', () => {
  const cases = charts().flatMap((chart) => [
    { chart, values: undefined as string | undefined },
    ...ciValueFiles(chart).map((values) => ({ chart, values })),
  ]);

  test('there is a chart and it has ci/ value files', () => {
    expect(charts().map((c) => basename(c))).toContain('brook-operator');
    expect(ciValueFiles(operatorChart).length).toBeGreaterThanOrEqual(2);
  });

  const named = cases.map((c): [string, typeof c] => [`${basename(c.chart)} ${c.values ? `with ci/${basename(c.values)}` : 'with default values'}`, c]);
  test.each(named)('%s', async (_name, { chart, values }) => {
    const files = values ? ['-f', values] : [];
    const lint = expectSuccess(await helm(['lint', '--strict', chart, ...files]));
    expect(lint.stdout.toString()).toContain('0 chart(s) failed');
    for (const apiVersions of [[], monitoringApis]) {
      const objects = await render(chart, { valueFiles: values ? [values] : [], apiVersions });
      expect(objects.length).toBeGreaterThan(0);
      for (const o of objects) {
        expect(typeof o.apiVersion).toBe('string');
        expect(o.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
        expect(o.metadata.name.length).toBeLessThanOrEqual(63);
        expect(o.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');
        expect(o.metadata.labels?.['app.kubernetes.io/name']).toBe('brook-operator');
      }
    }
  }, 120_000);
});

describe('values.schema.json rejects bad values with a message naming them', () => {
  const bad: Array<[string, string[], RegExp]> = [
    ['a string replica count', ['replicaCount=two'], /at '\/replicaCount': got string, want integer/],
    ['a privileged metrics port', ['metrics.port=80'], /at '\/metrics\/port': minimum: got 80, want 1,024/],
    ['an unknown log level', ['logLevel=verbose'], /at '\/logLevel': value must be one of 'debug', 'info', 'warn', 'error'/],
    ['a misspelt top-level key', ['replicas=3'], /additional properties 'replicas' not allowed/],
    ['a misspelt nested key', ['serviceMonitor.enable=true'], /at '\/serviceMonitor': additional properties 'enable' not allowed/],
    ['a duration Prometheus cannot read', ['prometheusRule.underReplicatedFor=5 minutes'], /at '\/prometheusRule\/underReplicatedFor': '5 minutes' does not match pattern/],
    ['a disk ratio above 1', ['prometheusRule.disk.usedRatio=2'], /at '\/prometheusRule\/disk\/usedRatio': maximum: got 2, want 1/],
    ['two watched namespaces', ['watchNamespaces={a,b}'], /at '\/watchNamespaces': maxItems: got 2, want 1/],
    ['a bad pull policy', ['image.pullPolicy=Sometimes'], /at '\/image\/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'/],
    ['a malformed bootstrap address', ['tests.bootstrapServers=no port'], /at '\/tests\/bootstrapServers'/],
    ['a digest that is not sha256', ['image.digest=latest'], /at '\/image\/digest'/],
  ];
  test.each(bad)('%s', async (_name, set, message) => {
    for (const cmd of [templateArgs(operatorChart, { set }), ['lint', operatorChart, ...set.flatMap((s) => ['--set', s])]]) {
      const r = await helm(cmd);
      if (r.code === 0) throw new Error(`expected helm to reject ${set.join(' ')}\n${describeRun(r)}`);
      const out = r.stderr + r.stdout.toString();
      expect(out).toContain("values don't meet the specifications of the schema");
      expect(out).toMatch(message);
    }
  });

  test('more than one replica without leader election fails with a message saying why', async () => {
    const r = await helm(templateArgs(operatorChart, { set: ['replicaCount=2', 'leaderElection.enabled=false'] }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('replicaCount > 1 needs leaderElection.enabled=true: two operators must never act at once');
  });

  test('a ServiceAccount that is not created must be named', async () => {
    const r = await helm(templateArgs(operatorChart, { set: ['serviceAccount.create=false'] }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('serviceAccount.name is required when serviceAccount.create is false');
  });
});

describe('CRDs', () => {
  test("the chart's crds/ are byte-identical to the repository's crds/", () => {
    const repo = join(repoRoot, 'crds');
    const chart = join(operatorChart, 'crds');
    const names = readdirSync(repo).filter((f) => f.endsWith('.yaml')).sort();
    expect(names.length).toBeGreaterThan(0);
    expect(readdirSync(chart).sort()).toEqual(names);
    for (const f of names) {
      const a = readFileSync(join(repo, f), 'utf8');
      const b = readFileSync(join(chart, f), 'utf8');
      if (a !== b) throw new Error(`charts/brook-operator/crds/${f} differs from crds/${f}: copy it (cp crds/*.yaml charts/brook-operator/crds/)`);
    }
  });

  test('helm template --include-crds renders the three CRDs', async () => {
    const objects = await render(operatorChart, { includeCrds: true });
    expect(find(objects, 'CustomResourceDefinition').map((o) => o.metadata.name).sort()).toEqual(['clusters.brook.dev', 'topics.brook.dev', 'users.brook.dev']);
  });
});

describe('the rendered operator', () => {
  test('Deployment: non-root, read-only root filesystem, resources, probes on the metrics port, `operator --metrics-port`', async () => {
    const objects = await render(operatorChart);
    const deploy = only(objects, 'Deployment');
    const spec = podSpec(deploy);
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    const [c] = spec.containers;
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(c.resources?.requests).toBeDefined();
    expect(c.resources?.limits).toBeDefined();
    expect(c.args).toEqual(['operator', '--metrics-port=8080', '--leader-election-name=brook-brook-operator', '--log-level=info']);
    expect(c.ports).toEqual([{ name: 'metrics', containerPort: 8080, protocol: 'TCP' }]);
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(spec.serviceAccountName).toBe(only(objects, 'ServiceAccount').metadata.name);
    expect(c.image).toBe('brook:0.1.0');
    // No namespace flag: it watches all namespaces, with a ClusterRole.
    expect(c.args?.some((a) => a.startsWith('--namespace'))).toBe(false);
    expect(find(objects, 'Role')).toEqual([]);
    const svc = only(objects, 'Service');
    expect(svc.spec).toMatchObject({ type: 'ClusterIP', ports: [{ name: 'metrics', port: 8080, targetPort: 'metrics' }] });
    expect((svc.spec as { selector: object }).selector).toEqual((deploy.spec as { selector: { matchLabels: object } }).selector.matchLabels);
  });

  test('leader election is on unless turned off (and then only one replica); watchNamespaces passes --namespace and uses Roles', async () => {
    const objects = await render(operatorChart, { set: ['replicaCount=3', 'watchNamespaces={kafka}'] });
    const [c] = podSpec(only(objects, 'Deployment')).containers;
    expect(c.args).toContain('--namespace=kafka');
    expect(c.args).not.toContain('--no-leader-election');
    expect(find(objects, 'Role').map((r) => `${r.metadata.namespace}/${r.metadata.name}`).sort())
      .toEqual(['brook-system/brook-brook-operator-leader-election', 'kafka/brook-brook-operator']);
    const cr = only(objects, 'ClusterRole');
    expect(cr.rules).toEqual([{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }, { apiGroups: ['storage.k8s.io'], resources: ['storageclasses'], verbs: ['get'] }]);
    const single = await render(operatorChart, { set: ['leaderElection.enabled=false'] });
    expect(podSpec(only(single, 'Deployment')).containers[0].args).toContain('--no-leader-election');
    expect(find(single, 'Lease')).toEqual([]);
  });

  test('the leader-election Lease is part of the release, so helm uninstall deletes it', async () => {
    const objects = await render(operatorChart);
    const lease = only(objects, 'Lease');
    const [c] = podSpec(only(objects, 'Deployment')).containers;
    expect(c.args).toContain(`--leader-election-name=${lease.metadata.name}`);
    expect(lease.metadata.namespace).toBe(only(objects, 'Deployment').metadata.namespace);
  });

  test('ServiceMonitor and PrometheusRule only where the cluster serves them, or when forced', async () => {
    const set = ['serviceMonitor.enabled=true'];
    const without = await render(operatorChart, { set });
    expect(find(without, 'ServiceMonitor')).toEqual([]);
    expect(find(without, 'PrometheusRule')).toEqual([]);
    const withApis = await render(operatorChart, { set, apiVersions: monitoringApis });
    expect(find(withApis, 'ServiceMonitor')).toHaveLength(1);
    expect(find(withApis, 'PrometheusRule')).toHaveLength(1);
    const forced = await render(operatorChart, { set: [...set, 'serviceMonitor.force=true', 'prometheusRule.force=true'] });
    expect(only(forced, 'ServiceMonitor').spec).toMatchObject({ endpoints: [{ port: 'metrics', path: '/metrics' }] });
  });

  test('the PrometheusRule has the alerts the issue lists', async () => {
    const rule = only(await render(operatorChart, { apiVersions: monitoringApis }), 'PrometheusRule');
    const alerts = (rule.spec as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap((g) => g.rules);
    const expr = (name: string) => alerts.find((a) => a.alert === name)?.expr ?? '';
    expect(expr('BrookUnderReplicatedPartitions')).toContain('brook_under_replicated_partitions');
    expect(expr('BrookOfflinePartitions')).toContain('brook_offline_partitions');
    expect(expr('BrookUnderMinIsrPartitions')).toContain('brook_under_min_isr_partitions');
    expect(expr('BrookNoActiveController')).toMatch(/^sum by \(namespace, job\) \(brook_controller_active\) == 0$/);
    expect(expr('BrookConsumerLagGrowing')).toContain('deriv(brook_consumer_group_lag_sum');
    expect(expr('BrookDiskFilling')).toMatch(/brook_log_size_bytes[\s\S]*kubelet_volume_stats_capacity_bytes/);
    expect(expr('BrookOperatorReconcileErrors')).toContain('brook_operator_reconcile_total{result="error"}');
    // rebalancing (issue 12): a running plan that completes no move, a refused scale-down
    expect(expr('BrookRebalanceStalled')).toMatch(/brook_operator_rebalance_state\{state="Running"\}[\s\S]*changes\(brook_operator_rebalance_partitions_done\[30m\]\)/);
    expect(expr('BrookRebalanceRefused')).toContain('brook_operator_rebalance_state{state="Refused"}');
  });

  test('dashboards: one ConfigMap per dashboards/*.json, labelled for the Grafana sidecar, holding the file as it is', async () => {
    const files = readdirSync(join(operatorChart, 'dashboards')).filter((f) => f.endsWith('.json')).sort();
    expect(files).toEqual(['broker-resources.json', 'cluster-overview.json', 'consumer-lag.json', 'operator.json', 'topics.json']);
    const cms = find(await render(operatorChart, { set: ['dashboards.namespace=monitoring'] }), 'ConfigMap');
    expect(cms).toHaveLength(files.length);
    const uids = new Set<string>();
    for (const cm of cms) {
      expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
      expect(cm.metadata.namespace).toBe('monitoring');
      const data = cm.data as Record<string, string>;
      const [file] = Object.keys(data);
      expect(files).toContain(file);
      expect(data[file]).toBe(readFileSync(join(operatorChart, 'dashboards', file), 'utf8').replace(/\n$/, ''));
      const d = JSON.parse(data[file]) as GrafanaDashboard;
      expect(d.title).toMatch(/^Brook \//);
      uids.add(d.uid);
      expect(dashboardQueries(file, d).length).toBeGreaterThan(3);
    }
    expect(uids.size).toBe(files.length);
  });

  test('helm test: a Topic and a kcat pod that produces and consumes through the bootstrap Service', async () => {
    const objects = await render(operatorChart, { set: ['tests.cluster=prod', 'tests.namespace=kafka'] });
    const topic = only(objects, 'Topic');
    expect(topic.metadata).toMatchObject({ namespace: 'kafka', annotations: { 'helm.sh/hook': 'test' } });
    // Its own min.insync.replicas, so acks=all works on any Cluster (examples/cluster.yaml sets 2 for the whole cluster).
    expect(topic.spec).toMatchObject({ cluster: 'prod', partitions: 1, replicationFactor: 1, config: { 'min.insync.replicas': '1' } });
    const three = only(await render(operatorChart, { set: ['tests.replicationFactor=3'] }), 'Topic');
    expect(three.spec).toMatchObject({ replicationFactor: 3, config: { 'min.insync.replicas': '1' } });
    // Nothing stays behind a passing test (helm uninstall does not delete hooks).
    for (const o of [topic, only(objects, 'Pod')]) expect(o.metadata.annotations?.['helm.sh/hook-delete-policy']).toBe('before-hook-creation,hook-succeeded');
    const pod = only(objects, 'Pod');
    expect(pod.metadata.annotations?.['helm.sh/hook']).toBe('test');
    const spec = pod.spec as PodSpec;
    const [c] = spec.containers;
    expect(c.image).toBe('edenhill/kcat:1.7.1');
    expect(c.env).toContainEqual({ name: 'BOOTSTRAP', value: 'prod-bootstrap.kafka.svc:9092' });
    const script = (c.args ?? []).join('\n');
    expect(script).toMatch(/kcat -P -b "\$BOOTSTRAP"/);
    expect(script).toMatch(/kcat -C -b "\$BOOTSTRAP"/);
    expect(script).toMatch(/-X acks=all/);
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true });
  });

  test("helm test's script really produces and consumes: run with this machine's kcat against a broker", async () => {
    // The pod's shell script, run here with BOOTSTRAP pointing at a real broker on loopback.
    const { startBroker, stopAllBrokers } = await import('../harness/brook.ts');
    const broker = await startBroker({ set: { 'auto.create.topics.enable': 'true' } });
    try {
      const pod = only(await render(operatorChart, { set: ['tests.messages=25', 'tests.timeoutSeconds=30'] }), 'Pod');
      const [c] = (pod.spec as PodSpec).containers;
      const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? '']));
      const dir = mkdtempSync(join(tmpdir(), 'brook-helm-test-'));
      // The script writes its stderr to /tmp (an emptyDir in the pod); point that at a temp dir here.
      const script = (c.args ?? []).join('\n').replaceAll('/tmp/', `${dir}/`);
      const r = await run('/bin/sh', ['-ec', script], { env: { ...env, BOOTSTRAP: broker.bootstrap }, timeoutMs: 60_000 });
      expectSuccess(r);
      expect(r.stdout.toString()).toContain('consumed all 25 records back: OK');
    } finally {
      await stopAllBrokers();
    }
  }, 90_000);
});

describe('PromQL', () => {
  test('metric names are extracted from expressions', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (api, le) (rate(brook_request_duration_seconds_bucket{namespace="$namespace", api=~"Fetch|Produce"}[$__rate_interval])))'))
      .toEqual(['brook_request_duration_seconds_bucket']);
    expect(metricNames('sum by (namespace, pod) (brook_log_size_bytes) / on (namespace, pod) max by (namespace, pod) (label_replace(kubelet_volume_stats_capacity_bytes{persistentvolumeclaim=~"data-.+"}, "pod", "$1", "persistentvolumeclaim", "data-(.+)")) > 0.85'))
      .toEqual(['brook_log_size_bytes', 'kubelet_volume_stats_capacity_bytes']);
    expect(metricNames('label_values(brook_controller_active{namespace="$namespace"}, job)')).toEqual(['brook_controller_active']);
    expect(metricNames('(sum by (group) (a_total) > 1e3) and (sum without (x) (deriv(b[10m])) > 0) unless c offset 5m')).toEqual(['a_total', 'b', 'c']);
  });

  test('every alert and dashboard expression is valid PromQL (promtool check rules)', async () => {
    const promtool = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
    if (!promtool) throw new Error('promtool is missing: run `node scripts/ensure-deps.mjs --test` (Debian package prometheus)');
    const rule = only(await render(operatorChart, { valueFiles: [join(operatorChart, 'ci', 'monitoring-values.yaml')] }), 'PrometheusRule');
    const groups = (rule.spec as { groups: RuleGroup[] }).groups;
    const dir = mkdtempSync(join(tmpdir(), 'brook-promql-'));
    const dashboards = join(operatorChart, 'dashboards');
    const records = readdirSync(dashboards).filter((f) => f.endsWith('.json')).flatMap((f) =>
      dashboardQueries(f, JSON.parse(readFileSync(join(dashboards, f), 'utf8')) as GrafanaDashboard))
      .map((q) => grafanaToPromql(q.expr)).filter((e): e is string => e !== undefined)
      .map((expr, i) => ({ record: `brook:dashboard_query_${i}`, expr }));
    expect(records.length).toBeGreaterThan(50);
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, yaml.dump({ groups: [...groups, { name: 'dashboards', rules: records }] }, { lineWidth: -1 }));
    const r = await run(promtool, ['check', 'rules', file]);
    if (r.code !== 0) throw new Error(`promtool rejected an expression\n${describeRun(r)}`);
    expect(r.stdout.toString()).toMatch(/SUCCESS: \d+ rules found/);
    expect(ruleQueries(groups).length).toBeGreaterThanOrEqual(8);
  });
});
