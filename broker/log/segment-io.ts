/**
 * Reading a segment's .log file: positional reads (async, and sync for the open path), fdatasync,
 * finding the batch holding an offset in a chunk of bytes, and the synchronous batch walk that
 * recovery uses to verify a file and rebuild its indexes.
 *
 * Byte format: record batches v2 back to back (record-batch.ts); a batch is `LOG_OVERHEAD`
 * bytes of offset and length, then `length` bytes. A walk stops at the first batch that is
 * short, torn, fails its CRC (when verifying) or does not follow its predecessor's offsets, and
 * reports where the valid data ends. Stateless: callers own the file descriptors.
 */
import fs from 'node:fs';
import { KafkaError } from '../errors.ts';
import {
  type BatchHeader, BATCH_HEADER_SIZE, LOG_OVERHEAD, LENGTH_OFFSET, readBatchHeader, storedBatchProblem, lastOffsetOf,
} from './record-batch.ts';
import type { ReadBufferPool } from './read-buffer-pool.ts';

export const SCAN_CHUNK = 1 << 20;
export const READ_HEADER_CHUNK = 64 * 1024;

export function readAsync(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

export function fdatasyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

/** Reads exactly `length` bytes at `position` (fewer only at end of file), into a buffer from `pool` if given. */
export async function readFully(fd: number, position: number, length: number, pool?: ReadBufferPool): Promise<Buffer> {
  const buf = pool ? pool.acquire(length) : Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = await readAsync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done === length ? buf : buf.subarray(0, done);
}

export function readFullySync(fd: number, buf: Buffer, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** The batch holding `offset` among the whole batches of `chunk` (read at `chunkPosition`), or null. */
export function findInChunk(chunk: Buffer, chunkPosition: number, offset: bigint, path: string): { position: number; header: BatchHeader } | null {
  let p = 0;
  while (p + BATCH_HEADER_SIZE <= chunk.length) {
    const h = readBatchHeader(chunk, p);
    if (h.size < BATCH_HEADER_SIZE) throw new KafkaError('CORRUPT_MESSAGE', `bad batch size ${h.size} at ${chunkPosition + p} in ${path}`);
    if (lastOffsetOf(h) >= offset) return { position: chunkPosition + p, header: { ...h, position: chunkPosition + p } };
    p += h.size;
  }
  return null;
}

/** Bytes of `chunk` covered by whole batch headers walked from its start (where a further scan resumes). */
export function scannedLength(chunk: Buffer): number {
  let p = 0;
  while (p + BATCH_HEADER_SIZE <= chunk.length) {
    const size = chunk.readInt32BE(p + LENGTH_OFFSET) + LOG_OVERHEAD;
    if (size < BATCH_HEADER_SIZE) break;
    p += size;
  }
  return p;
}

export interface ScanResult {
  /** Position after the last whole (and, if verified, valid) batch. */
  readonly validEnd: number;
  /** Why scanning stopped before `end`, or null. */
  readonly problem: string | null;
}

/**
 * Walks the batches of a .log file from `start` to `end` synchronously (open/recovery path),
 * calling `visit` with each header. With `verify`, each batch's length, magic and CRC are
 * checked, and base offsets must increase; the walk stops at the first bad batch.
 */
export function scanBatchesSync(
  fd: number, start: number, end: number, verify: boolean, minBaseOffset: bigint,
  visit: (h: BatchHeader, position: number) => void,
): ScanResult {
  let buf = Buffer.allocUnsafe(Math.min(SCAN_CHUNK, Math.max(end - start, BATCH_HEADER_SIZE)));
  let bufStart = start;
  let bufLen = 0;
  let pos = start;
  let nextOffset = minBaseOffset;
  const fill = (need: number): void => {
    if (buf.length < need) buf = Buffer.allocUnsafe(need);
    bufStart = pos;
    bufLen = readFullySync(fd, buf, Math.min(buf.length, end - pos), pos);
  };
  while (pos < end) {
    const left = end - pos;
    if (left < BATCH_HEADER_SIZE) return { validEnd: pos, problem: `${left} trailing bytes, less than a batch header` };
    if (pos + BATCH_HEADER_SIZE > bufStart + bufLen) fill(BATCH_HEADER_SIZE);
    if (pos + BATCH_HEADER_SIZE > bufStart + bufLen) return { validEnd: pos, problem: 'short read' };
    const size = buf.readInt32BE(pos - bufStart + LENGTH_OFFSET) + LOG_OVERHEAD;
    if (size < BATCH_HEADER_SIZE) return { validEnd: pos, problem: `batch size ${size} smaller than its header` };
    if (size > left) return { validEnd: pos, problem: `batch of ${size} bytes but only ${left} bytes left (torn write)` };
    if (verify) {
      if (pos + size > bufStart + bufLen) fill(size);
      const problem = storedBatchProblem(buf, pos - bufStart, bufStart + bufLen - pos);
      if (problem) return { validEnd: pos, problem };
    }
    const h = readBatchHeader(buf, pos - bufStart);
    if (h.baseOffset < nextOffset) {
      return { validEnd: pos, problem: `batch base offset ${h.baseOffset} below expected ${nextOffset}` };
    }
    if (h.lastOffsetDelta < 0) return { validEnd: pos, problem: `negative lastOffsetDelta ${h.lastOffsetDelta}` };
    nextOffset = lastOffsetOf(h) + 1n;
    visit({ ...h, position: pos }, pos);
    pos += size;
  }
  return { validEnd: pos, problem: null };
}
