/**
 * LocalTopics: the topics as this broker knows them, from the metadata store's topic watch, and
 * the partition replicas it hosts among them (Kafka's metadata cache and the replica side of
 * ReplicaManager.applyDelta). Each store event is applied in full before the next, in order,
 * through one promise chain: a topic's partitions assigned here get their log opened (recovered;
 * a new topic's logs are opened as its event arrives, see enqueue) and a Partition; those no
 * longer assigned here, or of a deleted or re-created topic, have their log deleted; the others
 * take the new state and configs. The leaders of an internal topic's partitions have duties (the
 * group coordinator follows __consumer_offsets, the transaction coordinator __transaction_state):
 * they are told when this broker becomes or stops being one.
 */
import type { BrokerSettings } from './config.ts';
import { topicLogConfig } from './log/index.ts';
import type { LogCleaner, LogConfig, PartitionLog } from './log/index.ts';
import type { LogManager } from './log-manager.ts';
import type { Logger } from './logger.ts';
import type { MetadataStore, TopicEvent, TopicRecord } from './metadata/index.ts';
import { Partition } from './partition.ts';

/** What the leader of an internal topic's partition does (GroupCoordinator, TransactionCoordinator). */
export interface PartitionLeaderDuties {
  becameLeader(partition: Partition): void;
  resigned(index: number): void;
}

export interface LocalTopicsOptions {
  nodeId: number;
  settings: BrokerSettings;
  store: Pick<MetadataStore, 'watchTopics' | 'acknowledgeTopicDataRemoved'>;
  logs: LogManager;
  cleaner: LogCleaner | null;
  clock: () => number;
  log: Logger;
  /** Who follows the leadership of an internal topic's partitions, by topic name. */
  leaderDuties: ReadonlyMap<string, PartitionLeaderDuties>;
  /**
   * Called after a created or updated topic's event has been applied (not after a deletion), with
   * the topic's partitions hosted here.
   */
  applied(topic: TopicRecord, hosted: readonly Partition[]): void;
  /** Called once a partition replica hosted here is dropped (its log deleted). */
  dropped(p: Partition): void;
}

export class LocalTopics {
  private readonly opts: LocalTopicsOptions;
  private readonly topics = new Map<string, TopicRecord>();
  private readonly namesById = new Map<string, string>();
  /** The hosted partitions by topic and index: the produce and fetch paths look one up per partition of a request. */
  private readonly hosted = new Map<string, Map<number, Partition>>();
  private applying: Promise<void> = Promise.resolve();
  /** Events queued or being applied, by topic name. */
  private readonly queued = new Map<string, number>();
  /** Logs being opened ahead of their event's turn (see enqueue). */
  private opening = 0;
  private unwatch: (() => void) | null = null;

  constructor(opts: LocalTopicsOptions) { this.opts = opts; }

  /** Follows the store's topic watch; every event is queued on the apply chain. */
  start(): void { this.unwatch = this.opts.store.watchTopics((event) => this.enqueue(event)); }
  /** Stops following the watch (events already queued are still applied). */
  stop(): void { this.unwatch?.(); }

  /** Resolves once every store change seen so far has been applied locally. */
  async settled(): Promise<void> { await this.applying; }

  topic(name: string): TopicRecord | undefined { return this.topics.get(name); }
  topicNameById(id: string): string | undefined { return this.namesById.get(id); }
  all(): IterableIterator<TopicRecord> { return this.topics.values(); }
  names(): IterableIterator<string> { return this.topics.keys(); }
  partition(topic: string, index: number): Partition | undefined { return this.hosted.get(topic)?.get(index); }
  *partitions(): IterableIterator<Partition> { for (const ofTopic of this.hosted.values()) yield* ofTopic.values(); }

  /**
   * Re-applies every topic's effective configs (the broker's topic defaults changed: dynamic
   * broker configs) to its hosted partitions; a topic whose configs no longer resolve keeps its old ones.
   */
  reapplyConfigs(): void {
    for (const [name, topic] of this.topics) {
      let effective: Readonly<Record<string, string>>;
      let logConfig: LogConfig;
      try {
        ({ effective, logConfig } = topicLogConfig(this.opts.settings, topic.spec.configs));
      } catch (err) {
        this.opts.log.warn(`topic ${name}: dynamic broker configs not applied: ${(err as Error).message}`);
        continue;
      }
      const minIsr = Number(effective['min.insync.replicas']);
      for (const state of topic.partitions) this.partition(name, state.partition)?.updateConfig(logConfig, minIsr);
    }
  }

  /**
   * Lets go of every hosted log. controlled: checkpoints the high watermarks, flushes and closes
   * each log. Otherwise (a crash) abandons them without flushing or writing indexes, producer
   * snapshots or checkpoints (PartitionLog.abandon), so a restart runs recovery;
   * test/harness/power-loss.ts also drops what was never fsynced, as a power failure would.
   */
  async close(controlled: boolean): Promise<void> {
    if (controlled) await this.opts.logs.checkpointHighWatermarks(this.partitions());
    for (const p of this.partitions()) {
      if (!controlled) {
        await p.log.abandon();
        continue;
      }
      try {
        await p.log.close();
      } catch (err) {
        this.opts.log.error(`closing ${p.name} failed: ${(err as Error).message}`);
      }
    }
    this.hosted.clear();
  }

