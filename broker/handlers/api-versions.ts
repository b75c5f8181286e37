/** ApiVersions (18): advertises exactly the handler table, and the feature levels Brook implements. */
import { ErrorCode } from '../errors.ts';
import type { ApiHandler } from './index.ts';
import { handlers } from './index.ts';

/**
 * Feature flags (KIP-584) as Kafka 4.x brokers report them in ApiVersions v3+: `group.version` 1
 * is the consumer group protocol (KIP-848), which tools and clients look for before using it;
 * `transaction.version` 2 is the transaction protocol v2 (KIP-890 part 2: an epoch bump per
 * transaction, partitions added by their leaders), which the Java client 4.x then speaks.
 * Brook's features are fixed by its code, so they are always finalized at their highest level.
 */
const FEATURES = [
  { name: 'group.version', minVersion: 0, maxVersion: 1 },
  { name: 'transaction.version', minVersion: 0, maxVersion: 2 },
] as const;
/** Finalized features never change while a broker runs; the epoch only has to be >= 0. */
const FINALIZED_FEATURES_EPOCH = 0n;

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
      supportedFeatures: FEATURES.map((f) => ({ name: f.name, minVersion: f.minVersion, maxVersion: f.maxVersion })),
      finalizedFeaturesEpoch: FINALIZED_FEATURES_EPOCH,
      finalizedFeatures: FEATURES.map((f) => ({ name: f.name, minVersionLevel: f.maxVersion, maxVersionLevel: f.maxVersion })),
    };
  },
};
