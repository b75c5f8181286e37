/** Test support: the deterministic batches of the crash test (shared by the child and the test). */
import { sizedBatch } from './record-batch-builder.ts';

export function crashBatch(i: number): Buffer {
  return sizedBatch(i, 1 + (i % 4), 300 + (i % 7) * 50);
}

export const CRASH_SEGMENT_BYTES = 64 * 1024;
export const CRASH_LEADER_EPOCH = 4;