  /**
   * Queues the event on the apply chain. A topic new to this broker, with nothing else queued for
   * its name, has its local logs opened (directories and files created) right away, while earlier
   * events are applied: creating many topics then waits for the file system's round trips once,
   * not once per topic in turn. Its apply takes those logs in its turn; nothing else reads them
   * before.
   */
  private enqueue(event: TopicEvent): void {
    const name = event.topic.spec.name;
    const early = this.openEarly(event);
    this.queued.set(name, (this.queued.get(name) ?? 0) + 1);
    this.applying = this.applying.then(() => this.apply(event, early)).catch((err: Error) => {
      this.opts.log.error(`applying ${event.type} of topic ${event.topic.spec.name} failed: ${err.stack ?? err.message}`);
    }).finally(() => {
      const left = this.queued.get(name)! - 1;
      if (left === 0) this.queued.delete(name);
      else this.queued.set(name, left);
      if (early) void this.releaseUnused(early);
    });
  }

  /**
   * The logs of a new topic's partitions hosted here, opening now (at most MAX_OPENING at a time):
   * only when no event for the name is queued and no topic of that name is known, so no other
   * event can touch those directories before this one is applied. Null: the apply opens them.
   */
  private openEarly(event: TopicEvent): Map<number, Promise<PartitionLog>> | null {
    const topic = event.topic;
    const name = topic.spec.name;
    if (event.type !== 'put' || this.queued.has(name) || this.topics.has(name)) return null;
    const hosted = topic.partitions.filter((s) => s.replicas.includes(this.opts.nodeId));
    if (hosted.length === 0 || this.opening + hosted.length > MAX_OPENING) return null;
    let logConfig: LogConfig;
    try {
      ({ logConfig } = topicLogConfig(this.opts.settings, topic.spec.configs));
    } catch {
      return null; // the apply reports it
    }
    const early = new Map<number, Promise<PartitionLog>>();
    for (const state of hosted) {
      this.opening++;
      const opened = this.opts.logs.open(name, state.partition, topic.topicId, logConfig).finally(() => { this.opening--; });
      opened.catch(() => undefined); // the apply awaits it and reports a failure
      early.set(state.partition, opened);
    }
    return early;
  }

  /** Closes the logs opened early that the apply did not take (it failed before it got to them). */
  private async releaseUnused(early: Map<number, Promise<PartitionLog>>): Promise<void> {
    for (const opened of early.values()) {
      const log = await opened.catch(() => null);
      await log?.close().catch(() => undefined);
    }
  }

  private async apply(event: TopicEvent, early: Map<number, Promise<PartitionLog>> | null = null): Promise<void> {
    const { nodeId, settings, logs, cleaner, clock } = this.opts;
    const topic = event.topic;
    const name = topic.spec.name;
    const previous = this.topics.get(name);
    if (event.type === 'deleted' || (previous && previous.topicId !== topic.topicId)) {
      this.topics.delete(name);
      if (previous) this.namesById.delete(previous.topicId);
      for (const p of [...this.hosted.get(name)?.values() ?? []]) await this.drop(p);
      if (event.type === 'deleted') {
        this.opts.store.acknowledgeTopicDataRemoved(name, topic.topicId, nodeId).catch((err: Error) => {
          this.opts.log.warn(`could not record that the data of deleted topic ${name} is gone: ${err.message}`);
        });
        return;
      }
    }
    this.topics.set(name, topic);
    this.namesById.set(topic.topicId, name);
    const { effective, logConfig } = topicLogConfig(settings, topic.spec.configs);
    const minIsr = Number(effective['min.insync.replicas']);
    const applied: Partition[] = [];
    for (const state of topic.partitions) {
      const existing = this.partition(name, state.partition);
      const hosted = state.replicas.includes(nodeId);
      if (existing && !hosted) {
        await this.drop(existing);
      } else if (existing) {
        const wasLeader = existing.isLeader;
        existing.updateState(state, minIsr);
        existing.updateConfig(logConfig, minIsr);
        if (wasLeader !== existing.isLeader) this.leadershipChanged(existing);
        applied.push(existing);
      } else if (hosted) {
        const opening = early?.get(state.partition);
        early?.delete(state.partition);
        const log = await (opening ?? logs.open(name, state.partition, topic.topicId, logConfig));
        // (opened early with the configs of then: dynamic broker configs may have changed them since)
        if (log.currentConfig !== logConfig) log.updateConfig(logConfig);
        const partition = new Partition({
          topic: name, index: state.partition, topicId: topic.topicId, log, nodeId, state, minInsyncReplicas: minIsr, clock,
          checkpointedHighWatermark: logs.checkpointedHighWatermark(name, state.partition),
        });
        let ofTopic = this.hosted.get(name);
        if (!ofTopic) this.hosted.set(name, ofTopic = new Map());
        ofTopic.set(state.partition, partition);
        // compaction stops at the last stable offset (at most the high watermark), as Kafka's: data of open transactions stays as written
        cleaner?.register(log, { uncleanableFrom: () => partition.lastStableOffset });
        if (partition.isLeader) this.leadershipChanged(partition);
        applied.push(partition);
      }
    }
    this.opts.applied(topic, applied);
  }

  private leadershipChanged(p: Partition): void {
    const duties = this.opts.leaderDuties.get(p.topic);
    if (!duties) return;
    if (p.isLeader) duties.becameLeader(p);
    else duties.resigned(p.index);
  }

  private async drop(p: Partition): Promise<void> {
    if (p.isLeader) this.opts.leaderDuties.get(p.topic)?.resigned(p.index);
    p.removed();
    const ofTopic = this.hosted.get(p.topic);
    ofTopic?.delete(p.index);
    if (ofTopic?.size === 0) this.hosted.delete(p.topic);
    this.opts.dropped(p);
    await this.opts.cleaner?.unregister(p.log);
    await p.log.delete();
    this.opts.log.info(`deleted partition ${p.name}`);
  }
}

/** The most logs opened ahead of their apply at once (a burst of new topics; a start-up's thousands of existing ones). */
const MAX_OPENING = 256;
