import { describe, expect, test } from '@jest/globals';
import { ReadBufferPool } from './read-buffer-pool.ts';

describe('ReadBufferPool', () => {
  test('a released buffer is leased again for the next read of its size class', () => {
    const pool = new ReadBufferPool();
    const a = pool.acquire(100_000);
    expect(a.length).toBe(100_000);
    expect(pool.isLeased(a.subarray(10, 20))).toBe(true);
    pool.release(a.subarray(500, 900)); // any view of the lease gives it back
    const b = pool.acquire(120_000); // same class (128 KiB)
    expect(b.buffer).toBe(a.buffer);
    expect(pool.reused).toBe(1);
    const c = pool.acquire(120_000); // the class's free list is empty again
    expect(c.buffer).not.toBe(a.buffer);
  });

  test('releasing twice, or a buffer the pool never leased, does nothing', () => {
    const pool = new ReadBufferPool();
    const a = pool.acquire(70_000);
    pool.release(a);
    pool.release(a);
    pool.release(Buffer.alloc(70_000));
    expect(pool.idleBytes).toBe(128 * 1024);
    const b = pool.acquire(70_000);
    const c = pool.acquire(70_000);
    expect(b.buffer).toBe(a.buffer);
    expect(c.buffer).not.toBe(a.buffer); // the second release did not put it on the list twice
  });

  test('a leased buffer is never handed out again before it is released', () => {
    const pool = new ReadBufferPool();
    const held = Array.from({ length: 20 }, () => pool.acquire(65_536));
    expect(new Set(held.map((b) => b.buffer)).size).toBe(20);
    for (const b of held.slice(0, 10)) pool.release(b);
    const again = Array.from({ length: 10 }, () => pool.acquire(65_536));
    const stillHeld = new Set(held.slice(10).map((b) => b.buffer));
    for (const b of again) expect(stillHeld.has(b.buffer)).toBe(false);
  });

  test('at most maxFreeBytes wait in the free lists; requests above the largest class are not pooled', () => {
    const pool = new ReadBufferPool(256 * 1024);
    const bufs = Array.from({ length: 4 }, () => pool.acquire(128 * 1024));
    for (const b of bufs) pool.release(b);
    expect(pool.idleBytes).toBe(256 * 1024);
    const big = pool.acquire(17 * 1024 * 1024);
    expect(big.length).toBe(17 * 1024 * 1024);
    expect(pool.isLeased(big)).toBe(false);
  });
});
