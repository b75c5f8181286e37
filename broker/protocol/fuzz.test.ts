/**
 * Untrusted bytes: random and mutated frames fed to parseRequestHeader + decodeRequest for every
 * API/version throw nothing but ProtocolDecodeError, and never allocate by an unchecked length.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { ALL_APIS } from './apis/index.ts';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, parseRequestHeader, ProtocolDecodeError } from './index.ts';
import { inRange, parseVersions } from './schema.ts';
import { structArbitrary } from './schema-arbitrary.ts';

function decodeOrTypedError(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ProtocolDecodeError)) throw err;
    expect(err.code).toMatch(/^BROOK_ERR_/);
  }
}

function decodeFrame(frame: Buffer): void {
  decodeOrTypedError(() => {
    const h = parseRequestHeader(frame);
    if (h.supported) decodeRequest(h.apiKey, h.apiVersion, frame, h.bodyOffset);
  });
}

const versions: { apiKey: number; version: number; flexible: boolean; spec: (typeof ALL_APIS)[number] }[] = [];
for (const spec of ALL_APIS) {
  const r = parseVersions(spec.validVersions);
  for (let v = r.min; v <= r.max; v++) versions.push({ apiKey: spec.apiKey, version: v, flexible: inRange(parseVersions(spec.flexibleVersions), v), spec });
}

describe('fuzz: decoding never throws anything but ProtocolDecodeError', () => {
  test('random bytes after a valid (apiKey, version) prefix', () => {
    const started = Date.now();
    for (const { apiKey, version } of versions) {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (tail, corr) => {
        const head = Buffer.alloc(8);
        head.writeInt16BE(apiKey, 0);
        head.writeInt16BE(version, 2);
        head.writeInt32BE(corr, 4);
        decodeFrame(Buffer.concat([head, tail]));
        // Also straight into the body decoder at every offset.
        decodeOrTypedError(() => decodeRequest(apiKey, version, Buffer.from(tail), 0));
        decodeOrTypedError(() => decodeResponse(apiKey, version, Buffer.from(tail)));
      }), { numRuns: 40 });
    }
    expect(Date.now() - started).toBeLessThan(45_000); // ~3 s when the machine is idle
  });

  test('completely random frames', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 128 }), (bytes) => decodeFrame(Buffer.from(bytes))), { numRuns: 2000 });
  });

  test.each(versions.map((v) => [v.spec.name, v.version, v] as const))('mutated valid %s v%d requests and responses', (_n, _v, { apiKey, version, flexible, spec }) => {
    const gen = fc.tuple(structArbitrary(spec.request, version, flexible), structArbitrary(spec.response, version, flexible),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat());
    fc.assert(fc.property(gen, ([req, res, mutations, cut]) => {
      const reqFrame = Buffer.concat(encodeRequest(apiKey, version, 1, 'fuzz', req)).subarray(4);
      const resFrame = Buffer.concat(encodeResponse(apiKey, version, 1, res)).subarray(4);
      for (const frame of [reqFrame, resFrame]) {
        for (const [at, byte] of mutations) frame[at % frame.length] = byte;
      }
      decodeFrame(reqFrame);
      decodeFrame(reqFrame.subarray(0, cut % (reqFrame.length + 1)));
      decodeOrTypedError(() => decodeResponse(apiKey, version, resFrame));
      decodeOrTypedError(() => decodeResponse(apiKey, version, resFrame.subarray(0, cut % (resFrame.length + 1))));
    }), { numRuns: 30 });
  });
});

describe('malformed frames', () => {
  const expectMalformed = (fn: () => unknown) => {
    expect(fn).toThrow(ProtocolDecodeError);
    try { fn(); } catch (err) { expect((err as ProtocolDecodeError).code).toBe('BROOK_ERR_MALFORMED_FRAME'); }
  };

  test('an array length of 2^31-1 with 10 bytes left fails fast without allocating', () => {
    // Produce v3 body: transactionalId null, acks, timeout, then topicData with a huge count.
    const body = Buffer.from('ffff' + 'ffff' + '00007530' + '7fffffff' + '00'.repeat(10), 'hex');
    expectMalformed(() => decodeRequest(0, 3, body, 0)); // also compiles Produce v3
    // Allocating or looping 2^31 times would take seconds; the check must be immediate. The
    // bound is loose because the test machine is shared.
    const started = process.hrtime.bigint();
    for (let i = 0; i < 100; i++) expectMalformed(() => decodeRequest(0, 3, body, 0));
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(500);
  });

  test('a compact array length of 2^32-2 fails fast', () => {
    // Metadata v12 body: topics compact array with varint 0xffffffff (length 2^32-2).
    expectMalformed(() => decodeRequest(3, 12, Buffer.from('ffffffff0f0000', 'hex'), 0));
  });

  test('a varint longer than 5 bytes is rejected', () => {
    expectMalformed(() => decodeRequest(3, 12, Buffer.from('ffffffffff01', 'hex'), 0));
  });

  test('a string longer than the frame is rejected', () => {
    expectMalformed(() => decodeRequest(3, 1, Buffer.from('00000001' + '7fff' + '6162', 'hex'), 0));
  });

  test('null for a non-nullable string is rejected', () => {
    expectMalformed(() => decodeRequest(3, 1, Buffer.from('00000001' + 'ffff', 'hex'), 0));
  });

  test('a frame shorter than a request header', () => {
    expectMalformed(() => parseRequestHeader(Buffer.from('000300', 'hex')));
  });

  test('unknown tagged fields are skipped', () => {
    // ApiVersions v3 request body: two empty strings, then 2 tagged fields (tags 5 and 9).
    const body = Buffer.from('01' + '01' + '02' + '05' + '02' + 'abcd' + '09' + '00', 'hex');
    expect(decodeRequest(18, 3, body, 0)).toEqual({ clientSoftwareName: '', clientSoftwareVersion: '' });
  });

  test('tagged fields out of ascending order are still read', () => {
    // ApiVersions v3 response body: errorCode, empty apiKeys, throttle, tags 3 then 1.
    const frame = Buffer.from('00000001' + '0000' + '01' + '00000000' + '02' + '030101' + '01080000000000000009', 'hex');
    expect(decodeResponse(18, 3, frame).body).toMatchObject({ zkMigrationReady: true, finalizedFeaturesEpoch: 9n });
  });

  test('a known tagged field whose size disagrees with its content is rejected', () => {
    // Fetch v12 request with tag 0 (clusterId) of size 3 holding a 1-byte compact null string.
    const body = Buffer.concat([Buffer.alloc(4 * 3 + 1 + 8), Buffer.from('01' + '01' + '01' + '01' + '000300ffff', 'hex')]);
    expect(() => decodeRequest(1, 12, body, 0)).toThrow(ProtocolDecodeError);
  });

  test('unknown API keys and versions still yield the header fields', () => {
    const frame = Buffer.from('0400' + '0007' + '0000002a' + '0002' + '6331', 'hex');
    expect(parseRequestHeader(frame)).toEqual({ apiKey: 1024, apiVersion: 7, correlationId: 42, clientId: 'c1', bodyOffset: 12, supported: false });
    const tooNew = Buffer.from('0012' + '0063' + '0000002b' + 'ffff' + '00', 'hex');
    expect(parseRequestHeader(tooNew)).toMatchObject({ apiKey: 18, apiVersion: 99, correlationId: 43, clientId: null, supported: false });
    const garbage = Buffer.from('0012' + '0063' + '0000002c' + '7fff', 'hex');
    expect(parseRequestHeader(garbage)).toMatchObject({ apiKey: 18, apiVersion: 99, correlationId: 44, clientId: null, supported: false });
    expect(() => decodeRequest(1024, 0, frame, 8)).toThrow(expect.objectContaining({ code: 'BROOK_ERR_UNKNOWN_API' }));
    expect(() => decodeRequest(18, 99, frame, 8)).toThrow(expect.objectContaining({ code: 'BROOK_ERR_UNSUPPORTED_VERSION' }));
  });
});
