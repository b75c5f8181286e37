/**
 * BatchWorkerPool: worker threads (batch-worker.ts) that do the byte work of produced record
 * batches, so the broker's event loop does not (`brook.worker.threads`, default 0: off): the
 * CRC-32C of every batch, and the re-compression a topic's compression.type asks for.
 *
 * Contract
 *   - prepare(recordSets, convert) copies the record sets of one produce request into one buffer,
 *     hands it to the least busy worker (transferred, not shared: the worker owns the copy) and
 *     resolves once the worker answered.
 *     - Each record set the worker found whole and CRC-valid is marked (record-batch.ts
 *       markCrcVerified), and validateClientBatches then skips recomputing its CRC; everything
 *       else about the batches is still checked on the event loop as before.
 *     - A set given settings in `convert` (its topic's compression.type and levels, or null) that
 *       the worker re-compressed is marked with the result (batch-conversion.ts markConverted):
 *       the append takes it instead of compressing again, as long as the topic's settings are
 *       still those.
 *   - It never rejects: a set the worker did not verify or convert (a bad batch, a worker that
 *     died, a pool that was closed) is left unmarked and the event loop does the work itself,
 *     which reports the same error (CORRUPT_MESSAGE, ...) with the same message as without workers.
 *   - Answers may come back in any order; callers that need order (the produce handler appends
 *     in arrival order) keep it themselves.
 *   - Workers start on the first prepare(), are unref'd (they never keep a process alive) and
 *     end with close(). `onWork` is told the bytes each answer verified and converted.
 */
import { Worker } from 'node:worker_threads';
import type { BatchAnswer, BatchRequest } from './batch-worker.ts';
import { markConverted, type CompressionSettings } from './batch-conversion.ts';
import { markCrcVerified } from './record-batch.ts';

/** The most workers a broker starts, whatever brook.worker.threads says. */
export const MAX_WORKER_THREADS = 64;

/** Workers for `brook.worker.threads`: as given, within 0..64. */
export function workerThreadsFor(workerThreads: number): number {
  return Math.max(0, Math.min(Number.isInteger(workerThreads) ? workerThreads : 0, MAX_WORKER_THREADS));
}

/** What the workers did: record bytes found CRC-valid, and record bytes re-compressed (as received). */
export type WorkDone = { verifiedBytes: number; convertedBytes: number };

type Pending = { sets: Buffer[]; convert: Array<CompressionSettings | null>; resolve: () => void };

class BatchWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  dead = false;

  constructor(onDeath: (w: BatchWorker) => void, onWork: (done: WorkDone) => void) {
    this.worker = new Worker(new URL('./batch-worker.ts', import.meta.url));
    this.worker.unref();
    this.worker.on('message', (answer: BatchAnswer) => {
      const p = this.pending.get(answer.id);
      if (p === undefined) return;
      this.pending.delete(answer.id);
      const done: WorkDone = { verifiedBytes: 0, convertedBytes: 0 };
      answer.whole.forEach((ok, i) => {
        if (!ok) return;
        markCrcVerified(p.sets[i]!);
        done.verifiedBytes += p.sets[i]!.length;
      });
      const converted = answer.converted;
      if (converted) {
        const bytes = Buffer.from(converted.bytes);
        p.sets.forEach((set, i) => {
          const start = converted.ranges[2 * i]!;
          if (start < 0) return;
          markConverted(set, p.convert[i]!, bytes.subarray(start, start + converted.ranges[2 * i + 1]!));
          done.convertedBytes += set.length;
        });
      }
      onWork(done);
      p.resolve();
    });
    const die = (): void => {
      if (this.dead) return;
      this.dead = true;
      for (const p of this.pending.values()) p.resolve();
      this.pending.clear();
      onDeath(this);
    };
    this.worker.on('error', die);
    this.worker.on('exit', die);
  }
}

export class BatchWorkerPool {
  readonly threads: number;
  readonly #workers: BatchWorker[] = [];
  readonly #onWork: (done: WorkDone) => void;
  #nextId = 1;
  #closed = false;

  /** `threads` 0: no workers; prepare() resolves at once and the event loop does all the work. */
  constructor(threads: number, onWork: (done: WorkDone) => void = () => undefined) {
    this.threads = threads;
    this.#onWork = onWork;
  }

  get enabled(): boolean { return this.threads > 0 && !this.#closed; }

  /** `convert[i]`: the settings recordSets[i]'s topic re-compresses with (batch-conversion.ts recompressionOf), or null/absent. */
  prepare(recordSets: readonly Buffer[], convert: ReadonlyArray<CompressionSettings | null> = []): Promise<void> {
    if (!this.enabled || recordSets.length === 0) return Promise.resolve();
    const worker = this.#leastBusy();
    let total = 0;
    for (const s of recordSets) total += s.length;
    // allocUnsafeSlow: a buffer with its own ArrayBuffer, so it can be transferred whole
    const copy = Buffer.allocUnsafeSlow(total);
    const ranges: number[] = [];
    let at = 0;
    for (const s of recordSets) {
      s.copy(copy, at);
      ranges.push(at, s.length);
      at += s.length;
    }
    const id = this.#nextId++;
    const settings = recordSets.map((_, i) => convert[i] ?? null);
    return new Promise((resolve) => {
      worker.pending.set(id, { sets: [...recordSets], convert: settings, resolve });
      const bytes = copy.buffer as ArrayBuffer;
      worker.worker.postMessage({ id, bytes, ranges, convert: settings } satisfies BatchRequest, [bytes]);
    });
  }

  /** Ends the workers; what they had not answered resolves unverified. */
  async close(): Promise<void> {
    this.#closed = true;
    const workers = this.#workers.splice(0);
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }

  #leastBusy(): BatchWorker {
    while (this.#workers.length < this.threads) {
      this.#workers.push(new BatchWorker((dead) => {
        const i = this.#workers.indexOf(dead);
        if (i >= 0) this.#workers.splice(i, 1);
      }, this.#onWork));
    }
    let best = this.#workers[0]!;
    for (const w of this.#workers) if (w.pending.size < best.pending.size) best = w;
    return best;
  }
}
