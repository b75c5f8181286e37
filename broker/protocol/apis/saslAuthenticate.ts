/** SaslAuthenticate (key 36). */
import type { ApiSpec } from '../schema.ts';

export const saslAuthenticate = {
  apiKey: 36,
  name: 'SaslAuthenticate',
  validVersions: '0-2',
  flexibleVersions: '2+',
  request: [
    { name: 'authBytes', type: 'bytes', versions: '0+' },
  ],
  response: [
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
    { name: 'authBytes', type: 'bytes', versions: '0+' },
    { name: 'sessionLifetimeMs', type: 'int64', versions: '1+', default: 0n },
  ],
} as const satisfies ApiSpec;
