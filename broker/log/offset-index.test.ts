import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { OffsetIndex } from './offset-index.ts';
import { TimeIndex } from './time-index.ts';

describe('OffsetIndex', () => {
  test('lookup is the last entry <= target (property, vs a linear scan); encode/decode round trip', () => {
    fc.assert(fc.property(
      fc.uniqueArray(fc.integer({ min: 0, max: 100000 }), { minLength: 0, maxLength: 200 }),
      fc.array(fc.integer({ min: -10, max: 100010 }), { minLength: 1, maxLength: 50 }),
      (rels, targets) => {
        const sorted = [...rels].sort((a, b) => a - b);
        const base = 1000n;
        const idx = new OffsetIndex(base, 1);
        sorted.forEach((r, i) => idx.append(base + BigInt(r), (i + 1) * 100));
        for (const t of targets) {
          let expected = { offset: base, position: 0 };
          sorted.forEach((r, i) => { if (base + BigInt(r) <= base + BigInt(t)) expected = { offset: base + BigInt(r), position: (i + 1) * 100 }; });
          expect(idx.lookup(base + BigInt(t))).toEqual(expected);
        }
        const decoded = OffsetIndex.decode(base, idx.encode(), (sorted.length + 1) * 100);
        expect(decoded?.entries).toBe(sorted.length);
      },
    ));
  });

  test('decode rejects torn, unordered or out-of-range files', () => {
    const idx = new OffsetIndex(0n);
    idx.append(1n, 10);
    idx.append(5n, 20);
    const bytes = idx.encode();
    expect(OffsetIndex.decode(0n, bytes.subarray(0, 12), 100)).toBeNull();
    expect(OffsetIndex.decode(0n, bytes, 15)).toBeNull();
    expect(OffsetIndex.decode(0n, Buffer.concat([bytes.subarray(8), bytes.subarray(0, 8)]), 100)).toBeNull();
    expect(OffsetIndex.decode(0n, bytes, 100)?.lookup(6n)).toEqual({ offset: 5n, position: 20 });
  });

  test('truncate drops entries at or after an offset', () => {
    const idx = new OffsetIndex(0n);
    for (let i = 1; i <= 5; i++) idx.append(BigInt(i * 10), i * 100);
    idx.truncate(30n, 1 << 30);
    expect(idx.entries).toBe(2);
  });

  test('empty indexes, new or decoded from an empty file, grow on their own: appending to one leaves the others empty', () => {
    const a = new OffsetIndex(0n);
    const b = OffsetIndex.decode(0n, Buffer.alloc(0), 0)!;
    const c = new OffsetIndex(0n);
    for (let i = 1; i <= 100; i++) a.append(BigInt(i), i * 10);
    b.append(7n, 3);
    expect([a.entries, b.entries, c.entries]).toEqual([100, 1, 0]);
    expect(c.encode()).toEqual(Buffer.alloc(0));
    expect(b.lookup(9n)).toEqual({ offset: 7n, position: 3 });
    expect(a.lookup(55n)).toEqual({ offset: 55n, position: 550 });
    expect(OffsetIndex.decode(0n, a.encode(), 2000)?.lookup(100n)).toEqual({ offset: 100n, position: 1000 });
  });
});

describe('TimeIndex', () => {
  test('only growing timestamps are appended; lookup returns a safe scan start', () => {
    const t = new TimeIndex(100n);
    t.maybeAppend(50n, 100n);
    t.maybeAppend(40n, 105n); // not larger: ignored
    t.maybeAppend(80n, 110n);
    t.maybeAppend(120n, 130n);
    expect(t.entries).toBe(3);
    expect(t.lookup(10n)).toBe(100n);
    expect(t.lookup(50n)).toBe(100n);
    expect(t.lookup(51n)).toBe(100n);
    expect(t.lookup(81n)).toBe(110n);
    expect(t.lookup(500n)).toBe(130n);
    expect(t.lastEntry()).toEqual({ timestamp: 120n, offset: 130n });
    expect(TimeIndex.decode(100n, t.encode(), 131n)?.entries).toBe(3);
    expect(TimeIndex.decode(100n, t.encode(), 120n)).toBeNull();
  });
});
