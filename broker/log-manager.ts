/**
 * LogManager: the broker's data directory, as Kafka's LogManager — one directory per hosted
 * partition (`<dataDir>/<topic>-<partition>`, claimed by topic id through partition.metadata),
 * the high-watermark checkpoint of all of them (replication-offset-checkpoint), retention runs,
 * and removal of directories no hosted partition owns, and the periodic tasks over the hosted logs
 * (retention checks, high-watermark checkpoints). The Broker decides which partitions it hosts;
 * this module only does the disk side. One caller at a time (the broker's apply chain).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { claimPartitionDir, hwKey, listPartitionDirs, PartitionLog, readHighWatermarks, writeHighWatermarks } from './log/index.ts';
import type { HighWatermarks, LogConfig } from './log/index.ts';
import type { Logger } from './logger.ts';
import type { Partition } from './partition.ts';

export class LogManager {
  readonly dataDir: string;
  private readonly log: Logger;
  private readonly clock: () => number;
  /** High watermarks from replication-offset-checkpoint, read once on start. */
  private checkpointed: HighWatermarks = new Map();
  private timers: NodeJS.Timeout[] = [];
  /** The high-watermark checkpoint write in flight (there is never more than one: they share a tmp file). */
  private checkpointing: Promise<void> | null = null;

  constructor(opts: { dataDir: string; logger: Logger; clock: () => number }) {
    this.dataDir = opts.dataDir;
    this.log = opts.logger;
    this.clock = opts.clock;
  }

  /** Creates the data directory and reads the high-watermark checkpoint (an unreadable one is ignored). */
  async start(): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    try {
      this.checkpointed = readHighWatermarks(this.dataDir);
    } catch (err) {
      this.log.warn(`ignoring the high-watermark checkpoint: ${(err as Error).message}; high watermarks restart at the log start`);
    }
  }

  /** The checkpointed high watermark of a partition, if the checkpoint had one. */
  checkpointedHighWatermark(topic: string, partition: number): bigint | undefined { return this.checkpointed.get(hwKey(topic, partition)); }

  /** Opens (recovering) the log of `topic`-`partition`, claiming its directory for `topicId` first. */
  async open(topic: string, partition: number, topicId: string, config: LogConfig): Promise<PartitionLog> {
    const dir = join(this.dataDir, `${topic}-${partition}`);
    const fresh = await claimPartitionDir(dir, topicId, (was) => this.log.warn(`removing ${dir}: it belongs to an earlier topic (${was})`));
    return PartitionLog.open(dir, config, { name: `${topic}-${partition}`, clock: this.clock, fresh });
  }

  /** Removes partition directories that none of `hosted` owns (topics deleted while this broker was down). */
  async removeStray(hosted: Iterable<Partition>): Promise<void> {
    const owned = new Set([...hosted].map((p) => `${p.topic}-${p.index}\u0000${p.topicId}`));
    for (const d of await listPartitionDirs(this.dataDir)) {
      if (owned.has(`${d.name}\u0000${d.topicId}`)) continue;
      this.log.info(`removing ${d.name}: its topic no longer exists or no longer has a replica here`);
      await rm(join(this.dataDir, d.name), { recursive: true, force: true });
    }
  }

  /**
   * Writes every hosted partition's high watermark to replication-offset-checkpoint (Kafka's per
   * data dir file), after the write in flight if there is one; resolves once it is durable.
   * The file's fsyncs run in libuv's thread pool: on a disk busy with other writes (a replica
   * catching up, a reassignment copying data) one can take hundreds of milliseconds, which the
   * event loop, and every produce and fetch waiting on it, must not spend. Failures are logged.
   */
  async checkpointHighWatermarks(hosted: Iterable<Partition>): Promise<void> {
    while (this.checkpointing) await this.checkpointing;
    this.startCheckpoint(hosted);
    await this.checkpointing;
  }

  /** Starts a checkpoint write of the high watermarks as they are now, unless one is in flight (the next tick writes newer values). */
  private startCheckpoint(hosted: Iterable<Partition>): void {
    if (this.checkpointing) return;
    const entries = [...hosted].map((p) => ({ topic: p.topic, partition: p.index, highWatermark: p.highWatermark }));
    this.checkpointing = writeHighWatermarks(this.dataDir, entries)
      .catch((err: unknown) => { this.log.error(`writing the high-watermark checkpoint failed: ${(err as Error).message}`); })
      .finally(() => { this.checkpointing = null; });
  }

  /**
   * Runs retention over the hosted logs every `retentionCheckMs` (log.retention.check.interval.ms)
   * and writes the high-watermark checkpoint every `checkpointMs`
   * (replica.high.watermark.checkpoint.interval.ms), until stopPeriodicTasks.
   */
  startPeriodicTasks(hosted: () => Iterable<Partition>, intervals: { retentionCheckMs: number; checkpointMs: number }): void {
    this.timers.push(setInterval(() => { void this.enforceRetention(hosted()); }, intervals.retentionCheckMs));
    this.timers.push(setInterval(() => this.startCheckpoint(hosted()), intervals.checkpointMs));
    for (const t of this.timers) t.unref();
  }

  /** Stops the periodic tasks; resolves once a checkpoint write they started has settled. */
  async stopPeriodicTasks(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.checkpointing;
  }

  async enforceRetention(hosted: Iterable<Partition>): Promise<void> {
    for (const p of hosted) {
      try {
        await p.log.enforceRetention(this.clock());
      } catch (err) {
        this.log.error(`retention on ${p.name} failed: ${(err as Error).message}`);
      }
    }
  }
}
