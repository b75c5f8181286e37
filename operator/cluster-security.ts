/**
 * A Cluster's security, as the operator implements it (pure functions; cluster-controller.ts
 * writes the Secrets, cluster-resources.ts the pod template):
 *
 * A Cluster is *secured* when a listener has `tls` or `authentication`, or spec.authorization is
 * set. Then the operator adds a listener of its own, REPLICATION (port 9091, SASL_SSL when any
 * listener has TLS, else SASL_PLAINTEXT, SCRAM-SHA-512): brokers replicate over it
 * (inter.broker.listener.name) and the operator's admin client talks to it, both as the
 * principal User:brook-internal, whose password is in the Secret <cluster>-internal-credentials
 * (the broker reads it from the env var BROOK_INTERNAL_PASSWORD and adds its SCRAM credential to
 * the store at start; it is a super user when there is an authorizer). The NetworkPolicy admits
 * clients to the client listeners only; REPLICATION takes brokers and the operator.
 *
 * Listener protocols: tls → SSL (authentication tls: client certificates required, trusted from
 * the clients CA) or SASL_SSL (authentication scram-sha-512); no tls → SASL_PLAINTEXT or PLAINTEXT.
 *
 * Certificates (when cert-manager's CRDs do not exist — and the operator never uses them yet):
 *   <cluster>-cluster-ca      ca.crt, ca.key   signs the brokers' certificates (5 × validityDays)
 *   <cluster>-clients-ca      ca.crt, ca.key   signs User certificates (authentication tls)
 *   <cluster>-broker-certs    <pod>.pem (key and certificate) per broker, ca.crt, clients-ca.crt
 * mounted at /etc/brook/tls; brokers reload changed files without restarting. A certificate is
 * re-issued renewalDays before it expires, or when a name it must carry is missing.
 */
import { isIP } from 'node:net';
import type { Cluster } from '../broker/k8s/index.ts';
import type { ClientSecurity } from '../broker/security/listener-security.ts';
import { issue, makeCa, stillGood, expiresAt, type KeyAndCertificate } from './pki.ts';

export const internalUser = 'brook-internal';
export const internalPrincipal = `User:${internalUser}`;
export const internalPasswordEnv = 'BROOK_INTERNAL_PASSWORD';
export const replicationListener = { name: 'replication', port: 9091 } as const;
export const tlsMountPath = '/etc/brook/tls';
export const standardAuthorizer = 'org.apache.kafka.metadata.authorizer.StandardAuthorizer';

export const securityNames = {
  clusterCa: (c: string) => `${c}-cluster-ca`,
  clientsCa: (c: string) => `${c}-clients-ca`,
  brokerCerts: (c: string) => `${c}-broker-certs`,
  internalCredentials: (c: string) => `${c}-internal-credentials`,
  networkPolicy: (c: string) => c,
};

type Listener = NonNullable<Cluster['spec']['listeners']>[number];

export function hasTls(cluster: Cluster): boolean {
  return (cluster.spec.listeners ?? []).some((l) => l.tls);
}

/** The authorizer the brokers run: StandardAuthorizer for spec.authorization, else spec.config's authorizer.class.name. */
export function authorizerOf(cluster: Cluster): string | undefined {
  return cluster.spec.authorization ? standardAuthorizer : cluster.spec.config?.['authorizer.class.name'] || undefined;
}

export function isSecured(cluster: Cluster): boolean {
  return hasTls(cluster) || (cluster.spec.listeners ?? []).some((l) => l.authentication) || !!authorizerOf(cluster);
}

export function listenerProtocol(l: Pick<Listener, 'tls' | 'authentication'>): 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL' {
  const sasl = l.authentication === 'scram-sha-512';
  return l.tls ? (sasl ? 'SASL_SSL' : 'SSL') : (sasl ? 'SASL_PLAINTEXT' : 'PLAINTEXT');
}

export function replicationProtocol(cluster: Cluster): 'SASL_SSL' | 'SASL_PLAINTEXT' {
  return hasTls(cluster) ? 'SASL_SSL' : 'SASL_PLAINTEXT';
}

