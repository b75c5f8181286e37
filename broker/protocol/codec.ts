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
 * The primitives (Reader, Writer, every type's reader and writer) are wire-primitives.ts's.
 */
import type { FieldSpec } from './schema.ts';
import { inRange, parseVersions, ZERO_UUID } from './schema.ts';
import { ProtocolEncodeError } from './errors.ts';
import {
  Reader, Writer, bytesReader, bytesWriter, lengthCheck, malformed, need, readBool, readFloat64, readInt16, readInt32, readInt64, readInt8,
  readLen32, readLenCompact, readNullableString16, readUVarint, readUint16, readUint32, readUuid, recordsWriter, skipTaggedFields,
  stringReader, stringWriter, writeBool, writeFloat64, writeInt16, writeInt32, writeInt64, writeInt8, writeLen, writeUVarint, writeUint16,
  writeUint32, writeUuid,
} from './wire-primitives.ts';

// The primitives' public surface, as before the split (index.ts, groups/offsets-records.ts import it here).
export {
  Reader, Writer, readInt16, readInt32, readInt8, readNullableString16, readUVarint, skipTaggedFields, writeNullableString16, writeUVarint,
} from './wire-primitives.ts';

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

