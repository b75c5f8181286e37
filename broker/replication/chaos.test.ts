/**
 * Chaos, in one process, with power loss: an idempotent acks=all producer writes while leaders
 * are crashed and restarted over and over. A crash here loses what a power failure loses: the
 * broker lets go of its logs without flushing or writing indexes, snapshots or checkpoints
 * (Broker.crash), then every segment file of its data directory is cut back to the length it
 * had when it was last fsynced (test/harness/power-loss.ts), so the restart runs recovery on
 * logs that lost their unsynced tail. At the end the shared checker (test/harness/chaos-checker.ts)
 * proves, on every replica in the ISR, that the replicas are byte-identical up to the high
 * watermark, that every acknowledged record is at the offset its acknowledgement named, and that
 * nothing appears twice.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { LocalFleet } from '../local-fleet.ts';
import { MemoryStore } from '../metadata/index.ts';
import { checkAcknowledged, replicaFromLog, waitForReplicas } from '../../test/harness/chaos-checker.ts';
import type { AckedRecord } from '../../test/harness/chaos-checker.ts';
import { DurabilityTracker } from '../../test/harness/power-loss.ts';

const KILLS = 20;
const PARTITIONS = 3;
const dataDir = mkdtempSync(join(tmpdir(), 'brook-chaos-'));
let durability: DurabilityTracker;
beforeAll(() => { durability = DurabilityTracker.install(); });
afterAll(() => {
  durability.uninstall();
  rmSync(dataDir, { recursive: true, force: true });
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test(`${KILLS} leader crashes that lose every unfsynced byte (in process: no flush, segment files cut to their fsynced length) under acks=all load lose no acknowledged record on any in-sync replica and duplicate nothing`, async () => {
  const fleet = new LocalFleet({
    brokers: 3, host: '127.0.0.1', basePort: 0, metricsBasePort: null, dataDir, store: new MemoryStore(), logLevel: 'error',
    // The log makes no fsync of its own here (no flush; a new leader writes no epoch checkpoint),
    // and a broker is crashed every few seconds: a short high-watermark checkpoint interval gives
    // the tracker fsyncs to see (off the event loop, through FileHandle.sync).
    settings: { 'broker.session.timeout.ms': '800', 'broker.heartbeat.interval.ms': '150', 'replica.fetch.wait.max.ms': '100', 'replica.lag.time.max.ms': '3000',
      'replica.high.watermark.checkpoint.interval.ms': '300' },
  });
  await fleet.startAll();
  const stateOf = (p: number) => fleet.brokers[0]!.topic('chaos')!.partitions[p]!;
  try {
    await waitFor(() => fleet.brokers.every((b) => b.liveBrokers().length === 3), 'all brokers live');
    const kafka = new Kafka({ brokers: fleet.bootstrap.split(','), logLevel: logLevel.NOTHING, retry: { retries: 50, initialRetryTime: 50, maxRetryTime: 500 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'chaos', numPartitions: PARTITIONS, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }] });
    await admin.disconnect();

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const acked: AckedRecord[] = [];
    let producing = true;
    let sendErrors = 0;
    let bytesDropped = 0;
    const load = (async () => {
      for (let i = 0; producing; i++) {
        const partition = i % PARTITIONS;
        const value = `p${partition}-${i}`;
        try {
          const [meta] = await producer.send({ topic: 'chaos', acks: -1, timeout: 5_000, messages: [{ value, partition }] });
          acked.push({ client: 'kafkajs', partition: meta!.partition, offset: BigInt(meta!.baseOffset!), value });
        } catch {
          sendErrors++; // not acknowledged: may or may not be in the log, but never twice
        }
      }
    })();

    for (let kill = 0; kill < KILLS; kill++) {
      const p = kill % PARTITIONS;
      await waitFor(() => stateOf(p).leader >= 0 && fleet.broker(stateOf(p).leader) !== undefined, `a live leader of partition ${p}`);
      const victim = stateOf(p).leader;
      const before = acked.length;
      await fleet.crash(victim);
      const loss = durability.loseUnsynced(join(dataDir, `broker-${victim}`));
      bytesDropped += loss.bytesDropped;
      await waitFor(() => stateOf(p).leader !== victim && stateOf(p).leader >= 0, `failover of partition ${p}`);
      await fleet.start(victim);
      await waitFor(() => [0, 1, 2].every((q) => stateOf(q).isr.length === 3), 'every ISR whole again');
      await waitFor(() => acked.length >= before + 15, 'progress after the failover');
    }
    producing = false;
    await load;
    await producer.disconnect();

    const evidence = await waitForReplicas(async () => Promise.all([0, 1, 2].map(async (p) => {
      const state = stateOf(p);
      const highWatermark = fleet.broker(state.leader)!.partition('chaos', p)!.highWatermark;
      const inSync = [state.leader, ...state.isr.filter((r) => r !== state.leader)];
      return {
        partition: p,
        highWatermark,
        inSync: await Promise.all(inSync.map((id) => replicaFromLog(`broker ${id}`, fleet.broker(id)!.partition('chaos', p)!.log, highWatermark))),
      };
    })), acked);
    expect(evidence.map((e) => e.inSync.length)).toEqual([3, 3, 3]);
    const report = checkAcknowledged(acked, evidence);
    expect(report.problems).toEqual([]);
    expect(report.verified).toBe(acked.length * 3);
    // the crashes really lost data (recovery ran on cut logs), and the tracker saw the broker's fsyncs
    expect(bytesDropped).toBeGreaterThan(0);
    expect(durability.syncs).toBeGreaterThan(0);
    expect(acked.length).toBeGreaterThan(KILLS);
    process.stderr.write(`chaos: ${acked.length} records acknowledged across ${KILLS} leader crashes, ${sendErrors} sends failed, ${bytesDropped} unsynced bytes dropped, ${report.bytesCompared} replica bytes compared\n`);
  } finally {
    await fleet.stopAll();
  }
}, 240_000);
