/**
 * What a Cluster implies: the desired objects, as pure functions of the Cluster resource (and
 * the operator's settings). Deterministic names, labels and owner references live here and only
 * here; the reconciler compares these with the cache and applies the difference.
 *
 * Names (cluster name ≤ 52 characters, checked by the CRD):
 *   StatefulSet, PDB          <cluster>             pods <cluster>-<ordinal>
 *   headless Service          <cluster>-brokers     <cluster>-<i>.<cluster>-brokers.<ns>.svc
 *   bootstrap Service         <cluster>-bootstrap
 *   external Service          <cluster>-<i>-<listener> (shortened with a hash when over 63)
 *   ConfigMap                 <cluster>-config      server.properties
 *   ServiceAccount/Role/RB    <cluster>-broker
 *   ServiceMonitor/PromRule   <cluster>
 *
 * The broker container's contract (bin/brook broker):
 *   --id $(BROOK_BROKER_ID)        from the pod label apps.kubernetes.io/pod-index (the ordinal)
 *   --store kubernetes --cluster <cluster> --namespace $(POD_NAMESPACE)
 *   --set listeners=INTERNAL://0.0.0.0:9092,EXTERNAL://0.0.0.0:9094       every spec.listeners entry
 *   --set listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT
 *   --set inter.broker.listener.name=INTERNAL                             the first internal listener
 *   --set advertised.listeners=INTERNAL://$(POD_NAME).<cluster>-brokers.$(POD_NAMESPACE).svc:9092
 *                                                  internal listeners: the pod's DNS name
 *   --advertised-listeners-file /etc/brook/pod/advertised-listeners
 *                                                  external listeners (when there are any): the operator
 *                                                  writes each pod's addresses to the pod annotation
 *                                                  brook.dev/advertised-listeners (nodePort: the pod's node
 *                                                  address, status.hostIP, and its Service's node port;
 *                                                  loadBalancer: the address in its Service's status, once
 *                                                  there is one), the downward API volume shows it there
 *                                                  and the broker advertises each listener once named.
 *   --data-dir /var/lib/brook/data --config /etc/brook/config/server.properties
 *   --metrics-port <port> --metrics-host 0.0.0.0   (serves /metrics, /healthz, /readyz)
 *   --rack-file /etc/brook/pod/rack                when spec.rackLabel is set: the operator writes the
 *                                                  node's label value to the pod annotation brook.dev/rack,
 *                                                  the downward API volume shows it in that file (empty
 *                                                  while the node has no such label: no rack, never a wait).
 *
 * Objects the brokers create (KubernetesStore) carry an owner reference to the Cluster, written by
 * the operator (adoptStoreObjects), so deleting the Cluster garbage-collects them: the brokers'
 * Leases, the controller Lease, the metadata ConfigMap, and the cluster's Topics.
 */
import { createHash } from 'node:crypto';
import type { Cluster } from '../broker/k8s/index.ts';
import { brokerRoleRules } from './rbac.ts';
import {
  brokerSecuritySettings, hasTls, internalPasswordEnv, isSecured, listenerProtocol, replicationListener, replicationProtocol, securityNames, tlsMountPath,
} from './cluster-security.ts';
import type { KubeObject, OwnerReference } from '../broker/k8s/index.ts';
import { mergeOverrides } from './object-merge.ts';

export { contains, mergeOverrides, overlay } from './object-merge.ts';

export const defaultBrokerImage = 'brook:latest';
export const clusterLabel = 'brook.dev/cluster';
export const rackAnnotation = 'brook.dev/rack';
export const advertisedListenersAnnotation = 'brook.dev/advertised-listeners';
export const configHashAnnotation = 'brook.dev/config-hash';
export const managedBy = 'brook-operator';
export const managedSelector = `app.kubernetes.io/managed-by=${managedBy}`;
export const dataMountPath = '/var/lib/brook';
export const configMountPath = '/etc/brook/config';
export const podInfoMountPath = '/etc/brook/pod';

