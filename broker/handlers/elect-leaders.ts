/**
 * ElectLeaders (43): preferred-leader election (type 0) moves leadership back to the first
 * replica when it is live and in the ISR; unclean election (type 1) elects any live replica for
 * partitions that have no leader. Who may lead is replication/election.ts's rule. Like every
 * partition-state change, it is a compare-and-swap of the topic in the metadata store.
 */
import { ErrorCode, KafkaError, errorCodeOf } from '../errors.ts';
import { StaleVersionError } from '../metadata/index.ts';
import type { PartitionState } from '../metadata/index.ts';
import { electLeader } from '../replication/election.ts';
import { AclOperation, clusterAllowed } from './authz.ts';
import type { ApiHandler, BrokerServices } from './index.ts';

const PREFERRED = 0;
const UNCLEAN = 1;

/** The partition after an ElectLeaders election of `type` (replication/election.ts decides who leads). */
function elect(p: PartitionState, type: number, live: Set<number>): PartitionState {
  if (type !== PREFERRED && type !== UNCLEAN) throw new KafkaError('INVALID_REQUEST', `Unknown election type ${type}`);
  const outcome = electLeader({ ...p, live }, type === PREFERRED ? { kind: 'preferred' } : { kind: 'offline', unclean: true });
  if (!outcome.elected) throw new KafkaError(outcome.reason, outcome.message);
  return { ...p, leader: outcome.leader, isr: outcome.isr, leaderEpoch: p.leaderEpoch + 1, partitionEpoch: p.partitionEpoch + 1 };
}

export const electLeadersHandler: ApiHandler<43> = {
  apiKey: 43,
  minVersion: 0,
  maxVersion: 2,
  async handle(req, ctx) {
    const { broker, apiVersion } = ctx;
    if (!clusterAllowed(ctx, AclOperation.ALTER)) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, replicaElectionResults: [] };
    }
    const type = apiVersion >= 1 ? req.electionType : PREFERRED;
    const wanted = req.topicPartitions ?? [...broker.allTopics()].map((t) => ({ topic: t.spec.name, partitions: t.partitions.map((p) => p.partition) }));
    const live = new Set(broker.liveBrokers().map((b) => b.id));
    const replicaElectionResults = [];
    for (const w of wanted) {
      replicaElectionResults.push({ topic: w.topic, partitionResult: await electTopic(broker, w.topic, w.partitions, type, live) });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, replicaElectionResults };
  },
};

async function electTopic(broker: BrokerServices, name: string, partitions: number[], type: number, live: Set<number>) {
  for (let attempt = 0; ; attempt++) {
    const topic = await broker.store.getTopic(name);
    const results = new Map<number, { errorCode: number; errorMessage: string | null }>();
    if (!topic) {
      return partitions.map((partitionId) => ({ partitionId, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic '${name}' does not exist.` }));
    }
    const next = topic.partitions.map((p) => {
      if (!partitions.includes(p.partition)) return p;
      try {
        const elected = elect(p, type, live);
        results.set(p.partition, { errorCode: ErrorCode.NONE, errorMessage: null });
        return elected;
      } catch (err) {
        results.set(p.partition, { errorCode: errorCodeOf(err), errorMessage: (err as Error).message });
        return p;
      }
    });
    try {
      if ([...results.values()].some((r) => r.errorCode === ErrorCode.NONE)) {
        await broker.store.updateTopic(name, topic.version, { partitions: next });
        await broker.settled();
      }
    } catch (err) {
      if (err instanceof StaleVersionError && attempt < 5) continue;
      throw err;
    }
    return partitions.map((partitionId) => ({
      partitionId,
      ...(results.get(partitionId) ?? { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `No partition ${partitionId} in ${name}.` }),
    }));
  }
}
