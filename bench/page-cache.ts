/**
 * How much of a topic's log is in the page cache, and reading it into the cache before a consume run.
 *
 * Why: the VMs here run DAMON (kdamond, `/sys/kernel/mm/damon/admin`) with a `pageout` scheme for
 * physical memory not accessed for about a minute, so a topic written a few minutes before it is
 * consumed is partly gone from the page cache, at random. The consume run then reads that part
 * from disk, and the broker's kernel time per GiB (the readahead, the block I/O, the waits) grows
 * with however much DAMON happened to drop: a number about the VM, not the broker. Kafka's own
 * benchmark setting is a consumer reading recent data from the page cache, so by default the bench
 * reads the topic's segment files through once before each consume run, for both brokers alike,
 * and records how much was resident before and at the start (`fincore`, util-linux).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';

/** Both brokers keep partition P of topic T in `<data dir>/T-P/`, records in `*.log` segment files. */
export function topicSegmentFiles(dataDir: string, topic: string): string[] {
  const partitionDir = new RegExp(`^${topic.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}-\\d+$`);
  const files: string[] = [];
  for (const dir of readdirSync(dataDir, { withFileTypes: true })) {
    if (!dir.isDirectory() || !partitionDir.test(dir.name)) continue;
    for (const f of readdirSync(join(dataDir, dir.name))) if (f.endsWith('.log')) files.push(join(dataDir, dir.name, f));
  }
  return files.sort();
}

export type Residency = { residentBytes: number; totalBytes: number };

/** Bytes of `files` in the page cache, by `fincore`; undefined where fincore is missing or fails. */
export function residency(files: string[]): Residency | undefined {
  if (files.length === 0) return { residentBytes: 0, totalBytes: 0 };
  const run = spawnSync('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES,SIZE', ...files], { encoding: 'utf8' });
  if (run.status !== 0 || typeof run.stdout !== 'string') return undefined;
  let residentBytes = 0;
  let totalBytes = 0;
  for (const line of run.stdout.split('\n')) {
    const [res, size] = line.trim().split(/\s+/).map(Number);
    if (!Number.isFinite(res) || !Number.isFinite(size)) continue;
    residentBytes += res;
    totalBytes += size;
  }
  return { residentBytes, totalBytes };
}

/** Reads every byte of `files` (into one reused buffer), which leaves them in the page cache. */
export function readThrough(files: string[]): number {
  const buffer = Buffer.allocUnsafe(4 << 20);
  let bytes = 0;
  for (const file of files) {
    const fd = openSync(file, 'r');
    try {
      for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) bytes += n;
    } finally {
      closeSync(fd);
    }
  }
  return bytes;
}

/** "62 % of 977 MiB" (or "unknown" without fincore). */
export function describeResidency(r: Residency | undefined): string {
  if (r === undefined) return 'unknown (no fincore)';
  if (r.totalBytes === 0) return 'no data';
  return `${((100 * r.residentBytes) / r.totalBytes).toFixed(0)} % of ${(r.totalBytes / 2 ** 20).toFixed(0)} MiB`;
}
