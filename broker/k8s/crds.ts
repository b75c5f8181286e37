/**
 * Brook's custom resources, `Cluster`, `Topic` and `User` (group brook.dev, version v1alpha1): the one
 * definition of their OpenAPI schemas. The TypeScript types below are derived from the schema
 * objects by `FromSchema`, so the types and the CRDs cannot drift; `node scripts/gen-crds.ts`
 * renders crds/*.yaml from `customResourceDefinitions`, and a test checks the committed files.
 *
 * Validation lives in the schema and runs in the API server: OpenAPI bounds and patterns, and
 * CEL rules (`x-kubernetes-validations`) for what depends on the old object (partitions never
 * decrease, replication factor immutable). Unknown fields: the schemas are structural and do not
 * preserve unknown fields (except podTemplate), so the API server prunes them; clients asking for
 * strict field validation (kubectl's default) get the request rejected instead.
 */
import type { ObjectMeta } from './objects.ts';

export const group = 'brook.dev';
export const version = 'v1alpha1';
export const apiVersion = `${group}/${version}`;

// ---- the schema language, as the API server reads it (wire names) ----

export interface JSONSchemaProps {
  readonly type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  readonly format?: string;
  readonly description?: string;
  readonly properties?: Readonly<Record<string, JSONSchemaProps>>;
  readonly required?: readonly string[];
  readonly items?: JSONSchemaProps;
  readonly additionalProperties?: JSONSchemaProps;
  readonly anyOf?: readonly JSONSchemaProps[];
  readonly enum?: readonly (string | number)[];
  readonly default?: unknown;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly maxProperties?: number;
  readonly pattern?: string;
  readonly nullable?: boolean;
  readonly 'x-kubernetes-preserve-unknown-fields'?: boolean;
  readonly 'x-kubernetes-int-or-string'?: boolean;
  readonly 'x-kubernetes-embedded-resource'?: boolean;
  readonly 'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  readonly 'x-kubernetes-list-map-keys'?: readonly string[];
  readonly 'x-kubernetes-map-type'?: 'atomic' | 'granular';
  readonly 'x-kubernetes-validations'?: readonly ValidationRule[];
}

export interface ValidationRule {
  readonly rule: string;
  readonly message?: string;
  readonly messageExpression?: string;
  readonly reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  readonly fieldPath?: string;
  readonly optionalOldSelf?: boolean;
}

// ---- schema → TypeScript type ----

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type RequiredKeys<S> = S extends { readonly required: readonly (infer R)[] } ? R : never;
type PropsOf<P, R> = Simplify<
  { -readonly [K in keyof P as K extends R ? K : never]: FromSchema<P[K]> }
  & { -readonly [K in keyof P as K extends R ? never : K]?: FromSchema<P[K]> }>;

/** The TypeScript type of the values a structural schema admits. */
export type FromSchema<S> =
  S extends { readonly 'x-kubernetes-int-or-string': true } ? number | string
  : S extends { readonly type: 'string'; readonly enum: readonly (infer E)[] } ? E
  : S extends { readonly type: 'string' } ? string
  : S extends { readonly type: 'integer' | 'number' } ? number
  : S extends { readonly type: 'boolean' } ? boolean
  : S extends { readonly type: 'array'; readonly items: infer I } ? FromSchema<I>[]
  : S extends { readonly type: 'object'; readonly properties: infer P }
    ? S extends { readonly 'x-kubernetes-preserve-unknown-fields': true }
      ? PropsOf<P, RequiredKeys<S>> & Record<string, unknown>
      : PropsOf<P, RequiredKeys<S>>
  : S extends { readonly type: 'object'; readonly additionalProperties: infer A } ? Record<string, FromSchema<A>>
  : S extends { readonly type: 'object' } ? Record<string, unknown>
  : unknown;

// ---- shared pieces ----

/** A Kubernetes resource.Quantity (`10Gi`, `500m`, `2`), as controller-gen renders one. */
const quantity = {
  anyOf: [{ type: 'integer' }, { type: 'string' }],
  pattern: '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
  'x-kubernetes-int-or-string': true,
} as const satisfies JSONSchemaProps;

