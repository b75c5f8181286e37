import { afterAll, afterEach, beforeEach, describe, expect, test } from '@jest/globals';
/**
 * The MetadataStore conformance suite: one set of behaviours every backend must show. Each
 * backend's test file calls `describeStoreConformance` with a factory; the Kubernetes store will
 * run the same suite against a real API server.
 */
import { ErrorCode, KafkaError } from '../errors.ts';
import { makeCredential } from '../security/scram.ts';
import { ControllerFencedError, StaleVersionError } from './types.ts';
import type { AclBinding, MetadataStore, PartitionState, TopicEvent, TopicSpec } from './types.ts';

export interface StoreFactory {
  /** A fresh, empty store. */
  create(): Promise<MetadataStore>;
  /** The same store reopened (a restart), for backends that persist; omitted for memory. */
  reopen?(store: MetadataStore): Promise<MetadataStore>;
}

export const specOf = (name: string, partitions = 1): TopicSpec => ({ name, partitions, replicationFactor: 1, configs: {} });
export const partitionsOf = (n: number): PartitionState[] => Array.from({ length: n }, (_, partition) => ({
  partition, replicas: [0], leader: 0, isr: [0], leaderEpoch: 0, partitionEpoch: 0,
}));

/** ALLOW READ on topic `t` for a principal. */
const aclOf = (principal: string): AclBinding => ({ resourceType: 2, resourceName: 't', patternType: 3, principal, host: '*', operation: 3, permission: 3 });

