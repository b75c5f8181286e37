/**
 * CollectionWatch: one list+watch of a Kubernetes collection (an informer), kept in a cache
 * keyed by namespace and name, that knows how current its cache is. The broker's KubernetesStore
 * and the operator's informers both use it.
 *
 * Contract:
 * - `start()` lists, then watches from the list's resourceVersion. A watch that ends is resumed
 *   from the last resourceVersion seen; 410 Gone (an ERROR event or the HTTP status) relists and
 *   reports the difference as events. A watch or list that fails is retried after an exponential
 *   backoff with jitter (capped; reset once a watch delivers or runs normally): never a tight loop.
 *   A watch that delivered nothing for `idleWatchMs` (default 10 s), or that a probe found behind,
 *   is started again.
 * - Events reach `onEvent` handlers in resourceVersion order, after the cache has them; an object
 *   older than the cached one (already superseded by a probe's list) is dropped.
 * - Freshness: `freshAt` is the local time up to which the cache is known to hold every change
 *   (set when an event or bookmark arrives, and when a list — the initial one, a relist or a
 *   probe — is applied, as of the time it was sent). When `probeMs` > 0 and nothing arrived for
 *   that long, a probe lists the collection (with a timeout) and applies what the watch missed.
 *   `freshSince` is when the current unbroken stretch of freshness began: a failed watch or probe,
 *   or news arriving when the view had been out of date for longer than 3 probes (at least 1 s),
 *   breaks it, and the next fresh news starts a new stretch at its arrival. So a reader can tell
 *   "not renewed while I was watching" (expired) from "I could not see" (unknown).
 * - `waitUntil` resolves once a predicate holds on the cache (read-your-writes for the store).
 * One event loop; not shared between stores.
 */
import { Backoff, sleep } from '../metadata/backoff.ts';
import type { Kube } from './client.ts';
import { KubeError, KubeErrorCode, isGone, toKubeError, type Status } from './errors.ts';
import { collectionPath, rvOlder, type KubeList, type KubeObject, type Resource } from './objects.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface CollectionWatchOptions<T extends KubeObject = KubeObject> {
  kube: Kube;
  resource: Resource;
  /** Watch one namespace; every namespace (or a cluster-scoped kind) when undefined. */
  namespace?: string;
  labelSelector?: string;
  clock?: () => number;
  random?: () => number;
  /** Probe the collection when nothing arrived for this long; 0 (default): never. */
  probeMs?: number;
  /** Reconnect backoff (default 100 ms doubling to 5 s). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** The server ends each watch after this long (default 25 s); null: the server's own default. */
  watchTimeoutSeconds?: number | null;
  /** A watch that delivered nothing (no event, no bookmark) for this long is started again (default 10 s). */
  idleWatchMs?: number;
  /** Attempts of the first list before start() fails (default 20; Infinity: keep trying). */
  startAttempts?: number;
  /** Applied to every object before it is cached (e.g. dropping managedFields). */
  transform?: (obj: T) => void;
  /** Told of every failed list or watch (for logs). */
  onError?: (err: KubeError) => void;
}

export class CollectionWatch<T extends KubeObject> {
  /** namespace/name → object (cluster-scoped kinds: /name). */
  readonly cache = new Map<string, T>();
  /** Local time up to which the cache is known complete (0: never yet). */
  freshAt = 0;
  /** Start of the current unbroken stretch of freshness. */
  freshSince = 0;
  /** Counters for tests and metrics. */
  readonly stats = { relists: 0, watchStarts: 0, watchFailures: 0, probes: 0, probeFailures: 0 };

  private lastRv = '';
  private abort: AbortController | undefined;
  private readonly stop = new AbortController();
  private closed = false;
  private broken = true;
  private probing = false;
  private probeTimer: NodeJS.Timeout | null = null;
  private readonly waiters = new Set<() => void>();
  private readonly handlers = new Set<(type: WatchEventType, obj: T, old: T | undefined) => void>();
  private readonly freshHandlers = new Set<() => void>();
  private readonly backoff: Backoff;
  private readonly clock: () => number;
  private readonly probeMs: number;
  private readonly idleWatchMs: number;
  private readonly opts: CollectionWatchOptions<T>;
  private readonly path: string;

  constructor(opts: CollectionWatchOptions<T>) {
    this.opts = opts;
    this.clock = opts.clock ?? Date.now;
    this.probeMs = opts.probeMs ?? 0;
    this.idleWatchMs = opts.idleWatchMs ?? 10_000;
    this.backoff = new Backoff({ initialMs: opts.backoff?.initialMs ?? 100, maxMs: opts.backoff?.maxMs ?? 5_000, random: opts.random });
    this.path = collectionPath(opts.resource, opts.namespace);
  }

