/**
 * Regression: a follower looped forever on "log diverges from leader at epoch N; truncating X → X"
 * and never rejoined the ISR. It had led an epoch without appending anything (its epoch cache
 * ended with an entry starting at the log end), and truncateTo(log end) returned early without
 * truncating the epoch cache, so the next fetch named the same unknown epoch again. As in Kafka
 * (UnifiedLog.truncateTo), a truncation at or past the log end still drops epoch entries that
 * start at or after the log end.
 */
import { afterAll, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PartitionLog, defaultLogConfig } from './index.ts';
import { encodeBatch } from './testing/record-batch-builder.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brook-truncate-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('truncating at the log end drops an epoch that a former leader started but never wrote (endless divergence loop)', async () => {
  const log = await PartitionLog.open(dir, defaultLogConfig);
  try {
    log.append(encodeBatch([{ value: 'a' }, { value: 'b' }]), { leaderEpoch: 4 });
    expect(log.logEndOffset).toBe(2n);
    // it became leader at epoch 5 and lost leadership before any append
    log.assignEpochStartOffset(5, log.logEndOffset);
    expect(log.latestEpoch).toBe(5);
    // the new leader knows epoch 4 ending at 2: the follower truncates to 2, its log end
    log.truncateTo(2n);
    expect({ latestEpoch: log.latestEpoch, logEndOffset: log.logEndOffset }).toEqual({ latestEpoch: 4, logEndOffset: 2n });
    expect(log.endOffsetForEpoch(4)).toEqual({ leaderEpoch: 4, endOffset: 2n });
  } finally {
    await log.close();
  }
});
