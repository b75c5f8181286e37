/**
 * Kafka's wire primitives (https://kafka.apache.org/protocol, KIP-482): a bounds-checked `Reader`
 * and a slab-backed `Writer`, and the readers and writers of every primitive type the schemas
 * use — fixed-width integers (int64 as bigint), unsigned varints, uuids, and strings, bytes,
 * records and array lengths in their classic (int16/int32 length, -1 = null) and flexible
 * (uvarint length+1, 0 = null) forms. codec.ts compiles schemas into calls of these.
 *
 * Reading checks the bytes remaining before anything is allocated and throws
 * ProtocolDecodeError('BROOK_ERR_MALFORMED_FRAME'); bytes and records read are slices of the
 * input. Writing goes into one shared slab (the codec is synchronous: one encode at a time);
 * `records` chunks pass through untouched, so a message is a Buffer[] for writev (or, on the
 * Fetch path of a connection that sends files, Buffers and FileRegions: ./file-region.ts).
 */
import { ZERO_UUID } from './schema.ts';
import { FileRegion, type Chunk } from './file-region.ts';
import { ProtocolDecodeError, ProtocolEncodeError } from './errors.ts';

// ---------------------------------------------------------------- reading

export class Reader {
  buf: Buffer;
  pos: number;
  end: number;
  constructor(buf: Buffer, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }
}

export function malformed(what: string): never {
  throw new ProtocolDecodeError('BROOK_ERR_MALFORMED_FRAME', `malformed frame: ${what}`);
}

export function need(r: Reader, n: number, what: string): number {
  const p = r.pos;
  if (p + n > r.end) malformed(`${what} needs ${n} bytes at offset ${p}, ${r.end - p} left`);
  r.pos = p + n;
  return p;
}

export function readInt8(r: Reader): number { return r.buf.readInt8(need(r, 1, 'int8')); }
export function readInt16(r: Reader): number { return r.buf.readInt16BE(need(r, 2, 'int16')); }
export function readInt32(r: Reader): number { return r.buf.readInt32BE(need(r, 4, 'int32')); }
const TWO32 = 0x1_0000_0000;
export function readInt64(r: Reader): bigint {
  const p = need(r, 8, 'int64');
  const buf = r.buf;
  const hi = buf.readInt32BE(p);
  // Fast path for |v| < 2^53 (offsets, timestamps): one Number -> BigInt conversion.
  if (hi >= -0x200000 && hi < 0x200000) return BigInt(hi * TWO32 + buf.readUInt32BE(p + 4));
  return buf.readBigInt64BE(p);
}
export function readUint16(r: Reader): number { return r.buf.readUInt16BE(need(r, 2, 'uint16')); }
export function readUint32(r: Reader): number { return r.buf.readUInt32BE(need(r, 4, 'uint32')); }
export function readFloat64(r: Reader): number { return r.buf.readDoubleBE(need(r, 8, 'float64')); }
export function readBool(r: Reader): boolean { return r.buf[need(r, 1, 'bool')] !== 0; }

export function readUVarint(r: Reader): number {
  const buf = r.buf;
  let p = r.pos;
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 5; i++) {
    if (p >= r.end) malformed(`truncated varint at offset ${p}`);
    const b = buf[p++]!;
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) {
      if (value > 0xffffffff) malformed('varint exceeds 32 bits');
      r.pos = p;
      return value;
    }
    mul *= 128;
  }
  return malformed('varint longer than 5 bytes');
}

export function lengthCheck(r: Reader, len: number, unit: number, what: string): void {
  if (len * unit > r.end - r.pos) malformed(`${what} length ${len} exceeds the ${r.end - r.pos} bytes left`);
}

/** Length of a string/bytes/array: -1 means null; classic or compact. */
export function readLen16(r: Reader): number { return readInt16(r); }
export function readLen32(r: Reader): number { return readInt32(r); }
export function readLenCompact(r: Reader): number { return readUVarint(r) - 1; }

export function stringReader(flexible: boolean, nullable: boolean, name: string) {
  const readLen = flexible ? readLenCompact : readLen16;
  return (r: Reader): string | null => {
    const len = readLen(r);
    if (len < 0) {
      if (len === -1 && nullable) return null;
      return malformed(`${name}: invalid string length ${len}`);
    }
    lengthCheck(r, len, 1, name);
    const p = r.pos;
    r.pos = p + len;
    return r.buf.toString('utf8', p, p + len);
  };
}

/** Used by the request header: client_id is always an int16-length nullable string. */
export const readNullableString16 = stringReader(false, true, 'clientId');

