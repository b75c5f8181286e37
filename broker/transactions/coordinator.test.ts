/**
 * TransactionCoordinator over a real `__transaction_state` partition (one replica, a real log on
 * disk) with a marker writer the test controls: the state machine's answers, and what a coordinator
 * that takes over the partition does with what it loads — a PrepareCommit whose markers were never
 * written is completed (markers, then CompleteCommit), an Ongoing transaction is kept and can be
 * committed by the same producer.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { PartitionLog, defaultLogConfig } from '../log/index.ts';
import { Partition } from '../partition.ts';
import { TransactionCoordinator, TRANSACTION_STATE_TOPIC } from './index.ts';
import type { TxnMarker, TxnMarkerWriter } from './index.ts';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

async function statePartition(): Promise<Partition> {
  const dir = mkdtempSync(join(tmpdir(), 'brook-txn-state-'));
  dirs.push(dir);
  const log = await PartitionLog.open(dir, { ...defaultLogConfig, cleanupPolicy: 'compact' }, { name: `${TRANSACTION_STATE_TOPIC}-0` });
  return new Partition({
    topic: TRANSACTION_STATE_TOPIC, index: 0, topicId: 'id', log, nodeId: 0, minInsyncReplicas: 1, clock: Date.now,
    state: { partition: 0, replicas: [0], leader: 0, isr: [0], leaderEpoch: 1, partitionEpoch: 1 },
  });
}

/** Markers the test lets through (or not): every write is recorded. */
class Markers implements TxnMarkerWriter {
  readonly written: TxnMarker[] = [];
  accept = true;
  async write(m: TxnMarker): Promise<Map<string, number>> {
    const code = this.accept ? ErrorCode.NONE : ErrorCode.NOT_LEADER_OR_FOLLOWER;
    if (this.accept) this.written.push(m);
    return new Map(m.partitions.map((p) => [`${p.topic}\u0000${p.partition}`, code]));
  }
}