export const names = {
  statefulSet: (c: string) => c,
  pdb: (c: string) => c,
  headless: (c: string) => `${c}-brokers`,
  bootstrap: (c: string) => `${c}-bootstrap`,
  configMap: (c: string) => `${c}-config`,
  serviceAccount: (c: string) => `${c}-broker`,
  role: (c: string) => `${c}-broker`,
  roleBinding: (c: string) => `${c}-broker`,
  monitoring: (c: string) => c,
  pod: (c: string, i: number) => `${c}-${i}`,
  external: (c: string, i: number, listener: string) => shorten(`${c}-${i}-${listener}`, 63),
  /** The brokers' metadata ConfigMap the KubernetesStore creates (not owned by the operator). */
  storeMetadata: (c: string) => `brook-${c}-metadata`,
  brokerLease: (c: string, id: number) => `brook-${c}-broker-${id}`,
  controllerLease: (c: string) => `brook-${c}-controller`,
};

function shorten(name: string, max: number): string {
  if (name.length <= max) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, max - 9).replace(/-+$/, '')}-${hash}`;
}

/** Labels every owned object carries; the first three select the broker pods. */
export function labels(c: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'brook',
    'app.kubernetes.io/instance': c,
    'app.kubernetes.io/component': 'broker',
    'app.kubernetes.io/managed-by': managedBy,
    [clusterLabel]: c,
  };
}

export function selectorLabels(c: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'brook', 'app.kubernetes.io/instance': c, 'app.kubernetes.io/component': 'broker' };
}

export function selectorString(c: string): string {
  return Object.entries(selectorLabels(c)).map(([k, v]) => `${k}=${v}`).join(',');
}

export function ownerReference(cluster: Cluster): OwnerReference {
  return { apiVersion: cluster.apiVersion ?? 'brook.dev/v1alpha1', kind: 'Cluster', name: cluster.metadata.name!, uid: cluster.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/**
 * The owner reference the operator adds to objects the brokers or users created (Leases, the
 * metadata ConfigMap, Topics): garbage collection only. Not a controller reference (a Topic of a
 * Cluster re-created under the same name may still carry the old one), and not blocking the
 * Cluster's foreground deletion on them (Topics wait on a finalizer the operator releases).
 */
export function adoptionReference(cluster: Cluster): OwnerReference {
  return { ...ownerReference(cluster), controller: false, blockOwnerDeletion: false };
}

/** `refs` plus the adoption reference to `cluster`, or undefined when they already have one to it. */
export function withAdoption(refs: readonly OwnerReference[] | undefined, cluster: Cluster): OwnerReference[] | undefined {
  if (refs?.some((r) => r.uid === cluster.metadata.uid)) return undefined;
  return [...(refs ?? []), adoptionReference(cluster)];
}

/**
 * Broker settings whose Kafka default assumes at least three brokers: on a smaller Cluster the
 * operator sets them to the Cluster's size unless spec.config does (a one-broker Kafka needs
 * offsets.topic.replication.factor=1 too, or consumer groups never find a coordinator). Written
 * only below three brokers, so a Cluster of three or more carries exactly its spec.config.
 */
const sizedDefaults = ['offsets.topic.replication.factor'] as const;

/** spec.config plus the size-dependent defaults of a Cluster with fewer than three brokers. */
export function effectiveConfig(cluster: Cluster): Record<string, string> {
  const config: Record<string, string> = { ...(cluster.spec.config ?? {}) };
  const replicas = cluster.spec.replicas ?? 3;
  if (replicas >= 1 && replicas < 3) {
    for (const key of sizedDefaults) if (config[key] === undefined) config[key] = String(replicas);
  }
  return config;
}

/** server.properties from spec.config (see effectiveConfig), keys sorted so equal configs give equal bytes. */
export function serverProperties(cluster: Cluster): string {
  const config = effectiveConfig(cluster);
  const lines = Object.keys(config).sort().map((k) => `${k}=${config[k]}`);
  return `# Broker settings of Cluster ${cluster.metadata.namespace}/${cluster.metadata.name}, written by the operator.\n${lines.join('\n')}${lines.length ? '\n' : ''}`;
}

export function sha256(s: string): string { return createHash('sha256').update(s).digest('hex'); }

