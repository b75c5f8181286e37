/**
 * The chart's rendered CRDs and objects install into a real API server (the envtest tier), and
 * the operator's ServiceAccount can do exactly what operator/rbac.ts says the operator needs:
 * every (group, resource, verb) of operatorClusterRules is allowed (SubjectAccessReview as the
 * ServiceAccount), a sample of things it must not do is denied, and it can really create the
 * brokers' Role and RoleBinding (RBAC's escalation check passes because it holds every rule it
 * grants) but not a Role granting more than it holds. The same with watchNamespaces: allowed in
 * the watched namespace, denied in another. Finally the real `brook operator` runs with a token
 * of the chart's ServiceAccount (TokenRequest) and reconciles examples/cluster.yaml into its
 * StatefulSet, Services, ConfigMap, RBAC and PDB without one forbidden request, in both modes.
 */
import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
const readFileSyncUtf8 = (path: string) => readFileSync(path, 'utf8');
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import { brokerRoleRules, operatorClusterRules, type PolicyRule } from '../../operator/rbac.ts';
import { startBackground, type BackgroundProcess } from '../harness/background.ts';
import { repoRoot } from '../harness/paths.ts';
import { describeRun, expectSuccess } from '../harness/tools.ts';
import { kubectl, writeKubeconfig } from '../k8s/envtest.ts';
import { useApiServer } from '../k8s/jest.ts';
import { find, only, operatorChart, render, type KubeObject } from './helm.ts';

/**
 * A refused request in the operator's log: the API server's message ("... is forbidden: ...") or
 * an HTTP 403 status. Not any "403" (a log line's `"ms":403` once matched `\b403\b`).
 */
const FORBIDDEN = /forbidden|\s403\s|"(?:status|code|statusCode)":\s*403\b/i;

const api = useApiServer();
const k = (args: string[], input?: string) => kubectl(api(), args, { input, timeoutMs: 60_000 });

/** The cluster-wide release, and a second release that watches only `kafka`. */
const wide = { release: 'brook', namespace: 'brook-system' };
const narrow = { release: 'narrow', namespace: 'brook-narrow', watched: 'kafka' };
const saUser = (ns: string, name: string) => `system:serviceaccount:${ns}:${name}`;
const saGroups = (ns: string) => ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'];

interface Access { verb: string; group: string; resource: string; subresource?: string; namespace?: string; name?: string }
const show = (a: Access) => `${a.verb} ${a.group || 'core'}/${a.resource}${a.subresource ? `/${a.subresource}` : ''}${a.namespace ? ` in ${a.namespace}` : ' (cluster)'}`;

/** Asks the API server, in one request per check (a List of SubjectAccessReviews), what `user` may do. */
async function canI(user: string, groups: string[], checks: Access[]): Promise<boolean[]> {
  const items = checks.map((a) => ({
    apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
    spec: {
      user, groups,
      resourceAttributes: {
        verb: a.verb, group: a.group, resource: a.resource, subresource: a.subresource ?? '',
        namespace: a.namespace ?? '', name: a.name ?? '',
      },
    },
  }));
  // kubectl prints one object per item; jsonpath gives one `true`/`false` line each, in order.
  const r = expectSuccess(await k(['create', '-o', 'jsonpath={.status.allowed}{"\\n"}', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items })));
  const answers = r.stdout.toString().trim().split('\n');
  expect(answers).toHaveLength(checks.length);
  return answers.map((a) => {
    if (a !== 'true' && a !== 'false') throw new Error(`unexpected SubjectAccessReview answer '${a}'\n${describeRun(r)}`);
    return a === 'true';
  });
}

/** Every (verb, group, resource[/subresource]) a list of PolicyRules grants, in a namespace. */
function accessesOf(rules: readonly PolicyRule[], namespace?: string): Access[] {
  return rules.flatMap((rule) => rule.apiGroups.flatMap((group) => rule.resources.flatMap((res) => rule.verbs.map((verb) => {
    const [resource, subresource] = res.split('/');
    return { verb, group, resource, subresource, namespace: clusterScoped.has(resource!) ? undefined : namespace, name: rule.resourceNames?.[0] };
  }))));
}

