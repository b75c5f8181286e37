/**
 * Kube: Brook's one REST client for the Kubernetes API, over @kubernetes/client-node's KubeConfig
 * (auth, TLS, impersonation) and its fetch transport. The operator and the broker's
 * KubernetesStore both use it. Objects stay plain JSON (./objects.ts). Every request is counted by
 * verb and resource (`onRequest`) for the request-rate measurements; every request (not watches,
 * which are ./collection-watch.ts's) gives up after `requestTimeoutMs` when one is set, so a
 * request sent into a network partition cannot hold up the ones that follow it.
 *
 * Errors: every failure is a KubeError (./errors.ts) with a stable code mapped from the HTTP
 * status and the Status reason; a request that got no answer is BROOK_ERR_KUBE_UNREACHABLE.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { HttpMethod, RequestContext } from '@kubernetes/client-node/dist/gen/http/http.js';
import { IsomorphicFetchHttpLibrary } from '@kubernetes/client-node/dist/gen/http/isomorphic-fetch.js';
import { KubeError, KubeErrorCode, isNotFound, toKubeError, type Status } from './errors.ts';
import { collectionPath, objectPath, resourceOfPath, type KubeList, type KubeObject, type Resource } from './objects.ts';

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** Aborts the request (with the client's requestTimeoutMs, whichever comes first). */
  signal?: AbortSignal;
}

export interface KubeOptions {
  fieldManager?: string;
  onRequest?: (verb: string, resource: string) => void;
  /** Every request gives up after this long (default: no limit but the transport's). */
  requestTimeoutMs?: number;
}

export class Kube {
  readonly kc: KubeConfig;
  readonly fieldManager: string;
  private readonly http = new IsomorphicFetchHttpLibrary();
  private readonly onRequest: (verb: string, resource: string) => void;
  private readonly requestTimeoutMs: number | undefined;
  /** One connection pool for every request (KubeConfig makes a new TLS agent per request otherwise). */
  private dispatcher: unknown;

  constructor(kc: KubeConfig, opts: KubeOptions = {}) {
    this.kc = kc;
    this.fieldManager = opts.fieldManager ?? 'brook-operator';
    this.onRequest = opts.onRequest ?? (() => {});
    this.requestTimeoutMs = opts.requestTimeoutMs;
  }

  async request<T>(method: keyof typeof HttpMethod, path: string, opts: RequestOptions = {}): Promise<T> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new KubeError(KubeErrorCode.KUBECONFIG, 'no current cluster in the kubeconfig');
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), HttpMethod[method]);
    await this.kc.applySecurityAuthentication(ctx);
    this.dispatcher ??= ctx.getDispatcher();
    ctx.setDispatcher(this.dispatcher as NonNullable<ReturnType<RequestContext['getDispatcher']>>);
    const signals = [opts.signal, this.requestTimeoutMs === undefined ? undefined : AbortSignal.timeout(this.requestTimeoutMs)].filter((s) => s !== undefined);
    if (signals.length) ctx.setSignal(signals.length === 1 ? signals[0]! : AbortSignal.any(signals));
    ctx.setHeaderParam('Accept', 'application/json');
    if (opts.body !== undefined) {
      ctx.setHeaderParam('Content-Type', opts.contentType ?? 'application/json');
      ctx.setBody(JSON.stringify(opts.body));
    }
    this.onRequest(method, resourceOfPath(path));
    let res;
    let text: string;
    try {
      res = await this.http.send(ctx).toPromise();
      text = await res.body.text();
    } catch (err) {
      throw toKubeError(err, `${method} ${path}`);
    }
    if (res.httpStatusCode >= 400) {
      let status: Status;
      try { status = JSON.parse(text) as Status; } catch { status = { message: text }; }
      throw KubeError.fromStatus(`${method} ${path}`, res.httpStatusCode, status);
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

  list<T extends KubeObject>(r: Resource, namespace?: string, query: Record<string, string | undefined> = {}, signal?: AbortSignal): Promise<KubeList<T>> {
    return this.request<KubeList<T>>('GET', collectionPath(r, namespace), { query, signal });
  }

  create<T extends KubeObject>(r: Resource, obj: T): Promise<T> {
    return this.request<T>('POST', collectionPath(r, obj.metadata.namespace), { body: { apiVersion: r.apiVersion, kind: r.kind, ...obj }, query: { fieldManager: this.fieldManager } });
  }

  replace<T extends KubeObject>(r: Resource, obj: T, subresource?: string): Promise<T> {
    return this.request<T>('PUT', objectPath(r, obj.metadata.namespace, obj.metadata.name, subresource), { body: { apiVersion: r.apiVersion, kind: r.kind, ...obj }, query: { fieldManager: this.fieldManager } });
  }

  /** Server-side apply of the fields in `obj` (this manager owns them; conflicts forced). */
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

  /** Deletes; an object already gone is no error. */
  async delete(r: Resource, namespace: string | undefined, name: string, opts: { uid?: string; resourceVersion?: string; propagationPolicy?: string } = {}): Promise<void> {
    try {
      await this.deleteOrFail(r, namespace, name, opts);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Deletes; fails with BROOK_ERR_KUBE_NOT_FOUND when there is no such object. */
  async deleteOrFail(r: Resource, namespace: string | undefined, name: string, opts: { uid?: string; resourceVersion?: string; propagationPolicy?: string } = {}): Promise<void> {
    const preconditions = { ...(opts.uid ? { uid: opts.uid } : {}), ...(opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {}) };
    const body = { apiVersion: 'v1', kind: 'DeleteOptions', ...(Object.keys(preconditions).length ? { preconditions } : {}), ...(opts.propagationPolicy ? { propagationPolicy: opts.propagationPolicy } : {}) };
    await this.request('DELETE', objectPath(r, namespace, name), { body });
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
