/**
 * Informer: one list+watch of a kind (broker/k8s's CollectionWatch, the same one the brokers'
 * KubernetesStore uses), kept in a cache that reconcilers read instead of the API server.
 * Handlers map events to reconcile keys; they never carry the event into the reconcile.
 *
 * Settings for the operator, on purpose:
 * - lists go through Kube (plain JSON, counted requests);
 * - a watch may stay quiet for 10 minutes before it is started again, and the server picks its
 *   own watch timeout (30-60 min), so a quiet collection is not re-watched twice a minute;
 * - the first list, and any failed list or watch, is retried with backoff (500 ms doubling to
 *   30 s, with jitter) until it succeeds; failures are logged;
 * - cached objects drop managedFields and kubectl's last-applied annotation (no reconciler reads
 *   them; they are most of a cached object's memory).
 */
import { CollectionWatch, type Kube, type KubeObject, type Resource, type WatchEventType } from '../broker/k8s/index.ts';
import type { Logger } from './log.ts';

export type EventType = 'add' | 'update' | 'delete';

export interface InformerOptions {
  /** Watch one namespace; all when undefined. */
  namespace?: string;
  labelSelector?: string;
  /** How long a watch may deliver nothing before it is started again (default 10 min). */
  watchTimeoutMs?: number;
}

const eventTypes: Record<WatchEventType, EventType> = { ADDED: 'add', MODIFIED: 'update', DELETED: 'delete' };

export class Informer<T extends KubeObject> {
  readonly resource: Resource;
  private readonly watch: CollectionWatch<T>;
  private stopped = false;
  synced = false;

  constructor(kube: Kube, resource: Resource, log: Logger, opts: InformerOptions = {}) {
    this.resource = resource;
    this.watch = new CollectionWatch<T>({
      kube, resource, namespace: opts.namespace, labelSelector: opts.labelSelector,
      watchTimeoutSeconds: null, idleWatchMs: opts.watchTimeoutMs ?? 600_000, startAttempts: Infinity,
      backoff: { initialMs: 500, maxMs: 30_000 },
      transform: slim,
      onError: (err) => { if (!this.stopped) log.warn('watch failed; restarting', { kind: resource.kind, error: err.message, code: err.code }); },
    });
  }

  on(handler: (type: EventType, obj: T) => void): void {
    this.watch.onEvent((type, obj) => handler(eventTypes[type], obj));
  }

  /** Resolves once a list succeeded and the cache holds it (failed attempts are retried). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.watch.start();
    this.synced = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watch.close();
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.watch.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.watch.list(namespace);
  }
}

/** Drops what no reconciler reads and costs most of a cached object's memory: managedFields. */
function slim(obj: KubeObject): void {
  delete (obj.metadata as { managedFields?: unknown }).managedFields;
  const annotations = obj.metadata.annotations;
  if (annotations) delete annotations['kubectl.kubernetes.io/last-applied-configuration'];
}