/** metav1.Condition, as every Kubernetes API writes its conditions. */
const conditions = {
  type: 'array',
  description: 'Conditions keyed by type; Ready summarises the others.',
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
  items: {
    type: 'object',
    required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
    properties: {
      type: { type: 'string', maxLength: 316, pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$' },
      status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
      observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
      lastTransitionTime: { type: 'string', format: 'date-time' },
      reason: { type: 'string', minLength: 1, maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' },
      message: { type: 'string', maxLength: 32768 },
    },
  },
} as const satisfies JSONSchemaProps;

const observedGeneration = {
  type: 'integer', format: 'int64', minimum: 0,
  description: 'The metadata.generation the status describes.',
} as const satisfies JSONSchemaProps;

const brokerIds = { type: 'array', items: { type: 'integer', format: 'int32', minimum: 0 } } as const satisfies JSONSchemaProps;

/** A DNS-1123 label: what a Cluster's name must be, since it names StatefulSets and Services. */
const dnsLabel = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

/** Kafka's legal topic names (Topic.validate in Apache Kafka); "." and ".." are excluded by a rule. */
export const kafkaTopicNamePattern = '^[a-zA-Z0-9._-]{1,249}$';

/** Broker settings the operator derives per broker; a Cluster may not set them in spec.config. */
export const operatorOwnedBrokerSettings = [
  'broker.id', 'node.id', 'process.roles', 'listeners', 'advertised.listeners', 'listener.security.protocol.map',
  'inter.broker.listener.name', 'log.dirs', 'broker.rack', 'cluster.id',
] as const;

// ---- Topic ----

export const topicSpecSchema = {
  type: 'object',
  description: 'A Kafka topic. Users (kubectl apply) and brokers (CreateTopics, CreatePartitions, AlterConfigs) write the spec.',
  required: ['cluster'],
  properties: {
    cluster: {
      type: 'string', minLength: 1, maxLength: 63, pattern: dnsLabel,
      description: 'Name of the Cluster, in the same namespace, that holds this topic.',
      'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'cluster is immutable: a topic cannot move to another cluster' }],
    },
    topicName: {
      type: 'string', minLength: 1, maxLength: 249, pattern: kafkaTopicNamePattern,
      description: 'The Kafka topic name; defaults to metadata.name (Kafka names allow upper case and _, Kubernetes names do not).',
      'x-kubernetes-validations': [
        { rule: "self != '.' && self != '..'", message: "topicName may not be '.' or '..'" },
        { rule: 'self == oldSelf', message: 'topicName is immutable: Kafka cannot rename a topic' },
      ],
    },
    partitions: {
      type: 'integer', format: 'int32', minimum: 1, maximum: 1_000_000, default: 1,
      description: 'Number of partitions; may grow, never shrink.',
      'x-kubernetes-validations': [{ rule: 'self >= oldSelf', message: 'partitions cannot be decreased: Kafka cannot remove partitions (create a new topic instead)' }],
    },
    replicationFactor: {
      type: 'integer', format: 'int32', minimum: 1, maximum: 32767, default: 1,
      description: 'Replicas per partition (default 1, as Kafka\'s default.replication.factor); immutable.',
      'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'replicationFactor is immutable: change replicas with a partition reassignment' }],
    },
    config: {
      type: 'object',
      description: 'Topic-level Kafka configs (retention.ms, cleanup.policy, ...), values as strings.',
      additionalProperties: { type: 'string', maxLength: 4096 },
      maxProperties: 100,
    },
  },
  'x-kubernetes-validations': [{
    rule: 'has(self.topicName) == has(oldSelf.topicName)',
    message: 'topicName cannot be added or removed after creation: Kafka cannot rename a topic',
  }],
} as const satisfies JSONSchemaProps;

export const topicPartitionStatusSchema = {
  type: 'object',
  required: ['partition', 'replicas', 'leader', 'isr', 'leaderEpoch', 'partitionEpoch'],
  properties: {
    partition: { type: 'integer', format: 'int32', minimum: 0 },
    replicas: { ...brokerIds, description: 'Broker ids holding the partition, preferred leader first.' },
    leader: { type: 'integer', format: 'int32', minimum: -1, description: 'Broker id of the leader; -1 when no replica can lead.' },
    isr: { ...brokerIds, description: 'In-sync replicas.' },
    leaderEpoch: { type: 'integer', format: 'int32', minimum: 0 },
    partitionEpoch: { type: 'integer', format: 'int32', minimum: 0 },
    reassignment: {
      type: 'object',
      description: 'A reassignment in flight (AlterPartitionReassignments), executed by the controller.',
      required: ['targetReplicas'],
      properties: {
        targetReplicas: brokerIds,
        addingReplicas: brokerIds,
        removingReplicas: brokerIds,
      },
    },
  },
} as const satisfies JSONSchemaProps;

export const topicStatusSchema = {
  type: 'object',
  properties: {
    observedGeneration,
    conditions,
    topicId: { type: 'string', description: 'Kafka topic id (UUID); new each time a topic of this name is created.' },
    controllerEpoch: {
      type: 'integer', format: 'int32', minimum: 0,
      description: 'Epoch of the controller lease under which partitions[] was last written by the controller; writes under an older epoch are refused.',
    },
    leaders: {
      type: 'string', maxLength: 256,
      description: 'Leader broker of each partition in partition order, for `kubectl get` (a printer column shows only the first value of a list); '
        + 'cut with ",..." after 256 characters. Display only: partitions[] is the truth.',
    },
    partitions: {
      type: 'array',
      description: 'Live partition state, written by the controller broker by compare-and-swap.',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['partition'],
      items: topicPartitionStatusSchema,
    },
  },
} as const satisfies JSONSchemaProps;

export const topicSchema = {
  type: 'object',
  required: ['spec'],
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: topicSpecSchema,
    status: topicStatusSchema,
  },
  'x-kubernetes-validations': [{
    rule: 'has(self.spec.topicName) || size(self.metadata.name) <= 249',
    message: 'metadata.name is longer than a Kafka topic name may be (249): set spec.topicName',
  }],
} as const satisfies JSONSchemaProps;

// ---- Cluster ----

export const clusterSpecSchema = {
  type: 'object',
  description: 'A Brook broker fleet; the operator owns everything it implies (StatefulSet, Services, ConfigMap, PDB, RBAC).',
  properties: {
    replicas: { type: 'integer', format: 'int32', minimum: 0, maximum: 1000, default: 3, description: 'Number of brokers (the scale subresource).' },
    image: { type: 'string', description: 'Broker image; the operator\'s default when unset.' },
    resources: {
      type: 'object',
      description: 'Compute resources of each broker container (corev1.ResourceRequirements limits and requests).',
      properties: {
        limits: { type: 'object', additionalProperties: quantity },
        requests: { type: 'object', additionalProperties: quantity },
      },
    },
    storage: {
      type: 'object',
      description: 'One PersistentVolumeClaim per broker.',
      default: {},
      properties: {
        size: {
          type: 'string', default: '10Gi', pattern: quantity.pattern,
          description: 'Volume size; may grow (if the storage class allows expansion), never shrink.',
          'x-kubernetes-validations': [{ rule: 'quantity(self).compareTo(quantity(oldSelf)) >= 0', message: 'storage.size cannot shrink' }],
        },
        class: {
          type: 'string',
          description: 'StorageClass; the cluster default when unset. Immutable.',
          'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'storage.class is immutable' }],
        },
      },
    },
    config: {
      type: 'object',
      description: 'Broker settings (server.properties names, values as strings) for every broker; topic configs default from these.',
      additionalProperties: { type: 'string', maxLength: 4096 },
      maxProperties: 200,
      'x-kubernetes-validations': [{
        rule: `[${operatorOwnedBrokerSettings.map((k) => `'${k}'`).join(', ')}].all(k, !(k in self))`,
        message: `config may not set ${operatorOwnedBrokerSettings.join(', ')}: the operator sets them per broker`,
      }],
    },
    listeners: {
      type: 'array',
      description: 'Kafka listeners the brokers open (PLAINTEXT unless tls or authentication is set). Each broker advertises, per listener: internal, its pod DNS name; nodePort, its node\'s address and the node port of its own Service; loadBalancer, the address of its own Service\'s load balancer once it has one. The first internal listener carries replication and the bootstrap Service.',
      maxItems: 8,
      default: [{ name: 'internal', port: 9092, type: 'internal' }],
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
      'x-kubernetes-validations': [
        { rule: 'self.all(l, self.exists_one(m, m.port == l.port))', message: 'listener ports must be unique' },
        { rule: 'self.exists(l, !has(l.type) || l.type == \'internal\')', message: 'at least one listener must be internal: brokers replicate over it' },
      ],
      items: {
        type: 'object',
        required: ['name', 'port'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 15, pattern: '^[a-z]([-a-z0-9]*[a-z0-9])?$' },
          port: { type: 'integer', format: 'int32', minimum: 1024, maximum: 65535 },
          type: { type: 'string', enum: ['internal', 'nodePort', 'loadBalancer'], default: 'internal' },
          tls: { type: 'boolean', default: false, description: 'Serve TLS with the broker certificates the operator keeps (SSL, or SASL_SSL with authentication).' },
          authentication: {
            type: 'string', enum: ['scram-sha-512', 'tls'],
            description: 'Client authentication: scram-sha-512 (SASL, credentials of User resources) or tls (client certificates signed by the clients CA; needs tls: true). None when unset.',
          },
        },
        'x-kubernetes-validations': [{ rule: "!has(self.authentication) || self.authentication != 'tls' || (has(self.tls) && self.tls)", message: 'authentication tls needs tls: true' }],
      },
    },
    authorization: {
      type: 'object',
      description: 'Kafka ACLs (the broker\'s StandardAuthorizer); User resources carry the ACLs. The operator\'s own principal and superUsers may do anything.',
      required: ['type'],
      properties: {
        type: { type: 'string', enum: ['simple'] },
        superUsers: { type: 'array', maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 1024, pattern: '^User:.+$' }, description: 'Principals (User:name, User:CN=...) with every permission.' },
      },
    },
    certificates: {
      type: 'object',
      default: {},
      description: 'The certificates of TLS listeners: broker certificates from cert-manager when its CRDs exist (issuer auto or cert-manager), else from a cluster CA the operator makes; User certificates from a clients CA the operator makes. Kept in Secrets and renewed before expiry.',
      properties: {
        issuer: {
          type: 'string', enum: ['auto', 'operator', 'cert-manager'], default: 'auto',
          description: 'Who issues the broker certificates. auto: cert-manager when the API server serves cert-manager.io/v1 Certificates when the Cluster first gets certificates, else the operator (the choice is kept in status.certificates.source); operator: the operator\'s own CA; cert-manager: cert-manager (a SelfSigned Issuer, a CA Certificate and a CA Issuer per Cluster); the Cluster reports an error while cert-manager is not installed.',
        },
        validityDays: { type: 'integer', format: 'int32', minimum: 1, maximum: 3650, default: 365, description: 'Validity of broker and user certificates (CAs: 5 times as long).' },
        renewalDays: { type: 'integer', format: 'int32', minimum: 0, maximum: 3650, default: 30, description: 'A certificate is renewed this many days before it expires.' },
      },
      'x-kubernetes-validations': [{ rule: '!has(self.validityDays) || !has(self.renewalDays) || self.renewalDays < self.validityDays', message: 'renewalDays must be shorter than validityDays' }],
    },
    rackLabel: {
      type: 'string', maxLength: 317,
      pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$',
      description: 'Node label whose value becomes broker.rack (e.g. topology.kubernetes.io/zone); rack awareness is off when unset.',
    },
    podTemplate: {
      type: 'object',
      description: 'Overrides merged into the broker pod template (metadata and spec of a corev1.PodTemplateSpec).',
      'x-kubernetes-preserve-unknown-fields': true,
    },
    rebalance: {
      type: 'object',
      default: {},
      description: 'How the operator moves partitions when brokers are added or removed (or a full rebalance is asked for with the annotation brook.dev/rebalance=full).',
      properties: {
        mode: {
          type: 'string', enum: ['auto', 'approve'], default: 'auto',
          description: 'auto: a plan runs as soon as it is made; approve: plans stay Proposed in status.rebalance until the annotation brook.dev/rebalance=approve is set (a scale-down waits too).',
        },
        throttleBytesPerSecond: {
          type: 'integer', format: 'int64', minimum: 1,
          description: 'Replication throttle while partitions move (leader/follower.replication.throttled.rate on every broker, as kafka-reassign-partitions --throttle); none when unset.',
        },
        maxConcurrentMoves: {
          type: 'integer', format: 'int32', minimum: 1, maximum: 10000, default: 10,
          description: 'Partitions being reassigned at once.',
        },
      },
    },
    metrics: {
      type: 'object',
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true, description: 'Serve /metrics (Prometheus) from each broker.' },
        port: { type: 'integer', format: 'int32', minimum: 1024, maximum: 65535, default: 9464 },
        podMonitor: { type: 'boolean', default: false, description: 'Create a Prometheus Operator PodMonitor.' },
      },
    },
  },
  'x-kubernetes-validations': [{
    rule: "!((has(self.authorization)) || (has(self.config) && 'authorizer.class.name' in self.config) || (has(self.listeners) && self.listeners.exists(l, (has(l.tls) && l.tls) || has(l.authentication)))) || !has(self.listeners) || self.listeners.all(l, l.port != 9091 && l.name != 'replication')",
    message: 'a secured cluster (tls, authentication or an authorizer) uses port 9091 and the listener name replication for its REPLICATION listener: pick another',
  }],
} as const satisfies JSONSchemaProps;

