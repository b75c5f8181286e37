/**
 * The cluster's metadata ConfigMap `brook-<cluster>-metadata`, for the Kubernetes store: the
 * cluster id (made once, by whichever broker opens the store first), the next free producer id,
 * the dynamic broker configs (`brokerConfigs`, JSON by entity: `""` for the cluster-wide
 * default, a broker id for one broker) and the authorizer's ACL bindings (`acls`, a JSON list).
 *
 * Every write is a compare-and-swap on the ConfigMap's resourceVersion, retried on a conflict
 * from a fresh read, so brokers allocating producer ids at once never hand out one range twice.
 * The brokers' Role lets them get and update this one ConfigMap but not watch it, so the dynamic
 * broker configs and the ACLs are re-read every `pollMs` and listeners hear only of changes (an
 * ACL change reaches the other brokers within `pollMs`, as Kafka's ACLs reach brokers through
 * metadata propagation); a failed read changes nothing (what is known stays in force: no news is
 * not a change). Both mechanisms are PolledObject's (kubernetes-polled-object.ts).
 */
import { isConflict } from '../k8s/errors.ts';
import { resources, type KubeObject } from '../k8s/objects.ts';
import { clusterObject, PolledObject } from './kubernetes-polled-object.ts';
import type { ClusterObjectOptions } from './kubernetes-polled-object.ts';
import { randomClusterId } from './memory-store.ts';
import type { AclBinding, AclChange, DynamicBrokerConfigs } from './types.ts';

interface ConfigMapObject extends KubeObject {
  data?: Record<string, string>;
}

export type MetadataConfigMapOptions = ClusterObjectOptions;

export class MetadataConfigMap {
  private readonly object: PolledObject<ConfigMapObject>;
  private brokerConfigs: DynamicBrokerConfigs = {};
  private readonly listeners = new Set<(configs: DynamicBrokerConfigs) => void>();
  private acls: readonly AclBinding[] = [];
  private aclsText = '[]';
  private readonly aclListeners = new Set<(acls: readonly AclBinding[]) => void>();

  constructor(opts: MetadataConfigMapOptions) {
    this.object = new PolledObject(clusterObject<ConfigMapObject>(opts, resources.ConfigMap, 'metadata', (cm) => this.polled(cm)));
  }

  /** Reads the ConfigMap, creating it with a new cluster id when missing; returns the cluster id. */
  async open(): Promise<string> {
    for (;;) {
      const existing = await this.object.read();
      if (existing) {
        this.brokerConfigs = parseBrokerConfigs(existing);
        this.aclsRead(existing);
        return existing.data?.clusterId ?? '';
      }
      try {
        const cm = await this.object.create({
          metadata: this.object.newMetadata(), data: { clusterId: randomClusterId(), nextProducerId: '0' },
        });
        return cm.data!.clusterId!;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
  }

  /** The first of `count` producer ids no other broker got. */
  allocateProducerIds(count: number): Promise<bigint> {
    return this.update((cm) => {
      const first = BigInt(cm.data?.nextProducerId ?? '0');
      cm.data = { ...cm.data, nextProducerId: (first + BigInt(count)).toString() };
      return first;
    });
  }

  watchBrokerConfigs(listener: (configs: DynamicBrokerConfigs) => void): () => void {
    listener(this.brokerConfigs);
    this.listeners.add(listener);
    this.object.startPolling(false);
    return () => { this.listeners.delete(listener); };
  }

  watchAcls(listener: (acls: readonly AclBinding[]) => void): () => void {
    listener(this.acls);
    this.aclListeners.add(listener);
    this.object.startPolling(false);
    return () => { this.aclListeners.delete(listener); };
  }

  async updateAcls<T>(change: (current: readonly AclBinding[]) => AclChange<T>): Promise<T> {
    let written: ConfigMapObject | undefined;
    const result = await this.update((cm) => {
      const next = change(parseAcls(cm));
      cm.data = { ...cm.data, acls: JSON.stringify(next.acls) };
      written = cm;
      return next.result;
    });
    this.aclsRead(written!);
    return result;
  }

  /** Replaces one entity's dynamic configs (none: the entity is removed). */
  async setBrokerConfigs(entity: string, configs: Readonly<Record<string, string>>): Promise<void> {
    const next = await this.update((cm) => {
      const all: Record<string, Readonly<Record<string, string>>> = { ...parseBrokerConfigs(cm) };
      if (Object.keys(configs).length === 0) delete all[entity];
      else all[entity] = { ...configs };
      cm.data = { ...cm.data, brokerConfigs: JSON.stringify(all) };
      return all;
    });
    this.read(next);
  }

  close(): void {
    this.object.close();
    this.listeners.clear();
    this.aclListeners.clear();
  }

  /** Read, change (in place), compare-and-swap; again from a fresh read on a conflict. The ConfigMap exists (open made it). */
  private update<T>(change: (cm: ConfigMapObject) => T): Promise<T> {
    return this.object.update((cm) => ({ result: change(cm!), write: cm! }), 'fail');
  }

  private polled(cm: ConfigMapObject | undefined): void {
    if (!cm) return; // (gone: no news is not a change)
    this.read(parseBrokerConfigs(cm));
    try {
      this.aclsRead(cm);
    } catch { /* unreadable ACLs (edited by hand): the ones known stay in force; updateAcls reports the error */ }
  }

  private read(configs: DynamicBrokerConfigs): void {
    if (JSON.stringify(configs) === JSON.stringify(this.brokerConfigs)) return;
    this.brokerConfigs = configs;
    for (const l of this.listeners) l(configs);
  }

  private aclsRead(cm: ConfigMapObject): void {
    const text = cm.data?.acls ?? '[]';
    if (text === this.aclsText) return;
    this.aclsText = text;
    this.acls = parseAcls(cm);
    for (const l of this.aclListeners) l(this.acls);
  }
}

/** The ACL bindings the metadata ConfigMap holds (none when absent; unreadable JSON is an error, never "no ACLs"). */
function parseAcls(cm: ConfigMapObject): readonly AclBinding[] {
  const text = cm.data?.acls;
  if (!text) return [];
  const parsed = JSON.parse(text) as unknown;
  if (!Array.isArray(parsed)) throw new Error(`the acls of ConfigMap ${cm.metadata.namespace}/${cm.metadata.name} are not a JSON list`);
  return parsed as AclBinding[];
}

/** The dynamic broker configs the metadata ConfigMap holds (none when absent or unreadable). */
function parseBrokerConfigs(cm: ConfigMapObject): DynamicBrokerConfigs {
  const text = cm.data?.brokerConfigs;
  if (!text) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === 'object' ? parsed as DynamicBrokerConfigs : {};
  } catch {
    return {};
  }
}