type Listener = { name: string; port: number; type?: 'internal' | 'nodePort' | 'loadBalancer'; tls?: boolean; authentication?: 'scram-sha-512' | 'tls' };

/** The broker's name for a listener (Kafka normalises listener names to upper case). */
export function brokerListenerName(l: Listener): string { return l.name.toUpperCase(); }

export function listenersOf(cluster: Cluster): Listener[] {
  const ls = cluster.spec.listeners ?? [];
  return ls.length ? ls : [{ name: 'internal', port: 9092, type: 'internal' }];
}

/** The listener brokers replicate over and the bootstrap Service exposes: the first internal one. */
export function internalListener(cluster: Cluster): Listener {
  const ls = listenersOf(cluster);
  return ls.find((l) => (l.type ?? 'internal') === 'internal') ?? ls[0]!;
}

function metricsPort(cluster: Cluster): number { return cluster.spec.metrics?.port ?? 9464; }

export interface OperatorSettings {
  /** Broker image when spec.image is unset. */
  defaultImage: string;
  /** A broker pod a rolling restart deleted that is not back Ready after this long stops the roll with Degraded (default 10 minutes). */
  rollStuckAfterMs?: number;
}

function meta(cluster: Cluster, name: string, extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): KubeObject['metadata'] {
  return {
    name,
    namespace: cluster.metadata.namespace,
    labels: { ...labels(cluster.metadata.name!), ...extra.labels },
    ...(extra.annotations ? { annotations: extra.annotations } : {}),
    ownerReferences: [ownerReference(cluster)],
  };
}

export interface Desired {
  kind: 'ServiceAccount' | 'Role' | 'RoleBinding' | 'ConfigMap' | 'Service' | 'StatefulSet' | 'PodDisruptionBudget' | 'NetworkPolicy';
  object: KubeObject;
}

