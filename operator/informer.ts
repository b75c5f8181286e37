/**
 * Informer: one list+watch of a kind (client-node's ListWatch, the object behind makeInformer),
 * kept in a cache that reconcilers read instead of the API server. Handlers map events to
 * reconcile keys; they never carry the event into the reconcile.
 *
 * Differences from makeInformer's defaults, on purpose:
 * - lists and watches go through Kube (plain JSON, counted requests);
 * - the watch's client-side inactivity timeout is 10 minutes instead of 30 s, so a quiet
 *   collection is not re-watched twice a minute (the server closes watches after 30-60 min);
 * - a failed list or watch (ListWatch stops and reports an error) is restarted with backoff.
 */
import { ListWatch, Watch, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { collectionPath, type Kube, type KubeObject, type Resource } from './kube.ts';
import type { Logger } from './log.ts';

export type EventType = 'add' | 'update' | 'delete';

export interface InformerOptions {
  /** Watch one namespace; all when undefined. */
  namespace?: string;
  labelSelector?: string;
  /** Client-side inactivity timeout of a watch (default 10 min). */
  watchTimeoutMs?: number;
}

export class Informer<T extends KubeObject> {
  readonly resource: Resource;
  private readonly lw: ListWatch<KubernetesObject>;
  private readonly log: Logger;
  private readonly handlers: Array<(type: EventType, obj: T) => void> = [];
  private stopped = false;
  private restartDelayMs = 0;
  private listed: () => void = () => {};
  synced = false;

  constructor(kube: Kube, resource: Resource, log: Logger, opts: InformerOptions = {}) {
    this.resource = resource;
    this.log = log;
    const path = collectionPath(resource, opts.namespace);
    const watch = new Watch(kube.kc);
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = opts.watchTimeoutMs ?? 600_000;
    const listFn = async () => {
      const list = await kube.list<T>(resource, opts.namespace, { labelSelector: opts.labelSelector });
      for (const item of list.items) slim(item);
      this.listed();
      return list as unknown as KubernetesListObject<KubernetesObject>;
    };
    this.lw = new ListWatch(path, watch, listFn, false, opts.labelSelector, undefined, {
      delayFn: (ms) => new Promise((r) => { setTimeout(r, ms).unref(); }),
    });
    for (const type of ['add', 'update', 'delete'] as const) {
      // The cache holds this very object: slimming it here slims the cache.
      this.lw.on(type, (obj) => { slim(obj as unknown as T); for (const h of this.handlers) h(type, obj as unknown as T); });
    }
    this.lw.on('connect', () => { this.restartDelayMs = 0; });
    this.lw.on('error', (err) => this.onError(err));
  }

  on(handler: (type: EventType, obj: T) => void): void { this.handlers.push(handler); }

  /** Resolves once a list succeeded and the cache holds it (failed attempts are retried). */
  async start(): Promise<void> {
    this.stopped = false;
    const firstList = new Promise<void>((resolve) => { this.listed = resolve; });
    await this.lw.start().catch((err: unknown) => this.onError(err));
    await firstList;
    // The list's items are in the cache once lw.start() (or the restart) ran past it.
    await new Promise((r) => setImmediate(r));
    this.synced = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.lw.stop();
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.lw.get(name, namespace) as unknown as T | undefined;
  }

  list(namespace?: string): readonly T[] {
    return this.lw.list(namespace) as unknown as readonly T[];
  }

  private onError(err: unknown): void {
    if (this.stopped) return;
    this.restartDelayMs = Math.min(30_000, this.restartDelayMs ? this.restartDelayMs * 2 : 500);
    this.log.warn('watch failed; restarting', { kind: this.resource.kind, error: (err as Error)?.message ?? String(err), retryInMs: this.restartDelayMs });
    setTimeout(() => {
      if (!this.stopped) this.lw.start().catch((e: unknown) => this.onError(e));
    }, this.restartDelayMs).unref();
  }
}

/** Drops what no reconciler reads and costs most of a cached object's memory: managedFields. */
function slim(obj: KubeObject): void {
  delete (obj.metadata as { managedFields?: unknown }).managedFields;
  const annotations = obj.metadata.annotations;
  if (annotations) delete annotations['kubectl.kubernetes.io/last-applied-configuration'];
}
