export type {
  BrokerRegistration, ControllerLease, DynamicBrokerConfigs, ListenerEndpoint, MetadataStore, PartitionState, TopicEvent, TopicRecord, TopicSpec, TopicUpdate,
  ScramCredential, ScramCredentialChange, ScramCredentials, AclBinding, AclChange,
} from './types.ts';
export { decodeListeners, encodeListeners } from './types.ts';
export { ControllerFencedError, MetadataError, MetadataErrorCode, StaleVersionError } from './errors.ts';
export { MemoryStore, randomClusterId } from './memory-store.ts';
export { FileStore } from './file-store.ts';
export { placeReplicas, validateTopicName } from './placement.ts';
export type { BrokerInfo } from './placement.ts';
// KubernetesStore is imported from './kubernetes-store.ts' directly (and lazily by the CLI):
// loading @kubernetes/client-node costs ~80 MiB and ~0.3 s, which brokers on other stores skip.
export type { KubernetesStoreOptions } from './kubernetes-store.ts';
