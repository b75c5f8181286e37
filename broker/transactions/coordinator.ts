/**
 * TransactionCoordinator: Kafka's transaction coordinator (TransactionCoordinator +
 * TransactionStateManager) for the transactional ids whose `__transaction_state` partition this
 * broker leads (partition = abs(javaHashCode(transactionalId)) % transaction.state.log.num.partitions).
 *
 * State machine per transactional id (Kafka's TransactionState):
 *
 *   Empty / CompleteCommit / CompleteAbort --AddPartitionsToTxn--> Ongoing
 *   Ongoing --EndTxn(commit)--> PrepareCommit --markers written--> CompleteCommit
 *   Ongoing --EndTxn(abort) / timeout / new producer--> PrepareAbort --markers written--> CompleteAbort
 *   InitProducerId: bumps the epoch (fencing the previous producer) from Empty/Complete*; an
 *   Ongoing transaction is first aborted with a bumped epoch (CONCURRENT_TRANSACTIONS meanwhile).
 *
 * Transaction protocol v2 (KIP-890 part 2; Brook advertises `transaction.version` 2, so Kafka
 * 4.x clients use it): partitions and the group's offsets partition join the transaction through
 * their leaders (Produce v12, TxnOffsetCommit v5: AddPartitionsToTxn v4+ without verifyOnly from
 * the leader), and EndTxn v5 bumps the producer epoch with every transaction: the Prepare* state
 * and its markers carry epoch + 1, which the answer gives the producer for its next transaction,
 * so a late write of the ended transaction is refused at every partition (INVALID_PRODUCER_EPOCH).
 * When the epoch runs out the producer gets a new producer id (epoch 0) instead, kept as
 * nextProducerId until the markers are written. A retried EndTxn (the epoch before the bump, or
 * the producer id before the rotation) is answered as the first was. An abort with nothing added
 * (Empty, Complete*) still bumps the epoch: the producer cannot know whether a leader added a
 * partition for it.
 *
 * Durability: every state change is appended to the id's partition and takes effect (in memory,
 * and in the answer) only once every in-sync replica has it (acks=all, the topic's
 * min.insync.replicas = transaction.state.log.min.isr) — the write-ahead rule of Kafka's
 * coordinator, so a coordinator elected after a crash loads exactly what clients were told and
 * finishes any Prepare* transaction it finds. Markers go to the partition leaders through the
 * TxnMarkerWriter (WriteTxnMarkers on the wire); the Complete* state is written after every
 * marker is.
 *
 * Concurrency: everything runs on one event loop; the operations on one transactional id are
 * serialized by a per-id queue, so an async write never interleaves with another change to it.
 *
 * Elsewhere: the metadata of an id and its record mapping in txn-metadata.ts; the marker retry
 * loop in marker-delivery.ts.
 */
import { ErrorCode, KafkaError, errorCodeOf } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { replayPartitionLog } from '../coordinator-common/index.ts';
import { encodeRecordBatch } from '../log/records.ts';
import type { Partition } from '../partition.ts';
import { asCoordinatorError } from '../groups/index.ts';
import { deliverMarkers } from './marker-delivery.ts';
import { decodeTxnKey, decodeTxnValue, TXN_STATES, txnKey, txnValue } from './txn-records.ts';
import { freshTxn, MAX_EPOCH, partitionForTransactionalId, tp, txnFromLogValue, txnToLogValue } from './txn-metadata.ts';
import type { EndTxnResult, InitProducerIdResult, TransactionCoordinatorConfig, TxnMarkerWriter, TxnMetadata } from './txn-metadata.ts';

interface OwnedPartition { partition: Partition; epoch: number; loading: Promise<void> | null }

export class TransactionCoordinator {
  private readonly config: TransactionCoordinatorConfig;
  private readonly log: Logger;
  private readonly clock: () => number;
  private readonly allocate: () => Promise<bigint>;
  private readonly markers: TxnMarkerWriter;
  private readonly partitionExists: (topic: string, partition: number) => boolean;
  readonly txns = new Map<string, TxnMetadata>();
  private readonly owned = new Map<number, OwnedPartition>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly abortTimer: NodeJS.Timeout;
  /** Counters for the metrics: transactions committed / aborted by this coordinator. */
  readonly completed = { commit: 0, abort: 0 };
  private closed = false;

