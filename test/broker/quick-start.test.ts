/**
 * The README's quick start, as written: `brook local` (what `npm start` runs) and then the exact
 * kcat commands of the README's "Then use any Kafka client" block, with only the port changed
 * (the test fleet takes free ports). Kafka's default `auto.create.topics.enable=true` is what lets
 * the produce to `greetings` succeed on a fresh fleet.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackground, type BackgroundProcess } from '../harness/background.ts';
import { repoRoot } from '../harness/paths.ts';
import { describeRun, requireKcat, run } from '../harness/tools.ts';

/** The shell commands of the README's client example, in order. */
function readmeClientCommands(): string[] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const block = /Then use any Kafka client:\n+```sh\n([\s\S]*?)```/.exec(readme);
  if (!block) throw new Error('README.md has no "Then use any Kafka client:" sh block');
  return block[1]!.split('\n').map((l) => l.trim()).filter(Boolean);
}

let fleet: BackgroundProcess;
let dataDir: string;
let bootstrap: string;

beforeAll(async () => {
  requireKcat();
  dataDir = mkdtempSync(join(tmpdir(), 'brook-quick-start-'));
  fleet = startBackground(join(repoRoot, 'bin/brook'), ['local', '--port', '0', '--metrics-port', 'none', '--data-dir', dataDir]);
  const listening = () => [...fleet.stdout().toString().matchAll(/brook broker (\d+) listening on (\S+)/g)];
  await fleet.waitFor('three brokers listening and the fleet ready', () => listening().length === 3 && fleet.stdout().toString().includes("Type 'status'"), 60_000);
  bootstrap = listening().find((m) => m[1] === '0')![2]!;
}, 90_000);

afterAll(async () => {
  await fleet?.stop('SIGINT', 20_000);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('the README\'s kcat example works on a fresh `brook local` fleet: metadata lists 3 brokers, the produce creates `greetings`, the consume reads "hello"', async () => {
  const commands = readmeClientCommands();
  expect(commands).toEqual([
    'kcat -b localhost:9092 -L',
    'echo "hello" | kcat -b localhost:9092 -P -t greetings',
    'kcat -b localhost:9092 -C -t greetings -e',
  ]);
  const results = [];
  for (const command of commands) {
    const r = await run('sh', ['-c', command.replaceAll('localhost:9092', bootstrap)], { timeoutMs: 30_000 });
    if (r.code !== 0 || r.timedOut) throw new Error(`README command failed: ${command}\n${describeRun(r)}`);
    results.push(r.stdout.toString());
  }
  expect(results[0]).toMatch(/3 brokers:/);
  expect(results[2]!.trim()).toBe('hello');
}, 120_000);
