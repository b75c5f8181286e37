import { describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crdsDir, renderCrdFiles } from '../../scripts/gen-crds.ts';
import { customResourceDefinitions, kafkaTopicName, leadersSummary, type JSONSchemaProps, type Topic } from './crds.ts';

describe('CRDs', () => {
  test('committed crds/*.yaml equal what scripts/gen-crds.ts generates from broker/k8s/crds.ts', () => {
    const generated = renderCrdFiles();
    expect(readdirSync(crdsDir).filter((f) => f.endsWith('.yaml')).sort()).toEqual([...generated.keys()].sort());
    for (const [name, text] of generated) {
      expect({ name, text: readFileSync(join(crdsDir, name), 'utf8') }).toEqual({ name, text });
    }
  });

  test('every list-map key is required, and every CRD has the brook category and a status subresource', () => {
    const walk = (s: JSONSchemaProps, path: string, out: string[]): string[] => {
      if (s['x-kubernetes-list-type'] === 'map') {
        for (const key of s['x-kubernetes-list-map-keys'] ?? []) {
          const ok = s.items?.required?.includes(key) || s.items?.properties?.[key]?.default !== undefined;
          if (!ok) out.push(`${path}[].${key}`);
        }
      }
      for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${path}.${k}`, out);
      if (s.items) walk(s.items, `${path}[]`, out);
      if (s.additionalProperties) walk(s.additionalProperties, `${path}{}`, out);
      return out;
    };
    for (const crd of customResourceDefinitions) {
      expect(crd.spec.names.categories).toContain('brook');
      expect(crd.spec.versions[0].subresources.status).toEqual({});
      expect(walk(crd.spec.versions[0].schema.openAPIV3Schema, crd.spec.names.kind, [])).toEqual([]);
    }
  });

  test('the Kafka name of a Topic is spec.topicName, else metadata.name', () => {
    const t = (topicName?: string): Topic => ({
      apiVersion: 'brook.dev/v1alpha1', kind: 'Topic', metadata: { name: 'orders' }, spec: { cluster: 'demo', topicName },
    });
    expect(kafkaTopicName(t())).toBe('orders');
    expect(kafkaTopicName(t('Orders_v2'))).toBe('Orders_v2');
  });

  test('status.leaders lists leaders in partition order and stays within its 256 characters', () => {
    expect(leadersSummary([{ partition: 1, leader: 2 }, { partition: 0, leader: -1 }])).toBe('-1,2');
    const many = Array.from({ length: 1000 }, (_, partition) => ({ partition, leader: 100 + partition % 3 }));
    const s = leadersSummary(many);
    expect(s.length).toBeLessThanOrEqual(256);
    expect(s).toMatch(/^100,101,102,.*\d,\.\.\.$/);
  });
});
