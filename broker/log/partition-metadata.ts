/**
 * partition.metadata: the file in each partition directory naming the topic id it belongs to
 * (Kafka's PartitionMetadataFile), text: `version: 0\ntopic_id: <uuid>\n`. It tells a directory
 * left by an earlier topic of the same name, or by a deleted topic, from the current one.
 * Written once when the broker first hosts the partition; read on start.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const PARTITION_METADATA = 'partition.metadata';

/**
 * Makes `dir` the directory of topic `topicId`: a directory recorded for another topic id is
 * removed first (`onStale` says why), then the file is written if it does not name `topicId`.
 * Returns true when `dir` is new and empty (created by this call): the log in it needs no
 * recovery, and nothing in it needs reading (PartitionLog.open's `fresh`).
 */
export async function claimPartitionDir(dir: string, topicId: string, onStale: (detail: string) => void): Promise<boolean> {
  const file = join(dir, PARTITION_METADATA);
  // the common case when topics are created: no directory yet, so nothing to read (a failed read is dear: an Error per call)
  if (await mkdirNew(dir)) {
    await writeFile(file, metadataText(topicId));
    return true;
  }
  const existing = await readFile(file, 'utf8').catch(() => null);
  if (existing !== null && existing.includes(`topic_id: ${topicId}`)) return false;
  if (existing === null) {
    // a directory without the file (a claim interrupted before its write): keep what is in it
    await writeFile(file, metadataText(topicId));
    return false;
  }
  onStale(existing.trim().replace(/\n/g, ', '));
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(file, metadataText(topicId));
  return true;
}

function metadataText(topicId: string): string { return `version: 0\ntopic_id: ${topicId}\n`; }

/** Creates `dir` (and its parents); false if it exists already. */
async function mkdirNew(dir: string): Promise<boolean> {
  // mkdir with `recursive` returns the first directory it created, undefined if there was none
  return (await mkdir(dir, { recursive: true })) !== undefined;
}

/** Partition directories under `dataDir` (those with a partition.metadata) and the topic id each records. */
export async function listPartitionDirs(dataDir: string): Promise<Array<{ name: string; topicId: string | undefined }>> {
  const out: Array<{ name: string; topicId: string | undefined }> = [];
  for (const e of await readdir(dataDir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const meta = await readFile(join(dataDir, e.name, PARTITION_METADATA), 'utf8').catch(() => null);
    if (meta !== null) out.push({ name: e.name, topicId: /topic_id: (\S+)/.exec(meta)?.[1] });
  }
  return out;
}
