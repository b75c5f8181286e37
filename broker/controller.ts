/**
 * Controller: the duties of the broker that holds the controller lease. It keeps every
 * partition led by a live broker:
 *
 * - a partition whose leader is not live gets a new leader from the live members of its ISR
 *   (the current order of the replica list decides), its leader epoch bumped; dead brokers
 *   leave the ISR;
 * - when no ISR member is live the partition goes offline (leader -1, ISR kept as it was, so
 *   the last in-sync replica leads again when it returns) — unless the topic sets
 *   unclean.leader.election.enable, then any live replica may lead, losing what it lacks;
 * - preferred-leader election: when the first replica of the list is live and in the ISR but
 *   does not lead, leadership moves back to it (after restarts), if auto.leader.rebalance.enable.
 *
 * Every change is a compare-and-swap of the topic in the metadata store; a lost race is
 * retried on fresh state. `planPartition` is pure so it can be tested without a cluster.
 */
import type { Logger } from './logger.ts';
import { StaleVersionError } from './metadata/index.ts';
import type { MetadataStore, PartitionState, TopicRecord } from './metadata/index.ts';

export interface ElectionPolicy {
  live: ReadonlySet<number>;
  unclean: boolean;
  preferred: boolean;
}

/** The state a partition should move to, or null when it is fine as it is. */
export function planPartition(p: PartitionState, policy: ElectionPolicy): PartitionState | null {
  const liveIsr = p.isr.filter((r) => policy.live.has(r));
  let leader = p.leader;
  let isr = p.isr;
  const leaderLive = leader >= 0 && policy.live.has(leader);
  if (!leaderLive) {
    const inOrder = p.replicas.filter((r) => liveIsr.includes(r));
    if (inOrder.length > 0) {
      leader = inOrder[0]!;
      isr = liveIsr;
    } else if (policy.unclean) {
      const anyLive = p.replicas.filter((r) => policy.live.has(r));
      leader = anyLive[0] ?? -1;
      isr = leader >= 0 ? [leader] : p.isr;
    } else {
      leader = -1;
      isr = p.isr;
    }
  } else {
    isr = liveIsr;
    const preferred = p.replicas[0]!;
    if (policy.preferred && preferred !== leader && policy.live.has(preferred) && liveIsr.includes(preferred)) leader = preferred;
  }
  const sameIsr = isr.length === p.isr.length && isr.every((r, i) => r === p.isr[i]);
  if (leader === p.leader && sameIsr) return null;
  return {
    ...p,
    leader,
    isr,
    leaderEpoch: leader !== p.leader ? p.leaderEpoch + 1 : p.leaderEpoch,
    partitionEpoch: p.partitionEpoch + 1,
  };
}

export class Controller {
  private readonly store: MetadataStore;
  private readonly log: Logger;
  private readonly uncleanFor: (topic: TopicRecord) => boolean;
  private pending: Promise<void> = Promise.resolve();
  private queued = false;
  elections = 0;

  constructor(opts: { store: MetadataStore; logger: Logger; uncleanFor: (topic: TopicRecord) => boolean }) {
    this.store = opts.store;
    this.log = opts.logger;
    this.uncleanFor = opts.uncleanFor;
  }

  /** Re-checks every partition against the live brokers; runs are serialized and coalesced. */
  reconcile(live: ReadonlySet<number>, preferred: boolean): Promise<void> {
    if (this.queued) return this.pending;
    this.queued = true;
    this.pending = this.pending.then(async () => {
      this.queued = false;
      for (const topic of await this.store.listTopics()) await this.reconcileTopic(topic.spec.name, live, preferred);
    }).catch((err: Error) => { this.log.error(`controller reconcile failed: ${err.stack}`); });
    return this.pending;
  }

  private async reconcileTopic(name: string, live: ReadonlySet<number>, preferred: boolean): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const topic = await this.store.getTopic(name);
      if (!topic) return;
      const policy = { live, unclean: this.uncleanFor(topic), preferred };
      const changes: string[] = [];
      let elections = 0;
      const partitions = topic.partitions.map((p) => {
        const next = planPartition(p, policy);
        if (!next) return p;
        if (next.leader !== p.leader) elections++;
        const leaderChange = next.leader !== p.leader ? `leader ${p.leader} → ${next.leader} (epoch ${next.leaderEpoch}), ` : '';
        changes.push(`${name}-${p.partition}: ${leaderChange}ISR [${p.isr.join(',')}] → [${next.isr.join(',')}]`);
        return next;
      });
      if (changes.length === 0) return;
      try {
        await this.store.updateTopic(name, topic.version, { partitions });
        this.elections += elections;
        for (const c of changes) this.log.info(c);
        return;
      } catch (err) {
        if (!(err instanceof StaleVersionError)) throw err;
      }
    }
  }
}
