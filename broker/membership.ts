/**
 * Membership: this broker's place in the cluster, kept in the metadata store — a liveness lease
 * renewed every heartbeat interval (the broker is live while it holds), and a bid for the
 * controller lease at every heartbeat.
 *
 * Fencing: a broker acts as controller only until `claimedAt + leaseMs - margin`, where
 * claimedAt is taken before the claim was sent. If renewals fail (store unreachable, process
 * paused), it stops acting before the lease can expire and another broker take it over.
 *
 * It also answers what the cluster looks like from here: the live brokers and their addresses
 * per listener, this broker counted live while it starts (before its first registration).
 */
import type { Logger } from './logger.ts';
import type { BrokerInfo, BrokerRegistration, ControllerLease, MetadataStore } from './metadata/index.ts';

export interface MembershipOptions {
  store: MetadataStore;
  self: () => BrokerRegistration;
  sessionMs: number;
  heartbeatMs: number;
  logger: Logger;
  clock?: () => number;
  onLiveBrokers: (brokers: readonly BrokerRegistration[]) => void;
  onControllerChange: () => void;
}

export class Membership {
  private readonly opts: MembershipOptions;
  private readonly clock: () => number;
  private liveValue: readonly BrokerRegistration[] = [];
  private leaseValue: ControllerLease | null = null;
  private actingUntil = 0;
  private timer: NodeJS.Timeout | null = null;
  private fenceTimer: NodeJS.Timeout | null = null;
  private unwatch: Array<() => void> = [];
  private beating: Promise<void> | null = null;
  private stopped = false;

  constructor(opts: MembershipOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? Date.now;
  }

  get live(): readonly BrokerRegistration[] { return this.liveValue; }
  get controllerLease(): ControllerLease | null { return this.leaseValue; }

  /** The live brokers' ids. */
  liveIds(): Set<number> { return new Set(this.liveValue.map((b) => b.id)); }

  /** The live brokers (holding their liveness lease); this broker counts itself live while starting. */
  liveBrokers(): BrokerInfo[] {
    const live = this.liveValue.map((b) => ({ id: b.id, rack: b.rack }));
    const self = this.opts.self();
    return live.some((b) => b.id === self.id) ? live : [...live, { id: self.id, rack: self.rack }].sort((a, b) => a.id - b.id);
  }

  /**
   * The live brokers' addresses on `listener` (a client's Metadata: the listener it connected
   * on). A broker without that listener is left out, as Kafka does; one registered without a
   * listener list has the single address it registered.
   */
  endpoints(listener: string): Array<{ nodeId: number; host: string; port: number; rack: string | null }> {
    const out: Array<{ nodeId: number; host: string; port: number; rack: string | null }> = [];
    for (const b of this.liveValue) {
      const e = b.listeners ? b.listeners.find((l) => l.name === listener) : b;
      if (e) out.push({ nodeId: b.id, host: e.host, port: e.port, rack: b.rack });
    }
    const self = this.opts.self();
    const own = self.listeners?.find((l) => l.name === listener);
    if (own && !this.liveValue.some((b) => b.id === self.id)) out.push({ nodeId: self.id, host: own.host, port: own.port, rack: self.rack });
    return out;
  }

  /** True while this broker holds the controller lease with time to spare. */
  get isController(): boolean {
    return this.leaseValue?.holder === this.opts.self().id && this.clock() < this.actingUntil;
  }

  async start(): Promise<void> {
    this.unwatch.push(this.opts.store.watchBrokers((b) => {
      this.liveValue = b;
      this.opts.onLiveBrokers(b);
    }));
    this.unwatch.push(this.opts.store.watchController((lease) => {
      this.leaseValue = lease;
      this.opts.onControllerChange();
    }));
    await this.heartbeat();
    this.timer = setInterval(() => { void this.heartbeat(); }, this.opts.heartbeatMs);
    this.timer.unref();
  }

  /** Renews the registration now (it changed: e.g. the rack arrived), instead of at the next heartbeat. */
  async renew(): Promise<void> {
    await this.beating;
    await this.heartbeat();
  }

  private heartbeat(): Promise<void> {
    this.beating ??= this.beat().finally(() => { this.beating = null; });
    return this.beating;
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    const self = this.opts.self();
    const sentAt = this.clock();
    try {
      await this.opts.store.heartbeatBroker(self, this.opts.sessionMs);
      const lease = await this.opts.store.claimController(self.id, this.opts.sessionMs);
      const wasController = this.isController;
      this.leaseValue = lease;
      if (lease.holder === self.id) {
        // stop acting a heartbeat before the lease could lapse
        this.actingUntil = sentAt + this.opts.sessionMs - this.opts.heartbeatMs;
        if (this.fenceTimer) clearTimeout(this.fenceTimer);
        this.fenceTimer = setTimeout(() => this.opts.onControllerChange(), Math.max(0, this.actingUntil - this.clock()));
        this.fenceTimer.unref();
      }
      if (wasController !== this.isController) this.opts.onControllerChange();
    } catch (err) {
      this.opts.logger.warn(`heartbeat to the metadata store failed: ${(err as Error).message}`);
    }
  }

  /** Leaves the cluster: gives the controller lease up and ends the liveness lease. */
  async stop(opts: { unregister: boolean }): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.fenceTimer) clearTimeout(this.fenceTimer);
    for (const u of this.unwatch) u();
    await this.beating;
    if (opts.unregister) {
      const id = this.opts.self().id;
      await this.opts.store.releaseController(id).catch(() => undefined);
      await this.opts.store.unregisterBroker(id).catch(() => undefined);
    }
    this.actingUntil = 0;
  }
}