/** The operator's rebalance plan and its progress (operator/rebalancer.ts writes it). */
export const clusterRebalanceStatusSchema = {
  type: 'object',
  description: 'The last rebalance plan: why, what it moves, and how far it got. The plan is kept here so an operator restart finishes it.',
  required: ['id', 'state'],
  properties: {
    id: { type: 'string', maxLength: 64, description: 'Names the plan; brook.dev/rebalance=approve approves the Proposed one.' },
    state: {
      type: 'string', enum: ['Proposed', 'Running', 'Completed', 'Refused'],
      description: 'Proposed: waiting for approval (spec.rebalance.mode approve); Running: moving; Completed: every move done; Refused: the scale-down is unsafe (see message).',
    },
    reason: { type: 'string', enum: ['ScaleUp', 'ScaleDown', 'Full', 'BrokersChanged'], description: 'What asked for the plan.' },
    message: { type: 'string', maxLength: 4096 },
    brokers: { ...brokerIds, description: 'Brokers the plan balances over.' },
    draining: { ...brokerIds, description: 'Brokers the plan empties (a scale-down removes them once empty).' },
    partitionsToMove: { type: 'integer', format: 'int32', minimum: 0, description: 'Partitions whose replica list changes.' },
    replicasToMove: { type: 'integer', format: 'int32', minimum: 0, description: 'Replicas to copy.' },
    bytesToMove: { type: 'integer', format: 'int64', minimum: 0, description: 'Bytes to copy (sizes from DescribeLogDirs when the plan was made).' },
    estimatedSeconds: { type: 'integer', format: 'int64', minimum: 0, description: 'Estimated copy time at spec.rebalance.throttleBytesPerSecond; unset without a throttle.' },
    partitionsDone: { type: 'integer', format: 'int32', minimum: 0 },
    partitionsInFlight: { type: 'integer', format: 'int32', minimum: 0 },
    progress: { type: 'string', maxLength: 32, description: 'partitionsDone/partitionsToMove, for kubectl get.' },
    proposedAt: { type: 'string', format: 'date-time' },
    startedAt: { type: 'string', format: 'date-time' },
    completedAt: { type: 'string', format: 'date-time' },
    moves: {
      type: 'array',
      description: 'The plan: target replicas (preferred leader first) of every partition it moves.',
      items: {
        type: 'object',
        required: ['topic', 'partition', 'replicas'],
        properties: {
          topic: { type: 'string', maxLength: 249 },
          partition: { type: 'integer', format: 'int32', minimum: 0 },
          replicas: brokerIds,
        },
      },
    },
  },
} as const satisfies JSONSchemaProps;

