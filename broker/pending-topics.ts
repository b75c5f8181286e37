/**
 * The controller's part in `kubectl apply -f topic.yaml`: a Topic declared in the store without
 * a placement (pending) gets replicas placed on the live brokers and its first partition state,
 * written with the controller's epoch so a deposed controller cannot place it.
 *
 * A topic that cannot be placed yet (a replication factor above the live brokers, a timed-out or
 * refused API request) stays pending and is retried with backoff as well as on every membership
 * change: a one-broker cluster's membership never changes again, so waiting for that alone could
 * leave the topic pending for good. A topic placed by someone else meanwhile (its creator, or
 * another controller), or deleted, leaves the pending set.
 */
import { KafkaError } from './errors.ts';
import type { Logger } from './logger.ts';
import { Backoff } from './metadata/backoff.ts';
import { StaleVersionError } from './metadata/index.ts';
import type { MetadataStore, TopicSpec } from './metadata/index.ts';
import type { TopicAdmin } from './topic-admin.ts';

export interface PendingTopicsOptions {
  store: MetadataStore;
  admin: Pick<TopicAdmin, 'plan'>;
  /** This broker's controller epoch while it is the controller, else null. */
  controllerEpoch(): number | null;
  /** True once the broker is stopping: nothing more is scheduled. */
  stopping(): boolean;
  log: Logger;
}

export class PendingTopics {
  private readonly opts: PendingTopicsOptions;
  private readonly pending = new Map<string, TopicSpec>();
  private readonly backoff = new Backoff({ initialMs: 100, maxMs: 5_000 });

  constructor(opts: PendingTopicsOptions) { this.opts = opts; }

  /** A pending Topic seen in the store (now or on a change); placed at once by a controller. */
  add(spec: TopicSpec): void {
    this.pending.set(spec.name, spec);
    if (this.opts.controllerEpoch() !== null) void this.place();
  }

  /** Places every pending topic this controller can; schedules a retry for the rest. */
  async place(): Promise<void> {
    let retry = false;
    for (const [name, spec] of [...this.pending]) {
      const epoch = this.opts.controllerEpoch();
      if (epoch === null) return;
      try {
        const plan = this.opts.admin.plan({ name, numPartitions: spec.partitions, replicationFactor: spec.replicationFactor, assignments: [], configs: spec.configs });
        await this.opts.store.placePendingTopic(spec, plan.partitions, epoch);
        this.pending.delete(name);
        this.opts.log.info(`placed topic ${name} (${spec.partitions} partitions, RF ${spec.replicationFactor})`);
      } catch (err) {
        if (err instanceof KafkaError && (err.errorName === 'TOPIC_ALREADY_EXISTS' || err.errorName === 'UNKNOWN_TOPIC_OR_PARTITION')) {
          this.pending.delete(name); // placed by someone else first, or gone
        } else if (err instanceof StaleVersionError) {
          // The Topic changed under us: placed by someone else, or only its metadata changed (the
          // operator adds its finalizer and owner reference at about the same time). Look again:
          // a placed one answers TOPIC_ALREADY_EXISTS then.
          retry = true;
        } else {
          this.opts.log.warn(`cannot place topic ${name} yet: ${(err as Error).message}`);
          retry = true;
        }
      }
    }
    if (!retry) {
      this.backoff.reset();
    } else if (!this.opts.stopping()) {
      setTimeout(() => { if (this.opts.controllerEpoch() !== null && !this.opts.stopping()) void this.place(); }, this.backoff.next()).unref();
    }
  }
}