export function desiredObjects(cluster: Cluster, settings: OperatorSettings): Desired[] {
  const c = cluster.metadata.name!;
  const ns = cluster.metadata.namespace!;
  const sel = selectorLabels(c);
  const internal = internalListener(cluster);
  const listeners = listenersOf(cluster);
  const props = serverProperties(cluster);
  const mPort = metricsPort(cluster);
  const replicas = cluster.spec.replicas ?? 3;
  const rackLabel = cluster.spec.rackLabel;
  const out: Desired[] = [];

  out.push({ kind: 'ServiceAccount', object: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(cluster, names.serviceAccount(c)), automountServiceAccountToken: true } });
  out.push({ kind: 'Role', object: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta(cluster, names.role(c)), rules: brokerRoleRules(c) } });
  out.push({
    kind: 'RoleBinding',
    object: {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: meta(cluster, names.roleBinding(c)),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: names.role(c) },
      subjects: [{ kind: 'ServiceAccount', name: names.serviceAccount(c), namespace: ns }],
    },
  });
  out.push({ kind: 'ConfigMap', object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(cluster, names.configMap(c)), data: { 'server.properties': props } } });

  const secured = isSecured(cluster);
  const tls = hasTls(cluster);
  // A secured cluster's brokers replicate, and the operator administers, over a listener of their own.
  const brokerListeners: Listener[] = secured ? [...listeners, { name: replicationListener.name, port: replicationListener.port, type: 'internal' }] : listeners;
  const protocolOf = (l: Listener) => (secured && l.name === replicationListener.name ? replicationProtocol(cluster) : listenerProtocol(l));
  const interBroker: Listener = secured ? brokerListeners.at(-1)! : internal;
  const kafkaPorts = brokerListeners.map((l) => ({ name: l.name, port: l.port, targetPort: l.port, protocol: 'TCP' }));
  out.push({
    kind: 'Service',
    object: {
      apiVersion: 'v1', kind: 'Service', metadata: meta(cluster, names.headless(c)),
      spec: {
        clusterIP: 'None',
        // Brokers find each other (replication) before they are ready.
        publishNotReadyAddresses: true,
        selector: sel,
        ports: [...kafkaPorts, { name: 'metrics', port: mPort, targetPort: mPort, protocol: 'TCP' }],
      },
    },
  });
  out.push({
    kind: 'Service',
    object: {
      apiVersion: 'v1', kind: 'Service', metadata: meta(cluster, names.bootstrap(c)),
      spec: { type: 'ClusterIP', selector: sel, ports: [{ name: internal.name, port: internal.port, targetPort: internal.port, protocol: 'TCP' }] },
    },
  });
  for (const l of listeners) {
    const type = l.type ?? 'internal';
    if (type === 'internal') continue;
    for (let i = 0; i < replicas; i++) {
      out.push({
        kind: 'Service',
        object: {
          apiVersion: 'v1', kind: 'Service', metadata: meta(cluster, names.external(c, i, l.name), { labels: { 'brook.dev/listener': l.name, 'brook.dev/broker': String(i) } }),
          spec: {
            type: type === 'nodePort' ? 'NodePort' : 'LoadBalancer',
            externalTrafficPolicy: 'Local',
            selector: { ...sel, 'statefulset.kubernetes.io/pod-name': names.pod(c, i) },
            ports: [{ name: l.name, port: l.port, targetPort: l.port, protocol: 'TCP' }],
          },
        },
      });
    }
  }

  const external = listeners.some((l) => (l.type ?? 'internal') !== 'internal');
  const podInfo = !!rackLabel || external;
  const args = [
    'broker',
    '--id', '$(BROOK_BROKER_ID)',
    '--store', 'kubernetes',
    '--cluster', c,
    '--namespace', '$(POD_NAMESPACE)',
    '--set', `listeners=${brokerListeners.map((l) => `${brokerListenerName(l)}://0.0.0.0:${l.port}`).join(',')}`,
    '--set', `listener.security.protocol.map=${brokerListeners.map((l) => `${brokerListenerName(l)}:${protocolOf(l)}`).join(',')}`,
    '--set', `inter.broker.listener.name=${brokerListenerName(interBroker)}`,
    ...brokerSecuritySettings(cluster).flatMap((kv) => ['--set', kv]),
    '--set', `advertised.listeners=${brokerListeners.filter((l) => (l.type ?? 'internal') === 'internal')
      .map((l) => `${brokerListenerName(l)}://$(POD_NAME).${names.headless(c)}.$(POD_NAMESPACE).svc:${l.port}`).join(',')}`,
    ...(external ? ['--advertised-listeners-file', `${podInfoMountPath}/advertised-listeners`] : []),
    '--data-dir', `${dataMountPath}/data`,
    '--config', `${configMountPath}/server.properties`,
    '--metrics-port', String(mPort),
    '--metrics-host', '0.0.0.0',
    ...(rackLabel ? ['--rack-file', `${podInfoMountPath}/rack`] : []),
  ];
  const container: Record<string, unknown> = {
    name: 'broker',
    image: cluster.spec.image ?? settings.defaultImage,
    imagePullPolicy: 'IfNotPresent',
    args,
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'BROOK_BROKER_ID', valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } } },
      ...(secured ? [{ name: internalPasswordEnv, valueFrom: { secretKeyRef: { name: securityNames.internalCredentials(c), key: 'password' } } }] : []),
    ],
    ports: [...brokerListeners.map((l) => ({ name: l.name, containerPort: l.port, protocol: 'TCP' })), { name: 'metrics', containerPort: mPort, protocol: 'TCP' }],
    // "Registered and caught up": the broker's /readyz.
    readinessProbe: { httpGet: { path: '/readyz', port: 'metrics' }, periodSeconds: 5, failureThreshold: 3, timeoutSeconds: 3 },
    livenessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, initialDelaySeconds: 30, periodSeconds: 10, failureThreshold: 6, timeoutSeconds: 5 },
    ...(cluster.spec.resources ? { resources: cluster.spec.resources } : {}),
    volumeMounts: [
      { name: 'data', mountPath: dataMountPath },
      { name: 'config', mountPath: configMountPath, readOnly: true },
      ...(podInfo ? [{ name: 'pod-info', mountPath: podInfoMountPath, readOnly: true }] : []),
      ...(tls ? [{ name: 'tls', mountPath: tlsMountPath, readOnly: true }] : []),
      // The root filesystem is read-only: Node's and the broker's scratch files go here.
      { name: 'tmp', mountPath: '/tmp' },
    ],
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
  };
  const volumes: unknown[] = [
    { name: 'config', configMap: { name: names.configMap(c) } },
    { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
    // Not a subPath mount: the kubelet swaps renewed certificates in and the broker reloads them.
    ...(tls ? [{ name: 'tls', secret: { secretName: securityNames.brokerCerts(c), defaultMode: 0o440 } }] : []),
  ];
  if (podInfo) {
    volumes.push({
      name: 'pod-info',
      downwardAPI: {
        items: [
          ...(rackLabel ? [{ path: 'rack', fieldRef: { fieldPath: `metadata.annotations['${rackAnnotation}']` } }] : []),
          ...(external ? [{ path: 'advertised-listeners', fieldRef: { fieldPath: `metadata.annotations['${advertisedListenersAnnotation}']` } }] : []),
        ],
      },
    });
  }
  let template: Record<string, unknown> = {
    metadata: {
      labels: labels(c),
      annotations: {
        [configHashAnnotation]: sha256(props).slice(0, 16),
        ...(cluster.spec.metrics?.enabled === false ? {} : { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(mPort) }),
      },
    },
    spec: {
      serviceAccountName: names.serviceAccount(c),
      terminationGracePeriodSeconds: 60,
      securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchLabels: sel }, topologyKey: 'kubernetes.io/hostname' } }],
        },
      },
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: rackLabel ?? 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: sel } }],
      containers: [container],
      volumes,
    },
  };
  if (cluster.spec.podTemplate) template = mergeOverrides(template, cluster.spec.podTemplate) as Record<string, unknown>;

  const storage = cluster.spec.storage ?? {};
  out.push({
    kind: 'StatefulSet',
    object: {
      apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: meta(cluster, names.statefulSet(c)),
      spec: {
        replicas,
        serviceName: names.headless(c),
        selector: { matchLabels: sel },
        podManagementPolicy: 'Parallel',
        // The operator rolls brokers itself, one at a time, when no partition is under-replicated.
        updateStrategy: { type: 'OnDelete' },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
        template,
        volumeClaimTemplates: [{
          apiVersion: 'v1', kind: 'PersistentVolumeClaim',
          metadata: { name: 'data', labels: selectorLabels(c) },
          spec: {
            accessModes: ['ReadWriteOnce'],
            resources: { requests: { storage: storage.size ?? '10Gi' } },
            ...(storage.class ? { storageClassName: storage.class } : {}),
          },
        }],
      },
    },
  });
  out.push({
    kind: 'PodDisruptionBudget',
    object: { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: meta(cluster, names.pdb(c)), spec: { maxUnavailable: 1, selector: { matchLabels: sel } } },
  });
  if (secured) out.push({ kind: 'NetworkPolicy', object: networkPolicy(cluster, listeners, mPort) });
  return out;
}

