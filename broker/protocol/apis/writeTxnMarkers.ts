/** WriteTxnMarkers (key 27): coordinator to partition leaders, write commit/abort markers. Kafka 4 keeps only v1. */
import type { ApiSpec } from '../schema.ts';

export const writeTxnMarkers = {
  apiKey: 27,
  name: 'WriteTxnMarkers',
  validVersions: '1',
  flexibleVersions: '1+',
  request: [
    { name: 'markers', type: '[]WritableTxnMarker', versions: '0+', fields: [
      { name: 'producerId', type: 'int64', versions: '0+' },
      { name: 'producerEpoch', type: 'int16', versions: '0+' },
      { name: 'transactionResult', type: 'bool', versions: '0+' },
      { name: 'topics', type: '[]WritableTxnMarkerTopic', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'partitionIndexes', type: '[]int32', versions: '0+' },
      ] },
      { name: 'coordinatorEpoch', type: 'int32', versions: '0+' },
    ] },
  ],
  response: [
    { name: 'markers', type: '[]WritableTxnMarkerResult', versions: '0+', fields: [
      { name: 'producerId', type: 'int64', versions: '0+' },
      { name: 'topics', type: '[]WritableTxnMarkerTopicResult', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'partitions', type: '[]WritableTxnMarkerPartitionResult', versions: '0+', fields: [
          { name: 'partitionIndex', type: 'int32', versions: '0+' },
          { name: 'errorCode', type: 'int16', versions: '0+' },
        ] },
      ] },
    ] },
  ],
} as const satisfies ApiSpec;
