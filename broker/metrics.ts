/**
 * Broker metrics (prom-client): one Registry per broker, so several brokers can live in one
 * process (`brook local`). Counters are bumped on the request path; gauges that describe state
 * (partitions, log sizes, queue depths) are computed from the broker when Prometheus scrapes.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CleanResult } from './log/index.ts';
import type { WorkDone } from './log/batch-pool.ts';
import { aclOperationName, resourceTypeName } from './security/acls.ts';
import type { AuthorizerDecision } from './security/authorizer.ts';
import type { Partition } from './partition.ts';

export interface PartitionView {
  readonly topic: string;
  readonly partition: number;
  readonly isLeader: boolean;
  readonly underReplicated: boolean;
  readonly underMinIsr: boolean;
  readonly offline: boolean;
  readonly sizeBytes: number;
  readonly segments: number;
  readonly logStartOffset: bigint;
  readonly logEndOffset: bigint;
  readonly highWatermark: bigint;
  /** The last stable offset (read_committed readers stop there); equals the high watermark without open transactions. */
  readonly lastStableOffset: bigint;
  /** For partitions this broker leads: how far each follower is behind. */
  readonly followers: ReadonlyArray<{ id: number; lagMessages: number; lagSeconds: number }>;
}

/** A hosted partition as the gauges see it at `nowMs`. */
export function partitionView(p: Partition, nowMs: number): PartitionView {
  return {
    topic: p.topic, partition: p.index, isLeader: p.isLeader, underReplicated: p.underReplicated,
    underMinIsr: p.underMinIsr, offline: p.state.leader < 0, sizeBytes: p.log.sizeInBytes,
    segments: p.log.segmentCount, logStartOffset: p.log.logStartOffset, logEndOffset: p.log.logEndOffset,
    highWatermark: p.highWatermark, lastStableOffset: p.lastStableOffset,
    followers: p.isLeader ? [...p.followerStates()].map(([id, f]) => ({
      id, lagMessages: f.logEndOffset < 0n ? Number(p.log.logEndOffset) : Number(p.log.logEndOffset - f.logEndOffset),
      lagSeconds: (nowMs - f.lastCaughtUpMs) / 1000,
    })) : [],
  };
}

export interface GroupOffsetView {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly committed: bigint;
  /** High watermark of the partition when this broker leads it, else null (lag unknown here). */
  readonly highWatermark: bigint | null;
}

export interface BrokerStateView {
  partitions(): Iterable<PartitionView>;
  groupOffsets(): Iterable<GroupOffsetView>;
  groupStates(): Map<string, number>;
  delayedFetches(): number;
  delayedProduces(): number;
  connections(): number;
  controller(): { isController: boolean; epoch: number; elections: number };
  /** Transactions coordinated by this broker: open now (Ongoing or Prepare*), and completed since start. */
  transactions(): { open: number; committed: number; aborted: number };
}

export class BrokerMetrics {
  readonly registry = new Registry();
  readonly bytesIn: TopicCounter;
  readonly bytesOut: TopicCounter;
  readonly fetchBytesSent: Counter<'path'>;
  readonly recordsIn: TopicCounter;
  readonly produceErrors: Counter<'topic' | 'error'>;
  readonly requests: Counter<'api'>;
  readonly requestErrors: Counter<'api' | 'error'>;
  readonly requestSeconds: Histogram<'api'>;
  readonly connectionsOpened: Counter;
  readonly connectionsClosedMalformed: Counter<'reason'>;
  readonly authentications: Counter<'listener' | 'mechanism' | 'result'>;
  readonly tlsReloads: Counter<'listener'>;
  readonly authorizerDecisions: Counter<'operation' | 'resource_type' | 'result'>;
  readonly isrShrinks: Counter;
  readonly isrExpands: Counter;
  readonly replicationThrottledBytes: Counter;
  private readonly workerRecordBytes: Counter<'work'>;
  private readonly cleanerRuns: Counter<'result'>;
  private readonly cleanerBytesRead: Counter;
  private readonly cleanerBytesWritten: Counter;
  private readonly cleanerRecordsRemoved: Counter;
  private readonly cleanerSeconds: Counter;

