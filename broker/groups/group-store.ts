/**
 * GroupStore: where the groups of this broker's `__consumer_offsets` partitions live — Kafka's
 * GroupMetadataManager. It owns the group map, loads a partition's groups by replaying its log
 * when this broker becomes its leader (COORDINATOR_LOAD_IN_PROGRESS meanwhile), forgets them when
 * it resigns, writes group state and offsets to the partition, answers the reads and admin
 * operations on groups and offsets, and expires old offsets (offsets.retention.minutes).
 *
 * Durability: every write is appended to the group's partition and resolves only once every
 * in-sync replica has it (acks=all: the high watermark passed it, the ISR still at
 * min.insync.replicas) and it is flushed as the topic's flush policy asks — so a coordinator that
 * dies right after answering loses nothing its successor (an ISR member) will not load. A write
 * that cannot get there within offsets.commit.timeout.ms fails with Kafka's coordinator errors
 * (asCoordinatorError); callers change in-memory state only after success. Compaction keeps the
 * log to the latest record per key.
 *
 * The membership protocol (JoinGroup, SyncGroup, heartbeats, timers) is the coordinator's
 * (coordinator.ts); this file never touches a member's timers or waiters. What a group's record
 * holds, and what replaying one does to a group, is group-records.ts's.
 */
import { ErrorCode, KafkaError, errorCodeOf, errorInfo } from '../errors.ts';
import type { ErrorName } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { replayPartitionLog } from '../coordinator-common/index.ts';
import { encodeRecordBatch } from '../log/records.ts';
import type { BatchProducer, NewRecord } from '../log/records.ts';
import type { Partition } from '../partition.ts';
import { partitionForGroup } from './config.ts';
import type { GroupCoordinatorConfig } from './config.ts';
import { Group, splitOffsetKey } from './group.ts';
import type { CommittedOffset } from './group.ts';
import {
  consumerGroupRecordKey, consumerGroupRecordValue, decodeConsumerGroupValue, decodeGroupValue, decodeKey, decodeOffsetValue, groupKey,
  groupValue, offsetKey, offsetValue,
} from './offsets-records.ts';
import { applyClassicGroupValue, classicGroupValue, committedOffsetOf, consumerGroupStateOf, consumerGroupValue } from './group-records.ts';

export interface GroupSummary { groupId: string; protocolType: string; state: string; type: 'classic' | 'consumer' }

interface OwnedPartition { partition: Partition; loading: Promise<void> | null }

export class GroupStore {
  readonly groups = new Map<string, Group>();
  /**
   * TxnOffsetCommit: offsets written in a transaction (transactional batches of the producer),
   * applied to their groups when the commit marker reaches the offsets partition, dropped on
   * abort. producerId → group → offset key → offset.
   */
  readonly pendingTxnOffsets = new Map<bigint, Map<string, Map<string, CommittedOffset>>>();
  private readonly owned = new Map<number, OwnedPartition>();
  private readonly config: GroupCoordinatorConfig;
  private readonly log: Logger;
  private readonly clock: () => number;
  private retentionTimer: NodeJS.Timeout | null = null;

  constructor(opts: { config: GroupCoordinatorConfig; logger: Logger; clock: () => number }) {
    this.config = opts.config;
    this.log = opts.logger;
    this.clock = opts.clock;
    this.retentionTimer = setInterval(() => { void this.expireOffsets(); }, this.config.offsetsRetentionCheckIntervalMs);
    this.retentionTimer.unref();
  }

  partitionFor(groupId: string): number { return partitionForGroup(groupId, this.config.offsetsTopicPartitions); }

  // ---------------------------------------------------------------- partition ownership

  /** This broker now leads `partition`: load its groups, then hand them to `loaded`. */
  becameLeader(partition: Partition, loaded: (groups: Group[]) => void): void {
    const entry: OwnedPartition = { partition, loading: null };
    this.owned.set(partition.index, entry);
    entry.loading = this.load(partition).then(() => {
      entry.loading = null;
      loaded([...this.groups.values()].filter((g) => this.partitionFor(g.id) === partition.index));
    }, (err: Error) => {
      this.log.error(`loading groups from ${partition.name} failed: ${err.stack}`);
      this.owned.delete(partition.index);
    });
  }

