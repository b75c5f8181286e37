{{/*
Names and labels shared by every template. Kubernetes names are limited to 63 characters, and
some of ours get suffixes, so names are cut at 63 and stripped of a trailing dash.
*/}}

{{/* The chart's short name: .Values.nameOverride or the chart name. */}}
{{- define "brook-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The name of the release's objects: .Values.fullnameOverride, else "<release>-<chart name>", or just
the release name when it already contains the chart name (helm install brook-operator ./chart).
*/}}
{{- define "brook-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "brook-operator-0.1.0", for the helm.sh/chart label. */}}
{{- define "brook-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the operator's pods; never change them (Deployment selectors are immutable). */}}
{{- define "brook-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "brook-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{/* Labels on every object of the release, without app.kubernetes.io/component. */}}
{{- define "brook-operator.commonLabels" -}}
helm.sh/chart: {{ include "brook-operator.chart" . }}
app.kubernetes.io/name: {{ include "brook-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: brook
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of the operator's own objects (component: operator). */}}
{{- define "brook-operator.labels" -}}
{{ include "brook-operator.commonLabels" . }}
app.kubernetes.io/component: operator
{{- end -}}

{{/* The operator's ServiceAccount: created as the fullname, or .Values.serviceAccount.name. */}}
{{- define "brook-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "brook-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image the operator runs, and the default broker image it hands to Clusters without spec.image. */}}
{{- define "brook-operator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) -}}
{{- end -}}
{{- end -}}

{{- define "brook-operator.brokerImage" -}}
{{- if .Values.brokerImage -}}
{{- .Values.brokerImage -}}
{{- else -}}
{{- include "brook-operator.image" . -}}
{{- end -}}
{{- end -}}

{{/* Is leader election on? Always with more than one replica: two operators must never act at once. */}}
{{- define "brook-operator.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) -}}true{{- end -}}
{{- end -}}

{{/*
The namespaces the operator watches: [] means all of them (ClusterRole); otherwise a Role and
RoleBinding in each. Rendered as a JSON list so templates can `fromJsonArray` it.
*/}}
{{- define "brook-operator.watchNamespaces" -}}
{{- $out := list -}}
{{- range .Values.watchNamespaces -}}
{{- $out = append $out (tpl . $) -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
"by (namespace, job)": the labels that tell one Brook cluster from another in alert expressions
(.Values.prometheusRule.clusterLabels).
*/}}
{{- define "brook-operator.clusterBy" -}}
by ({{ join ", " .Values.prometheusRule.clusterLabels }})
{{- end -}}

{{/* Can the cluster take Prometheus Operator objects of this kind (or is it forced on)? */}}
{{- define "brook-operator.hasMonitoringApi" -}}
{{- $ctx := index . 0 -}}{{- $kind := index . 1 -}}{{- $force := index . 2 -}}
{{- if or $force ($ctx.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" $kind)) -}}true{{- end -}}
{{- end -}}