  /** The cached object `name` in `namespace` (default: the watched namespace; ignored for cluster-scoped kinds). */
  get(name: string, namespace?: string): T | undefined {
    const ns = this.opts.resource.namespaced ? namespace ?? this.opts.namespace ?? '' : '';
    return this.cache.get(`${ns}/${name}`);
  }

  /** The cached objects, of one namespace when given. */
  list(namespace?: string): T[] {
    const all = [...this.cache.values()];
    return namespace === undefined || !this.opts.resource.namespaced ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  onEvent(handler: (type: WatchEventType, obj: T, old: T | undefined) => void): void { this.handlers.add(handler); }

  /** `handler` runs whenever freshAt or freshSince moved. */
  onFreshness(handler: () => void): void { this.freshHandlers.add(handler); }

  async start(): Promise<void> {
    await this.relist(this.opts.startAttempts ?? 20);
    void this.watchLoop();
    if (this.probeMs > 0) {
      this.probeTimer = setInterval(() => { void this.probeIfQuiet(); }, Math.max(10, Math.floor(this.probeMs / 2)));
      this.probeTimer.unref();
    }
  }

  close(): void {
    this.closed = true;
    this.stop.abort();
    this.abort?.abort();
    if (this.probeTimer) clearInterval(this.probeTimer);
    for (const w of this.waiters) w();
  }

  /** Resolves once `predicate` holds on the cache (checked after every event). */
  waitUntil(predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiters.delete(check); reject(new KubeError(KubeErrorCode.WATCH_TIMEOUT, `${this.path} did not show the write within ${timeoutMs} ms`)); }, timeoutMs);
      const check = () => {
        if (this.closed || predicate()) { clearTimeout(timer); this.waiters.delete(check); resolve(); }
      };
      this.waiters.add(check);
    });
  }

  /** Test hook: restart the watch from `rv` (a stale one provokes 410 Gone). */
  restartFrom(rv: string): void {
    this.lastRv = rv;
    this.abort?.abort();
  }

  /**
   * News current as of `at` arrived now. After a break — a failure, or news arriving so late that
   * the view had been out of date for longer than 3 probes — a new stretch starts now: the time
   * before it is not known to have been watched.
   */
  private markFresh(at: number): void {
    const now = this.clock();
    if (this.broken || now - this.freshAt > 3 * Math.max(this.probeMs, 1_000)) this.freshSince = now;
    this.broken = false;
    if (at > this.freshAt) this.freshAt = at;
    for (const h of this.freshHandlers) h();
  }

  private markBroken(): void {
    if (this.broken) return;
    this.broken = true;
    for (const h of this.freshHandlers) h();
  }

  private apply(type: WatchEventType, obj: T): void {
    const name = keyOf(obj);
    const old = this.cache.get(name);
    if (old && rvOlder(obj.metadata.resourceVersion, old.metadata.resourceVersion)) return; // a probe's list was newer
    if (type === 'DELETED') {
      if (!old) return;
      this.cache.delete(name);
    } else {
      this.opts.transform?.(obj);
      this.cache.set(name, obj);
    }
    for (const h of this.handlers) h(type, obj, old);
  }

  private notify(): void { for (const w of [...this.waiters]) w(); }

  private async fetchList(timeoutMs?: number): Promise<KubeList<T>> {
    const signal = timeoutMs === undefined ? this.stop.signal : AbortSignal.any([this.stop.signal, AbortSignal.timeout(timeoutMs)]);
    return await this.opts.kube.list<T>(this.opts.resource, this.opts.namespace, { labelSelector: this.opts.labelSelector || undefined }, signal);
  }

  /**
   * Applies a list: newer objects replace cached ones, cached ones the list lacks are deleted.
   * Returns whether anything changed (the watch had missed it).
   */
  private applyList(list: KubeList<T>): boolean {
    const seen = new Set<string>();
    let changed = false;
    for (const item of list.items) {
      seen.add(keyOf(item));
      const old = this.cache.get(keyOf(item));
      if (old?.metadata.resourceVersion !== item.metadata.resourceVersion && !rvOlder(item.metadata.resourceVersion, old?.metadata.resourceVersion)) {
        this.apply(old ? 'MODIFIED' : 'ADDED', item);
        changed = true;
      }
    }
    for (const [name, old] of [...this.cache]) {
      // an object the list lacks was deleted, unless the watch already showed a newer version
      if (!seen.has(name) && !rvOlder(list.metadata.resourceVersion, old.metadata.resourceVersion)) {
        this.apply('DELETED', old);
        changed = true;
      }
    }
    this.notify();
    return changed;
  }

  /** Lists and applies the result, retrying failures with backoff (`attempts` at most; Infinity while open). */
  private async relist(attempts: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const sentAt = this.clock();
      try {
        const list = await this.fetchList();
        this.applyList(list);
        this.lastRv = list.metadata.resourceVersion ?? '';
        this.backoff.reset();
        this.markFresh(sentAt);
        return;
      } catch (e) {
        if (this.closed) return;
        const err = toKubeError(e, `list ${this.path}`);
        this.opts.onError?.(err);
        // 429 "storage is (re)initializing" right after a CRD is established; 5xx while the server starts.
        if (attempt >= attempts || (attempts !== Infinity && !err.retriable)) throw err;
        this.markBroken();
        await sleep(this.backoff.next(), this.stop.signal);
      }
    }
  }

  /** Nothing arrived for probeMs: list (bounded by probeMs) to prove the cache current, or learn it is not. */
  private async probeIfQuiet(): Promise<void> {
    if (this.closed || this.probing || this.clock() - this.freshAt < this.probeMs) return;
    this.probing = true;
    this.stats.probes++;
    const sentAt = this.clock();
    try {
      const list = await this.fetchList(Math.max(this.probeMs, 500));
      if (this.closed) return;
      // The watch missed something: it is stuck (e.g. on a connection a partition left half-open).
      // Start it again; events older than the cache are dropped, so nothing goes back in time.
      if (this.applyList(list)) this.abort?.abort();
      this.markFresh(sentAt);
    } catch (err) {
      this.stats.probeFailures++;
      if (!this.closed) this.opts.onError?.(toKubeError(err, `list ${this.path}`));
      if (!this.closed) this.markBroken();
    } finally {
      this.probing = false;
    }
  }

  private async watchLoop(): Promise<void> {
    while (!this.closed) {
      let gone = false;
      let failed: unknown = null;
      let delivered = false;
      const startedAt = this.clock();
      this.stats.watchStarts++;
      // A watch silent for idleWatchMs is started again (resumed from lastRv): a connection a
      // network partition left half-open would otherwise hang on until TCP gave up on it.
      let lastNews = Date.now();
      let idle = false;
      const idleTimer = setInterval(() => {
        if (Date.now() - lastNews < this.idleWatchMs) return;
        idle = true;
        this.abort?.abort();
      }, Math.min(1_000, this.idleWatchMs));
      idleTimer.unref();
      const timeoutSeconds = this.opts.watchTimeoutSeconds === undefined ? 25 : this.opts.watchTimeoutSeconds ?? undefined;
      const abort = new AbortController();
      this.abort = abort;
      try {
        await this.opts.kube.watch(this.path, { labelSelector: this.opts.labelSelector || undefined, resourceVersion: this.lastRv, allowWatchBookmarks: true, timeoutSeconds },
          (phase, object) => {
            const obj = object as T;
            if (phase === 'ERROR') { if (isGone(KubeError.fromStatus(`watch ${this.path}`, 0, obj as Status))) gone = true; return; }
            delivered = true;
            lastNews = Date.now();
            this.backoff.reset();
            this.lastRv = obj.metadata.resourceVersion ?? this.lastRv;
            if (phase !== 'BOOKMARK') this.apply(phase as WatchEventType, obj);
            this.markFresh(this.clock());
            this.notify();
          }, abort.signal);
      } catch (err) {
        failed = err;
      }
      clearInterval(idleTimer);
      if (this.closed) break;
      if (failed !== null && !isAbort(failed) && isGone(toKubeError(failed))) { gone = true; failed = null; }
      if (gone) {
        this.stats.relists++;
        await this.relist(Infinity);
        continue;
      }
      // A watch that ran its course (the server's timeout) resumes at once; one that failed, or
      // ended at once without delivering anything, waits: the server may be down or restarting.
      if (idle && delivered) continue; // (one that never delivered anything backs off below)
      if (failed !== null || (!delivered && this.clock() - startedAt < 1_000)) {
        if (failed !== null && !isAbort(failed)) { this.stats.watchFailures++; this.markBroken(); this.opts.onError?.(toKubeError(failed, `watch ${this.path}`)); }
        await sleep(this.backoff.next(), this.stop.signal);
      }
    }
  }
}

/** The cache key: namespace/name (cluster-scoped objects: /name). */
function keyOf(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

function isAbort(err: unknown): boolean {
  return (err as { name?: string } | null)?.name === 'AbortError';
}