/** The broker settings (`--set` values) security adds, beyond listeners and the protocol map. */
export function brokerSecuritySettings(cluster: Cluster): string[] {
  if (!isSecured(cluster)) return [];
  const out = [
    'sasl.enabled.mechanisms=SCRAM-SHA-512',
    'sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512',
    `listener.name.${replicationListener.name}.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${internalUser}" password="$(${internalPasswordEnv})";`,
  ];
  if (hasTls(cluster)) {
    out.push(
      'ssl.keystore.type=PEM', `ssl.keystore.location=${tlsMountPath}/$(POD_NAME).pem`,
      'ssl.truststore.type=PEM', `ssl.truststore.location=${tlsMountPath}/ca.crt`,
    );
  }
  for (const l of cluster.spec.listeners ?? []) {
    if (l.authentication !== 'tls') continue;
    out.push(`listener.name.${l.name}.ssl.client.auth=required`, `listener.name.${l.name}.ssl.truststore.location=${tlsMountPath}/clients-ca.crt`);
  }
  const authorizer = authorizerOf(cluster);
  if (authorizer) {
    // The operator's principal is always a super user, with those of spec.authorization and spec.config.
    const fromConfig = (cluster.spec.config?.['super.users'] ?? '').split(';').map((s) => s.trim()).filter(Boolean);
    const superUsers = [...new Set([internalPrincipal, ...(cluster.spec.authorization?.superUsers ?? []), ...fromConfig])];
    out.push(`authorizer.class.name=${authorizer}`, `super.users=${superUsers.join(';')}`);
  }
  return out;
}

const day = 86_400_000;

export function validity(cluster: Cluster): { days: number; renewBeforeMs: number } {
  return { days: cluster.spec.certificates?.validityDays ?? 365, renewBeforeMs: (cluster.spec.certificates?.renewalDays ?? 30) * day };
}

/** The names broker `ordinal`'s certificate must carry: its pod DNS names, the Services, and `extra` (external addresses). */
export function brokerAltNames(cluster: Cluster, ordinal: number, extra: readonly string[] = []): string[] {
  const c = cluster.metadata.name!;
  const ns = cluster.metadata.namespace!;
  const pod = `${c}-${ordinal}`;
  const names = [
    `${pod}.${c}-brokers.${ns}.svc`, `${pod}.${c}-brokers.${ns}.svc.cluster.local`, `${pod}.${c}-brokers`,
    `${c}-bootstrap`, `${c}-bootstrap.${ns}`, `${c}-bootstrap.${ns}.svc`, `${c}-bootstrap.${ns}.svc.cluster.local`,
    ...extra,
  ];
  return [...new Set(names)];
}

/** A CA kept in a Secret: the one given while still good for its own renewal window, else a new one. */
export function ensureCa(current: KeyAndCertificate | undefined, subject: string, cluster: Cluster, now: Date): { ca: KeyAndCertificate; renewed: boolean } {
  const { days, renewBeforeMs } = validity(cluster);
  if (current && stillGood(current.cert, current.cert, now, renewBeforeMs)) return { ca: current, renewed: false };
  return { ca: makeCa({ subject: [['O', 'Brook'], ['CN', subject]], days: days * 5, now }), renewed: true };
}

/**
 * The broker certificates Secret's data: `current` entries kept while still good, others issued
 * anew (a new CA re-issues all). Returns whether anything changed and when the next renewal is due.
 */
export function brokerCertificates(cluster: Cluster, ca: KeyAndCertificate, clientsCa: KeyAndCertificate | undefined, replicas: number,
  current: Record<string, string>, extraNames: (ordinal: number) => readonly string[], now: Date): { data: Record<string, string>; changed: boolean; nextRenewalMs: number } {
  const { days, renewBeforeMs } = validity(cluster);
  const data: Record<string, string> = { 'ca.crt': ca.cert, ...(clientsCa ? { 'clients-ca.crt': clientsCa.cert } : {}) };
  let next = expiresAt(ca.cert) - renewBeforeMs;
  for (let i = 0; i < replicas; i++) {
    const file = `${cluster.metadata.name}-${i}.pem`;
    const names = brokerAltNames(cluster, i, extraNames(i));
    const pem = current[file];
    const cert = pem?.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/)?.[0];
    if (pem && cert && stillGood(cert, ca.cert, now, renewBeforeMs, names)) {
      data[file] = pem;
    } else {
      const leaf = issue(ca, { subject: [['O', 'Brook'], ['CN', `${cluster.metadata.name}-${i}`]], days, now, altNames: names, usage: { server: true, client: true } });
      data[file] = `${leaf.key}${leaf.cert}${ca.cert}`;
    }
    next = Math.min(next, expiresAt(data[file]!.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/)![0]) - renewBeforeMs);
  }
  const changed = Object.keys(data).length !== Object.keys(current).length || Object.entries(data).some(([k, v]) => current[k] !== v);
  return { data, changed, nextRenewalMs: next };
}

/** How the operator's admin client connects to the REPLICATION listener of a secured cluster. */
export function operatorClientSecurity(password: string, clusterCaCert: string | undefined): ClientSecurity {
  return {
    sasl: { mechanism: 'SCRAM-SHA-512', username: internalUser, password },
    // node:tls connects to options.host (localhost when absent): it must be there, not only servername.
    ...(clusterCaCert ? { tls: (host: string) => ({ host, ca: clusterCaCert, servername: isIP(host) ? undefined : host, rejectUnauthorized: true }) } : {}),
  };
}

export function secretText(data: Record<string, string> | undefined, key: string): string | undefined {
  const v = data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

export function encodeSecretData(data: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));
}
