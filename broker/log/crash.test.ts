/**
 * Crash test: a child process appends with flush.messages=1 and reports each acknowledged batch;
 * we SIGKILL it mid-stream, reopen the log, and check that every acknowledged batch is there,
 * byte-identical, and that the log ends on a whole valid batch.
 */
import { expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PartitionLog, defaultLogConfig } from './index.ts';
import { crashBatch, CRASH_LEADER_EPOCH, CRASH_SEGMENT_BYTES } from './testing/crash-batches.ts';
import { splitBatches } from './testing/record-batch-builder.ts';
import { storedBatchProblem, readBatchHeader, lastOffsetOf } from './record-batch.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

function runAndKill(dir: string, ackTarget: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, 'testing', 'crash-writer.ts'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let killed = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!killed && out.split('\n').length > ackTarget) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') { reject(new Error(`child exited with ${code}: ${err}`)); return; }
      const lines = out.split('\n');
      lines.pop(); // possibly partial last line: not an acknowledgement
      resolve(lines.filter((l) => l !== 'ready'));
    });
  });
}

test('SIGKILL mid-stream with flush.messages=1 loses no acknowledged batch and leaves no torn tail', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'brook-crash-'));
  try {
    const dir = path.join(root, 'p-0');
    let totalAcked = 0;
    for (let round = 0; round < 3; round++) {
      const acked = await runAndKill(dir, 400 + round * 137);
      expect(acked.length).toBeGreaterThan(100);
      const log = await PartitionLog.open(dir, { ...defaultLogConfig, segmentBytes: CRASH_SEGMENT_BYTES });
      // Every acknowledged batch of this round is present and byte-identical.
      for (const line of acked) {
        const [i, base, last] = line.split(' ').map((x) => BigInt(x)) as [bigint, bigint, bigint];
        const read = await log.read(base, 1, { minOneBatch: true });
        expect(read.records.length).toBeGreaterThan(0);
        const got = splitBatches(read.records)[0]!;
        const expected = crashBatch(Number(i));
        expected.writeBigInt64BE(base, 0);
        expected.writeInt32BE(CRASH_LEADER_EPOCH, 12);
        expect(got.equals(expected)).toBe(true);
        expect(lastOffsetOf(readBatchHeader(got, 0))).toBe(last);
      }
      // The whole log is whole, valid batches, contiguous up to the log end.
      let offset = log.logStartOffset;
      let batches = 0;
      while (offset < log.logEndOffset) {
        const r = await log.read(offset, 1 << 20);
        expect(r.records.length).toBeGreaterThan(0);
        for (const b of splitBatches(r.records)) {
          expect(storedBatchProblem(b, 0, b.length)).toBeNull();
          const h = readBatchHeader(b, 0);
          expect(h.baseOffset).toBe(offset);
          offset = lastOffsetOf(h) + 1n;
          batches++;
        }
      }
      expect(offset).toBe(log.logEndOffset);
      expect((await log.read(log.logEndOffset, 1 << 20)).records.length).toBe(0);
      expect(log.segmentCount).toBeGreaterThan(1);
      totalAcked += acked.length;
      expect(batches).toBeGreaterThanOrEqual(totalAcked);
      // Do not close cleanly: the next round starts from a crashed directory again.
      await log.flush();
      await log.close();
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
