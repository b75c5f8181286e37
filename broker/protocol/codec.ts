/**
 * The one generic codec: compiles a schema (schema.ts) for one version into a decoder and an
 * encoder (generated functions, see compileStruct).
 *
 * Wire format (https://kafka.apache.org/protocol, KIP-482):
 *  - classic: int16-length strings (-1 = null), int32-length bytes/records/arrays (-1 = null).
 *  - flexible: unsigned-varint length+1 (0 = null) for strings, bytes, records and arrays; every
 *    struct ends with tagged fields: uvarint count, then (uvarint tag, uvarint size, value) in
 *    ascending tag order. Unknown tags are skipped on decode (in any order; the last of a
 *    repeated tag wins); on encode a tagged field is written only when it differs from its default.
 *
 * Decoding is bounds-checked against the bytes remaining before anything is allocated; any
 * problem throws ProtocolDecodeError('BROOK_ERR_MALFORMED_FRAME'). Decoded bytes/records are
 * slices of the input frame: the caller hands the frame's ownership to the decoded object.
 *
 * Encoding writes into a shared slab (one encode at a time — the codec is synchronous) and
 * passes `records` chunks through untouched, so a response is a Buffer[] for writev.
 */
import type { FieldSpec } from './schema.ts';
import { inRange, parseVersions, ZERO_UUID } from './schema.ts';
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

function malformed(what: string): never {
  throw new ProtocolDecodeError('BROOK_ERR_MALFORMED_FRAME', `malformed frame: ${what}`);
}

function need(r: Reader, n: number, what: string): number {
  const p = r.pos;
  if (p + n > r.end) malformed(`${what} needs ${n} bytes at offset ${p}, ${r.end - p} left`);
  r.pos = p + n;
  return p;
}

export function readInt8(r: Reader): number { return r.buf.readInt8(need(r, 1, 'int8')); }
export function readInt16(r: Reader): number { return r.buf.readInt16BE(need(r, 2, 'int16')); }
export function readInt32(r: Reader): number { return r.buf.readInt32BE(need(r, 4, 'int32')); }
const TWO32 = 0x1_0000_0000;
function readInt64(r: Reader): bigint {
  const p = need(r, 8, 'int64');
  const buf = r.buf;
  const hi = buf.readInt32BE(p);
  // Fast path for |v| < 2^53 (offsets, timestamps): one Number -> BigInt conversion.
  if (hi >= -0x200000 && hi < 0x200000) return BigInt(hi * TWO32 + buf.readUInt32BE(p + 4));
  return buf.readBigInt64BE(p);
}
function readUint16(r: Reader): number { return r.buf.readUInt16BE(need(r, 2, 'uint16')); }
function readUint32(r: Reader): number { return r.buf.readUInt32BE(need(r, 4, 'uint32')); }
function readFloat64(r: Reader): number { return r.buf.readDoubleBE(need(r, 8, 'float64')); }
function readBool(r: Reader): boolean { return r.buf[need(r, 1, 'bool')] !== 0; }

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

function lengthCheck(r: Reader, len: number, unit: number, what: string): void {
  if (len * unit > r.end - r.pos) malformed(`${what} length ${len} exceeds the ${r.end - r.pos} bytes left`);
}

/** Length of a string/bytes/array: -1 means null; classic or compact. */
function readLen16(r: Reader): number { return readInt16(r); }
function readLen32(r: Reader): number { return readInt32(r); }
function readLenCompact(r: Reader): number { return readUVarint(r) - 1; }

