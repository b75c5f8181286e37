/**
 * One namespaced Kubernetes object the brokers may get, create and update but not watch (their
 * Role grants no watch on it): the metadata ConfigMap and the SCRAM credentials Secret.
 *
 * - Writes are compare-and-swaps on the object's resourceVersion: read, change, replace (or
 *   create, where the object may not exist yet); on a conflict (someone wrote in between, or
 *   created it first) again from a fresh read. So two brokers changing it at once both land, in
 *   some order, and neither overwrites the other.
 * - Reads are polls every `pollMs` once started; each successful read is handed to `onRead`
 *   (undefined: there is no such object), which compares it with what it knows and tells its
 *   listeners only of changes. A failed read (the API server unreachable) is not handed on: no
 *   news is not a change, and what is known stays in force.
 */
import type { Kube } from '../k8s/client.ts';
import { isConflict } from '../k8s/errors.ts';
import type { KubeObject, Resource } from '../k8s/objects.ts';

/** What a cluster's polled object (the metadata ConfigMap, the SCRAM Secret) is made from. */
export interface ClusterObjectOptions {
  kube: Kube;
  namespace: string;
  /** The Cluster's name: the object is `brook-<cluster>-<what>`. */
  cluster: string;
  /** Labels of the object when a broker creates it. */
  labels: Readonly<Record<string, string>>;
  /** How often it is re-read. */
  pollMs: number;
}

export interface PolledObjectOptions<O extends KubeObject> {
  kube: Kube;
  resource: Resource;
  namespace: string;
  name: string;
  /** Labels of the object when it is created here. */
  labels: Readonly<Record<string, string>>;
  pollMs: number;
  /** Each successful poll's read. */
  onRead(object: O | undefined): void;
}

/** The polled object `brook-<cluster>-<suffix>` of a cluster. */
export function clusterObject<O extends KubeObject>(opts: ClusterObjectOptions, resource: Resource, suffix: string, onRead: (object: O | undefined) => void): PolledObjectOptions<O> {
  return { kube: opts.kube, resource, namespace: opts.namespace, name: `brook-${opts.cluster}-${suffix}`, labels: opts.labels, pollMs: opts.pollMs, onRead };
}

/** What a compare-and-swap writes, and what its caller gets back. */
export interface Swap<O, T> { write: O; result: T }

export class PolledObject<O extends KubeObject> {
  readonly name: string;
  readonly namespace: string;
  private readonly opts: PolledObjectOptions<O>;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(opts: PolledObjectOptions<O>) {
    this.opts = opts;
    this.name = opts.name;
    this.namespace = opts.namespace;
  }

  /** The metadata of the object when it is created here: its name, namespace and labels. */
  newMetadata(): { name: string; namespace: string; labels: Record<string, string> } {
    return { name: this.name, namespace: this.namespace, labels: { ...this.opts.labels } };
  }

  /** The object now, or undefined when it does not exist. */
  read(): Promise<O | undefined> { return this.opts.kube.getOrUndefined<O>(this.opts.resource, this.namespace, this.name); }

  /** Creates the object; fails with a conflict when it exists already. */
  create(object: O): Promise<O> { return this.opts.kube.create<O>(this.opts.resource, object); }

  /**
   * Read, change, compare-and-swap; again from a fresh read on a conflict. `ifMissing`: 'create'
   * hands `change` undefined and creates what it returns; 'fail' fails with the API server's
   * not-found error.
   */
  async update<T>(change: (current: O | undefined) => Swap<O, T>, ifMissing: 'create' | 'fail'): Promise<T> {
    const { kube, resource } = this.opts;
    for (;;) {
      const current = ifMissing === 'create' ? await this.read() : await kube.get<O>(resource, this.namespace, this.name);
      const { write, result } = change(current);
      try {
        if (current) await kube.replace(resource, write);
        else await kube.create<O>(resource, write);
        return result;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
  }

  /** Polls every pollMs from now on (once; never after close); `now`: a first poll at once too. */
  startPolling(now: boolean): void {
    if (this.timer || this.closed) return;
    if (now) void this.poll();
    this.timer = setInterval(() => { void this.poll(); }, this.opts.pollMs);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
  }

  private async poll(): Promise<void> {
    if (this.closed) return;
    let object: O | undefined;
    try {
      object = await this.read();
    } catch { return; /* the API server is unreachable: no news is not a change */ }
    this.opts.onRead(object);
  }
}
