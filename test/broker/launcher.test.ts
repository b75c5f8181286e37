/**
 * bin/brook, the image's entrypoint: the data plane runs with BROOK_HEAP_OPTS (default: the young
 * generation capped at 2 x 16 MiB), a user's value replaces the default and an empty one runs
 * V8's defaults.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackground, type BackgroundProcess } from '../harness/background.ts';
import { repoRoot } from '../harness/paths.ts';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** Starts `bin/brook broker` with `env`, waits until it listens, returns the Node flags it runs with. */
async function brokerNodeFlags(env: Record<string, string>): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'brook-launcher-'));
  dirs.push(dir);
  const broker: BackgroundProcess = startBackground(join(repoRoot, 'bin/brook'),
    ['broker', '--store', 'memory', '--listen', '127.0.0.1:0', '--metrics-port', 'none', '--data-dir', dir], { env });
  try {
    const deadline = Date.now() + 30_000;
    while (!/listening on/.test(broker.stdout().toString())) {
      if (broker.exited() || Date.now() > deadline) throw new Error(`broker did not listen: ${broker.stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const argv = readFileSync(`/proc/${broker.pid}/cmdline`, 'utf8').split('\0');
    return argv.slice(1, argv.findIndex((a) => a.endsWith('/broker/cli.ts')));
  } finally {
    await broker.stop();
  }
}

describe('bin/brook', () => {
  test('runs a broker with the default heap flags, a user\'s BROOK_HEAP_OPTS instead, or none when it is empty', async () => {
    expect(await brokerNodeFlags({})).toEqual(['--max-semi-space-size=16']);
    expect(await brokerNodeFlags({ BROOK_HEAP_OPTS: '--max-semi-space-size=4 --max-old-space-size=256' }))
      .toEqual(['--max-semi-space-size=4', '--max-old-space-size=256']);
    expect(await brokerNodeFlags({ BROOK_HEAP_OPTS: '' })).toEqual([]);
  }, 120_000);
});
