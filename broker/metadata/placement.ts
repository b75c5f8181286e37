/**
 * Replica placement for new partitions.
 *
 * GOALS: spread replicas and leaders evenly over the brokers; put a partition's replicas in
 * different racks when racks are known.
 * CONSTRAINTS: replication factor ≤ number of brokers; the replicas of one partition are
 * distinct brokers.
 * ALGORITHM: striped round robin, like Kafka's placer: brokers are ordered rack-interleaved
 * (one broker of each rack in turn), a random start position is drawn once per call, partition
 * p's leader is the broker at (start + p); its followers are the next brokers from a shifted
 * position (the shift changes every full round so followers do not always pair with the same
 * leader), taking a broker of a rack not used yet by the partition whenever there is one.
 * Pure: the randomness is passed in.
 */
import { KafkaError } from '../errors.ts';

export interface BrokerInfo {
  readonly id: number;
  readonly rack: string | null;
}

export function placeReplicas(opts: {
  brokers: readonly BrokerInfo[];
  partitions: number;
  replicationFactor: number;
  /** First partition index to place (CreatePartitions adds to existing ones). */
  firstPartition?: number;
  random: () => number;
}): number[][] {
  const { brokers, partitions, replicationFactor } = opts;
  const first = opts.firstPartition ?? 0;
  if (replicationFactor < 1) throw new KafkaError('INVALID_REPLICATION_FACTOR', 'Replication factor must be larger than 0.');
  if (replicationFactor > brokers.length) {
    throw new KafkaError('INVALID_REPLICATION_FACTOR',
      `Replication factor: ${replicationFactor} larger than available brokers: ${brokers.length}.`);
  }
  if (partitions < 1) throw new KafkaError('INVALID_PARTITIONS', 'Number of partitions must be larger than 0.');
  const ordered = rackInterleaved(brokers);
  const n = ordered.length;
  const start = Math.floor(opts.random() * n);
  const out: number[][] = [];
  for (let p = first; p < first + partitions; p++) {
    const leaderPos = (start + p) % n;
    const shift = 1 + (Math.floor(p / n) % Math.max(1, n - 1));
    const chosen = [ordered[leaderPos]!];
    while (chosen.length < replicationFactor) {
      // walk from the shifted position; take the first broker in a rack not used yet, else any unused broker
      const walk = Array.from({ length: n }, (_, k) => ordered[(leaderPos + shift + k) % n]!)
        .filter((b) => !chosen.includes(b));
      const racks = new Set(chosen.map((b) => b.rack));
      chosen.push(walk.find((b) => b.rack === null || !racks.has(b.rack)) ?? walk[0]!);
    }
    const replicas = chosen.map((b) => b.id);
    out.push(replicas);
  }
  return out;
}

/** Brokers sorted by id within each rack, then taken one rack at a time. */
function rackInterleaved(brokers: readonly BrokerInfo[]): BrokerInfo[] {
  const byRack = new Map<string, BrokerInfo[]>();
  for (const b of [...brokers].sort((a, c) => a.id - c.id)) {
    const key = b.rack ?? '';
    if (!byRack.has(key)) byRack.set(key, []);
    byRack.get(key)!.push(b);
  }
  const racks = [...byRack.values()];
  const out: BrokerInfo[] = [];
  for (let i = 0; out.length < brokers.length; i++) {
    for (const rack of racks) if (i < rack.length) out.push(rack[i]!);
  }
  return out;
}

const LEGAL = /^[a-zA-Z0-9._-]+$/;

/** Kafka's topic-name rules; throws INVALID_TOPIC_EXCEPTION with the reason. */
export function validateTopicName(name: string): void {
  if (name.length === 0) throw new KafkaError('INVALID_TOPIC_EXCEPTION', 'Topic name is illegal, it can\'t be empty');
  if (name === '.' || name === '..') throw new KafkaError('INVALID_TOPIC_EXCEPTION', 'Topic name cannot be "." or ".."');
  if (name.length > 249) throw new KafkaError('INVALID_TOPIC_EXCEPTION', `Topic name is illegal, it can't be longer than 249 characters, topic name: ${name}`);
  if (!LEGAL.test(name)) {
    throw new KafkaError('INVALID_TOPIC_EXCEPTION',
      `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`);
  }
}