  /** This broker no longer leads partition `index`: forgets its groups (another broker loads them) and returns them. */
  resigned(index: number): Group[] {
    this.owned.delete(index);
    const dropped = [...this.groups.values()].filter((g) => this.partitionFor(g.id) === index);
    for (const g of dropped) this.groups.delete(g.id);
    for (const [producerId, byGroup] of this.pendingTxnOffsets) {
      for (const groupId of byGroup.keys()) if (this.partitionFor(groupId) === index) byGroup.delete(groupId);
      if (byGroup.size === 0) this.pendingTxnOffsets.delete(producerId);
    }
    return dropped;
  }

  /** Resolves once every owned partition has been loaded (tests, start-up). */
  async loaded(): Promise<void> {
    await Promise.all([...this.owned.values()].map((e) => e.loading));
  }

  private async load(partition: Partition): Promise<void> {
    let records = 0;
    await replayPartitionLog(partition.log, (batch) => {
      if (batch.control) {
        this.completeTransaction(partition.index, batch.producerId, batch.control === 'commit');
        return;
      }
      for (const r of batch.records()) {
        if (batch.transactional) this.replayPendingOffset(batch.producerId, r.key, r.value);
        else this.replay(r.key, r.value);
        records++;
      }
    });
    this.log.info(`loaded ${records} records from ${partition.name}: ${[...this.groups.values()].filter((g) => this.partitionFor(g.id) === partition.index).length} groups`);
  }

  private replayPendingOffset(producerId: bigint, keyBytes: Buffer | null, value: Buffer | null): void {
    const key = keyBytes ? decodeKey(keyBytes) : null;
    if (!key || key.kind !== 'offset' || value === null) return;
    this.addPending(producerId, key.group, `${key.topic}\u0000${key.partition}`, committedOffsetOf(decodeOffsetValue(value)));
  }

  private addPending(producerId: bigint, groupId: string, offsetKey: string, value: CommittedOffset): void {
    let byGroup = this.pendingTxnOffsets.get(producerId);
    if (!byGroup) this.pendingTxnOffsets.set(producerId, byGroup = new Map());
    let offsets = byGroup.get(groupId);
    if (!offsets) byGroup.set(groupId, offsets = new Map());
    offsets.set(offsetKey, value);
  }

  /**
   * A transaction marker of `producerId` reached offsets partition `index`: its pending offsets
   * for the groups of that partition become committed (commit) or are dropped (abort).
   */
  completeTransaction(index: number, producerId: bigint, commit: boolean): void {
    const byGroup = this.pendingTxnOffsets.get(producerId);
    if (!byGroup) return;
    for (const [groupId, offsets] of byGroup) {
      if (this.partitionFor(groupId) !== index) continue;
      byGroup.delete(groupId);
      if (!commit) continue;
      const group = this.groups.get(groupId) ?? this.create(groupId);
      for (const [k, v] of offsets) group.offsets.set(k, v);
    }
    if (byGroup.size === 0) this.pendingTxnOffsets.delete(producerId);
  }

  /** True if a transaction holds an uncommitted offset for the group's partition (OffsetFetch requireStable). */
  hasPendingOffset(groupId: string, topic: string, partition: number): boolean {
    const k = `${topic}\u0000${partition}`;
    for (const byGroup of this.pendingTxnOffsets.values()) if (byGroup.get(groupId)?.has(k)) return true;
    return false;
  }

  /**
   * TxnOffsetCommit (validated by the coordinator): writes the offsets as a transactional batch of
   * the producer (acks=all) and holds them pending until its transaction ends.
   */
  async storeTxnOffsets(group: Group, producerId: bigint, producerEpoch: number,
    accepted: ReadonlyArray<{ topic: string; partition: number; value: CommittedOffset }>, errors: Map<string, number>): Promise<void> {
    if (accepted.length === 0) return;
    const records: NewRecord[] = accepted.map((a) => ({ key: offsetKey(group.id, a.topic, a.partition), value: offsetValue(a.value) }));
    try {
      await this.append(group.id, records, { producerId, producerEpoch, baseSequence: -1, transactional: true });
    } catch (e) {
      this.log.warn(`group ${group.id}: storing transactional offsets failed: ${(e as Error).message}`);
      for (const a of accepted) errors.set(group.offsetKey(a.topic, a.partition), errorCodeOf(e));
      return;
    }
    for (const a of accepted) {
      this.addPending(producerId, group.id, group.offsetKey(a.topic, a.partition), a.value);
      errors.set(group.offsetKey(a.topic, a.partition), ErrorCode.NONE);
    }
  }

