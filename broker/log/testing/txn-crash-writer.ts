/**
 * Crash-test child (run as `node txn-crash-writer.ts <dir>`; never imported): writes
 * transactions to the log in <dir> as fast as it can, alternating producers; every third one is
 * aborted, the others committed. Small segments, so markers land in many segments. The parent
 * SIGKILLs it mid-stream and checks the aborted-transaction index against the markers.
 */
import { PartitionLog, defaultLogConfig } from '../index.ts';
import { txnRecords } from './txn-log-check.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: txn-crash-writer.ts <log dir>');
const log = await PartitionLog.open(dir, { ...defaultLogConfig, segmentBytes: 4096 });
const seqs = new Map<bigint, number>();
process.stdout.write('ready\n');
for (let i = 0; ; i++) {
  // Producer ids unique per run (the log may hold earlier runs' producers at other sequences).
  const producerId = BigInt(process.pid) * 10n + BigInt(i % 3);
  const seq = seqs.get(producerId) ?? 0;
  log.append(txnRecords(producerId, 0, seq, i, 2, i % 7), { leaderEpoch: 0 });
  seqs.set(producerId, seq + 2);
  const m = log.appendMarker(producerId, 0, i % 3 !== 0, 0, { leaderEpoch: 0 });
  process.stdout.write(`${i} ${m.baseOffset}\n`);
  if (i % 64 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
}
