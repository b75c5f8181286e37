import { describe, expect, test } from '@jest/globals';
import { apiSchema, decodeResponse, encodeApiVersionsError, encodeResponse } from './index.ts';

describe('ApiVersions', () => {
  test('error 35 response for an unknown ApiVersions version: v0 body, header v0, only the ApiVersions range', () => {
    const bufs = encodeApiVersionsError(0x01020304, { minVersion: 0, maxVersion: 4 });
    expect(Buffer.concat(bufs).toString('hex')).toBe([
      '00000010', // size 16
      '01020304', // correlationId (header v0: no tagged fields)
      '0023', // errorCode 35 UNSUPPORTED_VERSION
      '00000001', // apiKeys: classic array of 1
      '0012', '0000', '0004', // ApiVersions 0-4
    ].join(''));
  });

  test('a client reads the error-35 answer to any ApiVersions version as v0 (Kafka fallback)', () => {
    const frame = Buffer.concat(encodeApiVersionsError(3, { minVersion: 0, maxVersion: 2 })).subarray(4);
    expect(decodeResponse(18, 3, frame)).toEqual({ correlationId: 3, body: expect.objectContaining({ errorCode: 35, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 2 }] }) });
  });

  test('flexible ApiVersions responses still use response header v0', () => {
    const frame = Buffer.concat(encodeResponse(18, 4, 9, { errorCode: 0, apiKeys: [] })).subarray(4);
    // correlationId, then directly errorCode (no header tagged-field byte).
    expect(frame.toString('hex')).toBe('00000009' + '0000' + '01' + '00000000' + '00');
    expect(decodeResponse(18, 4, frame).body).toMatchObject({ errorCode: 0, apiKeys: [], throttleTimeMs: 0 });
  });

  test('apiSchema describes ranges and flexibility', () => {
    const s = apiSchema(18)!;
    expect(s).toMatchObject({ apiKey: 18, name: 'ApiVersions', minVersion: 0, maxVersion: 4 });
    expect([0, 1, 2, 3, 4].map((v) => s.isFlexible(v))).toEqual([false, false, false, true, true]);
    expect(apiSchema(1)).toMatchObject({ name: 'Fetch', minVersion: 4, maxVersion: 16 });
    expect(apiSchema(9999)).toBeUndefined();
  });
});
