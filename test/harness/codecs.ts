/**
 * Compression codecs for kafkajs (its `CompressionCodecs` plugin interface: a factory returning
 * `{ compress(encoder): Promise<Buffer>, decompress(buffer): Promise<Buffer> }`), so the tests can
 * produce and consume every codec Kafka has: gzip (built into kafkajs), Snappy, LZ4 and ZSTD.
 *
 * Formats, as the Java client and librdkafka write them inside a v2 record batch:
 * - Snappy: the Java client wraps raw Snappy blocks in xerial's framing
 *   (magic `\x82SNAPPY\0`, int32 version, int32 compatible version, then [int32 length][block]...);
 *   librdkafka writes one raw Snappy block. We write raw Snappy and read both.
 * - LZ4: the LZ4 frame format (magic 0x184D2204) with a correct header checksum (KIP-57) and
 *   independent blocks: the Java client's KafkaLZ4BlockInputStream refuses dependent blocks, which
 *   lz4js's own `compress()` declares, so frames are written here with lz4js's block compressor.
 * - ZSTD: a zstd frame; Node 24's zlib has it built in.
 */
import zlib from 'node:zlib';
import kafkajs from 'kafkajs';
import snappy from 'snappyjs';
import lz4 from 'lz4js';
import xxh32 from 'lz4js/xxh32.js';

const { CompressionCodecs, CompressionTypes } = kafkajs;

/** What kafkajs hands a codec's compress(): its Encoder, whose `buffer` holds the records. */
interface KafkajsEncoder { buffer: Buffer }

export interface KafkajsCodec {
  compress(encoder: KafkajsEncoder): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);

/** Decodes raw Snappy or xerial-framed Snappy. */
export function snappyDecompress(buffer: Buffer): Buffer {
  if (buffer.length >= 16 && buffer.subarray(0, 8).equals(XERIAL_MAGIC)) {
    const chunks: Buffer[] = [];
    let pos = 16;
    while (pos < buffer.length) {
      const size = buffer.readInt32BE(pos);
      pos += 4;
      chunks.push(Buffer.from(snappy.uncompress(buffer.subarray(pos, pos + size))));
      pos += size;
    }
    return Buffer.concat(chunks);
  }
  return Buffer.from(snappy.uncompress(buffer));
}

export const snappyCodec: KafkajsCodec = {
  async compress(encoder) { return Buffer.from(snappy.compress(encoder.buffer)); },
  async decompress(buffer) { return snappyDecompress(buffer); },
};

const LZ4_BLOCK = 64 * 1024;

/** An LZ4 frame: FLG version 01 + independent blocks, BD 64 KiB, no checksums but the header's. */
export function lz4Compress(src: Buffer): Buffer {
  const header = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0]);
  header[6] = (xxh32.hash(0, header, 4, 2) >>> 8) & 0xff;
  const parts: Buffer[] = [header];
  const scratch = Buffer.alloc(LZ4_BLOCK + LZ4_BLOCK / 255 + 16);
  for (let start = 0; start < src.length; start += LZ4_BLOCK) {
    const length = Math.min(LZ4_BLOCK, src.length - start);
    const size = lz4.compressBlock(src, scratch, start, length, new Uint32Array(1 << 16));
    const blockHeader = Buffer.alloc(4);
    if (size === 0 || size >= length) {
      blockHeader.writeUInt32LE((0x80000000 | length) >>> 0, 0);
      parts.push(blockHeader, src.subarray(start, start + length));
    } else {
      blockHeader.writeUInt32LE(size, 0);
      parts.push(blockHeader, Buffer.from(scratch.subarray(0, size)));
    }
  }
  parts.push(Buffer.alloc(4)); // end mark
  return Buffer.concat(parts);
}

export const lz4Codec: KafkajsCodec = {
  async compress(encoder) { return lz4Compress(encoder.buffer); },
  async decompress(buffer) { return Buffer.from(lz4.decompress(buffer)); },
};

export const zstdCodec: KafkajsCodec = {
  async compress(encoder) { return zlib.zstdCompressSync(encoder.buffer); },
  async decompress(buffer) { return zlib.zstdDecompressSync(buffer); },
};

/** Registers Snappy, LZ4 and ZSTD with kafkajs (idempotent). */
export function registerCodecs(): void {
  const codecs = CompressionCodecs as unknown as Record<number, () => KafkajsCodec>;
  codecs[CompressionTypes.Snappy] = () => snappyCodec;
  codecs[CompressionTypes.LZ4] = () => lz4Codec;
  codecs[CompressionTypes.ZSTD] = () => zstdCodec;
}
