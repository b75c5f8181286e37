/** Topic set-up through kafkajs's admin client, shared by the client suites. */
import type { Admin, ITopicConfig } from 'kafkajs';

/**
 * Creates a topic and waits until metadata shows a leader for every partition. CreateTopics may
 * answer before the new topic reaches the metadata a broker serves (Apache Kafka does this under
 * load), so this polls Metadata instead of relying on kafkajs's `waitForLeaders`, which gives up on
 * UNKNOWN_TOPIC_OR_PARTITION. Resolves to whether CreateTopics created it (false: it existed).
 */
export async function createTopicAndWait(admin: Admin, spec: ITopicConfig, timeoutMs = 15_000): Promise<boolean> {
  const created = await admin.createTopics({ topics: [spec], waitForLeaders: false });
  const partitions = spec.numPartitions ?? 1;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [spec.topic] });
      const ps = meta.topics[0]?.partitions ?? [];
      if (ps.length >= partitions && ps.every((p) => p.leader >= 0)) return created;
      last = `partitions ${JSON.stringify(ps)}`;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`topic ${spec.topic} has no leaders for all ${partitions} partitions after ${timeoutMs} ms: ${String(last)}`);
}