function stringReader(flexible: boolean, nullable: boolean, name: string) {
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

function bytesReader(flexible: boolean, nullable: boolean, name: string) {
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

const HEX_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function readUuid(r: Reader): string {
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

const SLAB_SIZE = 256 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let slabUsed = 0;

export class Writer {
  buf: Buffer;
  pos: number;
  /** Start of the not-yet-flushed region of buf. */
  start: number;
  chunks: Buffer[];
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
  passThrough(bufs: readonly Buffer[] | Buffer): void {
    if (this.pos > this.start) this.chunks.push(this.buf.subarray(this.start, this.pos));
    this.start = this.pos;
    if (Array.isArray(bufs)) {
      for (let i = 0; i < bufs.length; i++) if (bufs[i]!.length > 0) this.chunks.push(bufs[i]!);
    } else if ((bufs as Buffer).length > 0) {
      this.chunks.push(bufs as Buffer);
    }
  }

  finish(): Buffer[] {
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

function badInt(v: unknown, type: string): never {
  throw new ProtocolEncodeError(`${String(v)} is not a valid ${type}`);
}
function writeInt8(w: Writer, v: number): void {
  if ((v << 24) >> 24 !== v) badInt(v, 'int8');
  w.ensure(1);
  w.buf[w.pos++] = v & 0xff;
}
function writeInt16(w: Writer, v: number): void {
  if ((v << 16) >> 16 !== v) badInt(v, 'int16');
  w.ensure(2);
  const buf = w.buf;
  const p = w.pos;
  buf[p] = (v >>> 8) & 0xff;
  buf[p + 1] = v & 0xff;
  w.pos = p + 2;
}
function writeInt32(w: Writer, v: number): void {
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
function writeInt64(w: Writer, v: bigint): void {
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
function writeUint16(w: Writer, v: number): void { w.ensure(2); w.buf.writeUInt16BE(v, w.pos); w.pos += 2; }
function writeUint32(w: Writer, v: number): void { w.ensure(4); w.buf.writeUInt32BE(v, w.pos); w.pos += 4; }
function writeFloat64(w: Writer, v: number): void { w.ensure(8); w.buf.writeDoubleBE(v, w.pos); w.pos += 8; }
function writeBool(w: Writer, v: boolean): void {
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

function writeLen(w: Writer, flexible: boolean, wide: boolean, len: number): void {
  if (flexible) writeUVarint(w, len + 1);
  else if (wide) writeInt32(w, len);
  else writeInt16(w, len);
}

function stringWriter(flexible: boolean, nullable: boolean, name: string) {
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

function bytesWriter(flexible: boolean, nullable: boolean, name: string) {
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

function recordsWriter(flexible: boolean, name: string) {
  return (w: Writer, v: Buffer | readonly Buffer[] | null): void => {
    if (v === null) {
      writeLen(w, flexible, true, -1);
      return;
    }
    let len = 0;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const b = v[i];
        if (!(b instanceof Uint8Array)) throw new ProtocolEncodeError(`${name}: expected Buffer | Buffer[] | null`);
        len += b.length;
      }
    } else if (v instanceof Uint8Array) len = v.length;
    else throw new ProtocolEncodeError(`${name}: expected Buffer | Buffer[] | null`);
    writeLen(w, flexible, true, len);
    w.passThrough(v);
  };
}

function writeUuid(w: Writer, v: string): void {
  if (typeof v !== 'string' || !HEX_UUID.test(v)) throw new ProtocolEncodeError(`invalid uuid: ${String(v)}`);
  w.ensure(16);
  w.buf.write(v.replace(/-/g, ''), w.pos, 16, 'hex');
  w.pos += 16;
}

// ---------------------------------------------------------------- compiling

export type Decode = (r: Reader) => unknown;
export type Encode = (w: Writer, v: any) => void;

interface PrimitiveCodec { read: Decode; write: Encode; fixed: number; zero: () => unknown }

const FIXED: Record<string, PrimitiveCodec> = {
  bool: { read: readBool, write: writeBool, fixed: 1, zero: () => false },
  int8: { read: readInt8, write: writeInt8, fixed: 1, zero: () => 0 },
  int16: { read: readInt16, write: writeInt16, fixed: 2, zero: () => 0 },
  int32: { read: readInt32, write: writeInt32, fixed: 4, zero: () => 0 },
  int64: { read: readInt64, write: writeInt64, fixed: 8, zero: () => 0n },
  uint16: { read: readUint16, write: writeUint16, fixed: 2, zero: () => 0 },
  uint32: { read: readUint32, write: writeUint32, fixed: 4, zero: () => 0 },
  float64: { read: readFloat64, write: writeFloat64, fixed: 8, zero: () => 0 },
  uuid: { read: readUuid, write: writeUuid, fixed: 16, zero: () => ZERO_UUID },
};

export interface CompiledStruct {
  decode: Decode;
  encode: Encode;
  /** A fresh object holding every field's default. */
  defaults: () => Record<string, unknown>;
}

interface CompiledField {
  name: string;
  decode: Decode;
  encode: Encode;
  makeDefault: () => unknown;
  /** A primitive default to compare against cheaply (undefined for arrays/structs). */
  plainDefault: unknown;
  tag: number;
  /** Encoded bytes of the default value (tagged fields only). */
  defaultBytes: Buffer | null;
}

const EMPTY: Buffer = Buffer.alloc(0);

function isArrayType(type: string): boolean { return type.startsWith('[]'); }

/** The schema default of a field, in JS terms, for one version. */
function defaultFactory(f: FieldSpec, version: number, flexible: boolean): () => unknown {
  const type = f.type;
  if (isArrayType(type)) {
    if (f.default === null) return () => null;
    return () => [];
  }
  if (f.fields) {
    const sub = compileStruct(f.fields, version, flexible, f.name);
    if (f.default === null) return () => null;
    return sub.defaults;
  }
  if (f.default !== undefined) {
    let d = f.default;
    if (type === 'int64' && typeof d === 'number') d = BigInt(d);
    return () => d;
  }
  if (type === 'string') return () => '';
  // Missing records encode as empty (length 0), not null: Java's consumer rejects null records
  // in a fetch response (FetchResponse.recordsOrFail), and Kafka itself sends empty ones.
  if (type === 'bytes' || type === 'records') return () => EMPTY;
  const fixed = FIXED[type];
  if (!fixed) throw new Error(`schema: unknown type ${type} for field ${f.name}`);
  return fixed.zero;
}

/**
 * Each struct and array codec is generated as its own function (new Function, from the schema
 * only: field names are checked identifiers, values reach the code as parameters), so V8 keeps
 * monomorphic inline caches per struct shape instead of one megamorphic interpreter loop.
 */
function generate<T>(what: string, deps: readonly unknown[], body: string): T {
  const names = deps.map((_, i) => `$${i}`);
  const fn = new Function(...names, `"use strict"; // generated ${what}\n${body}`) as (...a: unknown[]) => T;
  return fn(...deps);
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function arrayCodec(elem: { decode: Decode; encode: Encode }, unit: number, flexible: boolean, nullable: boolean, path: string): { decode: Decode; encode: Encode } {
  const deps = [flexible ? readLenCompact : readLen32, lengthCheck, elem.decode, elem.encode, malformed, ProtocolEncodeError, writeLen, path];
  return generate('array', deps, `
    const readLen = $0, lengthCheck = $1, ed = $2, ee = $3, malformed = $4, EncodeError = $5, writeLen = $6, path = $7;
    return {
      decode(r) {
        const n = readLen(r);
        if (n < 0) {
          ${nullable ? 'if (n === -1) return null;' : ''}
          return malformed(path + ': invalid array length ' + n);
        }
        lengthCheck(r, n, ${unit}, path);
        const out = [];
        for (let i = 0; i < n; i++) out.push(ed(r));
        return out;
      },
      encode(w, v) {
        if (v === null) {
          ${nullable ? `writeLen(w, ${flexible}, true, -1); return;` : `throw new EncodeError(path + ': null is not allowed in this version');`}
        }
        if (!Array.isArray(v)) throw new EncodeError(path + ': expected an array');
        const n = v.length;
        writeLen(w, ${flexible}, true, n);
        for (let i = 0; i < n; i++) ee(w, v[i]);
      },
    };`);
}

function compileValue(f: FieldSpec, type: string, version: number, flexible: boolean, nullable: boolean, path: string): { decode: Decode; encode: Encode } {
  if (isArrayType(type)) {
    const elemType = type.slice(2);
    if (f.fields) return arrayCodec(compileStruct(f.fields, version, flexible, path), 1, flexible, nullable, path);
    const elem = compileValue(f, elemType, version, flexible, false, path);
    return arrayCodec(elem, FIXED[elemType]?.fixed ?? (flexible ? 1 : 2), flexible, nullable, path);
  }
  if (f.fields) {
    const s = compileStruct(f.fields, version, flexible, path);
    if (!nullable) return s;
    // Nullable struct: int8 presence marker (-1 null, 1 present).
    return {
      decode: (r) => (readInt8(r) < 0 ? null : s.decode(r)),
      encode: (w, v) => {
        if (v === null) { writeInt8(w, -1); return; }
        writeInt8(w, 1);
        s.encode(w, v);
      },
    };
  }
  switch (type) {
    case 'string': return { decode: stringReader(flexible, nullable, path), encode: stringWriter(flexible, nullable, path) };
    case 'bytes': return { decode: bytesReader(flexible, nullable, path), encode: bytesWriter(flexible, nullable, path) };
    case 'records': return { decode: bytesReader(flexible, true, path), encode: recordsWriter(flexible, path) };
    default: {
      const fixed = FIXED[type];
      if (!fixed) throw new Error(`schema: unknown type ${type} for field ${path}`);
      return { decode: fixed.read, encode: fixed.write };
    }
  }
}

/** A JS literal for a constant default, or null when it must be made per use (arrays, structs). */
function literal(v: unknown): string | null {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  return null;
}

const cache = new WeakMap<readonly FieldSpec[], Map<string, CompiledStruct>>();

/** Compile a struct (a list of fields) for one version. Cached per (fields, version, flexible). */
export function compileStruct(fields: readonly FieldSpec[], version: number, flexible: boolean, path: string): CompiledStruct {
  let byVersion = cache.get(fields);
  if (!byVersion) cache.set(fields, (byVersion = new Map()));
  const key = `${version}/${flexible}`;
  const hit = byVersion.get(key);
  if (hit) return hit;

  const all: CompiledField[] = [];
  const regular: CompiledField[] = [];
  const tagged: CompiledField[] = [];
  for (const f of fields) {
    if (!IDENT.test(f.name)) throw new Error(`schema: field name ${JSON.stringify(f.name)} is not an identifier`);
    const fpath = `${path}.${f.name}`;
    const present = inRange(parseVersions(f.versions), version);
    const isTagged = present && flexible && f.taggedVersions !== undefined && inRange(parseVersions(f.taggedVersions), version);
    const nullable = inRange(parseVersions(f.nullableVersions), version);
    const makeDefault = defaultFactory(f, version, flexible);
    const codec = present ? compileValue(f, f.type, version, flexible, nullable, fpath) : { decode: () => undefined, encode: () => {} };
    const plainDefault = isArrayType(f.type) || f.fields ? undefined : makeDefault();
    const cf: CompiledField = {
      name: f.name, decode: codec.decode, encode: codec.encode, makeDefault, plainDefault,
      tag: isTagged ? f.tag! : -1, defaultBytes: null,
    };
    all.push(cf);
    if (isTagged) tagged.push(cf);
    else if (present) regular.push(cf);
  }
  tagged.sort((a, b) => a.tag - b.tag);
  for (const t of tagged) {
    const w = new Writer(false);
    t.encode(w, t.makeDefault());
    t.defaultBytes = Buffer.from(w.bytes());
  }
  const tagIndex = new Map<number, CompiledField>(tagged.map((t) => [t.tag, t]));

  const readTags = (r: Reader, o: Record<string, unknown>): void => {
    const n = readUVarint(r);
    for (let i = 0; i < n; i++) {
      const tag = readUVarint(r);
      const size = readUVarint(r);
      const start = need(r, size, `${path} tagged field ${tag}`);
      const t = tagIndex.get(tag);
      if (t) {
        const sub = new Reader(r.buf, start, start + size);
        o[t.name] = t.decode(sub);
        if (sub.pos !== sub.end) malformed(`${path}: tagged field ${t.name} has ${sub.end - sub.pos} trailing bytes`);
      }
    }
  };

  const writeTags = (w: Writer, v: Record<string, unknown>): void => {
    let toWrite: { tag: number; bytes: Buffer }[] | null = null;
    for (const t of tagged) {
      const x = v[t.name];
      if (x === undefined || (t.plainDefault !== undefined && x === t.plainDefault)) continue;
      if (t.plainDefault === undefined && Array.isArray(x) && x.length === 0 && t.defaultBytes!.length === 1) continue;
      const tw = new Writer(false);
      t.encode(tw, x);
      const bytes = tw.bytes();
      if (bytes.equals(t.defaultBytes!)) continue;
      (toWrite ??= []).push({ tag: t.tag, bytes });
    }
    if (toWrite === null) {
      w.ensure(1);
      w.buf[w.pos++] = 0;
      return;
    }
    writeUVarint(w, toWrite.length);
    for (const { tag, bytes } of toWrite) {
      writeUVarint(w, tag);
      writeUVarint(w, bytes.length);
      w.ensure(bytes.length);
      w.buf.set(bytes, w.pos);
      w.pos += bytes.length;
    }
  };

  // ---- generated decode: read regular fields in wire order, then build one object literal
  // holding every field in schema order (absent/tagged ones at their default).
  const deps: unknown[] = [readTags, skipTaggedFields, writeTags, ProtocolEncodeError, path];
  const dep = (x: unknown): string => `$${deps.push(x) - 1}`;
  const defaultExpr = (f: CompiledField): string => {
    const lit = f.plainDefault === undefined ? null : literal(f.plainDefault);
    return lit ?? `${dep(f.makeDefault)}()`;
  };
  const reads: string[] = [];
  const props: string[] = [];
  const regularIdx = new Map(regular.map((f, i) => [f, i]));
  for (const f of regular) reads.push(`const x${regularIdx.get(f)} = ${dep(f.decode)}(r);`);
  for (const f of all) {
    const i = regularIdx.get(f);
    props.push(`${f.name}: ${i === undefined ? defaultExpr(f) : `x${i}`}`);
  }
  const tagsRead = !flexible ? '' : tagged.length > 0 ? '$0(r, o);' : '$1(r);';
  const decodeSrc = `return function decode(r) {
    ${reads.join('\n    ')}
    const o = { ${props.join(', ')} };
    ${tagsRead}
    return o;
  };`;

  // ---- generated encode
  const writes: string[] = [];
  for (const f of regular) writes.push(`x = v.${f.name}; ${dep(f.encode)}(w, x === undefined ? ${defaultExpr(f)} : x);`);
  const noTags = 'w.ensure(1); w.buf[w.pos++] = 0;';
  const allUndefined = tagged.map((t) => `v.${t.name} === undefined`).join(' && ');
  const tagsWrite = !flexible ? '' : tagged.length > 0 ? `if (${allUndefined}) { ${noTags} } else $2(w, v);` : noTags;
  const encodeSrc = `return function encode(w, v) {
    if (v === undefined) v = {};
    else if (v === null || typeof v !== 'object') throw new $3($4 + ': expected an object');
    let x;
    ${writes.join('\n    ')}
    ${tagsWrite}
  };`;

  const decode = generate<Decode>(`${path} decode`, deps, decodeSrc);
  const encode = generate<Encode>(`${path} encode`, deps, encodeSrc);
  const defaults = (): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    for (const f of all) o[f.name] = f.makeDefault();
    return o;
  };

  const compiled: CompiledStruct = { decode, encode, defaults };
  byVersion.set(key, compiled);
  return compiled;
}

export { writeInt16, writeInt32, readNullableString16 as readClientId };
