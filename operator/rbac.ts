/**
 * RBAC as data: the rules the operator's ClusterRole must grant (the Helm chart renders the same
 * list; a test runs the operator under exactly these rules), and the namespaced Role the operator
 * gives each Cluster's brokers (exactly what broker/metadata/kubernetes-store.ts needs).
 *
 * Kubernetes refuses to let anyone grant permissions they do not hold (RBAC escalation check),
 * so every rule of `brokerRole` must also be covered by `operatorClusterRules`.
 */

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

const crud = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

/** The operator's ClusterRole (or, with watchNamespaces, a Role per namespace minus nodes). */
export const operatorClusterRules: readonly PolicyRule[] = [
  // Its own resources. Topics: create/delete too, because the brokers' Role grants them (escalation check).
  { apiGroups: ['brook.dev'], resources: ['clusters', 'topics', 'users'], verbs: crud },
  { apiGroups: ['brook.dev'], resources: ['clusters/status', 'topics/status', 'users/status'], verbs: ['get', 'update', 'patch'] },
  // Owner references with blockOwnerDeletion need update on the owner's finalizers subresource
  // where the OwnerReferencesPermissionEnforcement admission plugin is on.
  { apiGroups: ['brook.dev'], resources: ['clusters/finalizers', 'topics/finalizers'], verbs: ['update'] },
  // What a Cluster owns.
  { apiGroups: ['apps'], resources: ['statefulsets'], verbs: crud },
  { apiGroups: [''], resources: ['services', 'configmaps', 'serviceaccounts'], verbs: crud },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: crud },
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: crud },
  { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles', 'rolebindings'], verbs: crud },
  // Rolling restarts delete broker pods one at a time; rack awareness annotates them.
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'patch', 'delete'] },
  // Storage growth (spec.storage.size) expands the brokers' claims.
  { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get', 'list', 'watch', 'patch'] },
  // Rack awareness reads the zone label of the node a broker runs on.
  { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
  // Storage growth reads whether the claims' StorageClass allows expansion.
  { apiGroups: ['storage.k8s.io'], resources: ['storageclasses'], verbs: ['get'] },
  // Leader election, broker liveness and the controller lease; the brokers' Role grants all of these.
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: crud },
  // SCRAM credentials: the brokers' Role grants their Secret (escalation check); the CAs, broker
  // certificates and internal credential of secured Clusters; Users' Secrets (deleted with the
  // User). Never list or watch: the operator reads no Secret it was not told the name of.
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'create', 'update', 'delete'] },
  { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
  // Optional Prometheus Operator objects, created only when their CRDs exist.
  { apiGroups: ['monitoring.coreos.com'], resources: ['servicemonitors', 'prometheusrules'], verbs: crud },
  // Broker certificates from cert-manager, when its CRDs exist: a Cluster's Issuers and Certificates
  // (the Secrets cert-manager writes are read by name, with the get above).
  { apiGroups: ['cert-manager.io'], resources: ['issuers', 'certificates'], verbs: crud },
];

/**
 * The Role of one Cluster's brokers, as KubernetesStore uses the API:
 * - Topics: list+watch (label brook.dev/cluster), get, create (CreateTopics), update (spec:
 *   CreatePartitions/AlterConfigs), patch (the data-removed annotation on deletion), delete (DeleteTopics);
 * - topics/status: update (partition state by compare-and-swap);
 * - Leases: broker liveness and the controller lease (get, list, watch, create, update, delete);
 * - the cluster's metadata ConfigMap `brook-<cluster>-metadata` (cluster id, producer ids):
 *   get and update by name; create cannot be limited by name in RBAC;
 * - no other Secret: the broker certificates and the internal password reach the pods as a
 *   volume and an env var, which the kubelet reads;
 * - the cluster's SCRAM credentials Secret `brook-<cluster>-scram-credentials` (salted
 *   credentials, AlterUserScramCredentials): get and update by name, create.
 */
export function brokerRoleRules(cluster: string): PolicyRule[] {
  return [
    { apiGroups: ['brook.dev'], resources: ['topics'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
    { apiGroups: ['brook.dev'], resources: ['topics/status'], verbs: ['get', 'update', 'patch'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
    { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
    { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'update'], resourceNames: [`brook-${cluster}-metadata`] },
    { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'update'], resourceNames: [`brook-${cluster}-scram-credentials`] },
  ];
}
