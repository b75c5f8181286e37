/**
 * Topic reconcile: the operator's part of a Topic (the controller broker owns status.partitions):
 * - metadata: the label brook.dev/cluster=<spec.cluster> (the brokers' KubernetesStore watches
 *   Topics by that label, so a Topic applied with kubectl reaches them), the finalizer
 *   brook.dev/topic-data, and an owner reference to the Cluster once it exists (deleting the
 *   Cluster garbage-collects its Topics);
 * - status.conditions: Ready (cluster exists, replication factor fits, every partition placed
 *   and led) and UnderReplicated (summarised from status.partitions);
 * - a Topic a broker created carries its topic id and first partition state in its creation
 *   annotation (broker/k8s/topic-placement.ts: the API server drops status from a create); the
 *   first status write here copies it into status (topicId, partitions, leaders), as a
 *   compare-and-swap on the resourceVersion so that a broker's newer partition state is never
 *   overwritten — the placement reaches `kubectl get topics` without an extra write;
 * - deletion: the finalizer is removed once the brokers dropped the data.
 *
 * How the brokers say they dropped a topic's data (the contract with the broker): when a broker
 * has deleted its local replicas of a Topic that has a deletionTimestamp, it merge-patches the
 * Topic's annotation `data-removed.brook.dev/broker-<id>: <status.topicId>`. The finalizer is
 * removed when every broker that holds a replica (status.partitions[].replicas and reassignment
 * targets) and is live (its Lease) has written that annotation. A broker that is not live then
 * must delete, when it starts, the logs of topic ids that no longer exist (stray logs), as Kafka
 * does. A Topic never placed (no status.topicId), or whose Cluster is gone or being deleted,
 * finalizes at once: the Cluster's brokers are going away with it (their StatefulSet is deleted
 * too) and could never annotate, so waiting for them would keep the Topic forever.
 */
import { kafkaTopicName, leadersSummary, topicPlacement } from '../broker/k8s/index.ts';
import type { Cluster } from '../broker/k8s/index.ts';
import { clusterLabel, withAdoption } from './cluster-resources.ts';
import { jsonEqual, setConditions, type ConditionInput } from './conditions.ts';
import { splitKey, type Result } from './controller.ts';
import { isConflict, isNotFound, resources, type Kube } from '../broker/k8s/index.ts';
import type { Logger } from './log.ts';
import type { Clock } from './workqueue.ts';
import type { TopicObject, World } from './world.ts';

export const topicFinalizer = 'brook.dev/topic-data';
export const dataRemovedAnnotation = (brokerId: number) => `data-removed.brook.dev/broker-${brokerId}`;

export class TopicReconciler {
  private readonly kube: Kube;
  private readonly world: World;
  private readonly log: Logger;
  private readonly clock: Clock;

  constructor(opts: { kube: Kube; world: World; log: Logger; clock: Clock }) {
    this.kube = opts.kube;
    this.world = opts.world;
    this.log = opts.log.child({ controller: 'Topic' });
    this.clock = opts.clock;
  }

  /** Broker ids that hold data of `topic` and are live but have not said they dropped it. */
  brokersHoldingData(topic: TopicObject): number[] {
    const placement = topicPlacement(topic);
    if (!placement) return [];
    const topicId = placement.topicId;
    const ns = topic.metadata.namespace!;
    const cluster = this.world.clusters.get(ns, topic.spec.cluster);
    if (!cluster || cluster.metadata.deletionTimestamp) return [];
    const holders = new Set<number>();
    for (const p of placement.partitions) {
      for (const b of p.replicas) holders.add(b);
      for (const b of p.reassignment?.targetReplicas ?? []) holders.add(b);
    }
    const live = this.world.liveBrokers(ns, topic.spec.cluster);
    return [...holders].filter((b) => live.has(b) && topic.metadata.annotations?.[dataRemovedAnnotation(b)] !== topicId).sort((a, b) => a - b);
  }

  readonly reconcile = async (key: string): Promise<Result> => {
    const { namespace, name } = splitKey(key);
    const topic = this.world.topics.get(namespace, name);
    if (!topic) return {};
    try {
      return await (topic.metadata.deletionTimestamp ? this.finalize(topic) : this.reconcileLive(topic));
    } catch (err) {
      // A stale cache (409) or a topic deleted meanwhile (404): the next event brings the key back.
      if (isConflict(err) || isNotFound(err)) return { requeueAfter: 1_000 };
      throw err;
    }
  };

  private async finalize(topic: TopicObject): Promise<Result> {
    const finalizers = topic.metadata.finalizers ?? [];
    if (!finalizers.includes(topicFinalizer)) return {};
    const waiting = this.brokersHoldingData(topic);
    if (waiting.length === 0) {
      this.log.info('brokers dropped the topic\'s data; removing the finalizer', { topic: `${topic.metadata.namespace}/${topic.metadata.name}` });
      await this.kube.mergePatch(resources.Topic, topic.metadata.namespace, topic.metadata.name, {
        metadata: { resourceVersion: topic.metadata.resourceVersion, finalizers: finalizers.filter((f) => f !== topicFinalizer) },
      });
      return {};
    }
    await this.writeConditions(topic, [
      { type: 'Ready', status: 'False', reason: 'Deleting', message: `waiting for brokers ${waiting.join(', ')} to drop the topic's data` },
    ]);
    // Lease events requeue the key when a broker goes away; the annotation arrives as a Topic event.
    return { requeueAfter: 10_000 };
  }