  private replay(keyBytes: Buffer | null, value: Buffer | null): void {
    if (!keyBytes) return;
    const key = decodeKey(keyBytes);
    if (!key) return;
    if (key.kind === 'offset') {
      const g = this.groups.get(key.group);
      if (value === null) {
        g?.offsets.delete(g.offsetKey(key.topic, key.partition));
        return;
      }
      const group = g ?? this.create(key.group);
      group.offsets.set(group.offsetKey(key.topic, key.partition), committedOffsetOf(decodeOffsetValue(value)));
      return;
    }
    if (key.kind === 'consumer-group') {
      if (value === null) {
        if (this.groups.get(key.group)?.type === 'consumer') this.groups.delete(key.group);
        return;
      }
      const state = consumerGroupStateOf(decodeConsumerGroupValue(value));
      const group = this.groups.get(key.group) ?? this.create(key.group);
      group.convertTo('consumer');
      group.consumer = state;
      return;
    }
    if (value === null) {
      this.groups.delete(key.group);
      return;
    }
    const v = decodeGroupValue(value);
    applyClassicGroupValue(this.groups.get(key.group) ?? this.create(key.group), v);
  }

  /** Stores a consumer-protocol group's whole state as one record (acks=all, see append). */
  storeConsumerGroup(group: Group): Promise<void> {
    const value = consumerGroupRecordValue(consumerGroupValue(group.consumer));
    return this.append(group.id, [{ key: consumerGroupRecordKey(group.id), value }]).catch((err: Error) => {
      this.log.error(`group ${group.id}: storing consumer group state failed: ${err.message}`);
      throw err;
    });
  }