export function bytesReader(flexible: boolean, nullable: boolean, name: string) {
  const readLen = flexible ? readLenCompact : readLen32;
  return (r: Reader): Buffer | null => {
    const len = readLen(r);
    if (len < 0) {
      if (len === -1 && nullable) return null;
      return malformed(`${name}: invalid bytes length ${len}`);
    }
    lengthCheck(r, len, 1, name);
    const p = r.pos;
    r.pos = p + len;
    return r.buf.subarray(p, p + len);
  };
}

export const HEX_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function readUuid(r: Reader): string {
  const p = need(r, 16, 'uuid');
  const h = r.buf.toString('hex', p, p + 16);
  if (h === '00000000000000000000000000000000') return ZERO_UUID;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function skipTaggedFields(r: Reader): void {
  const n = readUVarint(r);
  for (let i = 0; i < n; i++) {
    readUVarint(r);
    const size = readUVarint(r);
    need(r, size, 'tagged field');
  }
}

// ---------------------------------------------------------------- writing

export const SLAB_SIZE = 256 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let slabUsed = 0;

export class Writer {
  buf: Buffer;
  pos: number;
  /** Start of the not-yet-flushed region of buf. */
  start: number;
  chunks: Chunk[];
  readonly onSlab: boolean;
  constructor(onSlab: boolean) {
    this.onSlab = onSlab;
    if (onSlab) {
      if (slabUsed > SLAB_SIZE - 1024) {
        slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
        slabUsed = 0;
      }
      this.buf = slab;
      this.pos = slabUsed;
    } else {
      this.buf = Buffer.allocUnsafe(64);
      this.pos = 0;
    }
    this.start = this.pos;
    this.chunks = [];
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const used = this.pos - this.start;
    const next = Buffer.allocUnsafe(Math.max(1024, (used + n) * 2));
    this.buf.copy(next, 0, this.start, this.pos);
    if (this.onSlab && this.buf === slab) slabUsed = this.start; // give the slab space back
    this.buf = next;
    this.start = 0;
    this.pos = used;
  }

  /** Flush what was written so far as a chunk, then append caller-owned buffers uncopied. */
  passThrough(bufs: readonly Chunk[] | Buffer): void {
    if (this.pos > this.start) this.chunks.push(this.buf.subarray(this.start, this.pos));
    this.start = this.pos;
    if (Array.isArray(bufs)) {
      for (let i = 0; i < bufs.length; i++) if (bufs[i]!.length > 0) this.chunks.push(bufs[i]!);
    } else if ((bufs as Buffer).length > 0) {
      this.chunks.push(bufs as Buffer);
    }
  }

  finish(): Chunk[] {
    if (this.pos > this.start || this.chunks.length === 0) this.chunks.push(this.buf.subarray(this.start, this.pos));
    if (this.onSlab && this.buf === slab) slabUsed = (this.pos + 7) & ~7;
    return this.chunks;
  }

  /** Bytes of a writer that holds no pass-through chunks (tagged field values). */
  bytes(): Buffer {
    if (this.chunks.length > 0) throw new ProtocolEncodeError('records inside a tagged field are not supported');
    return this.buf.subarray(this.start, this.pos);
  }
}

export function badInt(v: unknown, type: string): never {
  throw new ProtocolEncodeError(`${String(v)} is not a valid ${type}`);
}
export function writeInt8(w: Writer, v: number): void {
  if ((v << 24) >> 24 !== v) badInt(v, 'int8');
  w.ensure(1);
  w.buf[w.pos++] = v & 0xff;
}
export function writeInt16(w: Writer, v: number): void {
  if ((v << 16) >> 16 !== v) badInt(v, 'int16');
  w.ensure(2);
  const buf = w.buf;
  const p = w.pos;
  buf[p] = (v >>> 8) & 0xff;
  buf[p + 1] = v & 0xff;
  w.pos = p + 2;
}
export function writeInt32(w: Writer, v: number): void {
  if ((v | 0) !== v) badInt(v, 'int32');
  w.ensure(4);
  const buf = w.buf;
  const p = w.pos;
  buf[p] = v >>> 24;
  buf[p + 1] = (v >>> 16) & 0xff;
  buf[p + 2] = (v >>> 8) & 0xff;
  buf[p + 3] = v & 0xff;
  w.pos = p + 4;
}
export function writeInt64(w: Writer, v: bigint): void {
  if (typeof v !== 'bigint') badInt(v, 'int64 (a bigint)');
  w.ensure(8);
  const buf = w.buf;
  const p = w.pos;
  const n = Number(v);
  if (n >= -0x1fffffffffffff && n <= 0x1fffffffffffff) {
    // Fast path for |v| < 2^53: two 32-bit halves without BigInt arithmetic.
    const hi = Math.floor(n / TWO32);
    const lo = n - hi * TWO32;
    buf[p] = hi >>> 24;
    buf[p + 1] = (hi >>> 16) & 0xff;
    buf[p + 2] = (hi >>> 8) & 0xff;
    buf[p + 3] = hi & 0xff;
    buf[p + 4] = lo >>> 24;
    buf[p + 5] = (lo >>> 16) & 0xff;
    buf[p + 6] = (lo >>> 8) & 0xff;
    buf[p + 7] = lo & 0xff;
  } else {
    if (v < -(2n ** 63n) || v >= 2n ** 63n) badInt(v, 'int64');
    buf.writeBigInt64BE(v, p);
  }
  w.pos = p + 8;
}
export function writeUint16(w: Writer, v: number): void { w.ensure(2); w.buf.writeUInt16BE(v, w.pos); w.pos += 2; }
export function writeUint32(w: Writer, v: number): void { w.ensure(4); w.buf.writeUInt32BE(v, w.pos); w.pos += 4; }
export function writeFloat64(w: Writer, v: number): void { w.ensure(8); w.buf.writeDoubleBE(v, w.pos); w.pos += 8; }
export function writeBool(w: Writer, v: boolean): void {
  if (typeof v !== 'boolean') throw new ProtocolEncodeError(`expected a boolean, got ${typeof v}`);
  w.ensure(1); w.buf[w.pos++] = v ? 1 : 0;
}

export function writeUVarint(w: Writer, v: number): void {
  if (!(v >= 0 && v <= 0xffffffff) || !Number.isInteger(v)) throw new ProtocolEncodeError(`varint out of range: ${v}`);
  w.ensure(5);
  const buf = w.buf;
  let p = w.pos;
  while (v >= 0x80) {
    buf[p++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[p++] = v;
  w.pos = p;
}

export function writeLen(w: Writer, flexible: boolean, wide: boolean, len: number): void {
  if (flexible) writeUVarint(w, len + 1);
  else if (wide) writeInt32(w, len);
  else writeInt16(w, len);
}

export function stringWriter(flexible: boolean, nullable: boolean, name: string) {
  return (w: Writer, v: string | null): void => {
    if (v === null) {
      if (!nullable) throw new ProtocolEncodeError(`${name}: null is not allowed in this version`);
      writeLen(w, flexible, false, -1);
      return;
    }
    if (typeof v !== 'string') throw new ProtocolEncodeError(`${name}: expected a string, got ${typeof v}`);
    const len = Buffer.byteLength(v, 'utf8');
    if (!flexible && len > 0x7fff) throw new ProtocolEncodeError(`${name}: string too long (${len} bytes)`);
    writeLen(w, flexible, false, len);
    w.ensure(len);
    w.pos += w.buf.write(v, w.pos, len, 'utf8');
  };
}

export const writeNullableString16 = stringWriter(false, true, 'clientId');

export function bytesWriter(flexible: boolean, nullable: boolean, name: string) {
  return (w: Writer, v: Buffer | null): void => {
    if (v === null) {
      if (!nullable) throw new ProtocolEncodeError(`${name}: null is not allowed in this version`);
      writeLen(w, flexible, true, -1);
      return;
    }
    if (!(v instanceof Uint8Array)) throw new ProtocolEncodeError(`${name}: expected a Buffer`);
    writeLen(w, flexible, true, v.length);
    w.ensure(v.length);
    w.buf.set(v, w.pos);
    w.pos += v.length;
  };
}

export function recordsWriter(flexible: boolean, name: string) {
  return (w: Writer, v: Buffer | readonly Chunk[] | null): void => {
    if (v === null) {
      writeLen(w, flexible, true, -1);
      return;
    }
    let len = 0;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const b = v[i];
        if (!(b instanceof Uint8Array) && !(b instanceof FileRegion)) throw new ProtocolEncodeError(`${name}: expected Buffer | Buffer[] | null`);
        len += b.length;
      }
    } else if (v instanceof Uint8Array) len = v.length;
    else throw new ProtocolEncodeError(`${name}: expected Buffer | Buffer[] | null`);
    writeLen(w, flexible, true, len);
    w.passThrough(v);
  };
}

export function writeUuid(w: Writer, v: string): void {
  if (typeof v !== 'string' || !HEX_UUID.test(v)) throw new ProtocolEncodeError(`invalid uuid: ${String(v)}`);
  w.ensure(16);
  w.buf.write(v.replace(/-/g, ''), w.pos, 16, 'hex');
  w.pos += 16;
}
