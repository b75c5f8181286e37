/** EndTxn (key 26): commit or abort. v5 (KIP-890 part 2) answers with the bumped producer id and epoch. */
import type { ApiSpec } from '../schema.ts';

export const endTxn = {
  apiKey: 26,
  name: 'EndTxn',
  validVersions: '0-5',
  flexibleVersions: '3+',
  request: [
    { name: 'transactionalId', type: 'string', versions: '0+' },
    { name: 'producerId', type: 'int64', versions: '0+' },
    { name: 'producerEpoch', type: 'int16', versions: '0+' },
    { name: 'committed', type: 'bool', versions: '0+' },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '0+' },
    { name: 'producerId', type: 'int64', versions: '5+', default: -1n },
    { name: 'producerEpoch', type: 'int16', versions: '5+', default: -1 },
  ],
} as const satisfies ApiSpec;
