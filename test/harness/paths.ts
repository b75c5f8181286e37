/** Fixed locations in the repository that the test harnesses share. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../../scripts/cache-dir.mjs';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

function pomKafkaVersion(pomPath: string): string {
  const pom = readFileSync(join(repoRoot, pomPath), 'utf8');
  const m = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom);
  if (!m) throw new Error(`${pomPath} has no <kafka.version>`);
  return m[1];
}

/** The Apache Kafka version the tests use, read from test/tools/kafka/pom.xml (the one place it is set). */
export function kafkaVersion(): string { return pomKafkaVersion('test/tools/kafka/pom.xml'); }

/** The older 3.x Java client kept in the suite, read from test/tools/kafka-3/pom.xml. */
export function kafka3ClientVersion(): string { return pomKafkaVersion('test/tools/kafka-3/pom.xml'); }

/** Where scripts/ensure-deps.mjs --test puts the 3.x client's jars. */
export function kafka3ClientLibsDir(): string {
  return join(cacheDir(), `kafka-clients-${kafka3ClientVersion()}`, 'libs');
}

/** Where scripts/ensure-deps.mjs --test puts the Kafka jars. */
export function kafkaLibsDir(): string {
  return join(cacheDir(), `kafka-${kafkaVersion()}`, 'libs');
}

export const ensureDepsCommand = 'node scripts/ensure-deps.mjs --test';

/**
 * How the benchmarks start a broker: `bin/brook` (the image's entrypoint), so it runs with the
 * data plane's default heap flags (BROOK_HEAP_OPTS) as a user's broker does. Extra Node flags
 * (a CPU profile) ride NODE_OPTIONS.
 */
export function brookLauncher(nodeFlags: string[] = []): { command: string; env: NodeJS.ProcessEnv } {
  const env = nodeFlags.length === 0 ? process.env
    : { ...process.env, NODE_OPTIONS: [process.env.NODE_OPTIONS, ...nodeFlags].filter((f) => f).join(' ') };
  return { command: join(repoRoot, 'bin/brook'), env };
}
