/**
 * LogManager's high-watermark checkpoint (replication-offset-checkpoint): written off the event
 * loop, one write at a time, failures logged. The disk is real; a slow disk is simulated by
 * making every fsync of this process take longer (the sync form blocks its caller, the async
 * form delays its completion), as fsyncs do on ext4 while other processes write: the commit
 * waits for their data (measured in bench:rebalance, where such fsyncs took 50-230 ms).
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LogManager } from './log-manager.ts';
import { HIGH_WATERMARK_CHECKPOINT, hwKey, readHighWatermarks } from './log/index.ts';
import type { Logger } from './logger.ts';
import type { Partition } from './partition.ts';

let dataDir = '';
let errors: string[] = [];
const logger: Logger = {
  debug: () => undefined, info: () => undefined, warn: () => undefined,
  error: (m) => { errors.push(m); },
  child: () => logger,
};

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'brook-log-manager-'));
  errors = [];
});
afterEach(() => { fs.rmSync(dataDir, { recursive: true, force: true }); });

/** Stand-ins for hosted partitions: all the checkpoint reads of one. */
function hosted(hws: Record<string, bigint>): Partition[] {
  return Object.entries(hws).map(([name, hw]) => {
    const [topic, index] = name.split(':');
    return { topic, index: Number(index), highWatermark: hw } as unknown as Partition;
  });
}

/** Every fsync of this process takes `ms` longer until the returned function is called. */
async function slowFsyncs(ms: number): Promise<() => void> {
  const realFsyncSync = fs.fsyncSync;
  fs.fsyncSync = (fd: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until) { /* the caller's thread waits for the disk */ }
    realFsyncSync(fd);
  };
  const handle = await fs.promises.open(dataDir, 'r');
  const proto = Object.getPrototypeOf(handle) as { sync(this: fs.promises.FileHandle): Promise<void> };
  await handle.close();
  const realSync = proto.sync;
  proto.sync = async function sync(this: fs.promises.FileHandle) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return realSync.call(this);
  };
  return () => { fs.fsyncSync = realFsyncSync; proto.sync = realSync; };
}

async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !cond();) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const checkpointed = (): Map<string, bigint> => readHighWatermarks(dataDir);

describe('LogManager high-watermark checkpoint', () => {
  test('checkpoint_fsync_stalls_event_loop: the periodic checkpoint waits for a slow fsync without holding the event loop', async () => {
    const logs = new LogManager({ dataDir, logger, clock: Date.now });
    await logs.start();
    const restore = await slowFsyncs(1000);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    try {
      delay.enable();
      logs.startPeriodicTasks(() => hosted({ 'events:0': 42n, 'events:1': 7n }), { retentionCheckMs: 3_600_000, checkpointMs: 20 });
      await until(() => checkpointed().get(hwKey('events', 0)) === 42n, 'the periodic checkpoint');
      await new Promise((resolve) => setTimeout(resolve, 100)); // the monitor's own timer records the last stall
      delay.disable();
    } finally {
      await logs.stopPeriodicTasks();
      restore();
    }
    expect(checkpointed()).toEqual(new Map([[hwKey('events', 0), 42n], [hwKey('events', 1), 7n]]));
    // a write takes two slow fsyncs (the file, then its directory): 2 s on the old, synchronous path
    expect(delay.max / 1e6).toBeLessThan(500);
    expect(errors).toEqual([]);
  });

  test('checkpoints asked for while one is being written wait their turn, and the file ends with the latest values', async () => {
    const logs = new LogManager({ dataDir, logger, clock: Date.now });
    await logs.start();
    const restore = await slowFsyncs(30);
    try {
      logs.startPeriodicTasks(() => hosted({ 't:0': 1n }), { retentionCheckMs: 3_600_000, checkpointMs: 5 });
      const writes: Array<Promise<void>> = [];
      for (let hw = 1n; hw <= 10n; hw++) writes.push(logs.checkpointHighWatermarks(hosted({ 't:0': 100n + hw, 't:1': hw })));
      await Promise.all(writes);
      // the last one asked for started after every other write had settled
      expect(checkpointed()).toEqual(new Map([[hwKey('t', 0), 110n], [hwKey('t', 1), 10n]]));
    } finally {
      await logs.stopPeriodicTasks();
      restore();
    }
    // overlapping writes through the one tmp file would have failed a rename (logged)
    expect(errors).toEqual([]);
    expect(fs.readdirSync(dataDir)).toEqual([HIGH_WATERMARK_CHECKPOINT]);
  });

  test('a checkpoint that cannot be written is logged, and the next one writes', async () => {
    const logs = new LogManager({ dataDir, logger, clock: Date.now });
    await logs.start();
    fs.rmSync(dataDir, { recursive: true });
    await logs.checkpointHighWatermarks(hosted({ 'gone:0': 5n }));
    expect(errors).toEqual([expect.stringContaining('writing the high-watermark checkpoint failed')]);
    fs.mkdirSync(dataDir);
    await logs.checkpointHighWatermarks(hosted({ 'back:0': 6n }));
    expect(checkpointed()).toEqual(new Map([[hwKey('back', 0), 6n]]));
  });
});
