/**
 * Log-cleaner benchmark: fills a compacted PartitionLog with keyed records (200-byte values,
 * 50 records per batch, 100k distinct keys, so most records are superseded) and times one
 * LogCleaner.cleanNow, printing MB/s of log cleaned (bytes of segments read while cleaning,
 * divided by the whole clean's duration, offset-map pass included) and the longest event-loop
 * stall seen meanwhile (a 1 ms timer).
 *   node broker/log/testing/compaction-bench.ts [totalMiB=128] [dir=<tmp>]
 * Modes: uncompressed batches (mostly copied or re-encoded without decompression), lz4 and
 * zstd batches (every batch that loses records is decompressed and re-compressed).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { compressFrameSync } from 'lz4-napi';
import { PartitionLog, LogCleaner, defaultLogConfig, type LogConfig } from '../index.ts';
import { encodeBatch, type TestRecord } from './record-batch-builder.ts';

const totalMiB = Number(process.argv[2] ?? 128);
const root = process.argv[3] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'brook-compaction-bench-'));
const KEYS = 100_000;
const PER_BATCH = 50;
const VALUE = 200;

function compress(batch: Buffer, codec: number): Buffer {
  if (codec === 0) return batch;
  const section = batch.subarray(61);
  const body = codec === 3 ? compressFrameSync(section) : zlib.zstdCompressSync(section);
  const out = Buffer.concat([batch.subarray(0, 61), body]);
  out.writeInt16BE(codec, 21);
  out.writeInt32BE(out.length - 12, 8);
  out.writeUInt32BE(crc32c(out.subarray(21)) >>> 0, 17);
  return out;
}

async function run(name: string, codec: number): Promise<void> {
  const dir = path.join(root, name);
  let now = 1_700_000_000_000;
  const config: LogConfig = { ...defaultLogConfig, cleanupPolicy: 'compact', segmentBytes: 16 * 1024 * 1024, segmentMs: 60_000 };
  const log = await PartitionLog.open(dir, config, { clock: () => now });
  // Values of random base64 text: about as compressible as typical JSON-ish payloads.
  const values = Array.from({ length: 1024 }, () => Buffer.from(crypto.randomBytes(VALUE).toString('base64').slice(0, VALUE)));
  let n = 0;
  let produced = 0;
  while (produced < totalMiB * 1024 * 1024) {
    const records: TestRecord[] = [];
    for (let i = 0; i < PER_BATCH; i++, n++) records.push({ key: `key-${(n * 7919) % KEYS}`, value: values[n % values.length]!, timestamp: now });
    const batch = compress(encodeBatch(records), codec);
    produced += batch.length;
    log.append(batch, { leaderEpoch: 0 });
  }
  log.append(encodeBatch([{ key: 'end', value: 'x', timestamp: now + 10_000_000 }]), { leaderEpoch: 0 });
  log.append(encodeBatch([{ key: 'end', value: 'y', timestamp: now + 20_000_000 }]), { leaderEpoch: 0 }); // rolls
  await log.flush();
  now += 1000;

  let maxStall = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const t = performance.now();
    maxStall = Math.max(maxStall, t - last);
    last = t;
  }, 1);
  const r = await new LogCleaner({ clock: () => now }).cleanNow(log);
  clearInterval(timer);
  const mb = r.bytesRead / 1e6;
  console.log(`${name.padEnd(14)} ${(mb / (r.durationMs / 1000)).toFixed(0).padStart(5)} MB/s cleaned,`
    + ` ${(r.recordsRead / (r.durationMs / 1000) / 1e6).toFixed(2)} M records/s`
    + ` (${mb.toFixed(0)} MB → ${(r.bytesWritten / 1e6).toFixed(1)} MB, ${r.recordsRead} records → ${r.recordsKept} kept,`
    + ` ${r.batchesCopied} batches copied / ${r.batchesRebuilt} re-encoded / ${r.batchesRemoved} removed,`
    + ` ${r.durationMs.toFixed(0)} ms, longest event-loop stall ${maxStall.toFixed(1)} ms)`);
  await log.delete();
}

try {
  console.log(`${totalMiB} MiB per mode, ${KEYS} keys, ${PER_BATCH} records of ${VALUE} bytes per batch`);
  await run('uncompressed', 0);
  await run('lz4', 3);
  await run('zstd', 4);
} finally {
  if (!process.argv[3]) fs.rmSync(root, { recursive: true, force: true });
}
