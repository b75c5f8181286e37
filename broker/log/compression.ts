/**
 * Compression of a RecordBatch's records section, which is compressed as one block with the
 * codec in the batch attributes' bits 0-2:
 *   1 gzip   node:zlib
 *   2 snappy either xerial framing (magic 82 'SNAPPY' 00 | int32 version | int32 compatible |
 *            (int32 length | raw snappy block)*), which the Java client writes, or one raw
 *            snappy block (librdkafka). Both are read; re-encoding keeps the framing it found.
 *   3 lz4    the LZ4 frame format (magic 0x184D2204) with independent blocks, as Kafka requires
 *            (KIP-57: correct header checksum for magic v2).
 *   4 zstd   node:zlib (Node 24)
 * snappy and lz4 go through the napi-rs packages `snappy` and `lz4-napi` (prebuilt binaries).
 */
import { constants as zlibConstants, gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { KafkaError } from '../errors.ts';
import { StorageError } from './errors.ts';

// The native snappy and lz4 codecs are loaded on first use (only compaction of such batches
// needs them), so a broker that never meets one does not pay ~70 ms of start-up for them.
const requireCjs = createRequire(import.meta.url);
let snappyModule: typeof import('snappy') | null = null;
let lz4Module: typeof import('lz4-napi') | null = null;
const snappy = (): typeof import('snappy') => (snappyModule ??= requireCjs('snappy') as typeof import('snappy'));
const lz4 = (): typeof import('lz4-napi') => (lz4Module ??= requireCjs('lz4-napi') as typeof import('lz4-napi'));
const snappyCompress = (b: Buffer): Buffer => snappy().compressSync(b);
const snappyUncompress = (b: Buffer, opts: { asBuffer: true }): Buffer => snappy().uncompressSync(b, opts) as Buffer;
const lz4CompressFrame = (b: Buffer): Buffer => lz4().compressFrameSync(b);
const lz4DecompressFrame = (b: Buffer): Buffer => lz4().decompressFrameSync(b);

export const CODEC_NONE = 0;
export const CODEC_GZIP = 1;
export const CODEC_SNAPPY = 2;
export const CODEC_LZ4 = 3;
export const CODEC_ZSTD = 4;

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_SIZE = 16;
/** xerial's default block size (the Java client's SnappyOutputStream). */
const XERIAL_BLOCK = 32 * 1024;

/** How a compressed records section was framed; re-encoding uses the same. */
export type Framing = 'plain' | 'xerial';

function isXerial(data: Buffer): boolean {
  return data.length >= XERIAL_HEADER_SIZE && data.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC);
}

function snappyBlock(data: Buffer): Buffer {
  const out = snappyUncompress(data, { asBuffer: true });
  return typeof out === 'string' ? Buffer.from(out) : out;
}

function corrupt(codec: number, err: unknown): KafkaError {
  return new KafkaError('CORRUPT_MESSAGE', `cannot decompress records (codec ${codec}): ${(err as Error).message}`);
}

/** The uncompressed records section of a batch, and how it was framed. */
export function decompressRecords(codec: number, data: Buffer): { bytes: Buffer; framing: Framing } {
  try {
    switch (codec) {
      case CODEC_NONE: return { bytes: data, framing: 'plain' };
      case CODEC_GZIP: return { bytes: gunzipSync(data), framing: 'plain' };
      case CODEC_SNAPPY: {
        if (!isXerial(data)) return { bytes: snappyBlock(data), framing: 'plain' };
        const chunks: Buffer[] = [];
        let pos = XERIAL_HEADER_SIZE;
        while (pos < data.length) {
          if (pos + 4 > data.length) throw new StorageError('BROOK_ERR_CORRUPT_COMPRESSED_DATA', 'truncated xerial block length');
          const size = data.readInt32BE(pos);
          pos += 4;
          if (size < 0 || pos + size > data.length) throw new StorageError('BROOK_ERR_CORRUPT_COMPRESSED_DATA', `xerial block of ${size} bytes runs past the end`);
          chunks.push(snappyBlock(data.subarray(pos, pos + size)));
          pos += size;
        }
        return { bytes: Buffer.concat(chunks), framing: 'xerial' };
      }
      case CODEC_LZ4: return { bytes: lz4DecompressFrame(data), framing: 'plain' };
      case CODEC_ZSTD: return { bytes: zstdDecompressSync(data), framing: 'plain' };
      default: break;
    }
  } catch (err) {
    throw corrupt(codec, err);
  }
  throw new KafkaError('UNSUPPORTED_COMPRESSION_TYPE', `unknown compression codec ${codec}`);
}

/** Compression levels (compression.gzip.level, compression.zstd.level); absent: the codec's default. */
export interface CompressionLevels {
  /** -1: zlib's default. */
  readonly gzip?: number;
  readonly zstd?: number;
}

/** Compresses a records section with `codec` (and, for snappy, `framing`). */
export function compressRecords(codec: number, data: Buffer, framing: Framing = 'plain', levels: CompressionLevels = {}): Buffer {
  switch (codec) {
    case CODEC_NONE: return data;
    case CODEC_GZIP: return levels.gzip !== undefined && levels.gzip >= 0 ? gzipSync(data, { level: levels.gzip }) : gzipSync(data);
    case CODEC_SNAPPY: {
      if (framing === 'plain') return snappyCompress(data);
      const parts: Buffer[] = [Buffer.alloc(XERIAL_HEADER_SIZE)];
      XERIAL_MAGIC.copy(parts[0]!, 0);
      parts[0]!.writeInt32BE(1, 8);
      parts[0]!.writeInt32BE(1, 12);
      for (let start = 0; start < data.length; start += XERIAL_BLOCK) {
        const block = snappyCompress(data.subarray(start, Math.min(data.length, start + XERIAL_BLOCK)));
        const length = Buffer.allocUnsafe(4);
        length.writeInt32BE(block.length, 0);
        parts.push(length, block);
      }
      return Buffer.concat(parts);
    }
    // lz4_flex's frame encoder: FLG version 01 with independent blocks, 64 KiB blocks, no content size.
    case CODEC_LZ4: return lz4CompressFrame(data);
    case CODEC_ZSTD:
      return levels.zstd !== undefined ? zstdCompressSync(data, { params: { [zlibConstants.ZSTD_c_compressionLevel]: levels.zstd } }) : zstdCompressSync(data);
    default: throw new KafkaError('UNSUPPORTED_COMPRESSION_TYPE', `unknown compression codec ${codec}`);
  }
}
