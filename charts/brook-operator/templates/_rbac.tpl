{{/*
What the operator may do, and nothing more. Kubernetes refuses to let anyone grant permissions
they do not hold (RBAC escalation prevention), so the operator holds everything the brokers' Role
(which it creates per Cluster) grants: Topics with their status, Leases, ConfigMaps.

Namespaced rules: in the ClusterRole when the operator watches all namespaces, else in a Role
in each watched namespace.
*/}}
{{- define "brook-operator.namespacedRules" -}}
# The custom resources: Clusters are the user's (the operator never creates or deletes them);
# Topics are also created and deleted by brokers (CreateTopics/DeleteTopics), which the operator
# grants, so it holds those verbs too.
- apiGroups: [brook.dev]
  resources: [clusters]
  verbs: [get, list, watch, update, patch]
- apiGroups: [brook.dev]
  resources: [topics]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [brook.dev]
  resources: [clusters/status, topics/status]
  verbs: [get, update, patch]
- apiGroups: [brook.dev]
  resources: [clusters/finalizers, topics/finalizers]
  verbs: [update]
# What a Cluster owns.
- apiGroups: [""]
  resources: [configmaps, services, serviceaccounts]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, list, watch, create, update, patch, delete]
# Rolling restarts delete broker pods one at a time (StatefulSet updateStrategy OnDelete).
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, delete]
# Volumes grow with spec.storage.size (claim templates are immutable).
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, list, watch, update, patch]
# Broker liveness and controller Leases (granted to brokers), and the operator's own election.
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
# ServiceMonitors, PodMonitors and PrometheusRules for Clusters, when the Prometheus Operator is there.
- apiGroups: [monitoring.coreos.com]
  resources: [servicemonitors, podmonitors, prometheusrules]
  verbs: [get, list, watch, create, update, patch, delete]
{{- end -}}

{{/* Cluster-scoped reads: whether the Prometheus Operator's CRDs exist. */}}
{{- define "brook-operator.clusterRules" -}}
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list, watch]
{{- end -}}

{{/* The operator's own leader election, in the release namespace (namespaced mode only). */}}
{{- define "brook-operator.leaderElectionRules" -}}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
