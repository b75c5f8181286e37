/**
 * BatchCrcPool: worker threads (batch-crc-worker.ts) that verify the CRC-32C of produced record
 * batches, so the broker's event loop does not (`brook.worker.threads`, default 0: off).
 *
 * Contract
 *   - verify(recordSets) copies the record sets of one produce request into one buffer, hands it
 *     to the least busy worker (transferred, not shared: the worker owns the copy) and resolves
 *     once the worker answered. Each record set the worker found whole and CRC-valid is marked
 *     (record-batch.ts markCrcVerified), and validateClientBatches then skips recomputing its
 *     CRC; everything else about the batches is still checked on the event loop as before.
 *   - It never rejects: a set the worker did not verify (a bad batch, a worker that died, a pool
 *     that was closed) is left unmarked and the event loop validates it itself, which reports
 *     the same error (CORRUPT_MESSAGE, ...) with the same message as without workers.
 *   - Answers may come back in any order; callers that need order (the produce handler appends
 *     in arrival order) keep it themselves.
 *   - Workers start on the first verify(), are unref'd (they never keep a process alive) and
 *     end with close().
 */
import { Worker } from 'node:worker_threads';
import type { CrcAnswer, CrcRequest } from './batch-crc-worker.ts';
import { markCrcVerified } from './record-batch.ts';

/** The most workers a broker starts, whatever brook.worker.threads says. */
export const MAX_CRC_THREADS = 64;

/** Workers for `brook.worker.threads`: as given, within 0..64. */
export function crcThreadsFor(workerThreads: number): number {
  return Math.max(0, Math.min(Number.isInteger(workerThreads) ? workerThreads : 0, MAX_CRC_THREADS));
}

type Pending = { sets: Buffer[]; resolve: () => void };

class CrcWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  dead = false;

  constructor(onDeath: (w: CrcWorker) => void) {
    this.worker = new Worker(new URL('./batch-crc-worker.ts', import.meta.url));
    this.worker.unref();
    this.worker.on('message', (answer: CrcAnswer) => {
      const p = this.pending.get(answer.id);
      if (p === undefined) return;
      this.pending.delete(answer.id);
      answer.whole.forEach((ok, i) => { if (ok) markCrcVerified(p.sets[i]!); });
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

export class BatchCrcPool {
  readonly threads: number;
  readonly #workers: CrcWorker[] = [];
  #nextId = 1;
  #closed = false;

  /** `threads` 0: no workers; verify() resolves at once and the event loop checks every CRC. */
  constructor(threads: number) {
    this.threads = threads;
  }

  get enabled(): boolean { return this.threads > 0 && !this.#closed; }

  verify(recordSets: readonly Buffer[]): Promise<void> {
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
    return new Promise((resolve) => {
      worker.pending.set(id, { sets: [...recordSets], resolve });
      const bytes = copy.buffer as ArrayBuffer;
      worker.worker.postMessage({ id, bytes, ranges } satisfies CrcRequest, [bytes]);
    });
  }

  /** Ends the workers; what they had not answered resolves unverified. */
  async close(): Promise<void> {
    this.#closed = true;
    const workers = this.#workers.splice(0);
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }

  #leastBusy(): CrcWorker {
    while (this.#workers.length < this.threads) {
      this.#workers.push(new CrcWorker((dead) => {
        const i = this.#workers.indexOf(dead);
        if (i >= 0) this.#workers.splice(i, 1);
      }));
    }
    let best = this.#workers[0]!;
    for (const w of this.#workers) if (w.pending.size < best.pending.size) best = w;
    return best;
  }
}
