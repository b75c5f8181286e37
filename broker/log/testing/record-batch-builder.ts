/**
 * Test support: a small RecordBatch v2 encoder (uncompressed, CRC-32C via @node-rs/crc32), so
 * tests and the crash-test child build real client batches without a Kafka client.
 */
import { crc32c } from '@node-rs/crc32';

export interface TestRecord {
  readonly key?: Buffer | string | null;
  readonly value: Buffer | string | null;
  /** Absolute timestamp in ms; defaults to the batch's base timestamp. */
  readonly timestamp?: number;
}

export interface TestBatchOptions {
  readonly baseTimestamp?: number;
  readonly producerId?: bigint;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  readonly attributes?: number;
  readonly baseOffset?: bigint;
  readonly partitionLeaderEpoch?: number;
}

function zigzag(n: bigint): bigint {
  return n >= 0n ? n << 1n : ((-n) << 1n) - 1n;
}

function varlong(n: bigint): Buffer {
  let v = zigzag(n);
  const bytes: number[] = [];
  while (v >= 0x80n) {
    bytes.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Buffer.from(bytes);
}

const varint = (n: number): Buffer => varlong(BigInt(n));

function bytesField(b: Buffer | string | null | undefined): Buffer {
  if (b === null || b === undefined) return varint(-1);
  const buf = typeof b === 'string' ? Buffer.from(b) : b;
  return Buffer.concat([varint(buf.length), buf]);
}

export function encodeBatch(records: readonly TestRecord[], opts: TestBatchOptions = {}): Buffer {
  const baseTimestamp = opts.baseTimestamp ?? records[0]?.timestamp ?? 0;
  let maxTimestamp = baseTimestamp;
  const encoded = records.map((r, i) => {
    const ts = r.timestamp ?? baseTimestamp;
    if (ts > maxTimestamp) maxTimestamp = ts;
    const body = Buffer.concat([
      Buffer.from([0]), varlong(BigInt(ts - baseTimestamp)), varint(i), bytesField(r.key), bytesField(r.value), varint(0),
    ]);
    return Buffer.concat([varint(body.length), body]);
  });
  const recordsBuf = Buffer.concat(encoded);
  const buf = Buffer.alloc(61 + recordsBuf.length);
  buf.writeBigInt64BE(opts.baseOffset ?? 0n, 0);
  buf.writeInt32BE(buf.length - 12, 8);
  buf.writeInt32BE(opts.partitionLeaderEpoch ?? -1, 12);
  buf.writeInt8(2, 16);
  buf.writeInt16BE(opts.attributes ?? 0, 21);
  buf.writeInt32BE(records.length - 1, 23);
  buf.writeBigInt64BE(BigInt(baseTimestamp), 27);
  buf.writeBigInt64BE(BigInt(maxTimestamp), 35);
  buf.writeBigInt64BE(opts.producerId ?? -1n, 43);
  buf.writeInt16BE(opts.producerEpoch ?? -1, 51);
  buf.writeInt32BE(opts.baseSequence ?? -1, 53);
  buf.writeInt32BE(records.length, 57);
  recordsBuf.copy(buf, 61);
  buf.writeUInt32BE(crc32c(buf.subarray(21)) >>> 0, 17);
  return buf;
}

/** A batch of `count` records of `valueSize` bytes each; contents derived from `seed`. */
export function sizedBatch(seed: number, count: number, valueSize: number, opts: TestBatchOptions = {}): Buffer {
  const records: TestRecord[] = [];
  for (let i = 0; i < count; i++) {
    const value = Buffer.alloc(valueSize, `${seed}-${i}|`);
    records.push({ key: `k${seed}-${i}`, value });
  }
  return encodeBatch(records, opts);
}

/** Splits a buffer of back-to-back batches. */
export function splitBatches(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let p = 0;
  while (p + 12 <= buf.length) {
    const size = buf.readInt32BE(p + 8) + 12;
    out.push(buf.subarray(p, p + size));
    p += size;
  }
  return out;
}