  constructor(opts: {
    config: TransactionCoordinatorConfig; logger: Logger; clock?: () => number; allocateProducerId: () => Promise<bigint>;
    markers: TxnMarkerWriter; partitionExists: (topic: string, partition: number) => boolean;
  }) {
    this.config = opts.config;
    this.log = opts.logger;
    this.clock = opts.clock ?? Date.now;
    this.allocate = opts.allocateProducerId;
    this.markers = opts.markers;
    this.partitionExists = opts.partitionExists;
    this.abortTimer = setInterval(() => this.abortTimedOut(), this.config.abortIntervalMs);
    this.abortTimer.unref();
  }

  /** For the metrics: open transactions (Ongoing or Prepare*) and the completed counts. */
  counts(): { open: number; committed: number; aborted: number } {
    let open = 0;
    for (const m of this.txns.values()) if (m.state === 'Ongoing' || m.state === 'PrepareCommit' || m.state === 'PrepareAbort') open++;
    return { open, committed: this.completed.commit, aborted: this.completed.abort };
  }

  partitionFor(transactionalId: string): number { return partitionForTransactionalId(transactionalId, this.config.partitions); }

  close(): void {
    this.closed = true;
    clearInterval(this.abortTimer);
  }

  // ---------------------------------------------------------------- partition ownership

  /** This broker now leads `partition` of __transaction_state: load its transactions, then finish the decided ones. */
  becameLeader(partition: Partition): void {
    const entry: OwnedPartition = { partition, epoch: partition.leaderEpoch, loading: null };
    this.owned.set(partition.index, entry);
    entry.loading = this.load(partition).then(() => {
      entry.loading = null;
      for (const m of this.txns.values()) {
        if (this.partitionFor(m.transactionalId) !== partition.index) continue;
        if (m.state === 'PrepareCommit' || m.state === 'PrepareAbort') {
          void this.complete(m, m.state === 'PrepareCommit');
        }
      }
    }, (err: Error) => {
      this.log.error(`loading transactions from ${partition.name} failed: ${err.stack}`);
      this.owned.delete(partition.index);
    });
  }

  /** This broker no longer leads partition `index`: forget its transactions (the new leader loads them). */
  resigned(index: number): void {
    this.owned.delete(index);
    for (const id of [...this.txns.keys()]) if (this.partitionFor(id) === index) this.txns.delete(id);
  }

  /** Resolves once every owned partition has been loaded. */
  async loaded(): Promise<void> { await Promise.all([...this.owned.values()].map((e) => e.loading)); }

  private async load(partition: Partition): Promise<void> {
    let records = 0;
    await replayPartitionLog(partition.log, (batch) => {
      for (const r of batch.records()) {
        records++;
        const id = r.key ? decodeTxnKey(r.key) : null;
        if (id === null) continue;
        if (r.value === null) { this.txns.delete(id); continue; }
        this.txns.set(id, txnFromLogValue(id, decodeTxnValue(r.value)));
      }
    });
    this.log.info(`loaded ${records} records from ${partition.name}`);
  }

  /** The error code for a transactional id this broker cannot serve right now, or NONE. */
  coordinatorError(transactionalId: string): number {
    const entry = this.owned.get(this.partitionFor(transactionalId));
    if (!entry) return ErrorCode.NOT_COORDINATOR;
    if (entry.loading) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  // ---------------------------------------------------------------- admin (KIP-664)

  /**
   * ListTransactions: the transactions of the partitions this broker has loaded, filtered by
   * state (names as Kafka's), producer id, minimum age in ms (-1: any) and an id pattern (a
   * regular expression the whole id must match; null: any). Unknown state names are returned apart.
   */
  list(filter: { states: string[]; producerIds: bigint[]; minDurationMs: bigint; pattern: RegExp | null }):
    { errorCode: number; unknownStates: string[]; transactions: TxnMetadata[] } {
    for (const e of this.owned.values()) if (e.loading) return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, unknownStates: [], transactions: [] };
    const known = new Set<string>(TXN_STATES);
    const unknownStates = filter.states.filter((s) => !known.has(s));
    const states = new Set(filter.states.filter((s) => known.has(s)));
    if (unknownStates.length > 0 && states.size === 0) return { errorCode: ErrorCode.NONE, unknownStates, transactions: [] };
    const now = BigInt(this.clock());
    const transactions = [...this.txns.values()].filter((m) => (states.size === 0 || states.has(m.state))
      && (filter.producerIds.length === 0 || filter.producerIds.includes(m.producerId))
      && (filter.minDurationMs < 0n || (m.state === 'Ongoing' && now - m.startTimestamp >= filter.minDurationMs))
      && (filter.pattern === null || filter.pattern.test(m.transactionalId)));
    return { errorCode: ErrorCode.NONE, unknownStates, transactions };
  }

