/** Fixed locations in the repository that the test harnesses share. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../../scripts/cache-dir.mjs';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** The Apache Kafka version the tests use, read from test/tools/kafka/pom.xml (the one place it is set). */
export function kafkaVersion(): string {
  const pom = readFileSync(join(repoRoot, 'test/tools/kafka/pom.xml'), 'utf8');
  const m = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom);
  if (!m) throw new Error('test/tools/kafka/pom.xml has no <kafka.version>');
  return m[1];
}

/** Where scripts/ensure-deps.mjs --test puts the Kafka jars. */
export function kafkaLibsDir(): string {
  return join(cacheDir(), `kafka-${kafkaVersion()}`, 'libs');
}

export const ensureDepsCommand = 'node scripts/ensure-deps.mjs --test';
