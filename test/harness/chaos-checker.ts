/**
 * The loss checker every chaos test uses. A chaos test records each acknowledgement a client got
 * (partition and offset, as the produce response named them, and the value it sent) and, at the
 * end, collects the bytes of every replica that is in sync: whole record batches from the log
 * start up to the high watermark. `checkAcknowledged` then proves, for every partition:
 *
 *   1. the in-sync replicas are byte-identical below the high watermark: the same batches (same
 *      base offsets, same bytes, leader epoch and CRC included) on each of them;
 *   2. on each of them, every acknowledged record is at the partition and offset its
 *      acknowledgement named, with the value that was sent;
 *   3. no value appears twice (chaos producers send each value once and are idempotent, so a
 *      second copy is a duplicate the broker let through).
 *
 * It returns the problems found (empty when all hold) rather than throwing, so a test can print
 * them all at once: `expect(report.problems).toEqual([])`.
 *
 * Where the bytes come from:
 *   - `replicaFromLog`: an in-process replica's PartitionLog (the LocalFleet chaos test);
 *   - `replicaFromDirectory`: the segment files of a broker process's partition directory
 *     (`<data-dir>/<topic>-<partition>/<20-digit base offset>.log`), read while it runs — the
 *     page cache makes what it wrote visible. Callers wait until every replica has caught up to
 *     the high watermark (`waitForReplicas`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeBatchRecords, forEachBatch } from '../../broker/log/records.ts';
import type { PartitionLog } from '../../broker/log/partition-log.ts';

/** One acknowledged record, where its acknowledgement said it is. */
export interface AckedRecord {
  /** Which client acknowledged it (for messages): `kafkajs`, `java`, ... */
  client: string;
  partition: number;
  offset: bigint;
  value: string;
}

/** Whole batches of one replica of one partition, below the high watermark. */
export interface ReplicaBytes {
  /** e.g. `broker 2` */
  replica: string;
  logStartOffset: bigint;
  /** Concatenated whole batches, every one with its base offset below the high watermark. */
  batches: Buffer;
}

export interface PartitionEvidence {
  partition: number;
  highWatermark: bigint;
  /** Every replica that is in sync at the end (the ISR), leader first. */
  inSync: ReplicaBytes[];
}

export interface CheckReport {
  problems: string[];
  /** Acknowledged records verified, on every in-sync replica. */
  verified: number;
  /** Replica bytes compared, summed over replicas. */
  bytesCompared: number;
}

interface Batch { baseOffset: bigint; lastOffset: bigint; bytes: Buffer }

function batchesOf(buf: Buffer): Batch[] {
  const out: Batch[] = [];
  forEachBatch(buf, (pos) => {
    const size = buf.readInt32BE(pos + 8) + 12;
    const baseOffset = buf.readBigInt64BE(pos);
    const lastOffsetDelta = buf.readInt32BE(pos + 23);
    out.push({ baseOffset, lastOffset: baseOffset + BigInt(lastOffsetDelta), bytes: buf.subarray(pos, pos + size) });
  });
  return out;
}

/** Proves the three properties above; see the module comment. */
export function checkAcknowledged(acked: readonly AckedRecord[], evidence: readonly PartitionEvidence[]): CheckReport {
  const problems: string[] = [];
  let verified = 0;
  let bytesCompared = 0;
  const byPartition = new Map<number, AckedRecord[]>();
  for (const a of acked) {
    if (!byPartition.has(a.partition)) byPartition.set(a.partition, []);
    byPartition.get(a.partition)!.push(a);
  }
  for (const p of byPartition.keys()) {
    if (!evidence.some((e) => e.partition === p)) problems.push(`partition ${p}: acknowledged records but no replica evidence`);
  }
  for (const { partition, highWatermark, inSync } of evidence) {
    const where = `partition ${partition}`;
    if (inSync.length === 0) { problems.push(`${where}: no in-sync replica`); continue; }
    const mine = byPartition.get(partition) ?? [];
    for (const a of mine) {
      if (a.offset >= highWatermark) problems.push(`${where}: ${a.client} record ${a.value} acknowledged at offset ${a.offset}, at or above the high watermark ${highWatermark}`);
    }
    const start = inSync.reduce((m, r) => (r.logStartOffset > m ? r.logStartOffset : m), 0n);
    const perReplica = inSync.map((r) => ({
      replica: r.replica,
      batches: batchesOf(r.batches).filter((b) => b.baseOffset < highWatermark && b.lastOffset >= start),
    }));
    // 1. byte-identical below the high watermark
    const reference = perReplica[0]!;
    for (const other of perReplica.slice(1)) {
      const n = Math.max(reference.batches.length, other.batches.length);
      for (let i = 0; i < n; i++) {
        const a = reference.batches[i];
        const b = other.batches[i];
        if (!a || !b) {
          const missing = a ? other.replica : reference.replica;
          const at = (a ?? b)!;
          problems.push(`${where}: ${missing} lacks the batch at offsets ${at.baseOffset}..${at.lastOffset} that ${a ? reference.replica : other.replica} has`);
          break;
        }
        if (a.baseOffset !== b.baseOffset || !a.bytes.equals(b.bytes)) {
          problems.push(`${where}: ${reference.replica} and ${other.replica} differ at batch #${i} (offsets ${a.baseOffset}..${a.lastOffset} vs ${b.baseOffset}..${b.lastOffset}, ${a.bytes.length} vs ${b.bytes.length} bytes)`);
          break;
        }
      }
    }
    // 2 and 3, on every in-sync replica
    for (const { replica, batches } of perReplica) {
      const valueAt = new Map<bigint, string>();
      const seen = new Map<string, bigint>();
      let last = -1n;
      for (const batch of batches) {
        bytesCompared += batch.bytes.length;
        for (const r of decodeBatchRecords(batch.bytes)) {
          if (r.offset >= highWatermark) continue;
          if (r.offset <= last) problems.push(`${where} on ${replica}: offset ${r.offset} after ${last}`);
          last = r.offset;
          const value = r.value === null ? '<null>' : r.value.toString();
          valueAt.set(r.offset, value);
          const earlier = seen.get(value);
          if (earlier !== undefined) problems.push(`${where} on ${replica}: value ${value} at offsets ${earlier} and ${r.offset}`);
          else seen.set(value, r.offset);
        }
      }
      let lost = 0;
      for (const a of mine) {
        if (a.offset < start) continue; // below a log start every replica agrees on: deleted on purpose
        const found = valueAt.get(a.offset);
        if (found === a.value) { verified++; continue; }
        if (lost++ < 10) problems.push(`${where} on ${replica}: ${a.client} record ${a.value} acknowledged at offset ${a.offset}; found ${found ?? 'nothing'}`);
      }
      if (lost > 10) problems.push(`${where} on ${replica}: ... ${lost} acknowledged records missing or different in all`);
    }
  }
  return { problems, verified, bytesCompared };
}