export const clusterStatusSchema = {
  type: 'object',
  properties: {
    observedGeneration,
    conditions,
    replicas: { type: 'integer', format: 'int32', minimum: 0, description: 'Brokers that exist (the scale subresource).' },
    selector: { type: 'string', description: 'Label selector of the broker pods (the scale subresource).' },
    readyBrokers: { type: 'integer', format: 'int32', minimum: 0 },
    controller: { type: 'integer', format: 'int32', minimum: -1, description: 'Broker id holding the controller lease; -1 when none.' },
    partitions: {
      type: 'object',
      description: 'Partition health across the cluster\'s topics.',
      properties: {
        total: { type: 'integer', format: 'int32', minimum: 0 },
        online: { type: 'integer', format: 'int32', minimum: 0 },
        underReplicated: { type: 'integer', format: 'int32', minimum: 0 },
        underMinIsr: { type: 'integer', format: 'int32', minimum: 0 },
        offline: { type: 'integer', format: 'int32', minimum: 0 },
      },
    },
    rebalance: clusterRebalanceStatusSchema,
    certificates: {
      type: 'object',
      description: 'Where the broker certificates come from (clusters with a TLS listener).',
      properties: {
        source: { type: 'string', enum: ['operator', 'cert-manager'], description: 'operator: the operator\'s cluster CA; cert-manager: cert-manager Certificates.' },
        certificates: { type: 'integer', format: 'int32', minimum: 0, description: 'cert-manager Certificates the cluster has (its CA and one per broker).' },
        readyCertificates: { type: 'integer', format: 'int32', minimum: 0, description: 'Of those, the ones cert-manager reports Ready.' },
        message: { type: 'string', description: 'What the certificates wait for, or what is wrong.' },
      },
    },
  },
} as const satisfies JSONSchemaProps;