  private async reconcileLive(topic: TopicObject): Promise<Result> {
    const ns = topic.metadata.namespace!;
    const finalizers = topic.metadata.finalizers ?? [];
    const cluster = this.world.clusters.get(ns, topic.spec.cluster);
    const owners = cluster && !cluster.metadata.deletionTimestamp ? withAdoption(topic.metadata.ownerReferences, cluster as Cluster) : undefined;
    if (!finalizers.includes(topicFinalizer) || topic.metadata.labels?.[clusterLabel] !== topic.spec.cluster || owners) {
      await this.kube.mergePatch(resources.Topic, ns, topic.metadata.name, {
        metadata: {
          resourceVersion: topic.metadata.resourceVersion,
          labels: { [clusterLabel]: topic.spec.cluster },
          finalizers: finalizers.includes(topicFinalizer) ? finalizers : [...finalizers, topicFinalizer],
          ...(owners ? { ownerReferences: owners } : {}),
        },
      });
      // The update event brings the key back with the new object.
      return {};
    }
    const placement = topicPlacement(topic);
    const partitions = placement?.partitions ?? [];
    const wanted = topic.spec.partitions ?? 1;
    const rf = topic.spec.replicationFactor ?? 1;
    const brokers = cluster?.spec.replicas ?? 0;
    const offline = partitions.filter((p) => p.leader < 0).length;
    const shrunk = partitions.filter((p) => p.isr.length < p.replicas.length);

    const ready: ConditionInput = !cluster
      ? { type: 'Ready', status: 'False', reason: 'ClusterNotFound', message: `Cluster ${ns}/${topic.spec.cluster} does not exist` }
      : rf > brokers
        ? { type: 'Ready', status: 'False', reason: 'ReplicationFactorTooLarge', message: `replicationFactor ${rf} is larger than the cluster's ${brokers} brokers` }
        : !placement
          ? { type: 'Ready', status: 'False', reason: 'Pending', message: 'waiting for the controller broker to place the partitions' }
          : partitions.length < wanted
            ? { type: 'Ready', status: 'False', reason: 'CreatingPartitions', message: `${partitions.length} of ${wanted} partitions placed` }
            : offline > 0
              ? { type: 'Ready', status: 'False', reason: 'OfflinePartitions', message: `${offline} of ${partitions.length} partitions have no leader` }
              : { type: 'Ready', status: 'True', reason: 'PartitionsOnline', message: `topic ${kafkaTopicName(topic)}: ${partitions.length} partitions, all led` };
    const underReplicated: ConditionInput = partitions.length === 0
      ? { type: 'UnderReplicated', status: 'Unknown', reason: 'NoPartitionState', message: 'no partition state yet' }
      : shrunk.length > 0
        ? { type: 'UnderReplicated', status: 'True', reason: 'IsrShrunk', message: `partitions ${shrunk.slice(0, 20).map((p) => p.partition).join(', ')}${shrunk.length > 20 ? ', ...' : ''} have fewer in-sync replicas than replicas` }
        : { type: 'UnderReplicated', status: 'False', reason: 'FullyReplicated', message: 'every partition has all its replicas in sync' };
    await this.writeConditions(topic, [ready, underReplicated]);
    return {};
  }

  private async writeConditions(topic: TopicObject, conditions: ConditionInput[]): Promise<void> {
    const generation = topic.metadata.generation ?? 0;
    const next = setConditions(topic.status?.conditions, conditions, generation, new Date(this.clock.now()));
    const placement = topicPlacement(topic);
    const copyPlacement = placement !== undefined && !placement.inStatus;
    if (!copyPlacement && topic.status?.observedGeneration === generation && jsonEqual(next, topic.status?.conditions)) return;
    if (copyPlacement) {
      // The broker's placement from the creation annotation into status, compare-and-swap on the
      // version it was read from: a broker's status write in between makes this a 409 (requeued).
      await this.kube.mergePatch(resources.Topic, topic.metadata.namespace, topic.metadata.name, {
        metadata: { resourceVersion: topic.metadata.resourceVersion },
        status: {
          observedGeneration: generation, conditions: next,
          topicId: placement.topicId, partitions: placement.partitions, leaders: leadersSummary(placement.partitions),
        },
      }, 'status');
      return;
    }
    // A merge patch of just these fields: status.partitions belongs to the controller broker.
    await this.kube.mergePatch(resources.Topic, topic.metadata.namespace, topic.metadata.name, { status: { observedGeneration: generation, conditions: next } }, 'status');
  }
}
