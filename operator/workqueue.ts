/**
 * WorkQueue: a rate-limited, de-duplicating queue of reconcile keys, to client-go's contract
 * (util/workqueue): reconcilers get *keys*, never events.
 *
 * Contract:
 * - A key is in the queue at most once (`add` of a waiting key is a no-op): many events for one
 *   object collapse into one reconcile.
 * - A key is never handed out twice at once: `get` moves it to `processing`; an `add` while it is
 *   processing marks it dirty, and `done` puts it back so it runs again after (it saw a change
 *   the running reconcile may have missed).
 * - `addRateLimited` re-adds a key after a per-key exponential backoff (base·2^failures, capped);
 *   `forget` resets the count (call it on success). `addAfter` adds a key once a delay passed
 *   (requeueAfter); an earlier pending time for the same key wins.
 * - Time comes from an injected `Clock`, so tests advance time instead of sleeping.
 * - `shutDown` makes `get` return undefined once the queue drains; waiting adds are dropped.
 */

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => { const t = setTimeout(fn, ms); t.unref?.(); return t; },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface WorkQueueOptions {
  clock?: Clock;
  /** First backoff after a failure (client-go: 5 ms). */
  baseDelayMs?: number;
  /** Longest backoff (client-go: 1000 s; ours: 5 min). */
  maxDelayMs?: number;
  /** Called with the queue length whenever it changes (for a depth gauge). */
  onDepth?: (depth: number) => void;
  /** Called with seconds from (first) add to `get` (for a latency histogram). */
  onLatency?: (seconds: number) => void;
}

export class WorkQueue<K = string> {
  private readonly clock: Clock;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly onDepth: (depth: number) => void;
  private readonly onLatency: (seconds: number) => void;
  /** Keys ready to hand out, in order. Every key here is also in `dirty`. */
  private readonly queue: K[] = [];
  /** Keys that need processing (queued, or to re-queue when their processing ends) → first add time. */
  private readonly dirty = new Map<K, number>();
  private readonly processing = new Set<K>();
  private readonly failures = new Map<K, number>();
  /** Keys waiting for a time (addAfter) → when, and the timer. */
  private readonly waiting = new Map<K, { at: number; timer: unknown }>();
  private readonly getters: Array<(key: K | undefined) => void> = [];
  private shuttingDown = false;

  constructor(opts: WorkQueueOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.baseDelayMs = opts.baseDelayMs ?? 5;
    this.maxDelayMs = opts.maxDelayMs ?? 300_000;
    this.onDepth = opts.onDepth ?? (() => {});
    this.onLatency = opts.onLatency ?? (() => {});
  }

  /** Marks `key` as needing processing. */
  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.set(key, this.clock.now());
    if (this.processing.has(key)) return; // re-queued by done()
    this.enqueue(key);
  }

  /** Adds `key` once `ms` passed (at once when ms <= 0). An earlier pending time wins. */
  addAfter(key: K, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) { this.add(key); return; }
    const at = this.clock.now() + ms;
    const pending = this.waiting.get(key);
    if (pending) {
      if (pending.at <= at) return;
      this.clock.clearTimeout(pending.timer);
    }
    const timer = this.clock.setTimeout(() => {
      if (this.waiting.get(key)?.timer !== timer) return;
      this.waiting.delete(key);
      this.add(key);
    }, ms);
    this.waiting.set(key, { at, timer });
  }

  /** Adds `key` after its backoff, and counts one more failure for it. */
  addRateLimited(key: K): void {
    this.addAfter(key, this.when(key));
  }

  /** The backoff `addRateLimited` would use now, counting the failure. */
  private when(key: K): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(n, 40));
  }

  /** Clears the failure count of `key` (after a successful reconcile). */
  forget(key: K): void { this.failures.delete(key); }

  numRequeues(key: K): number { return this.failures.get(key) ?? 0; }

  /** The next key to process; waits for one. undefined once shut down and drained. */
  get(): Promise<K | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) return Promise.resolve(this.handOut(key));
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Ends processing of `key`; if it was added meanwhile it is queued again. */
  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) this.enqueue(key);
  }

  /** Keys ready to process (the depth gauge). */
  len(): number { return this.queue.length; }

  isProcessing(key: K): boolean { return this.processing.has(key); }

  /** Keys waiting for a time. */
  waitingCount(): number { return this.waiting.size; }

  shutDown(): void {
    this.shuttingDown = true;
    for (const w of this.waiting.values()) this.clock.clearTimeout(w.timer);
    this.waiting.clear();
    if (this.queue.length === 0) for (const g of this.getters.splice(0)) g(undefined);
  }

  get isShuttingDown(): boolean { return this.shuttingDown; }

  private enqueue(key: K): void {
    const getter = this.getters.shift();
    if (getter) { getter(this.handOut(key)); return; }
    this.queue.push(key);
    this.onDepth(this.queue.length);
  }

  private handOut(key: K): K {
    const added = this.dirty.get(key) ?? this.clock.now();
    this.dirty.delete(key);
    this.processing.add(key);
    this.onDepth(this.queue.length);
    this.onLatency((this.clock.now() - added) / 1000);
    if (this.shuttingDown && this.queue.length === 0) for (const g of this.getters.splice(0)) g(undefined);
    return key;
  }
}

/** A clock for tests: time moves only when `advance` is called; due timers fire in order. */
export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 0) { this.t = start; }

  now(): number { return this.t; }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void { this.timers.delete(handle as number); }

  /** Moves time forward by `ms`, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }

  pending(): number { return this.timers.size; }
}
