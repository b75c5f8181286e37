/** AlterClientQuotas (key 49): set or remove quota values of user / client-id / ip entities. */
import type { ApiSpec } from '../schema.ts';

const entity = [
  { name: 'entityType', type: 'string', versions: '0+' },
  { name: 'entityName', type: 'string', versions: '0+', nullableVersions: '0+' },
] as const;

export const alterClientQuotas = {
  apiKey: 49,
  name: 'AlterClientQuotas',
  validVersions: '0-1',
  flexibleVersions: '1+',
  request: [
    { name: 'entries', type: '[]EntryData', versions: '0+', fields: [
      { name: 'entity', type: '[]EntityData', versions: '0+', fields: entity },
      { name: 'ops', type: '[]OpData', versions: '0+', fields: [
        { name: 'key', type: 'string', versions: '0+' },
        { name: 'value', type: 'float64', versions: '0+' },
        { name: 'remove', type: 'bool', versions: '0+' },
      ] },
    ] },
    { name: 'validateOnly', type: 'bool', versions: '0+' },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'entries', type: '[]EntryData', versions: '0+', fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
      { name: 'entity', type: '[]EntityData', versions: '0+', fields: entity },
    ] },
  ],
} as const satisfies ApiSpec;
