/**
 * flush.messages=1 promises that a record is on disk before it is acknowledged. A SIGKILL test
 * cannot prove it (the page cache survives the process), so this one watches the system calls:
 * the broker runs under strace, a raw connection sends acks=all produce requests one at a time
 * to a topic with flush.messages=1, and for each produce response written to that connection's
 * socket, the partition's segment file must have been fdatasynced (or fsynced) after the batch
 * was written to it and before the response write began. Without the fsync this test fails (it
 * was checked by removing the fdatasync from LogSegment.flush).
 */
import { afterAll, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import produceV3 from 'kafkajs/src/protocol/requests/produce/v3/request.js';
import { ensureDepsCommand } from '../harness/paths.ts';
import { startBroker, stopAllBrokers, target, tempDir } from '../harness/brook.ts';
import { readTrace } from '../harness/syscall-trace.ts';
import type { Syscall } from '../harness/syscall-trace.ts';
import { createTopicAndWait } from '../harness/topics.ts';
import { WireConnection, frameKafkajsRequest } from '../harness/wire.ts';

const { Kafka, logLevel } = kafkajs;
const PRODUCES = 30;

afterAll(async () => {
  await stopAllBrokers();
});

function requireStrace(): void {
  if (target === 'kafka') throw new Error('this test traces the Brook broker process; run it without BROOK_TEST_TARGET=kafka');
  if (spawnSync('sh', ['-c', 'command -v strace'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(`strace is not installed: run \`${ensureDepsCommand}\` (it runs \`apt-get install -y strace\`)`);
  }
}

test(`flush.messages=1: each of ${PRODUCES} acks=all produce responses is written only after the segment file was fdatasynced (strace)`, async () => {
  requireStrace();
  const traceFile = join(tempDir('brook-strace-'), 'trace');
  const broker = await startBroker({
    wrapWith: ['strace', '-f', '-tt', '-yy', '-s', '0', '-o', traceFile,
      '-e', 'trace=fdatasync,fsync,write,writev,pwrite64,pwritev,pwritev2,sendmsg,sendto'],
    readyTimeoutMs: 60_000,
  });
  const topic = `fsync-${process.pid}`;
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    expect(await createTopicAndWait(admin, { topic, numPartitions: 1, configEntries: [{ name: 'flush.messages', value: '1' }] })).toBe(true);
  } finally {
    await admin.disconnect();
  }

  // one connection that carries only the produce requests, so its socket's writes are their responses
  const conn = await WireConnection.connect(broker.bootstrap);
  const clientPort = conn.socket.localPort!;
  const acked: bigint[] = [];
  try {
    for (let i = 0; i < PRODUCES; i++) {
      const id = 1000 + i;
      const frame = await frameKafkajsRequest(produceV3({
        acks: -1,
        timeout: 10_000,
        topicData: [{ topic, partitions: [{ partition: 0, messages: [{ key: `k${i}`, value: `durable-${i}`, timestamp: Date.now() }] }] }],
      }), id);
      const body = await conn.roundTrip(frame, id);
      // Produce v3 response: [topic [partition error_code base_offset ...]]
      let pos = 4;
      pos += 2 + body.readInt16BE(pos);
      pos += 4 + 4;
      expect(body.readInt16BE(pos)).toBe(0);
      acked.push(body.readBigInt64BE(pos + 2));
    }
  } finally {
    conn.close();
  }
  expect(acked).toEqual(acked.map((_, i) => BigInt(i)));
  expect(await broker.stop()).toBe(0);

  const calls = readTrace(traceFile);
  const segment = new RegExp(`/${topic}-0/\\d{20}\\.log$`);
  const dataWrites = calls.filter((c) => /^(p?writev?2?|pwrite64)$/.test(c.name) && segment.test(c.target) && c.result > 0);
  const syncs = calls.filter((c) => (c.name === 'fdatasync' || c.name === 'fsync') && segment.test(c.target) && c.result === 0);
  const responses = calls.filter((c) => /^(writev?|sendmsg|sendto)$/.test(c.name) && c.target.endsWith(`->127.0.0.1:${clientPort}]`));
  expect({ responses: responses.length, dataWritesAtLeast: dataWrites.length >= PRODUCES })
    .toEqual({ responses: PRODUCES, dataWritesAtLeast: true });

  const unsynced: string[] = [];
  responses.forEach((response: Syscall, k) => {
    const written = dataWrites.filter((w) => w.exit < response.entry);
    if (written.length < k + 1) {
      unsynced.push(`response ${k}: only ${written.length} writes to the segment before it`);
      return;
    }
    const lastWrite = written[written.length - 1]!;
    const synced = syncs.some((s) => s.exit > lastWrite.exit && s.exit < response.entry);
    if (!synced) unsynced.push(`response ${k} (trace line ${response.entry + 1}): no fdatasync of ${lastWrite.target} between its write (line ${lastWrite.exit + 1}) and the response`);
  });
  expect(unsynced).toEqual([]);
  process.stderr.write(`fsync-before-ack: ${responses.length} responses, ${dataWrites.length} segment writes, ${syncs.length} segment fdatasyncs traced\n`);
}, 180_000);
