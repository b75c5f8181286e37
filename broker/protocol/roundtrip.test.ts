import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { ALL_APIS } from './apis/index.ts';
import {
  allApiSchemas, decodeRequest, decodeRequestBodyEnd, decodeResponse, encodeRequest, encodeResponse,
  parseRequestHeader,
} from './index.ts';
import { inRange, parseVersions } from './schema.ts';
import { structArbitrary } from './schema-arbitrary.ts';

const cases: [string, number, number, boolean][] = [];
for (const spec of ALL_APIS) {
  const valid = parseVersions(spec.validVersions);
  const flexible = parseVersions(spec.flexibleVersions);
  for (let v = valid.min; v <= valid.max; v++) cases.push([spec.name, spec.apiKey, v, inRange(flexible, v)]);
}

describe('round trip: every API, every version', () => {
  test('all schemas are registered', () => {
    expect(allApiSchemas().length).toBe(ALL_APIS.length);
  });

  test.each(cases)('%s (key %d) v%d request', (_name, apiKey, version, flexible) => {
    const spec = ALL_APIS.find((a) => a.apiKey === apiKey)!;
    fc.assert(fc.property(structArbitrary(spec.request, version, flexible), fc.integer({ min: -2147483648, max: 2147483647 }),
      fc.option(fc.string({ maxLength: 10 }), { nil: null }), (body, correlationId, clientId) => {
        const wire = Buffer.concat(encodeRequest(apiKey, version, correlationId, clientId, body));
        expect(wire.readInt32BE(0)).toBe(wire.length - 4);
        const frame = wire.subarray(4);
        const h = parseRequestHeader(frame);
        expect(h).toEqual({ apiKey, apiVersion: version, correlationId, clientId, bodyOffset: h.bodyOffset, supported: true });
        expect(decodeRequest(apiKey, version, frame, h.bodyOffset)).toEqual(body);
        expect(decodeRequestBodyEnd(apiKey, version, frame, h.bodyOffset)).toBe(frame.length);
      }), { numRuns: 60 });
  });

  test.each(cases)('%s (key %d) v%d response', (_name, apiKey, version, flexible) => {
    const spec = ALL_APIS.find((a) => a.apiKey === apiKey)!;
    // An ApiVersions response with error 35 is read as v0 by design (see apiVersions.test.ts).
    const bodies = structArbitrary(spec.response, version, flexible).filter((b) => apiKey !== 18 || b.errorCode !== 35);
    fc.assert(fc.property(bodies, fc.integer({ min: -2147483648, max: 2147483647 }), (body, correlationId) => {
      const wire = Buffer.concat(encodeResponse(apiKey, version, correlationId, body));
      expect(wire.readInt32BE(0)).toBe(wire.length - 4);
      const decoded = decodeResponse(apiKey, version, wire.subarray(4));
      expect(decoded).toEqual({ correlationId, body });
    }), { numRuns: 60 });
  });
});
