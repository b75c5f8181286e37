/** ApiVersions (18): advertises exactly the handler table. */
import { ErrorCode } from '../errors.ts';
import type { ApiHandler } from './index.ts';
import { handlers } from './index.ts';

export const apiVersionsHandler: ApiHandler<18> = {
  apiKey: 18,
  minVersion: 0,
  maxVersion: 4,
  handle() {
    return {
      errorCode: ErrorCode.NONE,
      apiKeys: [...handlers].sort((a, b) => a.apiKey - b.apiKey)
        .map((h) => ({ apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion })),
      throttleTimeMs: 0,
    };
  },
};
