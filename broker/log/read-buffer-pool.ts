/**
 * ReadBufferPool: reusable buffers for segment reads whose bytes go unchanged into a Fetch
 * response. A fetch of 1 MiB per partition used to read into a fresh 1 MiB buffer per partition
 * and drop it once the socket took the bytes; those short-lived external buffers drove most of
 * the garbage collector's work while serving consumers. Leased buffers come back after the
 * response that carried them was written, and the next fetch reads into them again.
 *
 * Sizes: powers of two from MIN_CLASS to MAX_CLASS; a larger request gets a plain buffer. A
 * buffer's pages are only touched by the reads into it, so the unused tail of a class costs no
 * resident memory. At most `maxFreeBytes` wait in the free lists; the rest is left to the GC.
 *
 * Contract (one event loop):
 *   - acquire(n) leases a buffer of exactly n bytes (a view at offset 0 of a pooled allocation).
 *   - release(b) with any view of a leased allocation returns it, once: whoever holds the bytes
 *     last (the connection, after the socket write that carried them completed; the fetch
 *     handler, for a read it throws away) releases them. The pool keeps no reference to a leased
 *     buffer, so one that is never released is simply garbage collected. Releasing a buffer the
 *     pool did not lease (or already took back) does nothing.
 *   - After release(b) nobody may read b or any view of it: the next acquire overwrites it.
 */
const MIN_CLASS = 64 * 1024;
const MAX_CLASS = 16 * 1024 * 1024;

export class ReadBufferPool {
  private readonly maxFreeBytes: number;
  private readonly free = new Map<number, ArrayBuffer[]>();
  private freeBytes = 0;
  /** Leased allocations and their size class. */
  private readonly leased = new WeakMap<ArrayBufferLike, number>();
  /** Counters for tests and metrics: leases handed out, and of those served from a free list. */
  acquired = 0;
  reused = 0;
  /** Pooled leases not given back yet (a lease dropped without release stays counted). */
  outstanding = 0;

  constructor(maxFreeBytes = 64 * 1024 * 1024) {
    this.maxFreeBytes = maxFreeBytes;
  }

  acquire(n: number): Buffer {
    if (n > MAX_CLASS) return Buffer.allocUnsafeSlow(n);
    const size = sizeClass(n);
    const list = this.free.get(size);
    let ab = list?.pop();
    this.acquired++;
    this.outstanding++;
    if (ab) {
      this.freeBytes -= size;
      this.reused++;
    } else {
      ab = Buffer.allocUnsafeSlow(size).buffer as ArrayBuffer; // uninitialised: only bytes a read filled are handed on
    }
    this.leased.set(ab, size);
    return Buffer.from(ab, 0, n);
  }

  release(b: Uint8Array): void {
    const ab = b.buffer;
    const size = this.leased.get(ab);
    if (size === undefined) return;
    this.leased.delete(ab);
    this.outstanding--;
    if (this.freeBytes + size > this.maxFreeBytes) return;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(ab as ArrayBuffer);
    this.freeBytes += size;
  }

  /** Whether `b` is a view of a buffer leased from this pool and not yet released. */
  isLeased(b: Uint8Array): boolean {
    return this.leased.has(b.buffer);
  }

  /** Bytes waiting in the free lists. */
  get idleBytes(): number { return this.freeBytes; }
}

function sizeClass(n: number): number {
  let size = MIN_CLASS;
  while (size < n) size *= 2;
  return size;
}

/**
 * The process's pool for fetch reads: the fetch handler leases from it and every listener's
 * connections give the buffers back once written (in-process fleets share it, which is safe:
 * a lease is identified by its allocation, not by who took it).
 */
export const fetchReadBuffers = new ReadBufferPool();
