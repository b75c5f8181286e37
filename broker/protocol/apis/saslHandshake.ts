/** SaslHandshake (key 17). v1: the SASL tokens then travel in SaslAuthenticate requests. */
import type { ApiSpec } from '../schema.ts';

export const saslHandshake = {
  apiKey: 17,
  name: 'SaslHandshake',
  validVersions: '0-1',
  flexibleVersions: 'none',
  request: [
    { name: 'mechanism', type: 'string', versions: '0+' },
  ],
  response: [
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'mechanisms', type: '[]string', versions: '0+' },
  ],
} as const satisfies ApiSpec;