export const clusterSchema = {
  type: 'object',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: { ...clusterSpecSchema, default: {} },
    status: clusterStatusSchema,
  },
  'x-kubernetes-validations': [{
    rule: 'size(self.metadata.name) <= 52',
    message: 'metadata.name may be at most 52 characters: it prefixes the brokers\' StatefulSet and pod names',
  }],
} as const satisfies JSONSchemaProps;

// ---- User ----

const aclOperations = ['All', 'Read', 'Write', 'Create', 'Delete', 'Alter', 'Describe', 'ClusterAction', 'DescribeConfigs', 'AlterConfigs', 'IdempotentWrite'] as const;

export const userAclSchema = {
  type: 'object',
  required: ['resource', 'operations'],
  properties: {
    resource: {
      type: 'object',
      required: ['type'],
      properties: {
        type: { type: 'string', enum: ['topic', 'group', 'cluster', 'transactionalId'] },
        name: { type: 'string', minLength: 1, maxLength: 255, description: 'Resource name, or * for every one (not for cluster).' },
        patternType: { type: 'string', enum: ['literal', 'prefixed'], default: 'literal' },
      },
      'x-kubernetes-validations': [
        { rule: "self.type == 'cluster' || has(self.name)", message: 'resource.name is required (except for the cluster)' },
        { rule: "self.type != 'cluster' || ((!has(self.name) || self.name == 'kafka-cluster') && (!has(self.patternType) || self.patternType == 'literal'))", message: 'a cluster resource has no name (or kafka-cluster) and a literal pattern' },
      ],
    },
    operations: { type: 'array', minItems: 1, maxItems: 11, items: { type: 'string', enum: aclOperations }, 'x-kubernetes-list-type': 'set' },
    type: { type: 'string', enum: ['allow', 'deny'], default: 'allow' },
    host: { type: 'string', minLength: 1, maxLength: 255, default: '*', description: 'Client address, or * for any.' },
  },
} as const satisfies JSONSchemaProps;

