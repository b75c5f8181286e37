/**
 * The versioned key/value records of the coordinators' internal topics (Kafka's
 * CoordinatorRecordSerde), __consumer_offsets and __transaction_state alike. A key or a value is
 *
 *   version int16, then the fields of its schema at a schema version: the classic encoding, or
 *   from the schema's first flexible version on the flexible one (compact strings and arrays,
 *   tagged fields), as Kafka's `flexibleVersions`
 *
 * The schemas are data (fields with version ranges, as the protocol messages), encoded and
 * decoded by the protocol codec (compiled once per schema and version). The schema version is
 * the record's version unless a caller says otherwise: a key's version tells what kind of record
 * it is (Kafka: OffsetCommitKey 0-1, GroupMetadataKey 2), and Brook's own record kinds use key
 * versions far from Kafka's with a schema of their own versions.
 */
import { Reader, Writer, compileStruct } from '../protocol/codec.ts';
import type { CompiledStruct } from '../protocol/codec.ts';
import { buffersOnly, type FieldSpec } from '../protocol/index.ts';

/** The int16 version a record key or value starts with. */
export function recordVersion(record: Buffer): number { return record.readInt16BE(0); }

/** One key or value schema of an internal topic's records; T is its decoded shape. */
export class RecordSchema<T> {
  readonly name: string;
  readonly fields: readonly FieldSpec[];
  /** The first flexible schema version (Kafka's `flexibleVersions: "N+"`); null: none. */
  readonly flexibleFrom: number | null;

  constructor(name: string, fields: readonly FieldSpec[], opts: { flexibleFrom?: number } = {}) {
    this.name = name;
    this.fields = fields;
    this.flexibleFrom = opts.flexibleFrom ?? null;
  }

  /** `value` as a record: `version`, then the fields at `schemaVersion` (default: `version`). */
  encode(version: number, value: T, schemaVersion = version): Buffer {
    const w = new Writer(false);
    w.ensure(2);
    w.buf.writeInt16BE(version, w.pos);
    w.pos += 2;
    this.struct(schemaVersion).encode(w, value);
    return Buffer.concat(buffersOnly(w.finish(), `${this.name} record`));
  }

  /** A record of this schema, its fields read at `schemaVersion` (default: the record's version). */
  decode(record: Buffer, schemaVersion = recordVersion(record)): T {
    return this.struct(schemaVersion).decode(new Reader(record, 2, record.length)) as T;
  }

  private struct(version: number): CompiledStruct {
    return compileStruct(this.fields, version, this.flexibleFrom !== null && version >= this.flexibleFrom, `${this.name}v${version}`);
  }
}
