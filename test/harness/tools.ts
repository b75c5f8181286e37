/**
 * Runs the external Kafka clients the compatibility tests use, with timeouts, capturing output:
 * kcat (librdkafka, from Debian), Apache Kafka's Java CLI tools (jars from Maven Central under
 * .cache/kafka-<version>/libs) and the small Java programs in test/java (compiled on first use
 * into .cache/java-classes/<content hash>), and those of test/java-3x with the older 3.x Java client.
 *
 * A missing tool throws an error naming the command that installs it; nothing is skipped.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../../scripts/cache-dir.mjs';
import { ensureDepsCommand, kafka3ClientLibsDir, kafka3ClientVersion, kafkaLibsDir, kafkaVersion, repoRoot } from './paths.ts';

export interface RunResult {
  command: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

export interface RunOptions {
  input?: Buffer | string;
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Runs a command to completion (SIGKILL at the timeout, default 60 s). Never throws on a non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const command = [cmd, ...args].map(quote).join(' ');
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? repoRoot,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, opts.timeoutMs ?? 60_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => { err += s; });
    child.on('error', (e) => { clearTimeout(timer); reject(new Error(`${command}: could not start: ${e.message}`)); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ command, code, signal, stdout: Buffer.concat(out), stderr: err, timedOut, ms: Date.now() - started });
    });
    child.stdin.on('error', () => { /* the tool may exit before reading all input */ });
    child.stdin.end(opts.input ?? '');
  });
}

/** Describes a finished run for an assertion message. */
export function describeRun(r: RunResult, maxChars = 6000): string {
  const cut = (s: string) => (s.length > maxChars ? `${s.slice(0, maxChars / 2)}\n...\n${s.slice(-maxChars / 2)}` : s);
  return `$ ${r.command}\nexit ${r.code}${r.signal ? ` signal ${r.signal}` : ''}${r.timedOut ? ' (TIMED OUT)' : ''} after ${r.ms} ms\n`
    + `--- stdout\n${cut(r.stdout.toString('utf8'))}\n--- stderr\n${cut(r.stderr)}`;
}

/** Throws (with the full output) unless the run exited 0. */
export function expectSuccess(r: RunResult): RunResult {
  if (r.code !== 0 || r.timedOut) throw new Error(`command failed\n${describeRun(r)}`);
  return r;
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function requireKcat(): void {
  if (!has('kcat')) {
    throw new Error(`kcat is not installed: run \`${ensureDepsCommand}\` (it runs \`apt-get install -y kcat\`)`);
  }
}

export function requireJava(): string {
  if (!has('java') || !has('javac')) {
    throw new Error(`java/javac (JDK 17+) not found: run \`apt-get install -y openjdk-17-jdk-headless\`, then \`${ensureDepsCommand}\``);
  }
  const libs = kafkaLibsDir();
  if (!existsSync(libs) || !readdirSync(libs).some((f) => f.startsWith('kafka-tools-'))) {
    throw new Error(`Apache Kafka ${kafkaVersion()} jars missing in ${libs}: run \`${ensureDepsCommand}\``);
  }
  return libs;
}

/** Runs kcat with `args`; default timeout 30 s. */
export function kcat(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  requireKcat();
  return run('kcat', args, { timeoutMs: 30_000, ...opts });
}

const quietJvm = ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto',
  '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn'];

/** Runs one of Apache Kafka's tools, e.g. `kafkaTool('org.apache.kafka.tools.TopicCommand', [...])`. */
export function kafkaTool(mainClass: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const libs = requireJava();
  return run('java', [...quietJvm, '-cp', `${libs}/*`, mainClass, ...args], { timeoutMs: 90_000, ...opts });
}

const compiled = new Map<string, string>();

/**
 * Compiles `srcDir`/*.java against the jars in `libs` into <cache>/java-classes/<hash> (the hash
 * covers the sources and `version`, so an edit recompiles) and returns that directory.
 */
function compileJavaDir(srcDir: string, libs: string, version: string): string {
  const done = compiled.get(srcDir);
  if (done) return done;
  const sources = readdirSync(srcDir).filter((f) => f.endsWith('.java')).sort();
  const hash = createHash('sha256').update(version);
  for (const f of sources) hash.update(f).update(readFileSync(join(srcDir, f)));
  const out = join(cacheDir(), 'java-classes', hash.digest('hex').slice(0, 16));
  if (!existsSync(out)) {
    const tmp = `${out}.tmp-${process.pid}`;
    mkdirSync(tmp, { recursive: true });
    const r = spawnSync('javac', ['-nowarn', '-encoding', 'UTF-8', '-cp', `${libs}/*`, '-d', tmp,
      ...sources.map((f) => join(srcDir, f))], { encoding: 'utf8' });
    if (r.status !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      throw new Error(`javac failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}\n${r.stderr}`);
    }
    try {
      renameSync(tmp, out);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another worker got there first
    }
  }
  compiled.set(srcDir, out);
  return out;
}

/** Compiles test/java/*.java against the Kafka client jars (see compileJavaDir) and returns the classes directory. */
export function compileJavaPrograms(): string {
  return compileJavaDir(join(repoRoot, 'test', 'java'), requireJava(), kafkaVersion());
}

/** Runs a program from test/java by class name. */
export function javaProgram(mainClass: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const classes = compileJavaPrograms();
  const libs = kafkaLibsDir();
  return run('java', [...quietJvm, '-cp', `${classes}:${libs}/*`, mainClass, ...args], { timeoutMs: 90_000, ...opts });
}

/**
 * Runs a program from test/java-3x, compiled against and run with the older 3.x Java client
 * (test/tools/kafka-3/pom.xml), by class name.
 */
export function java3xProgram(mainClass: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  requireJava();
  const libs = kafka3ClientLibsDir();
  if (!existsSync(libs) || !readdirSync(libs).some((f) => f.startsWith('kafka-clients-'))) {
    throw new Error(`the Kafka ${kafka3ClientVersion()} client jars are missing in ${libs}: run \`${ensureDepsCommand}\``);
  }
  const classes = compileJavaDir(join(repoRoot, 'test', 'java-3x'), libs, kafka3ClientVersion());
  return run('java', [...quietJvm, '-cp', `${classes}:${libs}/*`, mainClass, ...args], { timeoutMs: 90_000, ...opts });
}
