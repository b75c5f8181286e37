/**
 * Controlled shutdown (Kafka's): before a broker goes away, every partition it leads moves to
 * another live in-sync replica (electLeader's 'controlled-shutdown' rule; compare-and-swap on the
 * topic's version, leader and partition epochs bumped), so clients fail over at once instead of
 * waiting for the broker's liveness lease to expire. A topic written concurrently is re-read and
 * tried again a few times; any other failure leaves that topic to the controller's election.
 */
import type { Logger } from '../logger.ts';
import { StaleVersionError } from '../metadata/index.ts';
import type { MetadataStore } from '../metadata/index.ts';
import { electLeader } from './election.ts';

const ATTEMPTS = 5;

export interface HandOffInput {
  store: MetadataStore;
  /** The broker going away. */
  nodeId: number;
  /** The other live brokers. */
  others: ReadonlySet<number>;
  /** Topics with a partition this broker leads. */
  topics: Iterable<string>;
  log: Logger;
}

export async function handOffLeadership({ store, nodeId, others, topics, log }: HandOffInput): Promise<void> {
  if (others.size === 0) return;
  for (const name of topics) {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const topic = await store.getTopic(name);
      if (!topic) break;
      let moved = 0;
      const partitions = topic.partitions.map((s) => {
        const handOff = electLeader({ ...s, live: others }, { kind: 'controlled-shutdown', leaving: nodeId });
        if (!handOff.elected) return s;
        moved++;
        return { ...s, leader: handOff.leader, isr: handOff.isr, leaderEpoch: s.leaderEpoch + 1, partitionEpoch: s.partitionEpoch + 1 };
      });
      if (moved === 0) break;
      try {
        await store.updateTopic(name, topic.version, { partitions });
        log.info(`controlled shutdown: moved leadership of ${moved} partition(s) of ${name}`);
        break;
      } catch (err) {
        if (!(err instanceof StaleVersionError)) {
          log.warn(`controlled shutdown of ${name} failed: ${(err as Error).message}`);
          break;
        }
      }
    }
  }
}
