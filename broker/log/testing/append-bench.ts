/**
 * Produce-path benchmark for PartitionLog: appends 1 KiB records in 16 KiB batches (16 records
 * per batch, uncompressed, CRC-32C verified on every append) and prints MB/s.
 *   node broker/log/testing/append-bench.ts [totalMiB=512] [dir=<tmp>]
 * Modes: default flush policy (page cache only, like Kafka's default), flush.messages=1 with a
 * window of concurrent produce requests sharing fdatasyncs (group commit), and flush.messages=1
 * one request at a time (each waits for its own fdatasync). Then a sequential read-back.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PartitionLog, defaultLogConfig, type LogConfig } from '../index.ts';
import { sizedBatch } from './record-batch-builder.ts';

const totalMiB = Number(process.argv[2] ?? 512);
const root = process.argv[3] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'brook-bench-'));
const template = sizedBatch(1, 16, 1024 - 20);
const batchBytes = template.length;

async function run(name: string, config: LogConfig, mib: number, window: number): Promise<void> {
  const dir = path.join(root, name);
  const log = await PartitionLog.open(dir, config);
  const batches = Math.ceil((mib * 1024 * 1024) / batchBytes);
  const inFlight: Promise<void>[] = [];
  const start = process.hrtime.bigint();
  for (let i = 0; i < batches; i++) {
    const r = log.append(Buffer.from(template), { leaderEpoch: 0 });
    const durable = log.flushed(r.lastOffset);
    if (durable) {
      inFlight.push(durable);
      if (inFlight.length >= window) await inFlight.shift();
    }
  }
  await Promise.all(inFlight);
  const appendNs = Number(process.hrtime.bigint() - start);
  const bytes = batches * batchBytes;
  await log.flush();
  const flushedNs = Number(process.hrtime.bigint() - start);
  console.log(`${name.padEnd(34)} ${(bytes / 1e6 / (appendNs / 1e9)).toFixed(0).padStart(6)} MB/s appended` +
    ` (${(batches / (appendNs / 1e9)).toFixed(0)} batches/s, ${(bytes / 1e6).toFixed(0)} MB, incl. final flush ${(bytes / 1e6 / (flushedNs / 1e9)).toFixed(0)} MB/s)`);
  if (name === 'default') {
    const readStart = process.hrtime.bigint();
    let offset = log.logStartOffset;
    let read = 0;
    while (offset < log.logEndOffset) {
      const r = await log.read(offset, 1024 * 1024);
      read += r.records.length;
      offset = r.nextOffset;
    }
    const readNs = Number(process.hrtime.bigint() - readStart);
    console.log(`${'read back (1 MiB fetches)'.padEnd(34)} ${(read / 1e6 / (readNs / 1e9)).toFixed(0).padStart(6)} MB/s`);
  }
  await log.delete();
}

try {
  const copyStart = process.hrtime.bigint();
  for (let i = 0; i < 20000; i++) Buffer.from(template);
  const copyNs = Number(process.hrtime.bigint() - copyStart) / 20000;
  console.log(`batch ${batchBytes} bytes; copying the request buffer costs ${copyNs.toFixed(0)} ns/batch (included below)`);
  await run('default', { ...defaultLogConfig }, totalMiB, 1);
  await run('flush.messages=1, 64 in flight', { ...defaultLogConfig, flushMessages: 1 }, Math.min(totalMiB, 256), 64);
  await run('flush.messages=1, 1 at a time', { ...defaultLogConfig, flushMessages: 1 }, Math.min(totalMiB, 32), 1);
} finally {
  if (!process.argv[3]) fs.rmSync(root, { recursive: true, force: true });
}
