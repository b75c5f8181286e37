/**
 * Kube: Brook's one REST client for the Kubernetes API, over @kubernetes/client-node's KubeConfig
 * (auth, TLS, impersonation) and one connection to the API server (the transport, below). The operator and the
 * broker's KubernetesStore both use it. Objects stay plain JSON (./objects.ts). Every request is
 * counted by verb and resource (`onRequest`) for the request-rate measurements; every request (not
 * watches) gives up after `requestTimeoutMs` when one is set, so a request sent into a network
 * partition cannot hold up the ones that follow it. `watch` streams a watch's events (the caller,
 * ./collection-watch.ts, decides when a silent one is given up).
 *
 * The transport: node's own HTTP/2 client on one TLS session (./h2-session.ts) when the API server
 * is https without a proxy and agrees to h2, which every kube-apiserver does; otherwise (plain
 * http, a proxy in the kubeconfig, a server that offers only HTTP/1.1) undici's `request` on one
 * pooled dispatcher. Per Topic create against a real kube-apiserver, undici's HTTP/2 client cost
 * ~0.07 ms of CPU more than node's, and undici's `fetch` (what client-node's own transport uses)
 * ~0.45 ms more than that (docs/benchmarks.md, "Session 12" and "Session 14" under "Topic creation
 * on the Kubernetes store").
 *
 * Errors: every failure is a KubeError (./errors.ts) with a stable code mapped from the HTTP
 * status and the Status reason; a request that got no answer is BROOK_ERR_KUBE_UNREACHABLE.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { ConnectionOptions } from 'node:tls';
import { HttpMethod, RequestContext } from '@kubernetes/client-node/dist/gen/http/http.js';
import { getGlobalDispatcher, request as sendRequest, type Dispatcher } from 'undici';
import { KubeError, KubeErrorCode, isNotFound, toKubeError, type Status } from './errors.ts';
import { H2Session, untilAborted, type H2Answer } from './h2-session.ts';
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
  private readonly onRequest: (verb: string, resource: string) => void;
  private readonly requestTimeoutMs: number | undefined;
  /** One connection pool for every request and watch (KubeConfig makes a new TLS agent per request otherwise). */
  private dispatcher: Dispatcher | undefined;
  /** The HTTP/2 session, once the server agreed to h2; null when it is not to be used (see the header). */
  private h2: H2Session | null | undefined;
  private h2Deciding: Promise<H2Session | null> | undefined;

  constructor(kc: KubeConfig, opts: KubeOptions = {}) {
    this.kc = kc;
    this.fieldManager = opts.fieldManager ?? 'brook-operator';
    this.onRequest = opts.onRequest ?? (() => {});
    this.requestTimeoutMs = opts.requestTimeoutMs;
  }

  async request<T>(method: keyof typeof HttpMethod, path: string, opts: RequestOptions = {}): Promise<T> {
    const { url, headers } = await this.prepare(path, opts.query);
    const signals = [opts.signal, this.requestTimeoutMs === undefined ? undefined : AbortSignal.timeout(this.requestTimeoutMs)].filter((s) => s !== undefined);
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      body = JSON.stringify(opts.body);
    }
    this.onRequest(method, resourceOfPath(path));
    const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    let status: number;
    let text: string;
    try {
      ({ status, text } = await this.send(method, url, headers, body, signal));
    } catch (err) {
      throw toKubeError(err, `${method} ${path}`);
    }
    if (status >= 400) throw failure(`${method} ${path}`, status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * Watches `path` (a collection) from the query's resourceVersion: every event line is handed to
   * `onEvent` as it arrives. Resolves when the server ends the watch (its timeoutSeconds); rejects
   * with a KubeError when it is refused (410 Gone among them) or the connection fails, with an
   * AbortError when `signal` aborts it, or with what `onEvent` threw.
   */
  async watch(path: string, query: Record<string, string | number | boolean | undefined>, onEvent: (type: string, object: unknown) => void, signal: AbortSignal): Promise<void> {
    const what = `watch ${path}`;
    const { url, headers } = await this.prepare(path, { ...query, watch: true });
    let body: AsyncIterable<Buffer>;
    try {
      const res = await this.open(url, headers, signal);
      if (res.status !== 200) throw failure(what, res.status, await res.text());
      body = res.body;
    } catch (err) {
      throw isAbortError(err) ? err : toKubeError(err, what);
    }
    for await (const event of watchEvents(body, what, signal)) onEvent(event.type, event.object);
  }

  /** Sends one request on the HTTP/2 session or through undici (see the header); resolves with the whole answer. */
  private async send(method: string, url: string, headers: Record<string, string>, body: string | undefined, signal: AbortSignal | undefined): Promise<{ status: number; text: string }> {
    const h2 = await this.transport(url, signal);
    if (h2) return await h2.request(method, url, headers, body, signal);
    const res = await sendRequest(url, { method: method as keyof typeof HttpMethod, headers, body, dispatcher: this.dispatcher, signal });
    return { status: res.statusCode, text: await res.body.text() };
  }

  /** A GET whose answer is read as it arrives (a watch). */
  private async open(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<H2Answer> {
    const h2 = await this.transport(url, signal);
    if (h2) return await h2.open(url, headers, signal);
    const res = await sendRequest(url, { method: 'GET', headers, dispatcher: this.dispatcher, signal });
    return { status: res.statusCode, body: res.body, text: () => res.body.text() };
  }

  private async transport(url: string, signal: AbortSignal | undefined): Promise<H2Session | null> {
    if (this.h2 !== undefined) return this.h2;
    return await untilAborted(this.h2Deciding ??= this.decideTransport(url).finally(() => { this.h2Deciding = undefined; }), signal);
  }

  /**
   * HTTP/2 when the server is https, no proxy is configured and the server agrees to h2 in the TLS
   * handshake; decided once, on the first request. A first connection that fails decides nothing:
   * the request fails with it and the next one asks again.
   */
  private async decideTransport(url: string): Promise<H2Session | null> {
    const cluster = this.kc.getCurrentCluster();
    if (!url.startsWith('https:') || cluster?.proxyUrl) return (this.h2 = null);
    const tls: Record<string, unknown> = {};
    await this.kc.applyToHTTPSOptions(tls);
    const session = new H2Session(new URL(url).origin, {
      ca: tls.ca, cert: tls.cert, key: tls.key, pfx: tls.pfx, passphrase: tls.passphrase,
      ...(tls.rejectUnauthorized !== undefined ? { rejectUnauthorized: tls.rejectUnauthorized } : {}),
      ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
    } as ConnectionOptions);
    return (this.h2 = (await session.offersH2()) ? session : null);
  }

  /** Closes the HTTP/2 session (requests after this open a new one). */
  close(): void {
    this.h2?.close();
  }

  /** The URL and headers of a request (auth applied now: tokens may rotate), and the shared pool. */
  private async prepare(path: string, query: RequestOptions['query']): Promise<{ url: string; headers: Record<string, string> }> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new KubeError(KubeErrorCode.KUBECONFIG, 'no current cluster in the kubeconfig');
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), HttpMethod.GET);
    await this.kc.applySecurityAuthentication(ctx);
    // TLS material is read once, with the first request: the pool keeps its connections.
    this.dispatcher ??= (ctx.getDispatcher() as Dispatcher | undefined) ?? getGlobalDispatcher();
    const headers: Record<string, string> = { accept: 'application/json' };
    for (const [k, v] of Object.entries(ctx.getHeaders())) headers[k.toLowerCase()] = v;
    return { url: ctx.getUrl(), headers };
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