let nextId = 100n;
function coordinator(markers: TxnMarkerWriter): TransactionCoordinator {
  return new TransactionCoordinator({
    config: { partitions: 1, maxTimeoutMs: 900_000, abortIntervalMs: 60_000, writeTimeoutMs: 5_000 },
    logger: createLogger('txn-test', 'error'), allocateProducerId: async () => nextId++, markers,
    partitionExists: (topic, p) => topic === 'data' && p >= 0 && p < 2,
  });
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('TransactionCoordinator', () => {
  test('a new coordinator completes a PrepareCommit whose markers were never written, and keeps an Ongoing transaction', async () => {
    const partition = await statePartition();
    const blocked = new Markers();
    blocked.accept = false;
    const first = coordinator(blocked);
    first.becameLeader(partition);
    await first.loaded();
    const a = await first.initProducerId('a', 60_000, -1n, -1);
    const b = await first.initProducerId('b', 60_000, -1n, -1);
    expect([a.errorCode, b.errorCode]).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
    expect([...(await first.addPartitions('a', a.producerId, a.producerEpoch, [{ topic: 'data', partition: 0 }, { topic: 'data', partition: 1 }])).values()])
      .toEqual([ErrorCode.NONE, ErrorCode.NONE]);
    expect([...(await first.addPartitions('b', b.producerId, b.producerEpoch, [{ topic: 'data', partition: 1 }])).values()]).toEqual([ErrorCode.NONE]);
    expect((await first.endTxn('a', a.producerId, a.producerEpoch, true)).errorCode).toBe(ErrorCode.NONE);
    // the markers cannot be written: 'a' stays in PrepareCommit, and says so to its producer
    expect(first.txns.get('a')?.state).toBe('PrepareCommit');
    expect((await first.endTxn('a', a.producerId, a.producerEpoch, true)).errorCode).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    first.resigned(0);
    first.close();

    const markers = new Markers();
    const second = coordinator(markers);
    second.becameLeader(partition);
    await second.loaded();
    await waitFor(() => second.txns.get('a')?.state === 'CompleteCommit', "'a' to complete");
    expect(markers.written).toEqual([{
      producerId: a.producerId, producerEpoch: a.producerEpoch, commit: true, coordinatorEpoch: 1,
      partitions: [{ topic: 'data', partition: 0 }, { topic: 'data', partition: 1 }],
    }]);
    expect(second.txns.get('b')).toMatchObject({ state: 'Ongoing', producerId: b.producerId, producerEpoch: b.producerEpoch });
    expect((await second.endTxn('b', b.producerId, b.producerEpoch, false)).errorCode).toBe(ErrorCode.NONE);
    await waitFor(() => second.txns.get('b')?.state === 'CompleteAbort', "'b' to abort");
    expect(second.counts()).toEqual({ open: 0, committed: 1, aborted: 1 });
    second.close();
    await partition.log.close();
  });

  test('a new producer instance aborts the open transaction of the old one with a bumped epoch, then gets the next epoch', async () => {
    const partition = await statePartition();
    const markers = new Markers();
    const c = coordinator(markers);
    c.becameLeader(partition);
    await c.loaded();
    const old = await c.initProducerId('z', 60_000, -1n, -1);
    await c.addPartitions('z', old.producerId, old.producerEpoch, [{ topic: 'data', partition: 0 }]);
    expect((await c.initProducerId('z', 60_000, -1n, -1)).errorCode).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    await waitFor(() => c.txns.get('z')?.state === 'CompleteAbort', 'the fencing abort');
    expect(markers.written).toEqual([{ producerId: old.producerId, producerEpoch: old.producerEpoch + 1, commit: false, coordinatorEpoch: 1, partitions: [{ topic: 'data', partition: 0 }] }]);
    const fresh = await c.initProducerId('z', 60_000, -1n, -1);
    expect(fresh).toEqual({ errorCode: ErrorCode.NONE, producerId: old.producerId, producerEpoch: old.producerEpoch + 2 });
    expect((await c.endTxn('z', old.producerId, old.producerEpoch, true)).errorCode).toBe(ErrorCode.PRODUCER_FENCED);
    c.close();
    await partition.log.close();
  });

  test('transaction protocol v2: EndTxn bumps the epoch every transaction, the markers carry the bumped epoch, a retried EndTxn gets the first answer, the old epoch is fenced', async () => {
    const partition = await statePartition();
    const markers = new Markers();
    const c = coordinator(markers);
    c.becameLeader(partition);
    await c.loaded();
    const p = await c.initProducerId('v2', 60_000, -1n, -1);
    // a partition leader adds the partition for the producer (Produce v12)
    expect([...(await c.addPartitions('v2', p.producerId, p.producerEpoch, [{ topic: 'data', partition: 0 }], 2)).values()]).toEqual([ErrorCode.NONE]);
    const ended = await c.endTxn('v2', p.producerId, p.producerEpoch, true, 2);
    expect(ended).toEqual({ errorCode: ErrorCode.NONE, producerId: p.producerId, producerEpoch: p.producerEpoch + 1 });
    await waitFor(() => c.txns.get('v2')?.state === 'CompleteCommit', 'the commit');
    expect(markers.written).toEqual([{ producerId: p.producerId, producerEpoch: p.producerEpoch + 1, commit: true, coordinatorEpoch: 1, partitions: [{ topic: 'data', partition: 0 }] }]);
    // the same EndTxn again (its answer was lost): the same answer; an abort with the old epoch is fenced
    expect(await c.endTxn('v2', p.producerId, p.producerEpoch, true, 2)).toEqual(ended);
    expect((await c.endTxn('v2', p.producerId, p.producerEpoch, false, 2)).errorCode).toBe(ErrorCode.PRODUCER_FENCED);
    // a late write of the ended transaction: its leader's add is fenced
    expect([...(await c.addPartitions('v2', p.producerId, p.producerEpoch, [{ topic: 'data', partition: 1 }], 2)).values()]).toEqual([ErrorCode.PRODUCER_FENCED]);
    // the next transaction with the bumped epoch, aborted
    expect([...(await c.addPartitions('v2', p.producerId, ended.producerEpoch, [{ topic: 'data', partition: 1 }], 2)).values()]).toEqual([ErrorCode.NONE]);
    expect(await c.endTxn('v2', p.producerId, ended.producerEpoch, false, 2)).toEqual({ errorCode: ErrorCode.NONE, producerId: p.producerId, producerEpoch: p.producerEpoch + 2 });
    await waitFor(() => c.txns.get('v2')?.state === 'CompleteAbort', 'the abort');
    expect(markers.written.at(-1)).toMatchObject({ producerEpoch: p.producerEpoch + 2, commit: false, partitions: [{ topic: 'data', partition: 1 }] });
    // an abort with nothing added (the producer cannot know whether a leader added a partition): bumped, no markers
    const written = markers.written.length;
    expect(await c.endTxn('v2', p.producerId, p.producerEpoch + 2, false, 2)).toEqual({ errorCode: ErrorCode.NONE, producerId: p.producerId, producerEpoch: p.producerEpoch + 3 });
    await waitFor(() => c.txns.get('v2')?.state === 'CompleteAbort' && c.txns.get('v2')?.producerEpoch === p.producerEpoch + 3, 'the empty abort');
    expect(markers.written.length).toBe(written);
    // protocol v1 keeps its answers: a commit of nothing is INVALID_TXN_STATE, no bump
    expect((await c.endTxn('v2', p.producerId, p.producerEpoch + 3, true)).errorCode).toBe(ErrorCode.INVALID_TXN_STATE);
    c.close();
    await partition.log.close();
  });

  test('transaction protocol v2: the epoch runs out, the next transaction gets a new producer id at epoch 0, the markers go out under the old id; a new coordinator finishes it from the log', async () => {
    const partition = await statePartition();
    const blocked = new Markers();
    blocked.accept = false;
    const first = coordinator(blocked);
    first.becameLeader(partition);
    await first.loaded();
    const p = await first.initProducerId('worn', 60_000, -1n, -1);
    // 32,765 transactions later (each bumped the epoch once)
    first.txns.get('worn')!.producerEpoch = 32_766;
    expect([...(await first.addPartitions('worn', p.producerId, 32_766, [{ topic: 'data', partition: 0 }], 2)).values()]).toEqual([ErrorCode.NONE]);
    const ended = await first.endTxn('worn', p.producerId, 32_766, true, 2);
    expect(ended.errorCode).toBe(ErrorCode.NONE);
    expect(ended.producerId).not.toBe(p.producerId);
    expect(ended.producerEpoch).toBe(0);
    // markers still pending: the new producer id's first add waits (CONCURRENT_TRANSACTIONS), a retried EndTxn too
    expect([...(await first.addPartitions('worn', ended.producerId, 0, [{ topic: 'data', partition: 1 }], 2)).values()]).toEqual([ErrorCode.CONCURRENT_TRANSACTIONS]);
    expect((await first.endTxn('worn', p.producerId, 32_766, true, 2)).errorCode).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    first.resigned(0);
    first.close();

    const markers = new Markers();
    const second = coordinator(markers);
    second.becameLeader(partition);
    await second.loaded();
    await waitFor(() => second.txns.get('worn')?.state === 'CompleteCommit', 'the commit finished by the new coordinator');
    expect(markers.written).toEqual([{ producerId: p.producerId, producerEpoch: 32_767, commit: true, coordinatorEpoch: 1, partitions: [{ topic: 'data', partition: 0 }] }]);
    expect(second.txns.get('worn')).toMatchObject({ producerId: ended.producerId, producerEpoch: 0, previousProducerId: p.producerId, nextProducerId: -1n });
    // the retried EndTxn under the old id is answered as the first was
    expect(await second.endTxn('worn', p.producerId, 32_766, true, 2)).toEqual(ended);
    expect([...(await second.addPartitions('worn', ended.producerId, 0, [{ topic: 'data', partition: 1 }], 2)).values()]).toEqual([ErrorCode.NONE]);
    second.close();
    await partition.log.close();
  });
});
