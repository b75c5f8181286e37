/**
 * Crash-test child (run as `node crash-writer.ts <dir>`; never imported): appends batches to
 * the log in <dir> as fast as it can with flush.messages=1, and prints `<i> <baseOffset>
 * <lastOffset>` for batch i only after the flush the policy promises has completed (when a
 * broker would acknowledge it). The parent SIGKILLs it mid-stream and checks that every
 * acknowledged batch survived. Batch i = crashBatch(i), so the parent can rebuild the bytes.
 */
import { PartitionLog, defaultLogConfig } from '../index.ts';
import { crashBatch, CRASH_LEADER_EPOCH, CRASH_SEGMENT_BYTES } from './crash-batches.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: crash-writer.ts <log dir>');
const log = await PartitionLog.open(dir, { ...defaultLogConfig, flushMessages: 1, segmentBytes: CRASH_SEGMENT_BYTES });
const inFlight: Promise<void>[] = [];
process.stdout.write('ready\n');
for (let i = 0; ; i++) {
  const r = log.append(crashBatch(i), { leaderEpoch: CRASH_LEADER_EPOCH });
  const durable = log.flushed(r.lastOffset) ?? Promise.resolve();
  inFlight.push(durable.then(() => { process.stdout.write(`${i} ${r.baseOffset} ${r.lastOffset}\n`); }));
  if (inFlight.length >= 8) await inFlight.shift();
}
