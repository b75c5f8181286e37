/**
 * Replication throttles, as Kafka's ReplicationQuotaManager: a byte rate for one side of
 * replication on one broker (`leader.replication.throttled.rate` for what it sends as leader,
 * `follower.replication.throttled.rate` for what it fetches as follower), applied only to the
 * replicas a topic lists in `leader.replication.throttled.replicas` /
 * `follower.replication.throttled.replicas` (`partition:broker,...` or `*`), and never to a
 * follower already in the ISR.
 *
 * The rate is measured as a token bucket holding at most one second of bytes: every throttled
 * byte sent or fetched takes a token (the balance may go negative with a large batch); while no
 * token is left the quota is exceeded and throttled replicas get nothing (the leader answers
 * them with no records, the follower leaves them out of its fetch) until the bucket refills.
 * One event loop; the clock is injected.
 */

export class ReplicationQuota {
  private readonly clock: () => number;
  private rateValue: number | null = null;
  private tokens = 0;
  private lastRefill: number;
  private readonly onRecord: (bytes: number) => void;

  /** `onRecord` sees every throttled byte counted (the throttled-bytes metric). */
  constructor(opts: { clock: () => number; onRecord?: (bytes: number) => void }) {
    this.clock = opts.clock;
    this.lastRefill = opts.clock();
    this.onRecord = opts.onRecord ?? (() => undefined);
  }

  /** Bytes per second, or null for no throttle. */
  get rate(): number | null { return this.rateValue; }

  setRate(bytesPerSecond: number | null): void {
    if (bytesPerSecond === this.rateValue) return;
    this.rateValue = bytesPerSecond !== null && bytesPerSecond >= 0 ? bytesPerSecond : null;
    this.tokens = this.rateValue ?? 0;
    this.lastRefill = this.clock();
  }

  /** True while throttled replicas must wait. */
  isExceeded(): boolean {
    if (this.rateValue === null) return false;
    this.refill();
    return this.tokens <= 0;
  }

  /** Counts bytes of throttled replicas sent or fetched. */
  record(bytes: number): void {
    this.onRecord(bytes);
    if (this.rateValue === null) return;
    this.refill();
    this.tokens -= bytes;
  }

  private refill(): void {
    const now = this.clock();
    const rate = this.rateValue!;
    this.tokens = Math.min(rate, this.tokens + ((now - this.lastRefill) * rate) / 1000);
    this.lastRefill = now;
  }
}

/** Whether `partition:broker` is in a throttled-replicas list (`*`: every replica). */
export function isThrottledReplica(list: string | undefined, partition: number, broker: number): boolean {
  if (!list) return false;
  const trimmed = list.trim();
  if (trimmed === '*') return true;
  for (const entry of trimmed.split(',')) {
    const [p, b] = entry.split(':');
    if (Number(p) === partition && Number(b) === broker) return true;
  }
  return false;
}