/** The KubeError of an answer with an error status (its body a Status when the API server sent one). */
function failure(what: string, httpStatus: number, text: string): KubeError {
  let status: Status;
  try { status = JSON.parse(text) as Status; } catch { status = { message: text }; }
  return KubeError.fromStatus(what, httpStatus, status);
}

function isAbortError(err: unknown): boolean {
  return (err as { name?: string } | null)?.name === 'AbortError';
}

/**
 * The events of a watch's body: one JSON object per line, a chunk ending inside a line or holding
 * many. A broken connection is a KubeError (UNREACHABLE), an abort the signal's reason.
 */
async function* watchEvents(body: AsyncIterable<Buffer>, what: string, signal: AbortSignal): AsyncGenerator<{ type: string; object: unknown }> {
  let rest: Buffer | undefined;
  try {
    for await (const chunk of body) {
      const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
      let start = 0;
      for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10, start)) {
        const line = buf.toString('utf8', start, nl);
        start = nl + 1;
        if (line.trim() === '') continue;
        let event: { type?: unknown; object?: unknown };
        try { event = JSON.parse(line) as typeof event; } catch { throw new KubeError(KubeErrorCode.UNREACHABLE, `${what}: the server sent a line that is not JSON: ${line.slice(0, 200)}`); }
        yield { type: String(event.type), object: event.object };
      }
      rest = start < buf.length ? buf.subarray(start) : undefined;
    }
  } catch (err) {
    if (err instanceof KubeError || isAbortError(err)) throw err;
    throw signal.aborted ? signal.reason : toKubeError(err, what);
  }
}