/** Batches of an in-process replica's log, from its log start up to `highWatermark`. */
export async function replicaFromLog(replica: string, log: PartitionLog, highWatermark: bigint): Promise<ReplicaBytes> {
  const chunks: Buffer[] = [];
  const logStartOffset = log.logStartOffset;
  let offset = logStartOffset;
  const end = highWatermark < log.logEndOffset ? highWatermark : log.logEndOffset;
  while (offset < end) {
    const { records, nextOffset } = await log.read(offset, 1 << 20, { maxOffset: end });
    if (records.length === 0 || nextOffset <= offset) break;
    chunks.push(records);
    offset = nextOffset;
  }
  return { replica, logStartOffset, batches: Buffer.concat(chunks) };
}

/**
 * Batches of a replica from its partition directory on disk (a broker process's
 * `<data-dir>/<topic>-<partition>`), from the first segment up to `highWatermark`. The log start
 * offset is the first batch's base offset (chaos tests delete nothing).
 */
export function replicaFromDirectory(replica: string, dir: string, highWatermark: bigint): ReplicaBytes {
  const segments = readdirSync(dir).filter((f) => /^\d{20}\.log$/.test(f)).sort();
  const chunks: Buffer[] = [];
  for (const name of segments) {
    const bytes = readFileSync(join(dir, name));
    let end = 0;
    forEachBatch(bytes, (pos) => {
      if (bytes.readBigInt64BE(pos) < highWatermark) end = pos + bytes.readInt32BE(pos + 8) + 12;
    });
    chunks.push(bytes.subarray(0, end));
  }
  const batches = Buffer.concat(chunks);
  const logStartOffset = batches.length >= 8 ? batches.readBigInt64BE(0) : highWatermark;
  return { replica, logStartOffset, batches };
}

/** The offset after the last whole batch of `r` (where its log ends, as far as the bytes show). */
export function endOffsetOf(r: ReplicaBytes): bigint {
  const batches = batchesOf(r.batches);
  return batches.length === 0 ? r.logStartOffset : batches[batches.length - 1]!.lastOffset + 1n;
}

/**
 * Collects `collect()` until every replica's bytes reach the high watermark (followers catch up
 * after the load stops) and each partition's high watermark is past the last offset acknowledged
 * in it (`acked`), or returns the last collection after `timeoutMs` so the checker reports what
 * is missing.
 */
export async function waitForReplicas(collect: () => Promise<PartitionEvidence[]>, acked: readonly AckedRecord[] = [], timeoutMs = 30_000): Promise<PartitionEvidence[]> {
  const lastAcked = new Map<number, bigint>();
  for (const a of acked) if (a.offset >= (lastAcked.get(a.partition) ?? -1n)) lastAcked.set(a.partition, a.offset);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const evidence = await collect();
    const complete = evidence.every((e) => e.highWatermark > (lastAcked.get(e.partition) ?? -1n)
      && e.inSync.every((r) => endOffsetOf(r) >= e.highWatermark));
    if (complete || Date.now() > deadline) return evidence;
    await new Promise((r) => setTimeout(r, 200));
  }
}
