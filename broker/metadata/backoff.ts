/**
 * Backoff: exponential retry delays with jitter, capped, reset on success — what a watch that
 * cannot reach the API server, or a controller pass that failed, waits before trying again.
 *
 * Contract: `next()` returns the delay before the next attempt: attempt n (from 0) waits a
 * random time in [base/2, base] where base = min(maxMs, initialMs * factor^n) ("equal jitter":
 * never zero, so a failing peer is never retried in a tight loop, and spread so a fleet that lost
 * the server at the same instant does not come back in lockstep). `reset()` after a success
 * starts again from initialMs. Randomness is injected for tests. Not shared between callers.
 */
import { MetadataError, MetadataErrorCode } from './errors.ts';

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** Returns a number in [0, 1). */
  random?: () => number;
}

export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 100;
    this.maxMs = opts.maxMs ?? 5_000;
    this.factor = opts.factor ?? 2;
    this.random = opts.random ?? Math.random;
    if (!(this.initialMs > 0 && this.maxMs >= this.initialMs && this.factor >= 1)) {
      throw new MetadataError(MetadataErrorCode.INVALID_BACKOFF, `need 0 < initialMs <= maxMs and factor >= 1 (got ${this.initialMs}, ${this.maxMs}, ${this.factor})`);
    }
  }

  /** Failed attempts since the last reset. */
  get failures(): number { return this.attempt; }

  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** Math.min(this.attempt, 64));
    this.attempt++;
    return Math.round(base / 2 + this.random() * (base / 2));
  }

  reset(): void { this.attempt = 0; }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) { resolve(); return; }
    const timer = setTimeout(done, ms);
    function done(): void { clearTimeout(timer); signal?.removeEventListener('abort', done); resolve(); }
    signal?.addEventListener('abort', done, { once: true });
  });
}