  /** DescribeTransactions of one id: its metadata, or the error (NOT_COORDINATOR, TRANSACTIONAL_ID_NOT_FOUND, ...). */
  describe(transactionalId: string): { errorCode: number; txn: TxnMetadata | null } {
    const err = this.coordinatorError(transactionalId);
    if (err !== ErrorCode.NONE) return { errorCode: err, txn: null };
    const txn = this.txns.get(transactionalId);
    return txn ? { errorCode: ErrorCode.NONE, txn } : { errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, txn: null };
  }

  // ---------------------------------------------------------------- client operations

  /** InitProducerId with a transactional id (the handler validated the id is non-empty). */
  initProducerId(transactionalId: string, timeoutMs: number, expectedProducerId: bigint, expectedEpoch: number): Promise<InitProducerIdResult> {
    const fail = (errorCode: number): InitProducerIdResult => ({ errorCode, producerId: -1n, producerEpoch: -1 });
    if (timeoutMs <= 0 || timeoutMs > this.config.maxTimeoutMs) return Promise.resolve(fail(ErrorCode.INVALID_TRANSACTION_TIMEOUT));
    return this.enqueue(transactionalId, async () => {
      const err = this.coordinatorError(transactionalId);
      if (err !== ErrorCode.NONE) return fail(err);
      const m = this.txns.get(transactionalId);
      const now = BigInt(this.clock());
      if (!m) {
        const producerId = await this.allocate();
        const next = freshTxn(transactionalId, producerId, 0, timeoutMs, now);
        await this.persist(next);
        this.txns.set(transactionalId, next);
        return { errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
      }
      if (expectedProducerId >= 0n) {
        // KIP-360: a producer recovering with its current id and epoch; a retry of a bump it missed is answered again
        if (expectedProducerId === m.producerId && expectedEpoch === m.lastProducerEpoch && m.state === 'Empty') {
          return { errorCode: ErrorCode.NONE, producerId: m.producerId, producerEpoch: m.producerEpoch };
        }
        if (expectedProducerId !== m.producerId || expectedEpoch !== m.producerEpoch) return fail(ErrorCode.PRODUCER_FENCED);
      }
      if (m.state === 'PrepareCommit' || m.state === 'PrepareAbort' || m.state === 'PrepareEpochFence') return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
      if (m.state === 'Ongoing') {
        // a new producer instance: fence the old one (epoch + 1) and abort its transaction
        await this.prepareAbort(m, true);
        return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
      }
      let producerId = m.producerId;
      let epoch = m.producerEpoch + 1;
      if (epoch >= MAX_EPOCH) {
        producerId = await this.allocate();
        epoch = 0;
      }
      const next = { ...freshTxn(transactionalId, producerId, epoch, timeoutMs, now), lastProducerEpoch: m.producerEpoch };
      await this.persist(next);
      this.txns.set(transactionalId, next);
      return { errorCode: ErrorCode.NONE, producerId, producerEpoch: epoch };
    }).catch((err: unknown) => fail(errorCodeOf(err)));
  }

  /**
   * AddPartitionsToTxn: from the producer (v0-3, protocol v1), or from a partition leader adding
   * the partitions a producer of protocol v2 writes to (v4+ without verifyOnly,
   * `transactionVersion` 2). An error code per `topic\0partition`.
   */
  addPartitions(transactionalId: string, producerId: bigint, epoch: number, partitions: Array<{ topic: string; partition: number }>, transactionVersion = 0): Promise<Map<string, number>> {
    const all = (code: number) => new Map(partitions.map((p) => [tp(p.topic, p.partition), code]));
    const unknown = partitions.filter((p) => !this.partitionExists(p.topic, p.partition));
    if (unknown.length > 0) {
      const out = all(ErrorCode.OPERATION_NOT_ATTEMPTED);
      for (const p of unknown) out.set(tp(p.topic, p.partition), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      return Promise.resolve(out);
    }
    return this.enqueue(transactionalId, async () => all(await this.addToTxn(transactionalId, producerId, epoch, partitions.map((p) => tp(p.topic, p.partition)), transactionVersion)))
      .catch((err: unknown) => all(errorCodeOf(err)));
  }

  /**
   * AddPartitionsToTxn v4+ with verifyOnly (KIP-890 part 1), asked by a partition leader before it
   * appends a producer's first transactional batch: whether each partition is in the producer's
   * ongoing transaction (NONE) or not (INVALID_TXN_STATE). A batch the coordinator does not know
   * about (a retry arriving after the abort, a buggy client) would otherwise open a transaction on
   * the partition that no marker ever closes and hold its last stable offset forever. Changes
   * nothing; answers after any change to the id already queued.
   */
  verifyPartitions(transactionalId: string, producerId: bigint, epoch: number, partitions: Array<{ topic: string; partition: number }>): Promise<Map<string, number>> {
    const all = (code: number) => new Map(partitions.map((p) => [tp(p.topic, p.partition), code]));
    return this.enqueue(transactionalId, async () => {
      const err = this.coordinatorError(transactionalId);
      if (err !== ErrorCode.NONE) return all(err);
      const m = this.txns.get(transactionalId);
      if (!m) return all(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
      const refused = this.producerCheck(m, producerId, epoch);
      if (refused !== ErrorCode.NONE) return all(refused);
      return new Map(partitions.map((p) => {
        const key = tp(p.topic, p.partition);
        return [key, m.state === 'Ongoing' && m.partitions.has(key) ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE];
      }));
    }).catch((err: unknown) => all(errorCodeOf(err)));
  }

  /** AddOffsetsToTxn (protocol v1): the group's __consumer_offsets partition joins the transaction. */
  addOffsets(transactionalId: string, producerId: bigint, epoch: number, offsetsTopic: string, offsetsPartition: number): Promise<number> {
    return this.enqueue(transactionalId, () => this.addToTxn(transactionalId, producerId, epoch, [tp(offsetsTopic, offsetsPartition)]))
      .catch((err: unknown) => errorCodeOf(err));
  }

  /**
   * The producer's id and epoch against the transaction's: NONE, INVALID_PRODUCER_ID_MAPPING,
   * PRODUCER_FENCED, or CONCURRENT_TRANSACTIONS while a transaction completes (its markers are
   * still being written; a producer of protocol v2 may already hold the next epoch or producer id).
   */
  private producerCheck(m: TxnMetadata, producerId: bigint, epoch: number): number {
    const completing = m.state === 'PrepareCommit' || m.state === 'PrepareAbort' || m.state === 'PrepareEpochFence';
    if (completing && m.nextProducerId >= 0n && producerId === m.nextProducerId && epoch === 0) return ErrorCode.CONCURRENT_TRANSACTIONS;
    if (m.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (m.producerEpoch !== epoch) return ErrorCode.PRODUCER_FENCED;
    return completing ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.NONE;
  }

  private async addToTxn(transactionalId: string, producerId: bigint, epoch: number, keys: string[], transactionVersion = 0): Promise<number> {
    const err = this.coordinatorError(transactionalId);
    if (err !== ErrorCode.NONE) return err;
    const m = this.txns.get(transactionalId);
    if (!m) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    const refused = this.producerCheck(m, producerId, epoch);
    if (refused !== ErrorCode.NONE) return refused;
    if (m.state === 'Ongoing' && keys.every((k) => m.partitions.has(k))) return ErrorCode.NONE;
    const now = BigInt(this.clock());
    const ongoing = m.state === 'Ongoing';
    const next: TxnMetadata = {
      ...m, state: 'Ongoing', partitions: new Set([...(ongoing ? m.partitions : []), ...keys]),
      startTimestamp: ongoing ? m.startTimestamp : now, lastUpdateTimestamp: now,
      clientTransactionVersion: ongoing ? Math.max(m.clientTransactionVersion, transactionVersion) : transactionVersion,
    };
    await this.persist(next);
    this.txns.set(transactionalId, next);
    return ErrorCode.NONE;
  }

  /**
   * EndTxn: moves to Prepare*, answers, and completes (markers, then Complete*) in the
   * background. `transactionVersion` 2 (EndTxn v5) is protocol v2: the epoch is bumped (see the
   * file comment) and the answer carries the producer id and epoch of the next transaction.
   */
  endTxn(transactionalId: string, producerId: bigint, epoch: number, commit: boolean, transactionVersion = 0): Promise<EndTxnResult> {
    const fail = (errorCode: number): EndTxnResult => ({ errorCode, producerId: -1n, producerEpoch: -1 });
    const ok = (m: TxnMetadata): EndTxnResult => (m.nextProducerId >= 0n
      ? { errorCode: ErrorCode.NONE, producerId: m.nextProducerId, producerEpoch: 0 }
      : { errorCode: ErrorCode.NONE, producerId: m.producerId, producerEpoch: m.producerEpoch });
    const v2 = transactionVersion >= 2;
    return this.enqueue(transactionalId, async (): Promise<EndTxnResult> => {
      const err = this.coordinatorError(transactionalId);
      if (err !== ErrorCode.NONE) return fail(err);
      const m = this.txns.get(transactionalId);
      if (!m) return fail(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
      // protocol v2: the same EndTxn again, after the bump (or the producer id rotation) it caused
      const retry = v2 && ((producerId === m.producerId && m.lastProducerEpoch >= 0 && epoch === m.lastProducerEpoch)
        || (producerId === m.previousProducerId && epoch === MAX_EPOCH - 1 && m.producerEpoch === 0));
      if (!retry && m.producerId !== producerId) return fail(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
      if (!retry && m.producerEpoch !== epoch) return fail(ErrorCode.PRODUCER_FENCED);
      const prepare = async (): Promise<EndTxnResult> => ok(await this.prepareEnd(m, commit, v2));
      const decided = commit ? 'CompleteCommit' : 'CompleteAbort';
      const deciding = commit ? 'PrepareCommit' : 'PrepareAbort';
      if (retry) {
        // only the answer to the first one is repeated; anything else means the producer was fenced
        if (m.state === decided) return ok(m);
        if (m.state === deciding) return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
        return fail(ErrorCode.PRODUCER_FENCED);
      }
      switch (m.state) {
        case 'Ongoing': return prepare();
        case 'CompleteCommit':
          if (commit) return v2 ? fail(ErrorCode.INVALID_TXN_STATE) : ok(m);
          return v2 ? prepare() : fail(ErrorCode.INVALID_TXN_STATE);
        case 'CompleteAbort':
          if (!commit) return v2 ? prepare() : ok(m);
          return fail(ErrorCode.INVALID_TXN_STATE);
        case 'Empty': return !commit && v2 ? prepare() : fail(ErrorCode.INVALID_TXN_STATE);
        case 'PrepareCommit': return fail(commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE);
        case 'PrepareAbort': return fail(commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS);
        case 'PrepareEpochFence': return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
        default: return fail(ErrorCode.INVALID_TXN_STATE);
      }
    // protocol v1 answers carry no producer id and epoch (EndTxn v0-4 has no such fields)
    }).then((r) => (v2 || r.errorCode !== ErrorCode.NONE ? r : fail(ErrorCode.NONE)))
      .catch((err: unknown) => fail(errorCodeOf(err)));
  }

  /**
   * Ongoing (or, protocol v2, an abort with nothing added) → Prepare*, written, then completed in
   * the background. Protocol v2 bumps the epoch; when it is exhausted the next transaction gets a
   * new producer id, the markers still going out under the old id at the last epoch.
   */
  private async prepareEnd(m: TxnMetadata, commit: boolean, v2: boolean): Promise<TxnMetadata> {
    const now = BigInt(this.clock());
    const nextProducerId = v2 && m.producerEpoch + 1 >= MAX_EPOCH ? await this.allocate() : -1n;
    const next: TxnMetadata = {
      ...m, state: commit ? 'PrepareCommit' : 'PrepareAbort', lastUpdateTimestamp: now,
      ...(v2 ? { producerEpoch: m.producerEpoch + 1, lastProducerEpoch: m.producerEpoch, nextProducerId, clientTransactionVersion: 2 } : {}),
      // an abort with nothing added starts and ends now
      ...(m.state === 'Ongoing' ? {} : { partitions: new Set<string>(), startTimestamp: now }),
    };
    await this.persist(next);
    this.txns.set(m.transactionalId, next);
    void this.complete(next, commit);
    return next;
  }

  /** Aborts the Ongoing transactions older than their timeout, fencing their producer (epoch + 1) as Kafka does. */
  abortTimedOut(): void {
    const now = BigInt(this.clock());
    for (const m of this.txns.values()) {
      if (m.state !== 'Ongoing' || m.startTimestamp + BigInt(m.timeoutMs) > now) continue;
      const id = m.transactionalId;
      void this.enqueue(id, async () => {
        const current = this.txns.get(id);
        if (!current || current.state !== 'Ongoing' || current.producerEpoch !== m.producerEpoch || this.coordinatorError(id) !== ErrorCode.NONE) return;
        this.log.info(`aborting transaction of ${id} (producer ${current.producerId}, epoch ${current.producerEpoch}): open longer than ${current.timeoutMs} ms`);
        await this.prepareAbort(current, true);
      }).catch((err: unknown) => this.log.warn(`timing out the transaction of ${id} failed: ${(err as Error).message}`));
    }
  }

  /** Ongoing → PrepareAbort (bumping the epoch when fencing), then completes in the background. */
  private async prepareAbort(m: TxnMetadata, fence: boolean): Promise<void> {
    const bump = fence && m.producerEpoch + 1 < MAX_EPOCH;
    const next: TxnMetadata = {
      ...m, state: 'PrepareAbort', lastUpdateTimestamp: BigInt(this.clock()),
      producerEpoch: bump ? m.producerEpoch + 1 : m.producerEpoch, lastProducerEpoch: bump ? m.producerEpoch : m.lastProducerEpoch,
    };
    await this.persist(next);
    this.txns.set(m.transactionalId, next);
    void this.complete(next, false);
  }

  /**
   * Writes the markers of a Prepare* transaction to every partition in it (retrying partitions
   * whose leader is moving), then the Complete* state. Runs outside the id's queue, so requests
   * meanwhile see the Prepare* state (CONCURRENT_TRANSACTIONS). Stops when this broker stops
   * coordinating the id: the next coordinator resumes from the Prepare* state it loads.
   */
  private async complete(m: TxnMetadata, commit: boolean): Promise<void> {
    const id = m.transactionalId;
    const delivered = await deliverMarkers({
      markers: this.markers, log: this.log, m, commit,
      coordinatorEpoch: () => {
        const entry = this.owned.get(this.partitionFor(id));
        return this.closed || !entry || this.txns.get(id) !== m ? null : entry.epoch;
      },
    });
    if (!delivered) return;
    for (;;) {
      const done = await this.enqueue(id, async () => {
        if (this.closed || this.txns.get(id) !== m || this.coordinatorError(id) !== ErrorCode.NONE) return true;
        const rotated = m.nextProducerId >= 0n
          ? { producerId: m.nextProducerId, producerEpoch: 0, lastProducerEpoch: -1, previousProducerId: m.producerId, nextProducerId: -1n }
          : {};
        const next: TxnMetadata = { ...m, ...rotated, state: commit ? 'CompleteCommit' : 'CompleteAbort', partitions: new Set(), lastUpdateTimestamp: BigInt(this.clock()) };
        await this.persist(next);
        this.txns.set(id, next);
        this.completed[commit ? 'commit' : 'abort']++;
        return true;
      }).catch((err: unknown) => {
        this.log.warn(`completing the transaction of ${id} failed: ${(err as Error).message}; retrying`);
        return false;
      });
      if (done) return;
      await new Promise((r) => setTimeout(r, 200).unref());
    }
  }

  // ---------------------------------------------------------------- helpers

  /** Runs `op` after every earlier operation on `transactionalId`. */
  private enqueue<T>(transactionalId: string, op: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(transactionalId) ?? Promise.resolve();
    const run = prev.then(op, op);
    const tail = run.catch(() => undefined);
    this.queues.set(transactionalId, tail);
    void tail.then(() => { if (this.queues.get(transactionalId) === tail) this.queues.delete(transactionalId); });
    return run;
  }

  /** Appends `m` to its partition and waits for the ISR (acks=all); Kafka's coordinator errors if it cannot. */
  private async persist(m: TxnMetadata): Promise<void> {
    const entry = this.owned.get(this.partitionFor(m.transactionalId));
    if (!entry || entry.loading) throw new KafkaError('NOT_COORDINATOR', `not the coordinator of ${m.transactionalId}`);
    const partition = entry.partition;
    const value = txnToLogValue(m);
    try {
      const result = partition.appendAsLeader(encodeRecordBatch([{ key: txnKey(m.transactionalId), value: txnValue(value) }], BigInt(this.clock())), -1);
      await Promise.all([partition.log.flushed(result.lastOffset), partition.replicated(result.lastOffset + 1n, this.config.writeTimeoutMs)]);
    } catch (err) {
      throw asCoordinatorError(err, partition.name);
    }
    if (this.owned.get(this.partitionFor(m.transactionalId)) !== entry) throw new KafkaError('NOT_COORDINATOR', `${partition.name}: leadership moved during the write`);
  }
}
