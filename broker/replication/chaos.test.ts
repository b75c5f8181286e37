/**
 * Chaos, in one process: an idempotent acks=all producer writes while leaders are crashed and
 * restarted over and over. At the end every acknowledged record is present exactly once, in
 * order per partition, and nothing appears twice.
 */
import { afterAll, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { LocalFleet } from '../local-fleet.ts';
import { decodeBatchRecords, forEachBatch } from '../log/records.ts';
import { MemoryStore } from '../metadata/index.ts';

const KILLS = 20;
const PARTITIONS = 3;
const dataDir = mkdtempSync(join(tmpdir(), 'brook-chaos-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test(`${KILLS} leader crashes under acks=all load lose no acknowledged record and duplicate nothing`, async () => {
  const fleet = new LocalFleet({
    brokers: 3, host: '127.0.0.1', basePort: 0, metricsBasePort: null, dataDir, store: new MemoryStore(), logLevel: 'error',
    settings: { 'broker.session.timeout.ms': '800', 'broker.heartbeat.interval.ms': '150', 'replica.fetch.wait.max.ms': '100', 'replica.lag.time.max.ms': '3000' },
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
    const acked = Array.from({ length: PARTITIONS }, () => [] as string[]);
    let producing = true;
    let sendErrors = 0;
    const load = (async () => {
      for (let i = 0; producing; i++) {
        const partition = i % PARTITIONS;
        const value = `p${partition}-${i}`;
        try {
          await producer.send({ topic: 'chaos', acks: -1, timeout: 5_000, messages: [{ value, partition }] });
          acked[partition]!.push(value);
        } catch {
          sendErrors++; // not acknowledged: may or may not be in the log, but never twice
        }
      }
    })();

    for (let kill = 0; kill < KILLS; kill++) {
      const p = kill % PARTITIONS;
      await waitFor(() => stateOf(p).leader >= 0 && fleet.broker(stateOf(p).leader) !== undefined, `a live leader of partition ${p}`);
      const victim = stateOf(p).leader;
      const before = acked.flat().length;
      await fleet.crash(victim);
      await waitFor(() => stateOf(p).leader !== victim && stateOf(p).leader >= 0, `failover of partition ${p}`);
      await fleet.start(victim);
      await waitFor(() => [0, 1, 2].every((q) => stateOf(q).isr.length === 3), 'every ISR whole again');
      await waitFor(() => acked.flat().length >= before + 15, 'progress after the failover');
    }
    producing = false;
    await load;
    await producer.disconnect();

    for (let p = 0; p < PARTITIONS; p++) {
      const leader = fleet.broker(stateOf(p).leader)!.partition('chaos', p)!;
      const values: string[] = [];
      let offset = leader.log.logStartOffset;
      while (offset < leader.highWatermark) {
        const { records } = await leader.log.read(offset, 1 << 20, { maxOffset: leader.highWatermark });
        forEachBatch(records, (pos) => {
          for (const r of decodeBatchRecords(records, pos)) { values.push(r.value!.toString()); offset = r.offset + 1n; }
        });
      }
      expect(new Set(values).size).toBe(values.length);
      // every acknowledged record, in the order it was acknowledged
      const ackedSet = new Set(acked[p]);
      expect(values.filter((v) => ackedSet.has(v))).toEqual(acked[p]);
    }
    expect(acked.flat().length).toBeGreaterThan(KILLS);
    process.stderr.write(`chaos: ${acked.flat().length} records acknowledged across ${KILLS} leader crashes, ${sendErrors} sends failed\n`);
  } finally {
    await fleet.stopAll();
  }
}, 240_000);
