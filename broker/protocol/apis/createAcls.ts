/** CreateAcls (key 30). Kafka 4.x serves v1-v3 (v0 removed in 4.0); flexible from v2. */
import type { ApiSpec } from '../schema.ts';

export const createAcls = {
  apiKey: 30,
  name: 'CreateAcls',
  validVersions: '1-3',
  flexibleVersions: '2+',
  request: [
    { name: 'creations', type: '[]AclCreation', versions: '0+', fields: [
      { name: 'resourceType', type: 'int8', versions: '0+' },
      { name: 'resourceName', type: 'string', versions: '0+' },
      { name: 'resourcePatternType', type: 'int8', versions: '1+', default: 3 },
      { name: 'principal', type: 'string', versions: '0+' },
      { name: 'host', type: 'string', versions: '0+' },
      { name: 'operation', type: 'int8', versions: '0+' },
      { name: 'permissionType', type: 'int8', versions: '0+' },
    ] },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'results', type: '[]AclCreationResult', versions: '0+', fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
    ] },
  ],
} as const satisfies ApiSpec;
