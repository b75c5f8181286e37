/**
 * The leader-epoch checkpoint is no longer written when a replica becomes leader; recovery
 * derives the epochs at and above the checkpointed recovery point from the batches it verifies
 * (leader-epoch-recovery.ts). A crash here is PartitionLog.abandon (files left as a killed
 * process leaves them: written, not flushed, no checkpoint); test/durability/leader-epoch-crash.test.ts
 * SIGKILLs a real broker.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PartitionLog, defaultLogConfig, type LogConfig } from './index.ts';
import { sizedBatch } from './testing/record-batch-builder.ts';
import { LEADER_EPOCH_CHECKPOINT, RECOVERY_POINT_CHECKPOINT, logFile } from './log-files.ts';
import { readCheckpoint, readOffsetCheckpoint } from './checkpoint-file.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'brook-epoch-recovery-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => path.join(root, `t-${n++}`);
const config = (o: Partial<LogConfig> = {}): LogConfig => ({ ...defaultLogConfig, ...o });

/** The checkpoint file's entries as [epoch, start] pairs ([] when absent). */
function checkpointed(dir: string): Array<[number, bigint]> {
  return (readCheckpoint(path.join(dir, LEADER_EPOCH_CHECKPOINT)) ?? []).map(([e, o]) => [Number(e), BigInt(o!)]);
}

function entries(log: PartitionLog): Array<[number, bigint]> {
  return log.leaderEpochs.entries.map((e) => [e.epoch, e.startOffset]);
}

/** As a leader: becomes leader at `epoch` (at the log end) and appends `batches` batches of 2 records. */
function lead(log: PartitionLog, epoch: number, batches: number): void {
  log.assignEpochStartOffset(epoch, log.logEndOffset);
  for (let i = 0; i < batches; i++) log.append(sizedBatch(i, 2, 50), { leaderEpoch: epoch });
}

/** As a follower: appends batches the leader wrote at `epoch`, from the log end. */
function follow(log: PartitionLog, epoch: number, batches: number): void {
  for (let i = 0; i < batches; i++) log.appendAsFollower(sizedBatch(i, 2, 50, { baseOffset: log.logEndOffset, partitionLeaderEpoch: epoch }));
}

describe('leader epochs across a crash', () => {
  test('becoming leader writes nothing; a crash after producing at the new epoch recovers the epoch from the batches', async () => {
    const dir = freshDir();
    const first = await PartitionLog.open(dir, config());
    lead(first, 0, 3); // offsets 0-5
    await first.close(); // the recovery point moves to 6: the epochs go to disk first
    expect(checkpointed(dir)).toEqual([[0, 0n]]);
    expect(readOffsetCheckpoint(dir, RECOVERY_POINT_CHECKPOINT)).toBe(6n);

    const second = await PartitionLog.open(dir, config());
    lead(second, 3, 2); // offsets 6-9
    lead(second, 5, 1); // offsets 10-11
    expect(checkpointed(dir)).toEqual([[0, 0n]]); // nothing written for either new epoch
    await second.abandon();

    const recovered = await PartitionLog.open(dir, config());
    expect(recovered.logEndOffset).toBe(12n);
    expect(entries(recovered)).toEqual([[0, 0n], [3, 6n], [5, 10n]]);
    expect(recovered.endOffsetForEpoch(0)).toEqual({ leaderEpoch: 0, endOffset: 6n });
    expect(recovered.endOffsetForEpoch(4)).toEqual({ leaderEpoch: 3, endOffset: 10n });
    // the recovery point moved to the log end on open, so the derived epochs are now on disk
    expect(checkpointed(dir)).toEqual([[0, 0n], [3, 6n], [5, 10n]]);
    await recovered.close();
  });

  test('an epoch with no batch yet is not recovered, and the leader assigns it again', async () => {
    const dir = freshDir();
    const log = await PartitionLog.open(dir, config());
    lead(log, 0, 2);
    lead(log, 1, 0); // became leader at epoch 1, wrote nothing
    expect(entries(log)).toEqual([[0, 0n], [1, 4n]]);
    await log.abandon();
    const recovered = await PartitionLog.open(dir, config());
    expect(entries(recovered)).toEqual([[0, 0n]]);
    recovered.assignEpochStartOffset(1, recovered.logEndOffset);
    expect(entries(recovered)).toEqual([[0, 0n], [1, 4n]]);
    await recovered.close();
  });

  test('a truncated follower: a checkpointed entry the batches contradict is replaced', async () => {
    const dir = freshDir();
    const first = await PartitionLog.open(dir, config());
    lead(first, 0, 2); // 0-3
    lead(first, 1, 3); // 4-9, written as leader at epoch 1, then lost the leadership
    await first.close();
    expect(checkpointed(dir)).toEqual([[0, 0n], [1, 4n]]);

    const follower = await PartitionLog.open(dir, config());
    follower.truncateTo(4n); // the new leader (epoch 2) never had epoch 1's records
    follow(follower, 2, 2); // 4-7 at epoch 2
    expect(entries(follower)).toEqual([[0, 0n], [2, 4n]]);
    expect(checkpointed(dir)).toEqual([[0, 0n], [1, 4n]]); // the file still names epoch 1
    await follower.abandon();

    const recovered = await PartitionLog.open(dir, config());
    expect(recovered.logEndOffset).toBe(8n);
    expect(entries(recovered)).toEqual([[0, 0n], [2, 4n]]);
    await recovered.close();
  });

  test('a torn batch at a new epoch is cut by recovery and leaves no entry for that epoch', async () => {
    const dir = freshDir();
    const first = await PartitionLog.open(dir, config());
    lead(first, 0, 2); // 0-3
    await first.close();
    const second = await PartitionLog.open(dir, config());
    lead(second, 1, 1); // 4-5
    await second.abandon();
    const file = logFile(dir, 0n);
    fs.truncateSync(file, fs.statSync(file).size - 7); // the last batch torn
    const recovered = await PartitionLog.open(dir, config());
    expect(recovered.logEndOffset).toBe(4n);
    expect(entries(recovered)).toEqual([[0, 0n]]);
    await recovered.close();
  });

  test('a roll checkpoints the recovery point only after the epochs below it', async () => {
    const dir = freshDir();
    const log = await PartitionLog.open(dir, config({ segmentBytes: 1024 }));
    lead(log, 0, 4);
    lead(log, 7, 12); // rolls: the rolled segments are flushed and the recovery point checkpointed
    await log.flush();
    const rp = readOffsetCheckpoint(dir, RECOVERY_POINT_CHECKPOINT)!;
    expect(rp).toBeGreaterThan(8n);
    expect(checkpointed(dir)).toEqual([[0, 0n], [7, 8n]]);
    await log.abandon();
    const recovered = await PartitionLog.open(dir, config({ segmentBytes: 1024 }));
    expect(entries(recovered)).toEqual([[0, 0n], [7, 8n]]);
    await recovered.close();
  });
});
