export type {
  BrokerRegistration, ControllerLease, MetadataStore, PartitionState, TopicEvent, TopicRecord, TopicSpec,
} from './types.ts';
export { StaleVersionError } from './types.ts';
export { MemoryStore, randomClusterId } from './memory-store.ts';
export { FileStore } from './file-store.ts';
export { placeReplicas, validateTopicName } from './placement.ts';
export type { BrokerInfo } from './placement.ts';
export { KubernetesStore } from './kubernetes-store.ts';
export type { KubernetesStoreOptions } from './kubernetes-store.ts';
