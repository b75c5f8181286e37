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
 */
export async function claimPartitionDir(dir: string, topicId: string, onStale: (detail: string) => void): Promise<void> {
  const file = join(dir, PARTITION_METADATA);
  const existing = await readFile(file, 'utf8').catch(() => null);
  if (existing !== null && !existing.includes(`topic_id: ${topicId}`)) {
    onStale(existing.trim().replace(/\n/g, ', '));
    await rm(dir, { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true });
  if (existing === null || !existing.includes(topicId)) await writeFile(file, `version: 0\ntopic_id: ${topicId}\n`);
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