const clusterScoped = new Set(['nodes', 'storageclasses']);
const triples = (rules: readonly PolicyRule[]) =>
  new Set(rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}|${res}|${v}`)))));

/** Things the operator must never be able to do. */
function mustNotDo(namespace: string): Access[] {
  return [
    // (it may get, create and update a Secret by name: the brokers' SCRAM credentials Secret,
    // which it grants them; never list or watch Secrets)
    { verb: 'list', group: '', resource: 'secrets', namespace },
    { verb: 'watch', group: '', resource: 'secrets' },
    { verb: 'create', group: '', resource: 'pods', namespace },
    { verb: 'create', group: '', resource: 'pods', subresource: 'exec', namespace },
    { verb: 'create', group: '', resource: 'serviceaccounts', subresource: 'token', namespace },
    { verb: 'delete', group: '', resource: 'persistentvolumeclaims', namespace },
    { verb: 'create', group: 'apps', resource: 'deployments', namespace },
    { verb: 'create', group: 'apps', resource: 'daemonsets', namespace },
    { verb: 'create', group: 'batch', resource: 'jobs', namespace },
    { verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'roles', namespace },
    { verb: 'bind', group: 'rbac.authorization.k8s.io', resource: 'roles', namespace },
    { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
    { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings' },
    { verb: 'create', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions' },
    { verb: 'delete', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions' },
    { verb: 'delete', group: '', resource: 'namespaces' },
    { verb: 'list', group: '', resource: 'nodes' },
    { verb: 'patch', group: '', resource: 'nodes' },
    { verb: 'create', group: 'admissionregistration.k8s.io', resource: 'validatingwebhookconfigurations' },
  ];
}

/** Applies rendered objects (server-side, strict field validation), hooks left out as helm install does. */
async function install(objects: KubeObject[]): Promise<void> {
  const installable = objects.filter((o) => !o.metadata.annotations?.['helm.sh/hook'] && o.kind !== 'CustomResourceDefinition');
  const docs = installable.map((o) => yaml.dump(o)).join('---\n');
  expectSuccess(await k(['apply', '--server-side', '--field-manager=helm', '--validate=strict', '-f', '-'], docs));
}

let wideObjects: KubeObject[];
let narrowObjects: KubeObject[];

beforeAll(async () => {
  wideObjects = await render(operatorChart, { release: wide.release, namespace: wide.namespace, includeCrds: true });
  narrowObjects = await render(operatorChart, { release: narrow.release, namespace: narrow.namespace, set: [`watchNamespaces={${narrow.watched}}`] });
  // CRDs first (helm installs crds/ before the templates), then namespaces, then everything else.
  const crds = find(wideObjects, 'CustomResourceDefinition');
  expect(crds).toHaveLength(3);
  expectSuccess(await k(['apply', '--server-side', '-f', '-'], crds.map((o) => yaml.dump(o)).join('---\n')));
  expectSuccess(await k(['wait', '--for=condition=Established', '--timeout=60s', 'crd/topics.brook.dev', 'crd/clusters.brook.dev', 'crd/users.brook.dev']));
  for (const ns of [wide.namespace, narrow.namespace, narrow.watched, 'other']) expectSuccess(await k(['create', 'namespace', ns]));
  await install(wideObjects);
  await install(narrowObjects);
}, 120_000);

describe('the chart installs into a real API server', () => {
  test('every rendered object exists, with the chart labels', async () => {
    for (const o of [...wideObjects, ...narrowObjects].filter((x) => !x.metadata.annotations?.['helm.sh/hook'] && x.kind !== 'CustomResourceDefinition')) {
      const args = ['get', o.kind, o.metadata.name, '-o', 'json', ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : [])];
      const got = JSON.parse(expectSuccess(await k(args)).stdout.toString()) as KubeObject;
      expect(got.metadata.labels?.['app.kubernetes.io/instance']).toBe(o.metadata.labels?.['app.kubernetes.io/instance']);
    }
  });

  test('the helm test hooks (Topic and kcat pod) are accepted by the server (dry run)', async () => {
    const hooks = wideObjects.filter((o) => o.metadata.annotations?.['helm.sh/hook'] === 'test');
    expect(hooks.map((o) => o.kind).sort()).toEqual(['Pod', 'Topic']);
    const docs = hooks.map((o) => yaml.dump(o)).join('---\n');
    expectSuccess(await k(['apply', '--server-side', '--dry-run=server', '--validate=strict', '-f', '-'], docs));
  });
});

describe("the operator's ServiceAccount (all namespaces)", () => {
  const sa = () => only(wideObjects, 'ServiceAccount').metadata.name;
  const user = () => saUser(wide.namespace, sa());
  const groups = saGroups(wide.namespace);

  test('the ClusterRole grants exactly operator/rbac.ts operatorClusterRules', () => {
    const role = only(wideObjects, 'ClusterRole');
    expect([...triples(role.rules as PolicyRule[])].sort()).toEqual([...triples(operatorClusterRules)].sort());
  });

  test('may do everything operator/rbac.ts lists, in any namespace', async () => {
    for (const ns of ['kafka', 'other']) {
      const checks = accessesOf(operatorClusterRules, ns);
      const allowed = await canI(user(), groups, checks);
      expect(checks.filter((_, i) => !allowed[i]).map(show)).toEqual([]);
    }
  });

  test('may not list or watch secrets, exec into pods, create workloads, touch cluster RBAC or CRDs', async () => {
    const checks = mustNotDo('kafka');
    const allowed = await canI(user(), groups, checks);
    expect(checks.filter((_, i) => allowed[i]).map(show)).toEqual([]);
  });

  test("may create each Cluster's broker Role and RoleBinding (it holds every rule it grants), but not a Role granting more", async () => {
    const as = ['--as', user(), ...groups.flatMap((g) => ['--as-group', g])];
    const role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'demo-broker', namespace: 'kafka' }, rules: brokerRoleRules('demo') };
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'demo-broker', namespace: 'kafka' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'demo-broker' },
      subjects: [{ kind: 'ServiceAccount', name: 'demo-broker', namespace: 'kafka' }],
    };
    expectSuccess(await k(['create', ...as, '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [role, binding] })));
    const greedy = { ...role, metadata: { name: 'greedy', namespace: 'kafka' }, rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }] };
    const r = await k(['create', ...as, '-f', '-'], JSON.stringify(greedy));
    if (r.code === 0) throw new Error(`the operator could create a Role granting a list of secrets\n${describeRun(r)}`);
    expect(r.stderr).toMatch(/forbidden.*attempting to grant RBAC permissions not currently held/s);
  });

  test('may read API discovery (how it finds the Prometheus Operator)', async () => {
    const r = expectSuccess(await k(['create', '-o', 'json', '-f', '-'], JSON.stringify({
      apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
      spec: { user: user(), groups, nonResourceAttributes: { path: '/apis/monitoring.coreos.com/v1', verb: 'get' } },
    })));
    expect((JSON.parse(r.stdout.toString()) as { status: { allowed: boolean } }).status.allowed).toBe(true);
  });
});

describe('with watchNamespaces: [kafka]', () => {
  const sa = () => only(narrowObjects, 'ServiceAccount').metadata.name;
  const user = () => saUser(narrow.namespace, sa());
  const groups = saGroups(narrow.namespace);
  const namespaced = operatorClusterRules.filter((r) => !r.resources.some((res) => clusterScoped.has(res)));

  test('the Role in kafka plus the ClusterRole grant exactly operatorClusterRules', () => {
    const role = only(narrowObjects.filter((o) => o.metadata.namespace === narrow.watched), 'Role');
    const cluster = only(narrowObjects, 'ClusterRole');
    const granted = new Set([...triples(role.rules as PolicyRule[]), ...triples(cluster.rules as PolicyRule[])]);
    expect([...granted].sort()).toEqual([...triples(operatorClusterRules)].sort());
  });

  test('may do everything in kafka, nothing of it in another namespace, and elect a leader in its own', async () => {
    const inKafka = accessesOf(operatorClusterRules, narrow.watched);
    const allowed = await canI(user(), groups, inKafka);
    expect(inKafka.filter((_, i) => !allowed[i]).map(show)).toEqual([]);

    const elsewhere = accessesOf(namespaced, 'other');
    const allowedElsewhere = await canI(user(), groups, elsewhere);
    expect(elsewhere.filter((_, i) => allowedElsewhere[i]).map(show)).toEqual([]);

    const election: Access[] = ['get', 'create', 'update'].map((verb) => ({ verb, group: 'coordination.k8s.io', resource: 'leases', namespace: narrow.namespace }));
    expect(await canI(user(), groups, election)).toEqual([true, true, true]);
    const notMore: Access[] = [{ verb: 'get', group: 'apps', resource: 'statefulsets', namespace: narrow.namespace }, { verb: 'list', group: 'brook.dev', resource: 'topics' }];
    expect(await canI(user(), groups, notMore)).toEqual([false, false]);
  });

  test('may not do the forbidden things either', async () => {
    const checks = mustNotDo(narrow.watched);
    const allowed = await canI(user(), groups, checks);
    expect(checks.filter((_, i) => allowed[i]).map(show)).toEqual([]);
  });
});


describe("the real operator with a token of the chart's ServiceAccount", () => {
  let op: BackgroundProcess | undefined;
  afterEach(async () => { await op?.stop(); op = undefined; });

  /** A kubeconfig authenticating as the ServiceAccount with a token from the TokenRequest API. */
  async function tokenKubeconfig(namespace: string, sa: string): Promise<string> {
    const token = expectSuccess(await k(['create', 'token', sa, '-n', namespace, '--duration=1h'])).stdout.toString().trim();
    const path = join(api().dir, `kubeconfig-${namespace}-${sa}`);
    writeKubeconfig(path, api().server, api().caData, token);
    return path;
  }

  /**
   * Starts the operator as the chart's Deployment does: `bin/brook` (the image's entrypoint) with
   * the rendered container args and env, only the metrics port moved to a free one, the
   * in-cluster config replaced by a token kubeconfig, and a short lease. Applies a Cluster and
   * waits for everything it implies; returns the operator's log.
   */
  async function reconcileUnder(release: { namespace: string; objects: KubeObject[] }, clusterName: string): Promise<string> {
    const sa = only(release.objects, 'ServiceAccount').metadata.name;
    const kubeconfig = await tokenKubeconfig(release.namespace, sa);
    const container = (only(release.objects, 'Deployment').spec as { template: { spec: { containers: Array<{ args: string[]; env: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }> }> } } }).template.spec.containers[0];
    const fieldRefs: Record<string, string> = { 'metadata.namespace': release.namespace, 'metadata.name': `${sa}-7d9f8-x2x4k` };
    const env = Object.fromEntries(container.env.map((e) => [e.name, e.value ?? fieldRefs[e.valueFrom?.fieldRef?.fieldPath ?? ''] ?? '']));
    const args = container.args.map((a) => (a.startsWith('--metrics-port=') ? '--metrics-port=0' : a));
    op = startBackground(join(repoRoot, 'bin', 'brook'), [...args, '--metrics-host=127.0.0.1', '--kubeconfig', kubeconfig, '--lease-duration', '5'], { env });
    const cluster = { ...(yaml.load(readExample('cluster.yaml')) as KubeObject), metadata: { name: clusterName } };
    expectSuccess(await k(['apply', '-n', 'kafka', '-f', '-'], JSON.stringify(cluster)));
    const owned = [['statefulset', clusterName], ['service', `${clusterName}-brokers`], ['service', `${clusterName}-bootstrap`],
      ['configmap', `${clusterName}-config`], ['serviceaccount', `${clusterName}-broker`], ['role', `${clusterName}-broker`],
      ['rolebinding', `${clusterName}-broker`], ['poddisruptionbudget', clusterName]];
    const deadline = Date.now() + 30_000;
    let absent: string[] = [];
    for (;;) {
      absent = [];
      for (const [kind, name] of owned) if ((await k(['get', '-n', 'kafka', kind, name, '-o', 'name'])).code !== 0) absent.push(`${kind}/${name}`);
      if (absent.length === 0 || Date.now() > deadline || op.exited()) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const log = op.stdout().toString() + op.stderr();
    if (absent.length > 0) throw new Error(`the operator did not create ${absent.join(', ')}\n--- operator log\n${log.slice(-6000)}`);
    const status = JSON.parse(expectSuccess(await k(['get', '-n', 'kafka', 'clusters.brook.dev', clusterName, '-o', 'json'])).stdout.toString()) as { status?: { conditions?: Array<{ type: string }> } };
    expect(status.status?.conditions?.map((c) => c.type)).toEqual(expect.arrayContaining(['Ready', 'Progressing', 'Degraded']));
    return log;
  }

  const readExample = (f: string) => readFileSyncUtf8(join(repoRoot, 'examples', f));

  test('all namespaces: reconciles a Cluster with no forbidden request, as the leader of the release Lease', async () => {
    const log = await reconcileUnder({ namespace: wide.namespace, objects: wideObjects }, 'wide');
    expect(log).not.toMatch(FORBIDDEN);
    // The Lease is the release's (--leader-election-name), in the pod's namespace (POD_NAMESPACE), held by the pod.
    const lease = only(wideObjects, 'Deployment').metadata.name;
    const holder = expectSuccess(await k(['get', 'lease', lease, '-n', wide.namespace, '-o', 'jsonpath={.spec.holderIdentity}'])).stdout.toString();
    expect(holder).toMatch(new RegExp(`^${only(wideObjects, 'ServiceAccount').metadata.name}-7d9f8-x2x4k_\\d+$`));
  }, 90_000);

  test('watchNamespaces [kafka]: reconciles a Cluster there with no forbidden request', async () => {
    const log = await reconcileUnder({ namespace: narrow.namespace, objects: narrowObjects }, 'narrow');
    expect(log).toContain('"namespace":"kafka"');
    expect(log).not.toMatch(FORBIDDEN);
  }, 90_000);
});
