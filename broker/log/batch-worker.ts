/**
 * Worker thread of BatchWorkerPool (batch-pool.ts): the byte work of produced record batches, off
 * the broker's event loop. Per partition's record set: are its batches whole, magic 2 and
 * CRC-valid; and, when the topic re-compresses (compression.type other than `producer`), the
 * set as the topic will store it (batch-conversion.ts convertCompression, the very function the
 * event loop would run).
 *
 * Message in:  { id, bytes: ArrayBuffer (transferred, owned by this worker from now on),
 *                ranges: number[], convert: (CompressionSettings | null)[] }
 *              where ranges holds (start, length) pairs, one pair per record set, and convert the
 *              settings to re-compress that set with (null: keep it as it is).
 * Message out: { id, whole: boolean[], converted: { bytes, ranges } | null }
 *              whole: one per set, true when every batch of it is whole (declared sizes tile the
 *              range exactly), magic 2 and CRC-valid (record-batch.ts storedBatchProblem);
 *              converted.ranges: one (start, length) pair per set into converted.bytes
 *              (transferred), (-1, 0) where the set was not converted: not asked, nothing to
 *              change, not whole, or a conversion that failed (a compressed section that does
 *              not decompress). In every "false" or "not converted" case the event loop does the
 *              work itself and reports the exact error, so this worker never decides an error code.
 */
import { parentPort } from 'node:worker_threads';
import { convertCompression, headersOf, type CompressionSettings } from './batch-conversion.ts';
import { storedBatchProblem, LENGTH_OFFSET, LOG_OVERHEAD } from './record-batch.ts';

export type BatchRequest = { id: number; bytes: ArrayBuffer; ranges: number[]; convert: Array<CompressionSettings | null> };
export type BatchAnswer = { id: number; whole: boolean[]; converted: { bytes: ArrayBuffer; ranges: number[] } | null };

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

/** `set` (whole batches) as a topic with `settings` stores it, or null when nothing changes or it cannot be converted. */
export function convertedSet(set: Buffer, settings: CompressionSettings): Buffer | null {
  try {
    const out = convertCompression(set, headersOf(set), settings);
    return out.by === 'unchanged' ? null : out.records;
  } catch {
    return null;
  }
}

/** The answer to one request. */
export function answer(msg: BatchRequest): BatchAnswer {
  const buf = Buffer.from(msg.bytes);
  const whole: boolean[] = [];
  const outputs: Array<Buffer | null> = [];
  for (let i = 0; i < msg.ranges.length; i += 2) {
    const start = msg.ranges[i]!;
    const length = msg.ranges[i + 1]!;
    const ok = rangeIsValid(buf, start, length);
    whole.push(ok);
    const settings = msg.convert[i / 2] ?? null;
    outputs.push(ok && settings !== null ? convertedSet(buf.subarray(start, start + length), settings) : null);
  }
  if (outputs.every((o) => o === null)) return { id: msg.id, whole, converted: null };
  let total = 0;
  for (const o of outputs) total += o?.length ?? 0;
  // allocUnsafeSlow: its own ArrayBuffer, transferred whole to the event loop
  const bytes = Buffer.allocUnsafeSlow(total);
  const ranges: number[] = [];
  let at = 0;
  for (const o of outputs) {
    if (o === null) {
      ranges.push(-1, 0);
      continue;
    }
    o.copy(bytes, at);
    ranges.push(at, o.length);
    at += o.length;
  }
  return { id: msg.id, whole, converted: { bytes: bytes.buffer as ArrayBuffer, ranges } };
}

parentPort?.on('message', (msg: BatchRequest) => {
  const out = answer(msg);
  parentPort!.postMessage(out, out.converted ? [out.converted.bytes] : []);
});