  constructor(nodeId: number, state: BrokerStateView, opts: { defaultMetrics?: boolean } = {}) {
    const r = this.registry;
    r.setDefaultLabels({ broker: String(nodeId) });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: r, eventLoopMonitoringPrecision: 10 });
    this.bytesIn = new TopicCounter(r, 'brook_topic_bytes_in_total', 'Record-batch bytes appended by producers, per topic.');
    this.bytesOut = new TopicCounter(r, 'brook_topic_bytes_out_total', 'Record-batch bytes returned to fetchers, per topic.');
    this.fetchBytesSent = new Counter({ name: 'brook_fetch_record_bytes_total', help: 'Record-batch bytes put in Fetch responses, by how: sendfile (from the page cache, brook.fetch.sendfile) or read (into memory, then written).', labelNames: ['path'], registers: [r] });
    this.recordsIn = new TopicCounter(r, 'brook_topic_records_in_total', 'Records appended by producers, per topic.');
    this.produceErrors = new Counter({ name: 'brook_produce_errors_total', help: 'Partitions rejected in produce requests, by Kafka error name.', labelNames: ['topic', 'error'], registers: [r] });
    this.requests = new Counter({ name: 'brook_requests_total', help: 'Requests handled, per API.', labelNames: ['api'], registers: [r] });
    this.requestErrors = new Counter({ name: 'brook_request_errors_total', help: 'Requests that failed as a whole, per API and error.', labelNames: ['api', 'error'], registers: [r] });
    this.requestSeconds = new Histogram({
      name: 'brook_request_duration_seconds', help: 'Time from a request fully read to its response queued, per API (includes long-poll waits).',
      labelNames: ['api'], buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [r],
    });
    this.connectionsOpened = new Counter({ name: 'brook_connections_opened_total', help: 'Client connections accepted.', registers: [r] });
    this.connectionsClosedMalformed = new Counter({ name: 'brook_connections_closed_malformed_total', help: 'Connections closed because of a malformed or oversized frame.', labelNames: ['reason'], registers: [r] });
    this.authentications = new Counter({ name: 'brook_authentications_total', help: 'SASL authentications and re-authentications per listener and mechanism (result: success or failure), and TLS client-certificate authentications (mechanism SSL).', labelNames: ['listener', 'mechanism', 'result'], registers: [r] });
    this.authorizerDecisions = new Counter({ name: 'brook_authorizer_decisions_total', help: 'Authorizer decisions by ACL operation, resource type and result (allowed or denied); none without an authorizer.', labelNames: ['operation', 'resource_type', 'result'], registers: [r] });
    this.tlsReloads = new Counter({ name: 'brook_tls_reloads_total', help: 'Key store or trust store files re-read after they changed, per listener.', labelNames: ['listener'], registers: [r] });
    this.isrShrinks = new Counter({ name: 'brook_isr_shrinks_total', help: 'ISR shrinks on partitions this broker leads.', registers: [r] });
    this.isrExpands = new Counter({ name: 'brook_isr_expands_total', help: 'ISR expansions on partitions this broker leads.', registers: [r] });
    this.replicationThrottledBytes = new Counter({ name: 'brook_replication_throttled_bytes_total',
      help: 'Bytes of throttled replicas (leader/follower.replication.throttled.replicas) sent as leader or fetched as follower, counted against the replication throttle.',
      labelNames: ['side'], registers: [r] });

    this.workerRecordBytes = new Counter({ name: 'brook_worker_record_bytes_total',
      help: 'Produced record bytes whose byte work worker threads did (brook.worker.threads), by work: crc (batches found whole and CRC-valid) or recompress (batches re-compressed to the topic\'s compression.type; bytes as received).',
      labelNames: ['work'], registers: [r] });

    this.cleanerRuns = new Counter({ name: 'brook_log_cleaner_runs_total', help: 'Compactions of a log, by result.', labelNames: ['result'], registers: [r] });
    this.cleanerBytesRead = new Counter({ name: 'brook_log_cleaner_read_bytes_total', help: 'Bytes of log read by the cleaner.', registers: [r] });
    this.cleanerBytesWritten = new Counter({ name: 'brook_log_cleaner_written_bytes_total', help: 'Bytes of cleaned log written.', registers: [r] });
    this.cleanerRecordsRemoved = new Counter({ name: 'brook_log_cleaner_removed_records_total', help: 'Records compaction removed (superseded, tombstones past delete.retention.ms).', registers: [r] });
    this.cleanerSeconds = new Counter({ name: 'brook_log_cleaner_seconds_total', help: 'Time spent cleaning.', registers: [r] });
    new Gauge({ name: 'brook_controller_active', help: '1 on the broker that holds the controller lease.', registers: [r], collect() { this.set(state.controller().isController ? 1 : 0); } });
    new Gauge({ name: 'brook_controller_epoch', help: 'Epoch of the controller lease as this broker last saw it.', registers: [r], collect() { this.set(state.controller().epoch); } });
    new Gauge({ name: 'brook_leader_elections', help: 'Leader elections this broker made while controller (a counter kept by the controller).', registers: [r], collect() { this.set(state.controller().elections); } });
    new Gauge({ name: 'brook_transactions_open', help: 'Transactions this broker coordinates that are open (Ongoing, PrepareCommit or PrepareAbort).', registers: [r], collect() { this.set(state.transactions().open); } });
    new Gauge({ name: 'brook_transactions_completed', help: 'Transactions this broker\'s coordinator completed since start, by result (a counter kept by the coordinator).', labelNames: ['result'], registers: [r],
      collect() { const t = state.transactions(); this.set({ result: 'commit' }, t.committed); this.set({ result: 'abort' }, t.aborted); } });
    new Gauge({ name: 'brook_connections', help: 'Open client connections.', registers: [r], collect() { this.set(state.connections()); } });
    new Gauge({ name: 'brook_delayed_operations', help: 'Requests parked in delayed-operation queues.', labelNames: ['queue'], registers: [r],
      collect() { this.set({ queue: 'fetch' }, state.delayedFetches()); this.set({ queue: 'produce' }, state.delayedProduces()); } });

    const countBy = (pick: (p: PartitionView) => boolean) => function (this: Gauge) {
      let n = 0;
      for (const p of state.partitions()) if (pick(p)) n++;
      this.set(n);
    };
    new Gauge({ name: 'brook_partitions', help: 'Partition replicas hosted by this broker.', registers: [r], collect: countBy(() => true) });
    new Gauge({ name: 'brook_leader_partitions', help: 'Partitions this broker leads.', registers: [r], collect: countBy((p) => p.isLeader) });
    new Gauge({ name: 'brook_under_replicated_partitions', help: 'Led partitions whose ISR is smaller than their replica set.', registers: [r], collect: countBy((p) => p.isLeader && p.underReplicated) });
    new Gauge({ name: 'brook_under_min_isr_partitions', help: 'Led partitions whose ISR is below min.insync.replicas.', registers: [r], collect: countBy((p) => p.isLeader && p.underMinIsr) });
    new Gauge({ name: 'brook_offline_partitions', help: 'Hosted partitions that have no leader.', registers: [r], collect: countBy((p) => p.offline) });

    const perPartition = (value: (p: PartitionView) => number) => function (this: Gauge<string>) {
      this.reset();
      for (const p of state.partitions()) this.set({ topic: p.topic, partition: String(p.partition) }, value(p));
    };
    const pl = ['topic', 'partition'];
    new Gauge({ name: 'brook_log_size_bytes', help: 'Bytes on disk of a partition log.', labelNames: pl, registers: [r], collect: perPartition((p) => p.sizeBytes) });
    new Gauge({ name: 'brook_log_segments', help: 'Segments of a partition log.', labelNames: pl, registers: [r], collect: perPartition((p) => p.segments) });
    new Gauge({ name: 'brook_log_start_offset', help: 'First offset of a partition log.', labelNames: pl, registers: [r], collect: perPartition((p) => Number(p.logStartOffset)) });
    new Gauge({ name: 'brook_log_end_offset', help: 'Next offset to be written to a partition log.', labelNames: pl, registers: [r], collect: perPartition((p) => Number(p.logEndOffset)) });
    new Gauge({ name: 'brook_last_stable_offset_lag', help: 'Offsets between the last stable offset and the high watermark of a partition this broker leads (held back by open transactions).', labelNames: pl, registers: [r],
      collect() {
        this.reset();
        for (const p of state.partitions()) if (p.isLeader) this.set({ topic: p.topic, partition: String(p.partition) }, Number(p.highWatermark - p.lastStableOffset));
      } });
    const groupLabels = ['group', 'topic', 'partition'];
    new Gauge({ name: 'brook_consumer_group_committed_offset', help: 'Committed offset of a consumer group on a partition (groups this broker coordinates).', labelNames: groupLabels, registers: [r],
      collect() {
        this.reset();
        for (const o of state.groupOffsets()) this.set({ group: o.group, topic: o.topic, partition: String(o.partition) }, Number(o.committed));
      } });
    new Gauge({ name: 'brook_consumer_group_lag', help: 'Records between a group\'s committed offset and the high watermark of a partition this broker leads.', labelNames: groupLabels, registers: [r],
      collect() {
        this.reset();
        for (const o of state.groupOffsets()) {
          if (o.highWatermark !== null) this.set({ group: o.group, topic: o.topic, partition: String(o.partition) }, lagOf(o));
        }
      } });
    new Gauge({ name: 'brook_consumer_group_lag_sum', help: 'Total lag of a consumer group over the partitions this broker leads.', labelNames: ['group'], registers: [r],
      collect() {
        this.reset();
        const sums = new Map<string, number>();
        for (const o of state.groupOffsets()) if (o.highWatermark !== null) sums.set(o.group, (sums.get(o.group) ?? 0) + lagOf(o));
        for (const [group, lag] of sums) this.set({ group }, lag);
      } });
    new Gauge({ name: 'brook_consumer_groups', help: 'Consumer groups this broker coordinates, by state.', labelNames: ['state'], registers: [r],
      collect() {
        this.reset();
        for (const [st, n] of state.groupStates()) this.set({ state: st }, n);
      } });
    const followerLabels = ['topic', 'partition', 'follower'];
    const perFollower = (value: (f: PartitionView['followers'][number]) => number) => function (this: Gauge<string>) {
      this.reset();
      for (const p of state.partitions()) {
        for (const f of p.followers) this.set({ topic: p.topic, partition: String(p.partition), follower: String(f.id) }, value(f));
      }
    };
    new Gauge({ name: 'brook_replica_lag_messages', help: 'Records a follower is behind the leader\'s log end (partitions this broker leads).', labelNames: followerLabels, registers: [r], collect: perFollower((f) => f.lagMessages) });
    new Gauge({ name: 'brook_replica_lag_seconds', help: 'Time since a follower was last caught up with the leader (partitions this broker leads).', labelNames: followerLabels, registers: [r], collect: perFollower((f) => f.lagSeconds) });
    new Gauge({ name: 'brook_high_watermark', help: 'High watermark (last committed offset + 1) of a partition.', labelNames: pl, registers: [r], collect: perPartition((p) => Number(p.highWatermark)) });
  }

  /** Records one decision of the authorizer. */
  authorized(d: AuthorizerDecision): void {
    this.authorizerDecisions.inc({ operation: aclOperationName(d.operation), resource_type: resourceTypeName(d.resourceType), result: d.allowed ? 'allowed' : 'denied' });
  }

  /** Records one run of the log cleaner. */
  /** What a batch worker's answer did (batch-pool.ts). */
  workerBytes(done: WorkDone): void {
    if (done.verifiedBytes > 0) this.workerRecordBytes.inc({ work: 'crc' }, done.verifiedBytes);
    if (done.convertedBytes > 0) this.workerRecordBytes.inc({ work: 'recompress' }, done.convertedBytes);
  }

  cleaned(r: CleanResult): void {
    this.cleanerRuns.inc({ result: r.aborted ? 'aborted' : r.cleaned ? 'cleaned' : 'nothing' });
    this.cleanerBytesRead.inc(r.bytesRead + r.mapBytesRead);
    this.cleanerBytesWritten.inc(r.bytesWritten);
    this.cleanerRecordsRemoved.inc(r.recordsRemoved);
    this.cleanerSeconds.inc(r.durationMs / 1000);
  }
}

function lagOf(o: GroupOffsetView): number {
  const lag = o.highWatermark! - o.committed;
  return lag > 0n ? Number(lag) : 0;
}

/**
 * A per-topic counter for the produce and fetch paths, which count once per partition of every
 * request: an increment adds to a plain map, taken into the Prometheus counter when it is
 * collected (a scrape, or `get()`), as prom-client hashes the labels of every `inc`.
 */
export class TopicCounter {
  readonly counter: Counter<'topic'>;
  private readonly pending = new Map<string, number>();

  constructor(registry: Registry, name: string, help: string) {
    const pending = this.pending;
    this.counter = new Counter({
      name, help, labelNames: ['topic'], registers: [registry],
      collect() {
        for (const [topic, n] of pending) this.inc({ topic }, n);
        pending.clear();
      },
    });
  }

  inc(topic: string, n: number): void { this.pending.set(topic, (this.pending.get(topic) ?? 0) + n); }
}