export const userSpecSchema = {
  type: 'object',
  description: 'A Kafka user of a Cluster: its credential (a Secret the operator writes) and its ACLs.',
  required: ['cluster', 'authentication'],
  properties: {
    cluster: {
      type: 'string', minLength: 1, maxLength: 63, pattern: dnsLabel,
      description: 'Name of the Cluster, in the same namespace, the user belongs to.',
      'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'cluster is immutable' }],
    },
    authentication: {
      type: 'object',
      required: ['type'],
      properties: {
        type: {
          type: 'string', enum: ['scram-sha-512', 'tls'],
          description: 'scram-sha-512: a random password (principal User:<name>); tls: a client certificate signed by the Cluster\'s clients CA (principal User:CN=<name>).',
        },
      },
    },
    authorization: {
      type: 'object',
      properties: {
        type: { type: 'string', enum: ['simple'], default: 'simple' },
        acls: { type: 'array', maxItems: 200, items: userAclSchema },
      },
    },
  },
} as const satisfies JSONSchemaProps;

export const userStatusSchema = {
  type: 'object',
  properties: {
    observedGeneration,
    conditions,
    secret: { type: 'string', description: 'The Secret holding the credential (password and sasl.jaas.config, or user.crt and user.key) and ca.crt.' },
    username: { type: 'string', description: 'The Kafka principal of the user (User:<name> or User:CN=<name>).' },
    authentication: { type: 'string', description: 'The authentication type the Secret holds.' },
  },
} as const satisfies JSONSchemaProps;

