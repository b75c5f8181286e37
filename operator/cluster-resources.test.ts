import { describe, expect, test } from '@jest/globals';
import type { Cluster } from '../broker/k8s/index.ts';
import { effectiveConfig, serverProperties } from './cluster-resources.ts';

function cluster(replicas: number, config: Record<string, string> = {}): Cluster {
  return {
    apiVersion: 'brook.dev/v1alpha1', kind: 'Cluster',
    metadata: { name: 'demo', namespace: 'ns', uid: 'u1' },
    spec: { replicas, config, listeners: [{ name: 'internal', port: 9092 }] },
  } as Cluster;
}

describe('broker settings the operator writes', () => {
  // Regression: a one-broker Cluster left offsets.topic.replication.factor at Kafka's 3, so no
  // consumer group ever found a coordinator (COORDINATOR_NOT_AVAILABLE until 3 brokers are alive).
  test('one_broker_cluster_offsets_topic_needs_three_brokers', () => {
    expect(effectiveConfig(cluster(1))['offsets.topic.replication.factor']).toBe('1');
    expect(effectiveConfig(cluster(2))['offsets.topic.replication.factor']).toBe('2');
    expect(serverProperties(cluster(1))).toContain('offsets.topic.replication.factor=1\n');
  });

  test('three or more brokers carry exactly spec.config', () => {
    expect(effectiveConfig(cluster(3, { 'min.insync.replicas': '2' }))).toEqual({ 'min.insync.replicas': '2' });
    expect(effectiveConfig(cluster(5))).toEqual({});
  });

  test('spec.config wins over the size default', () => {
    expect(effectiveConfig(cluster(1, { 'offsets.topic.replication.factor': '3' }))['offsets.topic.replication.factor']).toBe('3');
  });
});
