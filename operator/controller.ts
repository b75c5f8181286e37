/**
 * Controller: one work queue and its workers for one kind, controller-runtime style. A
 * reconciler gets a key (`namespace/name`), reads the world from informer caches, makes it
 * match, and returns when to look again:
 *   {}                          done; the next event brings the key back
 *   { requeueAfter: ms }        done for now; look again later (periodic checks, waiting on the world)
 *   throw                       failed; retried with per-key exponential backoff
 *   throw new TerminalError()   failed in a way retrying cannot fix; logged, not retried
 */
import { WorkQueue, type Clock } from './workqueue.ts';
import type { Logger } from './log.ts';
import type { OperatorMetrics } from './metrics.ts';

export interface Result { requeueAfter?: number }

export class TerminalError extends Error {}

export type Reconciler = (key: string) => Promise<Result>;

export function keyOf(obj: { metadata: { namespace?: string; name: string } }): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export class Controller {
  readonly kind: string;
  readonly queue: WorkQueue;
  private readonly reconcile: Reconciler;
  private readonly log: Logger;
  private readonly metrics: OperatorMetrics;
  private readonly workers: number;
  private running: Promise<void>[] = [];

  constructor(opts: { kind: string; reconcile: Reconciler; log: Logger; metrics: OperatorMetrics; workers?: number; clock?: Clock }) {
    this.kind = opts.kind;
    this.reconcile = opts.reconcile;
    this.log = opts.log.child({ controller: opts.kind });
    this.metrics = opts.metrics;
    this.workers = opts.workers ?? 4;
    this.queue = new WorkQueue({
      clock: opts.clock,
      onDepth: (d) => this.metrics.workqueueDepth.set({ kind: this.kind }, d),
      onLatency: (s) => this.metrics.workqueueLatency.observe({ kind: this.kind }, s),
    });
    this.metrics.workqueueDepth.set({ kind: this.kind }, 0);
  }

  /** Starts the workers (call once this replica leads). */
  start(): void {
    for (let i = 0; i < this.workers; i++) this.running.push(this.work());
  }

  async stop(): Promise<void> {
    this.queue.shutDown();
    await Promise.all(this.running);
    this.running = [];
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const started = performance.now();
      try {
        const result = await this.reconcile(key);
        this.queue.forget(key);
        if (result.requeueAfter !== undefined && result.requeueAfter > 0) {
          this.queue.addAfter(key, result.requeueAfter);
          this.metrics.reconcileTotal.inc({ kind: this.kind, result: 'requeue' });
        } else {
          this.metrics.reconcileTotal.inc({ kind: this.kind, result: 'success' });
        }
      } catch (err) {
        this.metrics.reconcileTotal.inc({ kind: this.kind, result: 'error' });
        if (err instanceof TerminalError) {
          this.queue.forget(key);
          this.log.error('reconcile failed (not retried)', { key, error: err.message });
        } else {
          const retries = this.queue.numRequeues(key);
          this.queue.addRateLimited(key);
          this.log[retries > 3 ? 'error' : 'warn']('reconcile failed; will retry', { key, retries, error: (err as Error).message });
        }
      } finally {
        this.metrics.reconcileDuration.observe({ kind: this.kind }, (performance.now() - started) / 1000);
        this.queue.done(key);
      }
    }
  }
}
