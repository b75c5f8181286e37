/**
 * Kube: the operator's small REST client over @kubernetes/client-node's KubeConfig (auth, TLS,
 * impersonation) and its fetch transport. Objects stay plain JSON (no generated model classes),
 * so what the informers cache, what reconcilers compare and what goes on the wire are the same
 * shapes. Every request is counted by verb and resource (`onRequest`) for the request-rate
 * measurements.
 */
import { HttpMethod, IsomorphicFetchHttpLibrary, RequestContext, type KubeConfig } from '@kubernetes/client-node';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export interface KubeList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** What the client needs to know to address a kind. */
export interface Resource {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

export const resources = {
  Cluster: { apiVersion: 'brook.dev/v1alpha1', kind: 'Cluster', plural: 'clusters', namespaced: true },
  Topic: { apiVersion: 'brook.dev/v1alpha1', kind: 'Topic', plural: 'topics', namespaced: true },
  StatefulSet: { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets', namespaced: true },
  Service: { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  ConfigMap: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  ServiceAccount: { apiVersion: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true },
  Pod: { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  Node: { apiVersion: 'v1', kind: 'Node', plural: 'nodes', namespaced: false },
  Event: { apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true },
  PersistentVolumeClaim: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', plural: 'persistentvolumeclaims', namespaced: true },
  PodDisruptionBudget: { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', namespaced: true },
  Role: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', plural: 'roles', namespaced: true },
  RoleBinding: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', plural: 'rolebindings', namespaced: true },
  Lease: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', plural: 'leases', namespaced: true },
  ServiceMonitor: { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', plural: 'servicemonitors', namespaced: true },
  PrometheusRule: { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', plural: 'prometheusrules', namespaced: true },
} as const satisfies Record<string, Resource>;

export type Kind = keyof typeof resources;

/** An API error with the HTTP status (404, 409, 410, 422...) and the server's Status reason. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  constructor(code: number, reason: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof ApiError && err.code === 404;
export const isConflict = (err: unknown): boolean => err instanceof ApiError && err.code === 409;

/** The collection path of a kind: /api/v1/namespaces/ns/pods, /apis/apps/v1/statefulsets... */
export function collectionPath(r: Resource, namespace?: string): string {
  const base = r.apiVersion.includes('/') ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
  return r.namespaced && namespace ? `${base}/namespaces/${namespace}/${r.plural}` : `${base}/${r.plural}`;
}

export function objectPath(r: Resource, namespace: string | undefined, name: string, subresource?: string): string {
  return `${collectionPath(r, namespace)}/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}`;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
}

export class Kube {
  readonly kc: KubeConfig;
  readonly fieldManager: string;
  private readonly http = new IsomorphicFetchHttpLibrary();
  private readonly onRequest: (verb: string, resource: string) => void;
  /** One connection pool for every request (KubeConfig makes a new TLS agent per request otherwise). */
  private dispatcher: unknown;

  constructor(kc: KubeConfig, opts: { fieldManager?: string; onRequest?: (verb: string, resource: string) => void } = {}) {
    this.kc = kc;
    this.fieldManager = opts.fieldManager ?? 'brook-operator';
    this.onRequest = opts.onRequest ?? (() => {});
  }

  async request<T>(method: keyof typeof HttpMethod, path: string, opts: RequestOptions = {}): Promise<T> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('BROOK_ERR_KUBECONFIG: no current cluster in the kubeconfig');
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), HttpMethod[method]);
    await this.kc.applySecurityAuthentication(ctx);
    this.dispatcher ??= ctx.getDispatcher();
    ctx.setDispatcher(this.dispatcher as NonNullable<ReturnType<RequestContext['getDispatcher']>>);
    ctx.setHeaderParam('Accept', 'application/json');
    if (opts.body !== undefined) {
      ctx.setHeaderParam('Content-Type', opts.contentType ?? 'application/json');
      ctx.setBody(JSON.stringify(opts.body));
    }
    this.onRequest(method, resourceOfPath(path));
    let res;
    try {
      res = await this.http.send(ctx).toPromise();
    } catch (err) {
      const cause = (err as { cause?: Error }).cause;
      throw new Error(`${method} ${path}: ${(err as Error).message}${cause ? ` (${cause.message})` : ''}`, { cause: err });
    }
    const text = await res.body.text();
    if (res.httpStatusCode >= 400) {
      let status: { reason?: string; message?: string } = {};
      try { status = JSON.parse(text) as typeof status; } catch { status = { message: text }; }
      throw new ApiError(res.httpStatusCode, status.reason ?? '', `${method} ${path}: ${res.httpStatusCode} ${status.message ?? text}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T extends KubeObject>(r: Resource, namespace: string | undefined, name: string): Promise<T> {
    return this.request<T>('GET', objectPath(r, namespace, name));
  }

  /** undefined when the object does not exist. */
  async getOrUndefined<T extends KubeObject>(r: Resource, namespace: string | undefined, name: string): Promise<T | undefined> {
    try { return await this.get<T>(r, namespace, name); } catch (err) { if (isNotFound(err)) return undefined; throw err; }
  }

  list<T extends KubeObject>(r: Resource, namespace?: string, query: Record<string, string | undefined> = {}): Promise<KubeList<T>> {
    return this.request<KubeList<T>>('GET', collectionPath(r, namespace), { query });
  }

  create<T extends KubeObject>(r: Resource, obj: T): Promise<T> {
    return this.request<T>('POST', collectionPath(r, obj.metadata.namespace), { body: { apiVersion: r.apiVersion, kind: r.kind, ...obj }, query: { fieldManager: this.fieldManager } });
  }

  replace<T extends KubeObject>(r: Resource, obj: T, subresource?: string): Promise<T> {
    return this.request<T>('PUT', objectPath(r, obj.metadata.namespace, obj.metadata.name, subresource), { body: { apiVersion: r.apiVersion, kind: r.kind, ...obj }, query: { fieldManager: this.fieldManager } });
  }

  /** Server-side apply of the fields in `obj` (this operator owns them; conflicts forced). */
  apply<T extends KubeObject>(r: Resource, obj: T, subresource?: string): Promise<T> {
    return this.request<T>('PATCH', objectPath(r, obj.metadata.namespace, obj.metadata.name, subresource), {
      body: { apiVersion: r.apiVersion, kind: r.kind, ...obj },
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: this.fieldManager, force: true },
    });
  }

  /** JSON merge patch (RFC 7386); put metadata.resourceVersion in `patch` for a compare-and-swap. */
  mergePatch<T extends KubeObject>(r: Resource, namespace: string | undefined, name: string, patch: unknown, subresource?: string): Promise<T> {
    return this.request<T>('PATCH', objectPath(r, namespace, name, subresource), {
      body: patch, contentType: 'application/merge-patch+json', query: { fieldManager: this.fieldManager },
    });
  }

  async delete(r: Resource, namespace: string | undefined, name: string, opts: { uid?: string; resourceVersion?: string; propagationPolicy?: string } = {}): Promise<void> {
    const preconditions = { ...(opts.uid ? { uid: opts.uid } : {}), ...(opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {}) };
    const body = { apiVersion: 'v1', kind: 'DeleteOptions', ...(Object.keys(preconditions).length ? { preconditions } : {}), ...(opts.propagationPolicy ? { propagationPolicy: opts.propagationPolicy } : {}) };
    try {
      await this.request('DELETE', objectPath(r, namespace, name), { body });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** The resources an API group version serves (discovery), or undefined if it does not exist. */
  async serves(apiVersion: string): Promise<Set<string> | undefined> {
    try {
      const list = await this.request<{ resources: Array<{ name: string }> }>('GET', apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`);
      return new Set(list.resources.map((x) => x.name));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}

/** statefulsets, pods/status, leases...: the resource a path addresses, for request counting. */
export function resourceOfPath(path: string): string {
  const parts = path.split('?')[0].split('/').filter(Boolean);
  // /api/v1/... or /apis/group/version/...
  let i = parts[0] === 'api' ? 2 : 3;
  if (parts[i] === 'namespaces' && parts.length > i + 2) i += 2;
  const resource = parts[i] ?? parts[parts.length - 1] ?? '';
  const sub = parts.length > i + 2 ? `/${parts[i + 2]}` : '';
  return resource + sub;
}