function kafkaCode(err: unknown): number | undefined {
  return err instanceof KafkaError ? err.errorCode : undefined;
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function describeStoreConformance(name: string, factory: StoreFactory): void {
  describe(`MetadataStore conformance: ${name}`, () => {
    let store: MetadataStore;
    beforeEach(async () => { store = await factory.create(); });
    afterEach(async () => { await store.close(); });

    test('creates, lists, gets and deletes topics', async () => {
      const created = await store.createTopic(specOf('orders', 3), partitionsOf(3));
      expect(created.topicId).toMatch(/^[0-9a-f-]{36}$/);
      expect((await store.listTopics()).map((t) => t.spec.name)).toEqual(['orders']);
      expect((await store.getTopic('orders'))?.partitions).toHaveLength(3);
      await store.deleteTopic('orders');
      expect(await store.getTopic('orders')).toBeUndefined();
    });

    test('rejects a second topic of the same name with TOPIC_ALREADY_EXISTS', async () => {
      await store.createTopic(specOf('dup'), partitionsOf(1));
      const err = await store.createTopic(specOf('dup'), partitionsOf(1)).catch((e: unknown) => e);
      expect(kafkaCode(err)).toBe(ErrorCode.TOPIC_ALREADY_EXISTS);
    });

    test('deleting a missing topic is UNKNOWN_TOPIC_OR_PARTITION', async () => {
      const err = await store.deleteTopic('nope').catch((e: unknown) => e);
      expect(kafkaCode(err)).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    });

    test('a recreated topic gets a new topic id', async () => {
      const first = await store.createTopic(specOf('again'), partitionsOf(1));
      await store.deleteTopic('again');
      const second = await store.createTopic(specOf('again'), partitionsOf(1));
      expect(second.topicId).not.toBe(first.topicId);
    });

    test('concurrent writers are resolved by compare-and-swap: exactly one wins', async () => {
      const t = await store.createTopic(specOf('cas', 1), partitionsOf(1));
      const results = await Promise.allSettled([2, 3, 4].map((n) =>
        store.updateTopic('cas', t.version, { spec: { ...t.spec, partitions: n }, partitions: partitionsOf(n) })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(StaleVersionError);
      const now = await store.getTopic('cas');
      expect(now!.version).not.toBe(t.version);
    });

    test('watch replays existing topics, then reports changes in order', async () => {
      await store.createTopic(specOf('before'), partitionsOf(1));
      const events: string[] = [];
      const stop = store.watchTopics((e: TopicEvent) => events.push(`${e.type}:${e.topic.spec.name}:${e.topic.spec.partitions}`));
      const t = await store.createTopic(specOf('after'), partitionsOf(1));
      await store.updateTopic('after', t.version, { spec: { ...t.spec, partitions: 2 }, partitions: partitionsOf(2) });
      await store.deleteTopic('before');
      stop();
      await store.createTopic(specOf('unseen'), partitionsOf(1));
      expect(events).toEqual(['put:before:1', 'put:after:1', 'put:after:2', 'deleted:before:1']);
    });

    test('producer id blocks never overlap', async () => {
      const a = await store.allocateProducerIds(1000);
      const b = await store.allocateProducerIds(1000);
      expect(b >= a + 1000n).toBe(true);
    });

    test('broker leases: registration is seen live, expiry and unregistration are seen gone', async () => {
      const seen: number[][] = [];
      const stop = store.watchBrokers((b) => seen.push(b.map((x) => x.id)));
      await store.heartbeatBroker({ id: 1, host: 'h1', port: 1, rack: null }, 60_000);
      await store.heartbeatBroker({ id: 2, host: 'h2', port: 2, rack: 'r' }, 150);
      await store.heartbeatBroker({ id: 1, host: 'h1', port: 1, rack: null }, 60_000); // a renewal changes nothing
      await waitFor(() => seen.at(-1)!.length === 1);
      await store.unregisterBroker(1);
      stop();
      expect(seen).toEqual([[], [1], [1, 2], [1], []]);
    });

    test('controller lease: one holder at a time, taken over only after expiry, epoch grows', async () => {
      const leases: Array<string> = [];
      const stop = store.watchController((l) => leases.push(l ? `${l.holder}@${l.epoch}` : 'none'));
      const a = await store.claimController(1, 200);
      expect(a.holder).toBe(1);
      expect((await store.claimController(2, 200)).holder).toBe(1);
      expect((await store.claimController(1, 200)).epoch).toBe(a.epoch);
      await waitFor(() => leases.at(-1) === 'none');
      const b = await store.claimController(2, 60_000);
      expect(b.holder).toBe(2);
      expect(b.epoch).toBeGreaterThan(a.epoch);
      await store.releaseController(1); // not the holder: no effect
      expect((await store.claimController(1, 60_000)).holder).toBe(2);
      await store.releaseController(2);
      stop();
      expect(leases).toEqual(['none', `1@${a.epoch}`, 'none', `2@${b.epoch}`, 'none']);
    });

    test('controller fencing: a write under an older controller epoch is refused even at the current version; writes without one keep the epoch', async () => {
      const t = await store.createTopic(specOf('fenced', 1), partitionsOf(1));
      expect(t.controllerEpoch).toBe(0);
      const fenced = await store.updateTopic('fenced', t.version, { controllerEpoch: 5 }); // only fences
      expect(fenced.controllerEpoch).toBe(5);
      expect(fenced.partitions).toEqual(t.partitions);
      const moved = partitionsOf(1).map((p) => ({ ...p, leaderEpoch: 1, partitionEpoch: 1 }));
      const err = await store.updateTopic('fenced', fenced.version, { partitions: moved, controllerEpoch: 4 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ControllerFencedError);
      expect((err as ControllerFencedError).code).toBe('BROOK_ERR_CONTROLLER_FENCED');
      expect((await store.getTopic('fenced'))!.version).toBe(fenced.version);
      const same = await store.updateTopic('fenced', fenced.version, { partitions: moved, controllerEpoch: 5 });
      expect(same.partitions).toEqual(moved);
      const byLeader = await store.updateTopic('fenced', same.version, { partitions: moved.map((p) => ({ ...p, partitionEpoch: 2 })) });
      expect(byLeader.controllerEpoch).toBe(5);
      expect((await store.getTopic('fenced'))!.controllerEpoch).toBe(5);
    });

    test('a controller paused between its read and its write cannot land the write once a newer controller fenced the topic', async () => {
      const t = await store.createTopic(specOf('paused', 1), partitionsOf(1));
      const old = await store.updateTopic('paused', t.version, { controllerEpoch: 1 });
      // controller epoch 1 read `old` and planned a change, then paused; epoch 2 took over meanwhile
      const planned = old.partitions.map((p) => ({ ...p, leader: -1, leaderEpoch: p.leaderEpoch + 1, partitionEpoch: p.partitionEpoch + 1 }));
      const newer = await store.updateTopic('paused', old.version, { controllerEpoch: 2 });
      const resumed = await store.updateTopic('paused', old.version, { partitions: planned, controllerEpoch: 1 }).catch((e: unknown) => e);
      expect(resumed).toBeInstanceOf(StaleVersionError);
      // and on fresh state the old epoch is refused
      const retried = await store.updateTopic('paused', newer.version, { partitions: planned, controllerEpoch: 1 }).catch((e: unknown) => e);
      expect(retried).toBeInstanceOf(ControllerFencedError);
      const now = (await store.getTopic('paused'))!;
      expect(now.partitions).toEqual(t.partitions);
      expect(now.controllerEpoch).toBe(2);
    });

    test('a reassignment in flight (adding and removing replicas) is kept beside replicas and ISR, and read back and watched as written', async () => {
      const t = await store.createTopic({ ...specOf('moving', 2), replicationFactor: 2 }, partitionsOf(2));
      const moving: PartitionState = { partition: 0, replicas: [3, 4, 0, 1], leader: 0, isr: [0, 1], leaderEpoch: 0, partitionEpoch: 1,
        addingReplicas: [3, 4], removingReplicas: [0, 1] };
      const seen: PartitionState[] = [];
      const stop = store.watchTopics((e) => { if (e.type === 'put' && e.topic.spec.name === 'moving') seen.push(e.topic.partitions[0]!); });
      const written = await store.updateTopic('moving', t.version, { partitions: [moving, t.partitions[1]!] });
      await waitFor(() => seen.some((p) => p.addingReplicas !== undefined));
      stop();
      expect(written.partitions[0]).toEqual(moving);
      expect((await store.getTopic('moving'))!.partitions).toEqual([moving, t.partitions[1]]);
      expect(seen.at(-1)).toEqual(moving);
      // finishing it leaves no reassignment behind
      const done: PartitionState = { partition: 0, replicas: [3, 4], leader: 3, isr: [3, 4], leaderEpoch: 1, partitionEpoch: 2 };
      await store.updateTopic('moving', written.version, { partitions: [done, t.partitions[1]!] });
      expect((await store.getTopic('moving'))!.partitions[0]).toEqual(done);
    });

    test('dynamic broker configs: per broker and for the cluster default (\'\'), reported to watchers; an empty record removes an entity', async () => {
      const seen: string[] = [];
      const stop = store.watchBrokerConfigs((c) => seen.push(JSON.stringify(c)));
      await store.setBrokerConfigs('1', { 'leader.replication.throttled.rate': '100' });
      await store.setBrokerConfigs('', { 'follower.replication.throttled.rate': '200' });
      const both = JSON.stringify({ 1: { 'leader.replication.throttled.rate': '100' }, '': { 'follower.replication.throttled.rate': '200' } });
      await waitFor(() => seen.at(-1) === both);
      await store.setBrokerConfigs('1', {});
      await waitFor(() => seen.at(-1) === JSON.stringify({ '': { 'follower.replication.throttled.rate': '200' } }));
      stop();
      expect(seen[0]).toBe('{}');
    });

    test('ACLs: updateAcls replaces the bindings atomically, concurrent updates both land, watchers see every change', async () => {
      const seen: string[][] = [];
      const stop = store.watchAcls((acls) => seen.push(acls.map((a) => a.principal)));
      const add = (principal: string) => store.updateAcls((current) => ({ acls: [...current, aclOf(principal)], result: current.length }));
      await Promise.all([add('User:alice'), add('User:bob')]);
      expect(seen[0]).toEqual([]);
      await waitFor(() => (seen.at(-1) ?? []).length === 2);
      expect([...seen.at(-1)!].sort()).toEqual(['User:alice', 'User:bob']);
      const removed = await store.updateAcls((current) => ({ acls: current.filter((a) => a.principal !== 'User:alice'), result: current.filter((a) => a.principal === 'User:alice') }));
      expect(removed.map((a) => a.principal)).toEqual(['User:alice']);
      await waitFor(() => JSON.stringify(seen.at(-1)) === JSON.stringify(['User:bob']));
      stop();
    });

    test('SCRAM credentials: set per user and mechanism, reported to watchers, a user with none left disappears; never a password', async () => {
      const seen: string[] = [];
      const stop = store.watchScramCredentials((c) => seen.push(JSON.stringify(c)));
      const a = makeCredential('SCRAM-SHA-512', 'alice-secret');
      const b = makeCredential('SCRAM-SHA-256', 'alice-secret');
      await store.alterScramCredentials([{ user: 'alice', mechanism: 'SCRAM-SHA-512', credential: a }, { user: 'alice', mechanism: 'SCRAM-SHA-256', credential: b }]);
      await waitFor(() => seen.at(-1) === JSON.stringify({ alice: { 'SCRAM-SHA-512': a, 'SCRAM-SHA-256': b } }));
      expect(seen.at(-1)).not.toContain('alice-secret');
      await store.alterScramCredentials([{ user: 'alice', mechanism: 'SCRAM-SHA-512', credential: null }]);
      await waitFor(() => seen.at(-1) === JSON.stringify({ alice: { 'SCRAM-SHA-256': b } }));
      await store.alterScramCredentials([{ user: 'alice', mechanism: 'SCRAM-SHA-256', credential: null }]);
      await waitFor(() => seen.at(-1) === '{}');
      stop();
    });

    if (factory.reopen) {
      test('ACLs survive a restart of the store', async () => {
        await store.updateAcls((current) => ({ acls: [...current, aclOf('User:carol')], result: null }));
        store = await factory.reopen!(store);
        const seen: string[][] = [];
        store.watchAcls((acls) => seen.push(acls.map((a) => a.principal)))();
        expect(seen).toEqual([['User:carol']]);
      });

      test('SCRAM credentials survive a restart of the store', async () => {
        const c = makeCredential('SCRAM-SHA-512', 'pw');
        await store.alterScramCredentials([{ user: 'bob', mechanism: 'SCRAM-SHA-512', credential: c }]);
        store = await factory.reopen!(store);
        const seen: string[] = [];
        const stop = store.watchScramCredentials((x) => seen.push(JSON.stringify(x)));
        await waitFor(() => seen.at(-1) === JSON.stringify({ bob: { 'SCRAM-SHA-512': c } }));
        stop();
      });

      test('dynamic broker configs survive a restart of the store', async () => {
        await store.setBrokerConfigs('2', { 'follower.replication.throttled.rate': '300' });
        store = await factory.reopen!(store);
        const seen: string[] = [];
        store.watchBrokerConfigs((c) => seen.push(JSON.stringify(c)))();
        expect(seen).toEqual([JSON.stringify({ 2: { 'follower.replication.throttled.rate': '300' } })]);
      });

      test('a reassignment in flight survives a restart of the store', async () => {
        const t = await store.createTopic(specOf('moving-durable', 1), partitionsOf(1));
        const moving: PartitionState = { partition: 0, replicas: [2, 0], leader: 0, isr: [0], leaderEpoch: 0, partitionEpoch: 1, addingReplicas: [2], removingReplicas: [0] };
        await store.updateTopic('moving-durable', t.version, { partitions: [moving] });
        store = await factory.reopen!(store);
        expect((await store.getTopic('moving-durable'))!.partitions).toEqual([moving]);
      });

      test('topics, versions and producer ids survive a restart', async () => {
        const created = await store.createTopic(specOf('durable', 2), partitionsOf(2));
        const t = await store.updateTopic('durable', created.version, { controllerEpoch: 3 });
        const ids = await store.allocateProducerIds(10);
        const clusterId = await store.clusterId();
        store = await factory.reopen!(store);
        const again = await store.getTopic('durable');
        expect(again).toEqual(t);
        expect(await store.clusterId()).toBe(clusterId);
        expect(await store.allocateProducerIds(10)).toBeGreaterThanOrEqual(ids + 10n);
        await store.updateTopic('durable', t.version, { spec: { ...t.spec, configs: { 'retention.ms': '1000' } } });
      });
    }
  });
}
