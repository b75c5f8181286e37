{{/*
What the operator may do, and nothing more: the same rules as operator/rbac.ts
(operatorClusterRules), which a test checks rule for rule. Kubernetes refuses to let anyone
grant permissions they do not hold (RBAC escalation check), so the operator holds everything
the brokers' Role (which it creates per Cluster) grants: Topics with their status, Leases,
ConfigMaps, the SCRAM credentials Secret.

Namespaced rules: in the ClusterRole when the operator watches all namespaces, else in a Role
in each watched namespace.
*/}}
{{- define "brook-operator.namespacedRules" -}}
# Its own resources. Topics: create/delete too, because the brokers' Role grants them.
- apiGroups: [brook.dev]
  resources: [clusters, topics, users]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [brook.dev]
  resources: [clusters/status, topics/status, users/status]
  verbs: [get, update, patch]
# Owner references with blockOwnerDeletion (OwnerReferencesPermissionEnforcement).
- apiGroups: [brook.dev]
  resources: [clusters/finalizers, topics/finalizers]
  verbs: [update]
# What a Cluster owns.
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [""]
  resources: [services, configmaps, serviceaccounts]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, list, watch, create, update, patch, delete]
# Rolling restarts delete broker pods one at a time; rack awareness annotates them.
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, patch, delete]
# Storage growth (spec.storage.size) expands the brokers' claims.
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, list, watch, patch]
# Leader election, broker liveness and the controller Lease (granted to the brokers).
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, list, watch, create, update, patch, delete]
# SCRAM credentials: the brokers' Role grants their Secret (escalation check); secured Clusters'
# CAs, certificates and internal credential; Users' Secrets. Never list or watch.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, update, delete]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
# ServiceMonitors and PrometheusRules for Clusters, when the Prometheus Operator is there
# (the operator finds out through discovery, which every authenticated user may read).
- apiGroups: [monitoring.coreos.com]
  resources: [servicemonitors, prometheusrules]
  verbs: [get, list, watch, create, update, patch, delete]
# Broker certificates from cert-manager, when its CRDs exist: each Cluster's Issuers and
# Certificates (the Secrets cert-manager writes are read by name, with the get above).
- apiGroups: [cert-manager.io]
  resources: [issuers, certificates]
  verbs: [get, list, watch, create, update, patch, delete]
{{- end -}}

{{/* Cluster-scoped: rack awareness reads the zone label of the node a broker runs on; storage growth reads StorageClasses. */}}
{{- define "brook-operator.clusterRules" -}}
- apiGroups: [""]
  resources: [nodes]
  verbs: [get]
# Storage growth reads whether the claims' StorageClass allows expansion.
- apiGroups: [storage.k8s.io]
  resources: [storageclasses]
  verbs: [get]
{{- end -}}

{{/* The operator's own leader election, in the release namespace (namespaced mode only). */}}
{{- define "brook-operator.leaderElectionRules" -}}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, list, watch, create, update, patch, delete]
# SCRAM credentials: the brokers' Role grants their Secret (escalation check). Never list or watch.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, update]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
