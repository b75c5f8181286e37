/**
 * DescribeLogDirs (key 35). v0 is gone since Kafka 4.0; v2 is the first flexible version; v3
 * adds the top-level errorCode, v4 the volume's total and usable bytes. topics null = all.
 */
import type { ApiSpec } from '../schema.ts';

export const describeLogDirs = {
  apiKey: 35,
  name: 'DescribeLogDirs',
  validVersions: '1-4',
  flexibleVersions: '2+',
  request: [
    { name: 'topics', type: '[]DescribableLogDirTopic', versions: '0+', nullableVersions: '0+', default: null, fields: [
      { name: 'topic', type: 'string', versions: '0+' },
      { name: 'partitions', type: '[]int32', versions: '0+' },
    ] },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
    { name: 'errorCode', type: 'int16', versions: '3+', default: 0 },
    { name: 'results', type: '[]DescribeLogDirsResult', versions: '0+', fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'logDir', type: 'string', versions: '0+' },
      { name: 'topics', type: '[]DescribeLogDirsTopic', versions: '0+', fields: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'partitions', type: '[]DescribeLogDirsPartition', versions: '0+', fields: [
          { name: 'partitionIndex', type: 'int32', versions: '0+' },
          { name: 'partitionSize', type: 'int64', versions: '0+' },
          { name: 'offsetLag', type: 'int64', versions: '0+' },
          { name: 'isFutureKey', type: 'bool', versions: '0+' },
        ] },
      ] },
      { name: 'totalBytes', type: 'int64', versions: '4+', default: -1n },
      { name: 'usableBytes', type: 'int64', versions: '4+', default: -1n },
    ] },
  ],
} as const satisfies ApiSpec;