  /** The error code for a group this broker cannot serve right now, or NONE. */
  coordinatorError(groupId: string): number {
    if (!groupId) return ErrorCode.INVALID_GROUP_ID;
    const entry = this.owned.get(this.partitionFor(groupId));
    if (!entry) return ErrorCode.NOT_COORDINATOR;
    if (entry.loading) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  create(id: string): Group {
    const g = new Group(id, this.clock());
    this.groups.set(id, g);
    return g;
  }

  // ---------------------------------------------------------------- offsets and admin

  /** Stores committed offsets of `group` (already validated by the coordinator); per partition key, the error code. */
  async storeOffsets(group: Group, accepted: ReadonlyArray<{ topic: string; partition: number; value: CommittedOffset }>, errors: Map<string, number>): Promise<void> {
    if (accepted.length === 0) return;
    const records: NewRecord[] = accepted.map((a) => ({ key: offsetKey(group.id, a.topic, a.partition), value: offsetValue(a.value) }));
    try {
      await this.append(group.id, records);
    } catch (e) {
      this.log.warn(`group ${group.id}: storing offsets failed: ${(e as Error).message}`);
      for (const a of accepted) errors.set(group.offsetKey(a.topic, a.partition), errorCodeOf(e));
      return;
    }
    for (const a of accepted) {
      group.offsets.set(group.offsetKey(a.topic, a.partition), a.value);
      errors.set(group.offsetKey(a.topic, a.partition), ErrorCode.NONE);
    }
  }

  /** Committed offsets of a group; `topics` null means every partition the group has committed. */
  fetchOffsets(groupId: string, topics: Array<{ name: string; partitionIndexes: number[] }> | null):
    { errorCode: number; topics: Array<{ name: string; partitions: Array<{ partitionIndex: number; offset: CommittedOffset | null }> }> } {
    const err = this.coordinatorError(groupId);
    if (err !== ErrorCode.NONE) return { errorCode: err, topics: [] };
    const group = this.groups.get(groupId);
    if (topics === null) {
      const byTopic = new Map<string, Array<{ partitionIndex: number; offset: CommittedOffset | null }>>();
      for (const [k, v] of group?.offsets ?? []) {
        const { topic, partition } = splitOffsetKey(k);
        if (!byTopic.has(topic)) byTopic.set(topic, []);
        byTopic.get(topic)!.push({ partitionIndex: partition, offset: v });
      }
      return { errorCode: ErrorCode.NONE, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
    }
    return {
      errorCode: ErrorCode.NONE,
      topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((p) => ({ partitionIndex: p, offset: group?.offsets.get(`${t.name}\u0000${p}`) ?? null })),
      })),
    };
  }

  /** OffsetDelete: removes committed offsets of topics the group is not subscribed to. */
  async deleteOffsets(groupId: string, topics: Array<{ name: string; partitions: number[] }>, subscribed: (group: Group, topic: string) => boolean):
    Promise<{ errorCode: number; results: Map<string, number> }> {
    const results = new Map<string, number>();
    const err = this.coordinatorError(groupId);
    if (err !== ErrorCode.NONE) return { errorCode: err, results };
    const group = this.groups.get(groupId);
    if (!group) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, results };
    const records: NewRecord[] = [];
    for (const t of topics) {
      for (const p of t.partitions) {
        const k = `${t.name}\u0000${p}`;
        if (!group.isEmpty() && subscribed(group, t.name)) {
          results.set(k, ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC);
          continue;
        }
        results.set(k, ErrorCode.NONE);
        if (group.offsets.has(k)) records.push({ key: offsetKey(groupId, t.name, p), value: null });
      }
    }
    if (records.length > 0) {
      try {
        await this.append(groupId, records);
      } catch (err) {
        return { errorCode: errorCodeOf(err), results: new Map() };
      }
      for (const [k, code] of results) if (code === ErrorCode.NONE) group.offsets.delete(k);
    }
    return { errorCode: ErrorCode.NONE, results };
  }

  listGroups(statesFilter: string[], typesFilter: string[] = []): GroupSummary[] {
    const out: GroupSummary[] = [];
    for (const g of this.groups.values()) {
      if (g.is('Dead') || this.coordinatorError(g.id) !== ErrorCode.NONE) continue;
      const state = g.stateName();
      if (statesFilter.length > 0 && !statesFilter.some((s) => s.toLowerCase() === state.toLowerCase())) continue;
      if (typesFilter.length > 0 && !typesFilter.some((t) => t.toLowerCase() === g.type)) continue;
      out.push({ groupId: g.id, protocolType: g.protocolType ?? '', state, type: g.type });
    }
    return out;
  }

  describe(groupId: string): { errorCode: number; group: Group | null } {
    const err = this.coordinatorError(groupId);
    if (err !== ErrorCode.NONE) return { errorCode: err, group: null };
    return { errorCode: ErrorCode.NONE, group: this.groups.get(groupId) ?? null };
  }

  async deleteGroup(groupId: string): Promise<number> {
    const err = this.coordinatorError(groupId);
    if (err !== ErrorCode.NONE) return err;
    const group = this.groups.get(groupId);
    if (!group || group.is('Dead')) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (!group.isEmpty()) return ErrorCode.NON_EMPTY_GROUP;
    const records: NewRecord[] = [...group.offsets.keys()].map((k) => {
      const { topic, partition } = splitOffsetKey(k);
      return { key: offsetKey(groupId, topic, partition), value: null };
    });
    records.push({ key: group.type === 'consumer' ? consumerGroupRecordKey(groupId) : groupKey(groupId), value: null });
    await this.append(groupId, records);
    group.transition('Dead', this.clock());
    this.groups.delete(groupId);
    this.log.info(`group ${groupId}: deleted`);
    return ErrorCode.NONE;
  }

  /** Lag needs the committed offsets of every group this broker coordinates. */
  *committedOffsets(): Generator<{ group: string; topic: string; partition: number; offset: bigint }> {
    for (const g of this.groups.values()) {
      for (const [k, v] of g.offsets) {
        const { topic, partition } = splitOffsetKey(k);
        yield { group: g.id, topic, partition, offset: v.offset };
      }
    }
  }

  groupCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const g of this.groups.values()) counts.set(g.stateName(), (counts.get(g.stateName()) ?? 0) + 1);
    return counts;
  }

  /** offsets.retention.minutes: offsets of empty groups expire that long after their commit. */
  async expireOffsets(): Promise<void> {
    const cutoff = BigInt(this.clock() - this.config.offsetsRetentionMs);
    for (const g of [...this.groups.values()]) {
      if (!g.isEmpty() || this.coordinatorError(g.id) !== ErrorCode.NONE) continue;
      const expired = [...g.offsets].filter(([, v]) => v.commitTimestamp < cutoff).map(([k]) => k);
      if (expired.length === 0) continue;
      const records: NewRecord[] = expired.map((k) => {
        const { topic, partition } = splitOffsetKey(k);
        return { key: offsetKey(g.id, topic, partition), value: null };
      });
      const dropGroup = expired.length === g.offsets.size;
      if (dropGroup) records.push({ key: g.type === 'consumer' ? consumerGroupRecordKey(g.id) : groupKey(g.id), value: null });
      try {
        await this.append(g.id, records);
      } catch (err) {
        this.log.warn(`group ${g.id}: expiring offsets failed: ${(err as Error).message}`);
        continue;
      }
      for (const k of expired) g.offsets.delete(k);
      if (dropGroup) {
        g.transition('Dead', this.clock());
        this.groups.delete(g.id);
      }
      this.log.info(`group ${g.id}: expired ${expired.length} committed offsets${dropGroup ? ' and removed the group' : ''}`);
    }
  }

  close(): void {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
  }

  // ---------------------------------------------------------------- writes

  /** Stores the group's membership and assignments (acks=all, see append). */
  storeGroup(group: Group): Promise<void> {
    const value = groupValue(classicGroupValue(group));
    return this.append(group.id, [{ key: groupKey(group.id), value }]).catch((err: Error) => {
      this.log.error(`group ${group.id}: storing group metadata failed: ${err.message}`);
      throw err;
    });
  }

  /**
   * Appends records to the group's offsets partition and resolves once every in-sync replica has
   * them (acks=all) and they are flushed per policy; rejects with a coordinator error
   * (asCoordinatorError) otherwise.
   */
  async append(groupId: string, records: NewRecord[], producer: BatchProducer | null = null): Promise<void> {
    const entry = this.owned.get(this.partitionFor(groupId));
    if (!entry) throw new KafkaError('NOT_COORDINATOR', `not the coordinator of ${groupId}`);
    const partition = entry.partition;
    try {
      const result = partition.appendAsLeader(encodeRecordBatch(records, BigInt(this.clock()), producer), -1, true);
      await Promise.all([partition.log.flushed(result.lastOffset), partition.replicated(result.lastOffset + 1n, this.config.commitTimeoutMs)]);
    } catch (err) {
      throw asCoordinatorError(err, partition.name);
    }
  }
}

