/**
 * Kafka message schemas as data. Each API is declared once (apis/<name>.ts) in the shape of
 * Kafka's own message JSON: validVersions, flexibleVersions, and per field `versions`,
 * `nullableVersions`, `taggedVersions` + `tag`, `default`, nested `fields`. The codec
 * (codec.ts) compiles one encoder/decoder per (API, version, direction) from this data.
 *
 * Version ranges are strings: '3' (only 3), '0-11', '9+', 'none'.
 * A released version is never edited: add a version by widening ranges / adding fields.
 *
 * Value representation: int64 is always `bigint`; uuid is a canonical lower-case
 * 8-4-4-4-12 hex string (ZERO_UUID means "none"); bytes and records decode to a Buffer that
 * is a slice of the frame (no copy).
 */
import type { Chunk } from './file-region.ts';

export type Primitive =
  | 'bool' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint16' | 'uint32' | 'float64'
  | 'string' | 'bytes' | 'records' | 'uuid';

export interface FieldSpec {
  readonly name: string;
  /** A Primitive, `[]Primitive`, `[]StructName` or `StructName` (the last two with `fields`). */
  readonly type: string;
  readonly versions: string;
  readonly nullableVersions?: string;
  readonly taggedVersions?: string;
  readonly tag?: number;
  readonly default?: boolean | number | bigint | string | null;
  readonly fields?: readonly FieldSpec[];
  readonly about?: string;
}

export interface ApiSpec {
  readonly apiKey: number;
  readonly name: string;
  readonly validVersions: string;
  readonly flexibleVersions: string;
  readonly request: readonly FieldSpec[];
  readonly response: readonly FieldSpec[];
}

export interface VersionRange { readonly min: number; readonly max: number }

const NONE: VersionRange = { min: 1, max: 0 };

export function parseVersions(spec: string | undefined): VersionRange {
  if (spec === undefined || spec === 'none') return NONE;
  if (spec.endsWith('+')) return { min: Number(spec.slice(0, -1)), max: Number.POSITIVE_INFINITY };
  const dash = spec.indexOf('-');
  if (dash >= 0) return { min: Number(spec.slice(0, dash)), max: Number(spec.slice(dash + 1)) };
  const v = Number(spec);
  return { min: v, max: v };
}

export function inRange(r: VersionRange, v: number): boolean {
  return v >= r.min && v <= r.max;
}

export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

// ---- Type-level view of the data: `Decoded<typeof spec.request>` etc. ----

interface PrimitiveTypes {
  bool: boolean; int8: number; int16: number; int32: number; int64: bigint;
  uint16: number; uint32: number; float64: number; string: string; bytes: Buffer;
  records: Buffer; uuid: string;
}

type Nullable<F, T> = F extends { readonly nullableVersions: string } ? T | null
  : F extends { readonly type: 'records' } ? T | null : T;

type DecodedValue<F> =
  F extends { readonly fields: infer S extends readonly FieldSpec[]; readonly type: infer T }
    ? Nullable<F, T extends `[]${string}` ? Decoded<S>[] : Decoded<S>>
    : F extends { readonly type: `[]${infer E extends keyof PrimitiveTypes}` } ? Nullable<F, PrimitiveTypes[E][]>
    : F extends { readonly type: infer P extends keyof PrimitiveTypes } ? Nullable<F, PrimitiveTypes[P]>
    : unknown;

/** A decoded struct: every field of every version is present (absent ones carry the default). */
export type Decoded<S extends readonly FieldSpec[]> = {
  -readonly [F in S[number] as F['name']]: DecodedValue<F>;
};

type EncodableValue<F> =
  F extends { readonly fields: infer S extends readonly FieldSpec[]; readonly type: infer T }
    ? Nullable<F, T extends `[]${string}` ? Encodable<S>[] : Encodable<S>>
    : F extends { readonly type: 'records' } ? Buffer | readonly Chunk[] | null
    : F extends { readonly type: `[]${infer E extends keyof PrimitiveTypes}` } ? Nullable<F, readonly PrimitiveTypes[E][]>
    : F extends { readonly type: infer P extends keyof PrimitiveTypes } ? Nullable<F, PrimitiveTypes[P]>
    : unknown;

/** What an encoder accepts: every field optional (missing → schema default). */
export type Encodable<S extends readonly FieldSpec[]> = {
  [F in S[number] as F['name']]?: EncodableValue<F>;
};

export type RequestOf<A extends ApiSpec> = Decoded<A['request']>;
export type ResponseOf<A extends ApiSpec> = Decoded<A['response']>;
export type RequestInput<A extends ApiSpec> = Encodable<A['request']>;
export type ResponseInput<A extends ApiSpec> = Encodable<A['response']>;
