/**
 * Runs Kafka Connect the way users run it, from the jars test/tools/connect/pom.xml names (Maven
 * Central, copied into <cache>/connect-<version>/libs by scripts/ensure-deps.mjs --test):
 * - a distributed worker (`org.apache.kafka.connect.cli.ConnectDistributed worker.properties`), its
 *   REST API on a free loopback port;
 * - MirrorMaker 2 (`org.apache.kafka.connect.mirror.MirrorMaker mm2.properties`).
 * Each JVM logs through log4j2 at INFO to its stdout, kept in memory for assertions (`log()`), with
 * Kafka's distribution's layout (`[time] LEVEL message (logger)`), so `errorLines()` finds ERROR lines.
 *
 * Every process started here is SIGKILLed if the test process exits; a missing jar or JDK throws
 * an error naming the command that installs it.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../../scripts/cache-dir.mjs';
import { startBackground } from './background.ts';
import type { BackgroundProcess } from './background.ts';
import { freePort } from './ports.ts';
import { ensureDepsCommand, repoRoot } from './paths.ts';
import { requireJava } from './tools.ts';

/** The Connect release of test/tools/connect/pom.xml (independent of the Kafka jars the other tests use). */
export function connectVersion(): string {
  const pom = readFileSync(join(repoRoot, 'test/tools/connect/pom.xml'), 'utf8');
  const m = /<connect\.version>([^<]+)<\/connect\.version>/.exec(pom);
  if (!m) throw new Error('test/tools/connect/pom.xml has no <connect.version>');
  return m[1]!;
}

export function connectLibsDir(): string {
  const libs = join(cacheDir(), `connect-${connectVersion()}`, 'libs');
  requireJava();
  if (!existsSync(libs) || !readdirSync(libs).some((f) => f.startsWith('connect-runtime-'))) {
    throw new Error(`Kafka Connect ${connectVersion()} jars missing in ${libs}: run \`${ensureDepsCommand}\``);
  }
  return libs;
}

/** A `key=value` properties file. */
export function writeProperties(file: string, props: Record<string, string>): string {
  writeFileSync(file, Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  return file;
}

/** Lines of a JVM's log at level ERROR (with Kafka's layout, the level follows the timestamp). */
export function errorLines(log: string): string[] {
  return log.split('\n').filter((l) => /^\[[^\]]+\] ERROR /.test(l));
}

export interface JvmProcess {
  process: BackgroundProcess;
  log(): string;
  /** SIGKILL (a crash) or SIGTERM (a clean stop), and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function startJvm(dir: string, mainClass: string, args: string[]): JvmProcess {
  const libs = connectLibsDir();
  const log4j = writeProperties(join(dir, `log4j2-${mainClass.split('.').pop()}.properties`), {
    'rootLogger.level': 'INFO',
    'rootLogger.appenderRef.out.ref': 'out',
    'appender.out.type': 'Console',
    'appender.out.name': 'out',
    'appender.out.target': 'SYSTEM_OUT',
    'appender.out.layout.type': 'PatternLayout',
    'appender.out.layout.pattern': '[%d] %p %m (%c)%n',
  });
  const process = startBackground('java', ['-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1',
    `-Dlog4j2.configurationFile=${log4j}`, '-cp', `${libs}/*`, mainClass, ...args]);
  return {
    process,
    log: () => process.stdout().toString('utf8') + process.stderr(),
    async stop(signal = 'SIGTERM') { await process.stop(signal, 30_000); },
  };
}

export interface ConnectWorker extends JvmProcess {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** The worker id Connect reports in connector status (`host:port` of its REST listener). */
  workerId: string;
}

/**
 * Starts a distributed worker of group `groupId` against `bootstrap` and waits until its REST API
 * answers. `settings` are worker configs over the ones set here (converters, storage topics).
 */
export async function startConnectWorker(opts: { dir: string; name: string; bootstrap: string; groupId: string;
  settings?: Record<string, string>; readyTimeoutMs?: number }): Promise<ConnectWorker> {
  const port = await freePort();
  const file = writeProperties(join(opts.dir, `${opts.name}.properties`), {
    'bootstrap.servers': opts.bootstrap,
    'group.id': opts.groupId,
    'key.converter': 'org.apache.kafka.connect.storage.StringConverter',
    'value.converter': 'org.apache.kafka.connect.storage.StringConverter',
    'config.storage.topic': `${opts.groupId}-configs`,
    'offset.storage.topic': `${opts.groupId}-offsets`,
    'status.storage.topic': `${opts.groupId}-status`,
    listeners: `http://127.0.0.1:${port}`,
    'rest.advertised.host.name': '127.0.0.1',
    'rest.advertised.port': String(port),
    'plugin.discovery': 'only_scan',
    ...opts.settings,
  });
  const jvm = startJvm(opts.dir, 'org.apache.kafka.connect.cli.ConnectDistributed', [file]);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
  for (;;) {
    if (jvm.process.exited()) throw new Error(`Connect worker ${opts.name} exited\n${jvm.log().slice(-6000)}`);
    try {
      // the REST server answers 200 on /connectors only once the worker has joined its group
      if ((await fetch(`${url}/connectors`)).ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await jvm.stop('SIGKILL');
      throw new Error(`Connect worker ${opts.name} did not answer on ${url} in time\n${jvm.log().slice(-6000)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return { ...jvm, url, workerId: `127.0.0.1:${port}` };
}

/** Starts MirrorMaker 2 in dedicated mode (`connect-mirror-maker.sh mm2.properties`). */
export function startMirrorMaker(dir: string, props: Record<string, string>): JvmProcess {
  const file = writeProperties(join(dir, 'mm2.properties'), props);
  return startJvm(dir, 'org.apache.kafka.connect.mirror.MirrorMaker', [file]);
}

/** One call on Connect's REST API; throws with the body on a status other than 2xx. */
export async function connectRest<T = unknown>(url: string, method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}