/**
 * What a group client is told when writing to the offsets topic failed, as Kafka's group
 * coordinator maps it: too few replicas or no replication in time means "coordinator not
 * available, retry"; a lost leadership or a failed disk means "find the coordinator again".
 */
export function asCoordinatorError(err: unknown, partitionName: string): KafkaError {
  const name = errorInfo(errorCodeOf(err)).name;
  const mapped: ErrorName | null = ({
    UNKNOWN_TOPIC_OR_PARTITION: 'COORDINATOR_NOT_AVAILABLE',
    NOT_ENOUGH_REPLICAS: 'COORDINATOR_NOT_AVAILABLE',
    NOT_ENOUGH_REPLICAS_AFTER_APPEND: 'COORDINATOR_NOT_AVAILABLE',
    REQUEST_TIMED_OUT: 'COORDINATOR_NOT_AVAILABLE',
    NOT_LEADER_OR_FOLLOWER: 'NOT_COORDINATOR',
    KAFKA_STORAGE_ERROR: 'NOT_COORDINATOR',
    MESSAGE_TOO_LARGE: 'UNKNOWN_SERVER_ERROR',
    RECORD_LIST_TOO_LARGE: 'UNKNOWN_SERVER_ERROR',
  } as Record<string, ErrorName>)[name] ?? null;
  if (!mapped) return err instanceof KafkaError ? err : new KafkaError('UNKNOWN_SERVER_ERROR', `${partitionName}: ${(err as Error).message}`);
  return new KafkaError(mapped, `${partitionName}: ${(err as Error).message}`);
}
