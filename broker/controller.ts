/**
 * Controller: the duties of the broker that holds the controller lease. It keeps every
 * partition led by a live broker:
 *
 * - a partition whose leader is not live gets a new leader from the live members of its ISR
 *   (the rule is replication/election.ts's, as for every election), its leader epoch bumped;
 *   dead brokers leave the ISR;
 * - when no ISR member is live the partition goes offline (leader -1, ISR kept as it was, so
 *   the last in-sync replica leads again when it returns) — unless the topic sets
 *   unclean.leader.election.enable, then any live replica may lead, losing what it lacks;
 * - preferred-leader election: when the first replica of the list is live and in the ISR but
 *   does not lead, leadership moves back to it (after restarts), if auto.leader.rebalance.enable.
 * - reassignments (replication/reassignment.ts): a partition whose adding replicas all joined
 *   the ISR takes its target replicas, a removed leader handing over. Whatever is in flight in
 *   the store is continued by whichever broker holds the lease, so a reassignment survives a
 *   controller failover and a restart of every broker.
 *
 * Every change is a compare-and-swap of the topic in the metadata store; a lost race is
 * retried on fresh state. `planPartition` is pure so it can be tested without a cluster.
 *
 * Fencing: every write carries the epoch of the controller lease this broker holds
 * (`controllerEpoch`), and the store refuses it if the topic was written under a newer one; the
 * first pass of a new controller writes its epoch into every topic, even those with nothing to
 * change. So a controller paused mid-pass, whose lease another broker took meanwhile, cannot land
 * a write on a topic once the new controller has written it: its compare-and-swap fails, and
 * when it re-reads, the newer epoch stops it.
 *
 * Failures: one topic's error (API server unreachable, lost races) does not stop the pass for the
 * others; an incomplete pass is retried with exponential backoff until one completes.
 */
import type { Logger } from './logger.ts';
import { Backoff, type BackoffOptions } from './metadata/backoff.ts';
import { ControllerFencedError, MetadataError, MetadataErrorCode, StaleVersionError } from './metadata/index.ts';
import type { MetadataStore, PartitionState, TopicRecord } from './metadata/index.ts';
import { electLeader } from './replication/election.ts';
import { completeReassignment } from './replication/reassignment.ts';

export interface ElectionPolicy {
  live: ReadonlySet<number>;
  unclean: boolean;
  preferred: boolean;
}

/**
 * The state a partition should move to, or null when it is fine as it is. Who leads is
 * `electLeader`'s answer (replication/election.ts); dead brokers leave the ISR.
 */
