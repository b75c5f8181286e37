/**
 * Test support: fast-check arbitraries generated from the schema data, for one version.
 * Generated objects carry every field of the schema; fields absent from the version hold the
 * default, so a correct codec round-trips them to an equal object.
 */
import fc from 'fast-check';
import type { Arbitrary } from 'fast-check';
import { compileStruct } from './codec.ts';
import type { FieldSpec } from './schema.ts';
import { inRange, parseVersions, ZERO_UUID } from './schema.ts';

const str = fc.string({ unit: 'binary', maxLength: 12 });
const buf = fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a));

function primitive(type: string): Arbitrary<unknown> {
  switch (type) {
    case 'bool': return fc.boolean();
    case 'int8': return fc.integer({ min: -128, max: 127 });
    case 'int16': return fc.integer({ min: -32768, max: 32767 });
    case 'int32': return fc.integer({ min: -2147483648, max: 2147483647 });
    case 'int64': return fc.oneof(
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.constantFrom(-1n, 0n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n), -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n)),
    );
    case 'uint16': return fc.integer({ min: 0, max: 65535 });
    case 'uint32': return fc.integer({ min: 0, max: 0xffffffff });
    case 'float64': return fc.double({ noNaN: true }).map((d) => (Object.is(d, -0) ? 0 : d));
    case 'string': return str;
    case 'bytes': return buf;
    case 'records': return fc.option(buf, { nil: null });
    case 'uuid': return fc.oneof(fc.constant(ZERO_UUID), fc.uuid());
    default: throw new Error(`no arbitrary for ${type}`);
  }
}

export function structArbitrary(fields: readonly FieldSpec[], version: number, flexible: boolean): Arbitrary<Record<string, unknown>> {
  const defaults = compileStruct(fields, version, flexible, 'arb').defaults;
  const present: Record<string, Arbitrary<unknown>> = {};
  for (const f of fields) {
    if (!inRange(parseVersions(f.versions), version)) continue;
    const nullable = inRange(parseVersions(f.nullableVersions), version);
    let a: Arbitrary<unknown>;
    if (f.type.startsWith('[]')) {
      const elem = f.fields ? structArbitrary(f.fields, version, flexible) : primitive(f.type.slice(2));
      a = fc.array(elem, { maxLength: 3 });
    } else if (f.fields) {
      a = structArbitrary(f.fields, version, flexible);
    } else {
      a = primitive(f.type);
    }
    present[f.name] = nullable && f.type !== 'records' ? fc.option(a, { nil: null, freq: 4 }) : a;
  }
  return fc.record(present).map((v) => ({ ...defaults(), ...v }));
}
