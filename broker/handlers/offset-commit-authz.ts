/**
 * The authorization of an offset commit, OffsetCommit's (8) and TxnOffsetCommit's (28) alike, as
 * Kafka checks it: READ on the group, then (the group allowed) READ on each topic. A refused
 * group fails every partition with GROUP_AUTHORIZATION_FAILED and commits nothing; a refused
 * topic fails its partitions with TOPIC_AUTHORIZATION_FAILED and the others are committed.
 * Partitions of a topic that does not exist, or past its partition count, (OffsetCommit asks for
 * that check) are UNKNOWN_TOPIC_OR_PARTITION and not committed either.
 */
import { ErrorCode } from '../errors.ts';
import { AclOperation, allowed, ResourceType } from './authz.ts';
import type { RequestContext } from './index.ts';

export interface CommitTopic<P extends { partitionIndex: number }> { name: string; partitions: P[] }

/** Every requested partition's error code, by topic, in the request's order. */
export type CommitResult = Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: number }> }>;

/**
 * Runs `commit` on the partitions the principal may commit and answers every requested one:
 * its authorization error, or the code `commit` returned for it (by `topic\0partition`). A
 * `commit` that fails as a whole (TxnOffsetCommit v5 whose offsets partition could not join the
 * transaction) returns one error code, and every partition answers it, refused topics' too.
 */
export async function commitAuthorized<P extends { partitionIndex: number }>(
  ctx: RequestContext, groupId: string, topics: ReadonlyArray<CommitTopic<P>>,
  commit: (allowedTopics: Array<CommitTopic<P>>) => Promise<Map<string, number> | number>,
  exists: (topic: string, partition: number) => boolean = () => true,
): Promise<CommitResult> {
  const groupDenied = !allowed(ctx, AclOperation.READ, ResourceType.GROUP, groupId);
  const topicDenied = new Set(topics.filter((t) => !groupDenied && !allowed(ctx, AclOperation.READ, ResourceType.TOPIC, t.name)).map((t) => t.name));
  const errors = groupDenied ? new Map<string, number>()
    : await commit(topics.filter((t) => !topicDenied.has(t.name)).map((t) => ({ name: t.name, partitions: t.partitions.filter((p) => exists(t.name, p.partitionIndex)) })));
  const codeOf = (topic: string, partition: number) => {
    if (groupDenied) return ErrorCode.GROUP_AUTHORIZATION_FAILED;
    if (typeof errors === 'number') return errors;
    if (topicDenied.has(topic)) return ErrorCode.TOPIC_AUTHORIZATION_FAILED;
    return exists(topic, partition) ? errors.get(`${topic}\u0000${partition}`) ?? ErrorCode.UNKNOWN_SERVER_ERROR : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  };
  return topics.map((t) => ({
    name: t.name,
    partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: codeOf(t.name, p.partitionIndex) })),
  }));
}
