/**
 * A real Prometheus (Debian's `prometheus`, /usr/bin/prometheus) for the e2e suite, run on the host:
 * it scrapes pod IPs directly (the host reaches them over the cluster's bridge on the local cluster,
 * over the docker network on kind).
 *
 * Discovery: Debian builds Prometheus without its Kubernetes service discovery (no
 * `kubernetes_sd_configs`; file and HTTP discovery are there), so the test serves Prometheus' HTTP
 * discovery (`http_sd_configs`, polled every scrape interval) from the cluster's EndpointSlices, read
 * through the API server with the kubeconfig's credentials on every poll: what `kubernetes_sd_configs`
 * role `endpointslice` reads, and what the Prometheus Operator generates for a ServiceMonitor. It
 * keeps the endpoints of the port named `metrics` in the watched namespace (the port the chart's
 * ServiceMonitor and the operator's per-Cluster ServiceMonitor name), ready or not, and labels them
 * as the Prometheus Operator does: `namespace`, `service`, `pod`, `endpoint`, and `job` = the
 * Service's name (so a Cluster's brokers are job `<cluster>-brokers`, the operator
 * `<release>-brook-operator-metrics`).
 *
 * Everything lives in one temp dir (config, rules, TSDB); `stop()` kills the process, closes the
 * discovery server and removes the dir.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackground, type BackgroundProcess } from '../harness/background.ts';
import { freePort } from '../harness/ports.ts';
import { getJson } from './kube.ts';

export const PROMETHEUS_BIN = process.env.PROMETHEUS ?? '/usr/bin/prometheus';

export interface RuleGroup { name: string; interval?: string; rules: Array<Record<string, unknown>> }

export interface PrometheusOptions {
  /** The namespace whose `metrics` endpoints are scraped. */
  namespace: string;
  /** Rule groups to load (a PrometheusRule's spec.groups). */
  ruleGroups: RuleGroup[];
  /** Scrape and rule evaluation interval, e.g. '2s'. */
  interval: string;
}

export interface Sample { metric: Record<string, string>; value: [number, string] }
export interface Alert { labels: Record<string, string>; annotations: Record<string, string>; state: 'pending' | 'firing'; activeAt: string; value: string }
export interface Target { labels: Record<string, string>; health: 'up' | 'down' | 'unknown'; lastError: string; scrapeUrl: string }

export interface Prometheus {
  url: string;
  dir: string;
  process: BackgroundProcess;
  /** An instant query; throws with Prometheus' error when the expression is rejected. */
  query(expr: string): Promise<Sample[]>;
  /** Values of `label` on the series `selector` matches (what Grafana's label_values() does). */
  labelValues(selector: string, label: string): Promise<string[]>;
  alerts(): Promise<Alert[]>;
  activeTargets(): Promise<Target[]>;
  /** Stops the process (SIGTERM, SIGKILL after 10 s) and removes the temp dir. */
  stop(): Promise<void>;
}

interface EndpointSlice {
  metadata: { labels?: Record<string, string> };
  endpoints?: Array<{ addresses: string[]; targetRef?: { kind: string; name: string } }>;
  ports?: Array<{ name?: string; port?: number }> | null;
}

/** Prometheus HTTP discovery target groups: the `metrics` endpoints of the namespace's Services, labelled as a ServiceMonitor's. */
export async function discoverTargets(namespace: string): Promise<Array<{ targets: string[]; labels: Record<string, string> }>> {
  const slices = await getJson<{ items: EndpointSlice[] }>(['get', 'endpointslices.discovery.k8s.io', '-n', namespace]);
  const groups: Array<{ targets: string[]; labels: Record<string, string> }> = [];
  for (const slice of slices.items) {
    const service = slice.metadata.labels?.['kubernetes.io/service-name'];
    const port = slice.ports?.find((p) => p.name === 'metrics')?.port;
    if (!service || !port) continue;
    for (const e of slice.endpoints ?? []) {
      const pod = e.targetRef?.kind === 'Pod' ? e.targetRef.name : undefined;
      for (const ip of e.addresses) {
        groups.push({
          targets: [`${ip.includes(':') ? `[${ip}]` : ip}:${port}`],
          labels: { namespace, service, job: service, endpoint: 'metrics', ...(pod ? { pod } : {}) },
        });
      }
    }
  }
  return groups;
}

/** Serves discoverTargets(namespace) as Prometheus' HTTP discovery on 127.0.0.1 (a fresh read per poll). */
async function startDiscovery(namespace: string): Promise<{ url: string; server: Server }> {
  const server = createHttpServer((req, res) => {
    discoverTargets(namespace).then((groups) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(groups));
    }, (err: Error) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(err.message);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/targets`, server };
}

async function api<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  const body = await res.json() as { status: string; data: T; error?: string; errorType?: string };
  if (body.status !== 'success') throw new Error(`${url}: ${body.errorType}: ${body.error}`);
  return body.data;
}

export async function startPrometheus(o: PrometheusOptions): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'brook-prometheus-'));
  let proc: BackgroundProcess | undefined;
  let discovery: { url: string; server: Server } | undefined;
  const stop = async () => {
    try {
      await proc?.stop('SIGTERM', 10_000);
    } finally {
      discovery?.server.closeAllConnections();
      discovery?.server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    discovery = await startDiscovery(o.namespace);
    const rules = join(dir, 'rules.json');
    writeFileSync(rules, JSON.stringify({ groups: o.ruleGroups }, null, 2)); // JSON is YAML: a Prometheus rule file
    const config = join(dir, 'prometheus.json');
    writeFileSync(config, JSON.stringify({
      global: { scrape_interval: o.interval, scrape_timeout: o.interval, evaluation_interval: o.interval },
      rule_files: [rules],
      scrape_configs: [{ job_name: 'servicemonitors', http_sd_configs: [{ url: discovery.url, refresh_interval: o.interval }] }],
    }, null, 2));
    const port = await freePort();
    proc = startBackground(PROMETHEUS_BIN, [
      `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h', '--log.level=warn',
    ]);
    const url = `http://127.0.0.1:${port}`;
    const p = proc;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (p.exited()) throw new Error(`prometheus exited:\n${p.stderr().slice(-4000)}`);
      const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`prometheus not ready within 30 s:\n${p.stderr().slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return {
      url, dir, process: p, stop,
      query: async (expr) => (await api<{ resultType: string; result: Sample[] }>(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
      labelValues: (selector, label) => api<string[]>(`${url}/api/v1/label/${encodeURIComponent(label)}/values?match[]=${encodeURIComponent(selector)}`),
      alerts: async () => (await api<{ alerts: Alert[] }>(`${url}/api/v1/alerts`)).alerts,
      activeTargets: async () => (await api<{ activeTargets: Target[] }>(`${url}/api/v1/targets?state=active`)).activeTargets,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