/** The operator's pods, as the chart labels them (the NetworkPolicy admits them to REPLICATION). */
export const operatorPodLabels = { 'app.kubernetes.io/name': 'brook-operator', 'app.kubernetes.io/component': 'operator' };

/**
 * Who may reach a secured cluster's brokers: anyone on the client listeners (authentication
 * guards them) and the metrics port; on REPLICATION only the cluster's brokers and the operator.
 */
function networkPolicy(cluster: Cluster, listeners: Listener[], metricsPort: number): KubeObject {
  const c = cluster.metadata.name!;
  return {
    apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: meta(cluster, securityNames.networkPolicy(c)),
    spec: {
      podSelector: { matchLabels: selectorLabels(c) },
      policyTypes: ['Ingress'],
      ingress: [
        { ports: [...listeners.map((l) => ({ protocol: 'TCP', port: l.port })), { protocol: 'TCP', port: metricsPort }] },
        {
          from: [{ podSelector: { matchLabels: selectorLabels(c) } }, { namespaceSelector: {}, podSelector: { matchLabels: operatorPodLabels } }],
          ports: [{ protocol: 'TCP', port: replicationListener.port }],
        },
      ],
    },
  };
}

/** A Service as far as external addresses go. */
export interface ServiceLike {
  spec?: { ports?: Array<{ port?: number; nodePort?: number }> };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> } };
}

