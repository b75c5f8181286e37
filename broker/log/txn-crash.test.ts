/**
 * Crash safety of the aborted-transaction index: after a SIGKILL (a child process writing
 * transactions, killed mid-stream) or a power loss (test/harness/power-loss.ts: only what was
 * fsynced survives), every abort marker in the log has its index entry, and a read_committed
 * consumer sees exactly the committed transactions. Real files, real processes.
 */
import { afterAll, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PartitionLog, defaultLogConfig, type LogConfig } from './index.ts';
import { DurabilityTracker } from '../../test/harness/power-loss.ts';
import { readCommittedView, txnRecords, type TxnLogView } from './testing/txn-log-check.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
let roots: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'brook-txncrash-'));
  roots.push(d);
  return path.join(d, 'p-0');
}
afterAll(() => {
  for (const d of roots) fs.rmSync(d, { recursive: true, force: true });
  roots = [];
});

/** Runs txn-crash-writer.ts on `dir` and SIGKILLs it after `target` transactions; returns how many it reported. */
function runAndKill(dir: string, target: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, 'testing', 'txn-crash-writer.ts'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let lines = 0;
    let err = '';
    let killed = false;
    child.stdout.on('data', (d: Buffer) => {
      lines += d.toString().split('\n').length - 1;
      if (!killed && lines > target) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(lines - 1) : reject(new Error(`child exited with ${code}: ${err}`))));
  });
}

test('SIGKILL while writing transactions: every abort marker keeps its index entry, read_committed sees exactly the committed transactions', async () => {
  const dir = tmpDir();
  const config: LogConfig = { ...defaultLogConfig, segmentBytes: 4096 };
  for (let round = 0; round < 6; round++) {
    const written = await runAndKill(dir, 300 + round * 97);
    expect(written).toBeGreaterThan(100);
    const log = await PartitionLog.open(dir, config);
    const view = await readCommittedView(log);
    expect(view.unindexedAborts).toEqual([]);
    expect(view.aborted.length).toBeGreaterThan(0);
    expect(view.delivered).toEqual(view.committed);
    expect(log.segmentCount).toBeGreaterThan(2);
    // Leave it crashed again for the next round only after a clean close of what was recovered.
    await log.close();
  }
});

/** Writes `count` transactions of producers 1-3 (every third aborted). */
function writeTransactions(log: PartitionLog, from: number, count: number): void {
  for (let i = from; i < from + count; i++) {
    const producerId = BigInt(1 + (i % 3));
    log.append(txnRecords(producerId, 0, Math.floor(i / 3) * 2, i, 2, i % 5), { leaderEpoch: 0 });
    log.appendMarker(producerId, 0, i % 3 !== 0, 0, { leaderEpoch: 0 });
  }
}

/** Reopens `dir` after the loss: every abort marker indexed, the same transactions aborted, exactly the committed ones delivered. */
async function expectRecovered(dir: string, config: LogConfig, before: TxnLogView): Promise<void> {
  const again = await PartitionLog.open(dir, config);
  const after = await readCommittedView(again);
  expect(after.unindexedAborts).toEqual([]);
  expect(after.aborted).toEqual(before.aborted);
  expect(after.delivered).toEqual(before.committed);
  await again.close();
}

test('power loss after a flush: abort markers below the recovery point keep their entries (the txn index is fsynced with its segment)', async () => {
  const tracker = DurabilityTracker.install();
  try {
    const dir = tmpDir();
    const config: LogConfig = { ...defaultLogConfig, segmentBytes: 2048 };
    const log = await PartitionLog.open(dir, config);
    writeTransactions(log, 0, 120);
    expect(log.segmentCount).toBeGreaterThan(4);
    await log.flush(); // every segment fsynced, the recovery point checkpointed at the log end
    const before = await readCommittedView(log);
    expect(before.unindexedAborts).toEqual([]);
    await log.abandon();
    tracker.loseUnsynced(dir);
    await expectRecovered(dir, config, before);
  } finally {
    tracker.uninstall();
  }
});

test('power loss after the kernel wrote back the .log but not the .txnindex: recovery rebuilds the index from the markers above the recovery point', async () => {
  const tracker = DurabilityTracker.install();
  try {
    const dir = tmpDir();
    const config: LogConfig = { ...defaultLogConfig, segmentBytes: 1 << 20 };
    const log = await PartitionLog.open(dir, config);
    writeTransactions(log, 0, 60);
    const before = await readCommittedView(log);
    expect(before.unindexedAborts).toEqual([]);
    expect(before.aborted.length).toBe(40);
    // Writeback is the kernel's choice: here the segment's pages reached the disk, the index's did not.
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.log'))) {
      const fd = fs.openSync(path.join(dir, f), 'r');
      try { fs.fdatasyncSync(fd); } finally { fs.closeSync(fd); }
    }
    await log.abandon();
    const report = tracker.loseUnsynced(dir);
    expect(report.filesCut).toBeGreaterThan(0); // the txn index lost its entries
    await expectRecovered(dir, config, before);
  } finally {
    tracker.uninstall();
  }
});
