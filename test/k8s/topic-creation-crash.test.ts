/**
 * Topic creation on the Kubernetes store survives a SIGKILL of the broker handling the request,
 * mid-batch: each topic is one API write (the Topic with its placement in its creation
 * annotation), so every Topic object the API server holds is a whole topic that every other
 * broker serves, the killed broker learns them when it comes back, and the client's retry of
 * the same request finishes the batch (TOPIC_ALREADY_EXISTS for those that made it).
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { Kafka, logLevel } from 'kafkajs';
import { Kube } from '../../broker/k8s/client.ts';
import type { Topic } from '../../broker/k8s/crds.ts';
import { resources, type KubeObject } from '../../broker/k8s/objects.ts';
import { topicPlacement } from '../../broker/k8s/topic-placement.ts';
import { startBrokerFleet, waitFor } from './broker-processes.ts';
import { useApiServer } from './jest.ts';

const api = useApiServer();
const ns = 'topic-crash';
const TOPICS = 400;
const names = Array.from({ length: TOPICS }, (_, i) => `crash-${i}`);

let fleet: Awaited<ReturnType<typeof startBrokerFleet>>;
let kube: Kube;

beforeAll(async () => {
  fleet = await startBrokerFleet(api(), { namespace: ns });
  const kc = new KubeConfig();
  kc.loadFromFile(api().kubeconfigPath);
  kube = new Kube(kc);
}, 120_000);

afterAll(() => fleet?.stop());

const topicObjects = async () => (await kube.list<Topic & KubeObject>(resources.Topic, ns)).items;

test('SIGKILL of the broker creating a batch of topics leaves only whole topics, which every broker serves, and a retry finishes the batch', async () => {
  const admin = new Kafka({ brokers: fleet.bootstrap(), logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  await admin.connect();
  // kafkajs sends CreateTopics to the controller that Metadata names: that is the broker to kill
  const { controller } = await admin.describeCluster();
  const victim = fleet.nodes.find((n) => n.id === controller)!;
  const batch = admin.createTopics({ topics: names.map((topic) => ({ topic, numPartitions: 2, replicationFactor: 3 })), timeout: 120_000 })
    .then(() => 'answered', (err: Error) => `failed: ${err.message}`);
  await waitFor(async () => (await topicObjects()).length >= 20, 'the first Topics of the batch', 60_000);
  victim.child!.kill('SIGKILL');
  await new Promise((r) => victim.child!.once('exit', r));
  const objects = await topicObjects();
  const outcome = await batch;
  await admin.disconnect().catch(() => undefined);
  // killed mid-batch: the request got no answer, part of the batch is stored
  expect({ stored: objects.length < TOPICS, outcome }).toEqual({ stored: true, outcome: expect.stringMatching(/^failed/) });

  // Every stored Topic is whole: a topic id and a placement of 2 partitions on 3 distinct brokers.
  const survivors = fleet.nodes.filter((n) => n !== victim);
  const stored = await topicObjects();
  for (const t of stored) {
    const placement = topicPlacement(t);
    expect({ name: t.metadata.name, placed: placement !== undefined }).toEqual({ name: t.metadata.name, placed: true });
    expect(placement!.partitions.map((p) => new Set(p.replicas).size)).toEqual([3, 3]);
  }
  const storedNames = stored.map((t) => t.metadata.name!);

  // The surviving brokers serve every one of them.
  const survivorAdmin = new Kafka({ brokers: survivors.map((n) => `127.0.0.1:${n.port}`), logLevel: logLevel.NOTHING }).admin();
  await survivorAdmin.connect();
  try {
    await waitFor(async () => {
      const listed = new Set(await survivorAdmin.listTopics());
      return storedNames.every((n) => listed.has(n));
    }, 'the surviving brokers to list every stored Topic', 30_000);

    // The killed broker comes back and learns them through its watch, like everyone else.
    await fleet.start(victim);
    const victimAdmin = new Kafka({ brokers: [`127.0.0.1:${victim.port}`], logLevel: logLevel.NOTHING }).admin();
    await victimAdmin.connect();
    try {
      await waitFor(async () => {
        const listed = new Set(await victimAdmin.listTopics());
        return storedNames.every((n) => listed.has(n));
      }, 'the restarted broker to list every stored Topic', 60_000);
    } finally {
      await victimAdmin.disconnect();
    }

    // A broker places a topic's 3 replicas only on brokers it sees live: until the restarted one is
    // back in every broker's view (its membership lease), a retry may be refused with
    // INVALID_REPLICATION_FACTOR, as Kafka refuses one with fewer live brokers than the factor.
    for (const node of fleet.nodes) {
      const one = new Kafka({ brokers: [`127.0.0.1:${node.port}`], logLevel: logLevel.NOTHING }).admin();
      await one.connect();
      try {
        await waitFor(async () => (await one.describeCluster()).brokers.length === fleet.nodes.length, `broker ${node.id} to see every broker`, 60_000);
      } finally {
        await one.disconnect();
      }
    }

    // The client's retry of the whole request finishes the batch.
    const retry = new Kafka({ brokers: fleet.bootstrap(), logLevel: logLevel.NOTHING }).admin();
    await retry.connect();
    try {
      await retry.createTopics({ topics: names.map((topic) => ({ topic, numPartitions: 2, replicationFactor: 3 })), timeout: 120_000 })
        .catch((err: Error & { errors?: Array<{ type?: string }> }) => {
          // kafkajs aggregates the per-topic errors: only "already exists" (the ones stored before the crash) is expected
          if (!err.errors?.every((e) => e.type === 'TOPIC_ALREADY_EXISTS')) throw err;
          // (a create the API server received before the kill may land just after the list above)
          expect(err.errors.length).toBeGreaterThanOrEqual(stored.length);
        });
    } finally {
      await retry.disconnect();
    }
    const after = await topicObjects();
    expect(after.map((t) => t.metadata.name).sort()).toEqual([...names].sort());
    expect(after.every((t) => topicPlacement(t) !== undefined)).toBe(true);
    // the ones stored before the crash kept their topic ids
    const ids = new Map(stored.map((t) => [t.metadata.name, topicPlacement(t)!.topicId]));
    expect(after.filter((t) => ids.has(t.metadata.name)).every((t) => topicPlacement(t)!.topicId === ids.get(t.metadata.name))).toBe(true);
  } finally {
    await survivorAdmin.disconnect();
  }
}, 300_000);
