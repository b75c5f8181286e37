/**
 * Worker thread of BatchCrcPool (batch-crc-pool.ts): verifies the CRC-32C of produced record
 * batches off the broker's event loop.
 *
 * Message in:  { id, bytes: ArrayBuffer (transferred, owned by this worker from now on), ranges: number[] }
 *              where ranges holds (start, length) pairs, one pair per partition's record set.
 * Message out: { id, whole: boolean[] }, one answer per range: true when every batch of it is
 *              whole (declared sizes tile the range exactly), magic 2 and CRC-valid
 *              (record-batch.ts storedBatchProblem); false otherwise — the event loop then
 *              validates that range itself and reports the exact error, so this worker never
 *              decides an error code.
 */
import { parentPort } from 'node:worker_threads';
import { storedBatchProblem, LENGTH_OFFSET, LOG_OVERHEAD } from './record-batch.ts';

export type CrcRequest = { id: number; bytes: ArrayBuffer; ranges: number[] };
export type CrcAnswer = { id: number; whole: boolean[] };

/** Whether every batch in buf[start, start + length) is whole, magic 2 and CRC-valid. */
export function rangeIsValid(buf: Buffer, start: number, length: number): boolean {
  const end = start + length;
  let position = start;
  if (length === 0) return false;
  while (position < end) {
    if (storedBatchProblem(buf, position, end - position) !== null) return false;
    position += buf.readInt32BE(position + LENGTH_OFFSET) + LOG_OVERHEAD;
  }
  return position === end;
}

parentPort?.on('message', (msg: CrcRequest) => {
  const buf = Buffer.from(msg.bytes);
  const whole: boolean[] = [];
  for (let i = 0; i < msg.ranges.length; i += 2) whole.push(rangeIsValid(buf, msg.ranges[i]!, msg.ranges[i + 1]!));
  parentPort!.postMessage({ id: msg.id, whole } satisfies CrcAnswer);
});
