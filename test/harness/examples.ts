/**
 * The examples/ files as tests apply them. examples/topic.yaml is written for examples/cluster.yaml
 * (three brokers, min.insync.replicas 2: replicationFactor 3); tests with fewer brokers apply it
 * with only the replication factor changed, so everything else they assert is the example's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import { repoRoot } from './paths.ts';

/** examples/topic.yaml with spec.replicationFactor set to `replicationFactor`, as YAML for `kubectl apply -f -`. */
export function exampleTopicWithReplicationFactor(replicationFactor: number): string {
  const topic = yaml.load(readFileSync(join(repoRoot, 'examples', 'topic.yaml'), 'utf8')) as { spec: Record<string, unknown> };
  return yaml.dump({ ...topic, spec: { ...topic.spec, replicationFactor } });
}
