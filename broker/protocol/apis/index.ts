/** Every API schema Brook knows. Having a schema does not mean the server advertises the API. */
import type { ApiSpec } from '../schema.ts';
import { addOffsetsToTxn } from './addOffsetsToTxn.ts';
import { addPartitionsToTxn } from './addPartitionsToTxn.ts';
import { alterClientQuotas } from './alterClientQuotas.ts';
import { alterConfigs } from './alterConfigs.ts';
import { apiVersions } from './apiVersions.ts';
import { consumerGroupDescribe } from './consumerGroupDescribe.ts';
import { consumerGroupHeartbeat } from './consumerGroupHeartbeat.ts';
import { createAcls } from './createAcls.ts';
import { createPartitions } from './createPartitions.ts';
import { createTopics } from './createTopics.ts';
import { deleteAcls } from './deleteAcls.ts';
import { deleteGroups } from './deleteGroups.ts';
import { deleteRecords } from './deleteRecords.ts';
import { deleteTopics } from './deleteTopics.ts';
import { describeAcls } from './describeAcls.ts';
import { describeClientQuotas } from './describeClientQuotas.ts';
import { describeCluster } from './describeCluster.ts';
import { describeConfigs } from './describeConfigs.ts';
import { describeGroups } from './describeGroups.ts';
import { describeTopicPartitions } from './describeTopicPartitions.ts';
import { electLeaders } from './electLeaders.ts';
import { endTxn } from './endTxn.ts';
import { alterPartitionReassignments } from './alterPartitionReassignments.ts';
import { listPartitionReassignments } from './listPartitionReassignments.ts';
import { describeLogDirs } from './describeLogDirs.ts';
import { describeProducers } from './describeProducers.ts';
import { describeTransactions } from './describeTransactions.ts';
import { listTransactions } from './listTransactions.ts';
import { fetch } from './fetch.ts';
import { findCoordinator } from './findCoordinator.ts';
import { heartbeat } from './heartbeat.ts';
import { incrementalAlterConfigs } from './incrementalAlterConfigs.ts';
import { initProducerId } from './initProducerId.ts';
import { joinGroup } from './joinGroup.ts';
import { leaveGroup } from './leaveGroup.ts';
import { listGroups } from './listGroups.ts';
import { listOffsets } from './listOffsets.ts';
import { metadata } from './metadata.ts';
import { offsetCommit } from './offsetCommit.ts';
import { offsetDelete } from './offsetDelete.ts';
import { offsetFetch } from './offsetFetch.ts';
import { offsetForLeaderEpoch } from './offsetForLeaderEpoch.ts';
import { produce } from './produce.ts';
import { saslAuthenticate } from './saslAuthenticate.ts';
import { describeUserScramCredentials } from './describeUserScramCredentials.ts';
import { alterUserScramCredentials } from './alterUserScramCredentials.ts';
import { saslHandshake } from './saslHandshake.ts';
import { syncGroup } from './syncGroup.ts';
import { txnOffsetCommit } from './txnOffsetCommit.ts';
import { writeTxnMarkers } from './writeTxnMarkers.ts';

export {
  addOffsetsToTxn, addPartitionsToTxn, endTxn, txnOffsetCommit, writeTxnMarkers, describeProducers, describeTransactions, listTransactions,
  alterClientQuotas, describeClientQuotas,
  alterConfigs, alterPartitionReassignments, apiVersions, consumerGroupDescribe, consumerGroupHeartbeat, createAcls, createPartitions, createTopics, deleteAcls, deleteGroups,
  deleteRecords, deleteTopics, describeAcls, describeCluster, describeConfigs, describeGroups, describeLogDirs, describeTopicPartitions, electLeaders, fetch,
  findCoordinator, heartbeat, listPartitionReassignments,
  incrementalAlterConfigs, initProducerId, joinGroup, leaveGroup, listGroups, listOffsets, metadata,
  offsetCommit, offsetDelete, offsetFetch, offsetForLeaderEpoch, produce, saslAuthenticate, saslHandshake, syncGroup,
  describeUserScramCredentials, alterUserScramCredentials,
};

export const ALL_APIS: readonly ApiSpec[] = [
  produce, fetch, listOffsets, metadata, offsetCommit, offsetFetch, findCoordinator, joinGroup,
  heartbeat, leaveGroup, syncGroup, describeGroups, listGroups, apiVersions, createTopics,
  deleteTopics, deleteRecords, initProducerId, describeAcls, createAcls, deleteAcls, offsetForLeaderEpoch, describeConfigs, alterConfigs,
  createPartitions, deleteGroups, electLeaders, incrementalAlterConfigs, offsetDelete, describeCluster, describeTopicPartitions,
  saslHandshake, saslAuthenticate, describeLogDirs, alterPartitionReassignments, listPartitionReassignments,
  addPartitionsToTxn, addOffsetsToTxn, endTxn, writeTxnMarkers, txnOffsetCommit, describeProducers, describeTransactions, listTransactions,
  describeUserScramCredentials, alterUserScramCredentials,
  consumerGroupHeartbeat, consumerGroupDescribe, describeClientQuotas, alterClientQuotas,
];