export const userSchema = {
  type: 'object',
  required: ['spec'],
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec: userSpecSchema,
    status: userStatusSchema,
  },
  'x-kubernetes-validations': [{
    rule: 'size(self.metadata.name) <= 63',
    message: 'metadata.name may be at most 63 characters: it names the user\'s Secret and its principal',
  }],
} as const satisfies JSONSchemaProps;

// ---- the types ----

/** The Topic resource's spec (what kubectl applies); the metadata store's view of a topic is broker/metadata's TopicSpec. */
export type TopicResourceSpec = FromSchema<typeof topicSpecSchema>;
export type TopicStatus = FromSchema<typeof topicStatusSchema>;
export type TopicPartitionStatus = FromSchema<typeof topicPartitionStatusSchema>;
export type ClusterSpec = FromSchema<typeof clusterSpecSchema>;
export type ClusterStatus = FromSchema<typeof clusterStatusSchema>;
export type ClusterRebalanceStatus = FromSchema<typeof clusterRebalanceStatusSchema>;
export type Condition = FromSchema<typeof conditions.items>;
export type UserSpec = FromSchema<typeof userSpecSchema>;
export type UserStatus = FromSchema<typeof userStatusSchema>;
export type UserAcl = FromSchema<typeof userAclSchema>;

export interface User {
  apiVersion: typeof apiVersion;
  kind: 'User';
  metadata: ObjectMeta;
  spec: UserSpec;
  status?: UserStatus;
}

export interface Topic {
  apiVersion: typeof apiVersion;
  kind: 'Topic';
  metadata: ObjectMeta;
  spec: TopicResourceSpec;
  status?: TopicStatus;
}

export interface Cluster {
  apiVersion: typeof apiVersion;
  kind: 'Cluster';
  metadata: ObjectMeta;
  spec: ClusterSpec;
  status?: ClusterStatus;
}