/**
 * The advertised addresses of broker `ordinal`'s external listeners, in Kafka's
 * advertised.listeners form (the pod annotation the broker reads): a nodePort listener is the
 * pod's node address (`hostIP`; the Services use externalTrafficPolicy Local, so that node is the
 * one that forwards) and the node port the API server gave its Service; a loadBalancer listener
 * is its Service's load balancer address and the listener port. A listener whose address is not
 * known yet (no node, no node port, no load balancer address) is left out; undefined when none is
 * known or the cluster has no external listener.
 */
export function externalAdvertisedListeners(cluster: Cluster, ordinal: number, hostIP: string | undefined, service: (name: string) => ServiceLike | undefined): string | undefined {
  const out: string[] = [];
  for (const l of listenersOf(cluster)) {
    const type = l.type ?? 'internal';
    if (type === 'internal') continue;
    const svc = service(names.external(cluster.metadata.name!, ordinal, l.name));
    let host: string | undefined;
    let port: number | undefined;
    if (type === 'nodePort') {
      host = hostIP;
      port = svc?.spec?.ports?.find((p) => p.port === l.port)?.nodePort;
    } else {
      const ingress = svc?.status?.loadBalancer?.ingress?.[0];
      host = ingress?.ip || ingress?.hostname;
      port = l.port;
    }
    if (host && port) out.push(`${brokerListenerName(l)}://${host.includes(':') ? `[${host}]` : host}:${port}`);
  }
  return out.length ? out.join(',') : undefined;
}

/** ServiceMonitor and PrometheusRule, for when the Prometheus Operator's CRDs exist. */
export function monitoringObjects(cluster: Cluster, serves: { serviceMonitor: boolean; prometheusRule: boolean }): Array<{ kind: 'ServiceMonitor' | 'PrometheusRule'; object: KubeObject }> {
  const c = cluster.metadata.name!;
  const out: Array<{ kind: 'ServiceMonitor' | 'PrometheusRule'; object: KubeObject }> = [];
  if (cluster.spec.metrics?.enabled === false) return out;
  if (serves.serviceMonitor) {
    out.push({
      kind: 'ServiceMonitor',
      object: {
        apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: meta(cluster, names.monitoring(c)),
        spec: { selector: { matchLabels: { ...labels(c) } }, endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s' }] },
      },
    });
  }
  if (serves.prometheusRule) {
    const sel = `namespace="${cluster.metadata.namespace}",pod=~"${c}-[0-9]+"`;
    out.push({
      kind: 'PrometheusRule',
      object: {
        apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: meta(cluster, names.monitoring(c)),
        spec: {
          groups: [{
            name: `brook-${c}`,
            rules: [
              { alert: 'BrookUnderReplicatedPartitions', expr: `sum(brook_under_replicated_partitions{${sel}}) > 0`, for: '5m', labels: { severity: 'warning' }, annotations: { summary: `Cluster ${c} has under-replicated partitions` } },
              { alert: 'BrookOfflinePartitions', expr: `sum(brook_offline_partitions{${sel}}) > 0`, for: '1m', labels: { severity: 'critical' }, annotations: { summary: `Cluster ${c} has partitions without a leader` } },
              { alert: 'BrookUnderMinIsrPartitions', expr: `sum(brook_under_min_isr_partitions{${sel}}) > 0`, for: '1m', labels: { severity: 'critical' }, annotations: { summary: `Cluster ${c} has partitions under min.insync.replicas` } },
              { alert: 'BrookNoController', expr: `sum(brook_controller_active{${sel}}) < 1`, for: '2m', labels: { severity: 'critical' }, annotations: { summary: `Cluster ${c} has no active controller` } },
            ],
          }],
        },
      },
    });
  }
  return out;
}
