import { describe, expect, test } from '@jest/globals';
import { ProducerStateManager, ProducerAppendBatch } from './producer-state.ts';
import { readBatchHeader } from './record-batch.ts';
import { sizedBatch } from './testing/record-batch-builder.ts';

describe('ProducerStateManager snapshots', () => {
  test('encode/decode round trip keeps the last 5 batches per producer; a damaged snapshot is refused', () => {
    const m = new ProducerStateManager('/nonexistent');
    let offset = 0n;
    for (let i = 0; i < 7; i++) {
      for (const pid of [1n, 2n]) {
        const h = readBatchHeader(sizedBatch(i, 2, 5, { producerId: pid, producerEpoch: 3, baseSequence: i * 2 }), 0);
        const p = new ProducerAppendBatch();
        m.check(p, h);
        m.stage(p, h, offset, 1000n + offset);
        m.commit(p);
        offset += 2n;
      }
    }
    const snap = m.encodeSnapshot();
    const copy = new ProducerStateManager('/nonexistent');
    copy.loadSnapshot(snap);
    expect(copy.entry(1n)).toEqual(m.entry(1n));
    expect(copy.entry(2n)?.batches.length).toBe(5);
    expect(copy.entry(2n)?.batches[0]).toMatchObject({ firstSeq: 4, lastSeq: 5 });
    const damaged = Buffer.from(snap);
    damaged[damaged.length - 1]! ^= 1;
    expect(() => copy.loadSnapshot(damaged)).toThrow(/CRC/);
    copy.truncateHead(24n);
    expect(copy.entry(1n)?.batches.map((b) => b.baseOffset)).toEqual([24n]);
    expect(copy.entry(2n)?.batches.map((b) => b.baseOffset)).toEqual([26n]);
    copy.truncateHead(100n);
    expect(copy.producerCount).toBe(0);
  });
});