/** status.leaders for `kubectl get topics`: leader ids in partition order, cut to fit maxLength. */
export function leadersSummary(partitions: readonly { partition: number; leader: number }[], maxLength = 256): string {
  const all = [...partitions].sort((a, b) => a.partition - b.partition).map((p) => String(p.leader)).join(',');
  if (all.length <= maxLength) return all;
  const cut = all.slice(0, maxLength - 4);
  return `${cut.slice(0, cut.lastIndexOf(','))},...`;
}

/** The Kafka name of a Topic resource: spec.topicName, else metadata.name. */
export function kafkaTopicName(topic: Pick<Topic, 'metadata' | 'spec'>): string {
  const name = topic.spec.topicName ?? topic.metadata.name;
  if (!name) throw new Error('a Topic without metadata.name or spec.topicName');
  return name;
}

// ---- the CustomResourceDefinitions ----

export interface PrinterColumn {
  readonly name: string;
  readonly type: 'integer' | 'number' | 'string' | 'boolean' | 'date';
  readonly jsonPath: string;
  readonly description?: string;
  readonly priority?: number;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: readonly string[]; categories: readonly string[] };
    scope: 'Namespaced' | 'Cluster';
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: JSONSchemaProps };
      subresources: { status: Record<string, never>; scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string } };
      additionalPrinterColumns: readonly PrinterColumn[];
    }>;
  };
}

const readyColumn: PrinterColumn = { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' };
const ageColumn: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

function crd(kind: string, plural: string, shortNames: string[], schema: JSONSchemaProps,
  columns: PrinterColumn[], scale?: CustomResourceDefinition['spec']['versions'][number]['subresources']['scale']): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}`, labels: { 'app.kubernetes.io/part-of': 'brook' } },
    spec: {
      group,
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(), shortNames, categories: ['brook'] },
      scope: 'Namespaced',
      versions: [{
        name: version,
        served: true,
        storage: true,
        schema: { openAPIV3Schema: schema },
        subresources: { status: {}, ...(scale ? { scale } : {}) },
        additionalPrinterColumns: columns,
      }],
    },
  };
}

export const clusterCrd = crd('Cluster', 'clusters', ['brc'], clusterSchema, [
  { name: 'Brokers', type: 'integer', jsonPath: '.spec.replicas', description: 'Brokers wanted' },
  { name: 'Ready', type: 'integer', jsonPath: '.status.readyBrokers', description: 'Brokers ready' },
  { name: 'Controller', type: 'integer', jsonPath: '.status.controller', description: 'Broker id of the controller' },
  { name: 'Rebalance', type: 'string', jsonPath: '.status.rebalance.state', description: 'State of the last rebalance plan' },
  { name: 'Moved', type: 'string', jsonPath: '.status.rebalance.progress', description: 'Partitions moved / partitions the plan moves' },
  { name: 'Status', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', priority: 1 },
  ageColumn,
], { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' });

export const topicCrd = crd('Topic', 'topics', ['brt'], topicSchema, [
  { name: 'Cluster', type: 'string', jsonPath: '.spec.cluster' },
  { name: 'Partitions', type: 'integer', jsonPath: '.spec.partitions' },
  { name: 'RF', type: 'integer', jsonPath: '.spec.replicationFactor', description: 'Replication factor' },
  readyColumn,
  { name: 'Leaders', type: 'string', jsonPath: '.status.leaders', description: 'Leader broker of each partition' },
  { name: 'Topic', type: 'string', jsonPath: '.spec.topicName', description: 'Kafka name when it differs from metadata.name', priority: 1 },
  ageColumn,
]);

export const userCrd = crd('User', 'users', ['bru'], userSchema, [
  { name: 'Cluster', type: 'string', jsonPath: '.spec.cluster' },
  { name: 'Authentication', type: 'string', jsonPath: '.spec.authentication.type' },
  readyColumn,
  { name: 'Secret', type: 'string', jsonPath: '.status.secret' },
  ageColumn,
]);

/** Every CRD, in the order crds/ holds them. */
export const customResourceDefinitions: readonly CustomResourceDefinition[] = [clusterCrd, topicCrd, userCrd];
