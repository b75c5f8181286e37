/** DescribeGroups (key 15). v6: an error message (e.g. for a group that is not a classic group). */
import type { ApiSpec } from '../schema.ts';

export const describeGroups = {
  apiKey: 15,
  name: 'DescribeGroups',
  validVersions: '0-6',
  flexibleVersions: '5+',
  request: [
    { name: 'groups', type: '[]string', versions: '0+' },
    { name: 'includeAuthorizedOperations', type: 'bool', versions: '3+', default: false },
  ],
  response: [
    { name: 'throttleTimeMs', type: 'int32', versions: '1+' },
    { name: 'groups', type: '[]DescribedGroup', versions: '0+', fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '6+', nullableVersions: '6+', default: null },
      { name: 'groupId', type: 'string', versions: '0+' },
      { name: 'groupState', type: 'string', versions: '0+' },
      { name: 'protocolType', type: 'string', versions: '0+' },
      { name: 'protocolData', type: 'string', versions: '0+' },
      { name: 'members', type: '[]DescribedGroupMember', versions: '0+', fields: [
        { name: 'memberId', type: 'string', versions: '0+' },
        { name: 'groupInstanceId', type: 'string', versions: '4+', nullableVersions: '4+', default: null },
        { name: 'clientId', type: 'string', versions: '0+' },
        { name: 'clientHost', type: 'string', versions: '0+' },
        { name: 'memberMetadata', type: 'bytes', versions: '0+' },
        { name: 'memberAssignment', type: 'bytes', versions: '0+' },
      ] },
      { name: 'authorizedOperations', type: 'int32', versions: '3+', default: -2147483648 },
    ] },
  ],
} as const satisfies ApiSpec;