export function planPartition(p: PartitionState, policy: ElectionPolicy): PartitionState | null {
  const liveIsr = p.isr.filter((r) => policy.live.has(r));
  let leader = p.leader;
  let isr: readonly number[] = liveIsr;
  if (!(leader >= 0 && policy.live.has(leader))) {
    const offline = electLeader({ ...p, live: policy.live }, { kind: 'offline', unclean: policy.unclean });
    // no live replica may lead: offline, the ISR kept as it was so its last member leads again on return
    leader = offline.elected ? offline.leader : -1;
    isr = offline.elected ? offline.isr : p.isr;
  } else if (policy.preferred) {
    const preferred = electLeader({ ...p, isr: liveIsr, live: policy.live }, { kind: 'preferred' });
    if (preferred.elected) leader = preferred.leader;
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

export interface ControllerOptions {
  store: MetadataStore;
  logger: Logger;
  uncleanFor: (topic: TopicRecord) => boolean;
  /**
   * The epoch of the controller lease this broker holds and may act under now, or null when it
   * is not the controller. Read at the start of a pass and before every write.
   */
  epoch: () => number | null;
  /** The live broker ids now (read at the start of every pass). */
  live: () => ReadonlySet<number>;
  /** Delays between passes after a failed one (default 100 ms doubling to 10 s, with jitter). */
  backoff?: BackoffOptions;
}

/** This broker's controller lease moved on (or lapsed) while it was working. */
class LeaseLost extends Error {}

export class Controller {
  private readonly opts: ControllerOptions;
  private readonly store: MetadataStore;
  private readonly log: Logger;
  private readonly backoff: Backoff;
  private pending: Promise<void> = Promise.resolve();
  private queued: { preferred: boolean } | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private preferredTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  elections = 0;
  /** Passes that did not complete (some topic could not be written) and were retried. */
  failedPasses = 0;

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.log = opts.logger;
    this.backoff = new Backoff({ initialMs: 100, maxMs: 10_000, ...opts.backoff });
  }

  /**
   * Re-checks every partition against the live brokers (and moves leadership back to preferred
   * replicas when `preferred`). Passes are serialized and coalesced. A pass in which some topic
   * could not be written (API server unreachable, contention...) still does every other topic,
   * then is retried with backoff until one completes; a pass whose lease moved on stops.
   * Resolves when the pass asked for has run (not its retries).
   */
  reconcile(preferred: boolean): Promise<void> {
    if (this.queued) {
      this.queued.preferred ||= preferred;
      return this.pending;
    }
    const request = { preferred };
    this.queued = request;
    if (this.retryTimer) { clearTimeout(this.retryTimer); this.retryTimer = null; }
    this.pending = this.pending.then(async () => {
      this.queued = null;
      await this.pass(request.preferred);
    });
    return this.pending;
  }

  /**
   * auto.leader.rebalance.enable: every `intervalMs` (leader.imbalance.check.interval.seconds),
   * while this broker is the controller, a pass that also moves leadership back to preferred replicas.
   */
  checkPreferredLeadersEvery(intervalMs: number): void {
    this.preferredTimer = setInterval(() => {
      if (this.opts.epoch() !== null) void this.reconcile(true);
    }, intervalMs);
    this.preferredTimer.unref();
  }

  /** Stops retrying and the preferred-leader checks (the broker is shutting down). */
  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.preferredTimer) clearInterval(this.preferredTimer);
  }

  private async pass(preferred: boolean): Promise<void> {
    const epoch = this.opts.epoch();
    if (epoch === null || this.stopped) return;
    const live = this.opts.live();
    const failed: string[] = [];
    try {
      const topics = await this.store.listTopics();
      for (const topic of topics) {
        try {
          await this.reconcileTopic(topic.spec.name, live, preferred, epoch);
        } catch (err) {
          if (err instanceof LeaseLost || err instanceof ControllerFencedError) throw err;
          failed.push(`${topic.spec.name}: ${(err as Error).message}`);
        }
      }
    } catch (err) {
      if (err instanceof LeaseLost || err instanceof ControllerFencedError) {
        this.log.warn(`controller pass under epoch ${epoch} stopped: ${err instanceof LeaseLost ? 'the controller lease moved on' : err.message}`);
        return;
      }
      failed.push((err as Error).message);
    }
    if (failed.length === 0) {
      this.backoff.reset();
      return;
    }
    this.failedPasses++;
    const delay = this.backoff.next();
    this.log.warn(`controller pass incomplete (${failed.length} failed, e.g. ${failed[0]}); retrying in ${delay} ms`);
    if (this.stopped || this.queued) return; // (a pass already queued does the retry)
    this.retryTimer = setTimeout(() => { this.retryTimer = null; void this.reconcile(preferred); }, delay);
    this.retryTimer.unref();
  }

  private async reconcileTopic(name: string, live: ReadonlySet<number>, preferred: boolean, epoch: number): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      if (this.opts.epoch() !== epoch) throw new LeaseLost();
      const topic = await this.store.getTopic(name);
      if (!topic) return;
      if (topic.controllerEpoch > epoch) throw new ControllerFencedError(name, epoch, topic.controllerEpoch);
      const policy = { live, unclean: this.opts.uncleanFor(topic), preferred };
      const changes: string[] = [];
      let elections = 0;
      const partitions = topic.partitions.map((p) => {
        const planned = planPartition(p, policy);
        const completed = completeReassignment(planned ?? p, live);
        const next = completed ?? planned;
        if (!next) return p;
        if (next.leader !== p.leader) elections++;
        const leaderChange = next.leader !== p.leader ? `leader ${p.leader} → ${next.leader} (epoch ${next.leaderEpoch}), ` : '';
        const moved = completed ? `reassignment complete: replicas [${p.replicas.join(',')}] → [${next.replicas.join(',')}], ` : '';
        changes.push(`${name}-${p.partition}: ${moved}${leaderChange}ISR [${p.isr.join(',')}] → [${next.isr.join(',')}]`);
        return next;
      });
      // A topic a newer controller has not written yet gets its epoch all the same: from then on
      // no older controller can land a write on it.
      if (changes.length === 0 && topic.controllerEpoch === epoch) return;
      if (this.opts.epoch() !== epoch) throw new LeaseLost();
      try {
        await this.store.updateTopic(name, topic.version, changes.length > 0 ? { partitions, controllerEpoch: epoch } : { controllerEpoch: epoch });
        this.elections += elections;
        for (const c of changes) this.log.info(c);
        return;
      } catch (err) {
        if (!(err instanceof StaleVersionError)) throw err;
      }
    }
    throw new MetadataError(MetadataErrorCode.CONTROLLER_CONTENDED, `topic ${name} changed under 10 attempts in a row`);
  }
}
