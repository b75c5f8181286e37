/**
 * The Secrets of a secured Cluster (cluster-security.ts says which and why): the Cluster
 * reconciler makes and renews them (`ensure`), the User reconciler and the rebalancer read them
 * (`clientSecurity`, `clusterCa`, `clientsCa`). The operator may get, create and update Secrets,
 * never list or watch them: each is read by name, and kept here per Cluster uid until its next
 * renewal, so a steady-state reconcile makes no request.
 *
 * Every Secret carries the Cluster's owner reference: deleting the Cluster deletes them.
 *
 * Broker certificates come from the operator's cluster CA or from cert-manager (cert-manager.ts
 * says which and how). With cert-manager, the Issuers and Certificates are applied, and
 * `<cluster>-broker-certs` is composed from the Secrets cert-manager writes, read by name again
 * only when a Certificate's uid, revision, expiry or readiness changed (the Certificate informer
 * shows that; cert-manager writes a Secret before it records the new revision).
 */
import { randomBytes } from 'node:crypto';
import type { Cluster } from '../broker/k8s/index.ts';
import { resources, type Kube, type KubeObject } from '../broker/k8s/index.ts';
import type { ClientSecurity } from '../broker/security/listener-security.ts';
import { labels, ownerReference, sha256 } from './cluster-resources.ts';
import {
  brokerCertificates, encodeSecretData, ensureCa, hasTls, isSecured, operatorClientSecurity, secretText, securityNames, validity,
} from './cluster-security.ts';
import { jsonEqual } from './conditions.ts';
import { expiresAt, type KeyAndCertificate } from './pki.ts';
import {
  certificateSource, certManagerNames, certManagerResources, certManagerObjects, composeBrokerCertificates, isCertificateReady,
  type CertificateObject, type CertificateSource, type CertificatesStatus,
} from './cert-manager.ts';

interface SecretObject extends KubeObject { data?: Record<string, string>; type?: string }

/** What the operator sees of cert-manager: whether its CRDs are served, and its Certificates (informer cache). */
export interface CertManagerView {
  served: boolean;
  certificate(namespace: string, name: string): CertificateObject | undefined;
  /** Certificates owned by the Cluster with this uid. */
  ownedBy(namespace: string, clusterUid: string): readonly CertificateObject[];
}

const noCertManager: CertManagerView = { served: false, certificate: () => undefined, ownedBy: () => [] };

interface Material {
  uid: string;
  password: string;
  /** The certificate brokers present chains to (ca.crt of the broker certificates Secret). */
  clusterCaCert?: string;
  clientsCa?: KeyAndCertificate;
  source?: CertificateSource;
  /** cert-manager: hash of the Issuers and Certificates last applied, and the issued state last composed. */
  appliedHash?: string;
  issuedKey?: string;
  /** The broker count and external names the broker certificates were last checked for. */
  brokersKey?: string;
  /** When a certificate next needs renewing (ms since the epoch). */
  nextRenewalMs: number;
}

export class SecurityMaterial {
  private readonly kube: Kube;
  private readonly now: () => number;
  private readonly byCluster = new Map<string, Material>();

  constructor(opts: { kube: Kube; now: () => number }) {
    this.kube = opts.kube;
    this.now = opts.now;
  }

  forget(clusterKey: string): void { this.byCluster.delete(clusterKey); }

  /**
   * Makes (or renews) the Secrets of `cluster` with broker certificates for `replicas` brokers
   * and the extra names `extraNames(ordinal)` (external addresses), from the operator's CA or
   * from cert-manager (`certManager`). Returns ms until the next renewal is due and, for a TLS
   * cluster, where its certificates come from (undefined: the cluster is not secured).
   */
  async ensure(cluster: Cluster, replicas: number, extraNames: (ordinal: number) => readonly string[], certManager: CertManagerView = noCertManager): Promise<{ renewInMs: number; certificates?: CertificatesStatus } | undefined> {
    if (!isSecured(cluster)) return undefined;
    const key = `${cluster.metadata.namespace}/${cluster.metadata.name}`;
    const now = this.now();
    const brokersKey = JSON.stringify(Array.from({ length: replicas }, (_, i) => extraNames(i)));
    const source = hasTls(cluster) ? certificateSource(cluster, certManager.served) : undefined;
    const issued = source === 'cert-manager' ? issuedState(cluster, replicas, certManager) : undefined;
    const known = this.byCluster.get(key);
    if (known && known.uid === cluster.metadata.uid && (!hasTls(cluster) || (known.brokersKey === brokersKey && known.clusterCaCert && known.source === source && known.issuedKey === issued?.key))
      && now < known.nextRenewalMs) {
      return { renewInMs: known.nextRenewalMs - now, ...(source ? { certificates: { source, ...issued?.status } } : {}) };
    }
    const c = cluster.metadata.name!;
    const creds = await this.upsert(cluster, securityNames.internalCredentials(c), (cur) => (cur.password ? null : { password: randomBytes(24).toString('hex') }));
    const m: Material = { uid: cluster.metadata.uid!, password: creds.password!, nextRenewalMs: now + 24 * 3600_000, source };
    if (source === 'cert-manager') {
      // The clients CA stays the operator's (cert-manager.ts says why).
      const clientsCa = await this.caSecret(cluster, securityNames.clientsCa(c), `${c} clients CA`, new Date(now));
      m.clientsCa = clientsCa;
      m.appliedHash = await this.applyCertManagerObjects(cluster, replicas, extraNames, certManager, known && known.uid === cluster.metadata.uid ? known.appliedHash : undefined);
      const composed = await this.composeFromCertManager(cluster, replicas, clientsCa.cert);
      m.clusterCaCert = composed?.['ca.crt'];
      m.brokersKey = brokersKey;
      // The clients CA is still the operator's to renew; until every certificate is issued, look again soon.
      m.nextRenewalMs = Math.min(m.nextRenewalMs, expiresAt(clientsCa.cert) - validity(cluster).renewBeforeMs);
      const status = issuedState(cluster, replicas, certManager);
      const complete = !!composed && status.status.readyCertificates === status.status.certificates && Object.keys(composed).length === replicas + 2;
      if (complete) m.issuedKey = status.key;
      else m.nextRenewalMs = Math.min(m.nextRenewalMs, now + 2_000);
      this.byCluster.set(key, m);
      return { renewInMs: Math.max(1_000, m.nextRenewalMs - now), certificates: { source, ...status.status } };
    }
    if (hasTls(cluster)) {
      const date = new Date(now);
      const clusterCa = await this.caSecret(cluster, securityNames.clusterCa(c), `${c} cluster CA`, date);
      m.clusterCaCert = clusterCa.cert;
      m.clientsCa = await this.caSecret(cluster, securityNames.clientsCa(c), `${c} clients CA`, date);
      let next = Infinity;
      await this.upsert(cluster, securityNames.brokerCerts(c), (cur) => {
        const r = brokerCertificates(cluster, clusterCa, m.clientsCa, replicas, cur, extraNames, date);
        next = r.nextRenewalMs;
        return r.changed ? r.data : null;
      });
      m.brokersKey = brokersKey;
      m.nextRenewalMs = Math.min(m.nextRenewalMs, next);
    }
    this.byCluster.set(key, m);
    return { renewInMs: Math.max(1_000, m.nextRenewalMs - now), ...(source ? { certificates: { source } } : {}) };
  }

  /** The CA kept in Secret `name` (ca.crt, ca.key): made, or renewed when it is due. */
  private async caSecret(cluster: Cluster, name: string, subject: string, date: Date): Promise<KeyAndCertificate> {
    const data = await this.upsert(cluster, name, (cur) => {
      const current = cur['ca.crt'] && cur['ca.key'] ? { cert: cur['ca.crt'], key: cur['ca.key'] } : undefined;
      const { ca, renewed } = ensureCa(current, subject, cluster, date);
      return renewed ? { 'ca.crt': ca.cert, 'ca.key': ca.key } : null;
    });
    return { cert: data['ca.crt']!, key: data['ca.key']! };
  }

  /**
   * Applies the Issuers and Certificates `cluster` needs (when they changed since `appliedHash`,
   * or a Certificate is missing from the cache) and deletes its Certificates no longer desired
   * (brokers scaled away). Returns the hash applied.
   */
  private async applyCertManagerObjects(cluster: Cluster, replicas: number, extraNames: (ordinal: number) => readonly string[], view: CertManagerView, appliedHash: string | undefined): Promise<string> {
    const ns = cluster.metadata.namespace!;
    const desired = certManagerObjects(cluster, replicas, extraNames);
    const hash = sha256(JSON.stringify(desired.map((d) => d.object)));
    const missing = desired.some((d) => d.resource.kind === 'Certificate' && !view.certificate(ns, d.object.metadata.name));
    if (hash !== appliedHash || missing) {
      for (const d of desired) await this.kube.apply(d.resource, d.object);
    }
    const wanted = new Set(desired.filter((d) => d.resource.kind === 'Certificate').map((d) => d.object.metadata.name));
    for (const cert of view.ownedBy(ns, cluster.metadata.uid!)) {
      if (wanted.has(cert.metadata.name) || cert.metadata.deletionTimestamp) continue;
      await this.kube.delete(certManagerResources.Certificate, ns, cert.metadata.name, { uid: cert.metadata.uid });
    }
    return hash;
  }

  /** Writes `<cluster>-broker-certs` from the Secrets cert-manager wrote; returns its data (undefined: the CA is not issued yet). */
  private async composeFromCertManager(cluster: Cluster, replicas: number, clientsCaCert: string): Promise<Record<string, string> | undefined> {
    const ns = cluster.metadata.namespace!;
    const c = cluster.metadata.name!;
    const secrets = new Map<string, Record<string, string>>();
    for (const name of [certManagerNames.caSecret(c), ...Array.from({ length: replicas }, (_, i) => certManagerNames.brokerSecret(c, i))]) {
      const s = await this.kube.getOrUndefined<SecretObject>(resources.Secret, ns, name);
      if (s?.data) secrets.set(name, Object.fromEntries(Object.keys(s.data).map((k) => [k, secretText(s.data, k)!])));
    }
    const data = composeBrokerCertificates(cluster, replicas, secrets, clientsCaCert);
    if (!data) return undefined;
    await this.upsert(cluster, securityNames.brokerCerts(c), (cur) => (jsonEqual(cur, data) ? null : data));
    return data;
  }

  /** How the operator's admin client authenticates to `cluster` (undefined: not secured). Reads the Secrets if this process has not yet. */
  async clientSecurity(cluster: Cluster): Promise<ClientSecurity | undefined> {
    if (!isSecured(cluster)) return undefined;
    const m = await this.read(cluster);
    return operatorClientSecurity(m.password, m.clusterCaCert);
  }

  /** The CA certificate the brokers' certificates chain to (clients trust it), from either source. */
  async clusterCaCert(cluster: Cluster): Promise<string | undefined> { return hasTls(cluster) ? (await this.read(cluster)).clusterCaCert : undefined; }

  async clientsCa(cluster: Cluster): Promise<KeyAndCertificate | undefined> { return hasTls(cluster) ? (await this.read(cluster)).clientsCa : undefined; }

  private async read(cluster: Cluster): Promise<Material> {
    const key = `${cluster.metadata.namespace}/${cluster.metadata.name}`;
    const known = this.byCluster.get(key);
    if (known && known.uid === cluster.metadata.uid && (!hasTls(cluster) || (known.clusterCaCert && known.clientsCa))) return known;
    const ns = cluster.metadata.namespace!;
    const c = cluster.metadata.name!;
    const get = async (name: string) => {
      const s = await this.kube.getOrUndefined<SecretObject>(resources.Secret, ns, name);
      if (!s) throw new SecurityMaterialError(`Secret ${ns}/${name} does not exist yet (the Cluster reconcile makes it)`);
      return s.data ?? {};
    };
    const password = secretText(await get(securityNames.internalCredentials(c)), 'password');
    if (!password) throw new SecurityMaterialError(`Secret ${ns}/${securityNames.internalCredentials(c)} has no password`);
    const m: Material = { uid: cluster.metadata.uid!, password, nextRenewalMs: 0 };
    if (hasTls(cluster)) {
      // ca.crt of the broker certificates: the cluster CA whichever source issued them.
      const certs = await get(securityNames.brokerCerts(c));
      const clients = await get(securityNames.clientsCa(c));
      m.clusterCaCert = secretText(certs, 'ca.crt');
      if (!m.clusterCaCert) throw new SecurityMaterialError(`Secret ${ns}/${securityNames.brokerCerts(c)} has no ca.crt yet`);
      m.clientsCa = { cert: secretText(clients, 'ca.crt')!, key: secretText(clients, 'ca.key')! };
    }
    // nextRenewalMs 0: the next ensure() checks everything.
    this.byCluster.set(key, m);
    return m;
  }

  /** Reads Secret `name`, creates it or replaces its data with what `change` returns (null: as it is); returns its data (text). */
  private async upsert(cluster: Cluster, name: string, change: (current: Record<string, string>) => Record<string, string> | null): Promise<Record<string, string>> {
    const ns = cluster.metadata.namespace!;
    const existing = await this.kube.getOrUndefined<SecretObject>(resources.Secret, ns, name);
    const current = Object.fromEntries(Object.keys(existing?.data ?? {}).map((k) => [k, secretText(existing!.data, k)!]));
    const next = change(current);
    if (!next) return current;
    const body: SecretObject = {
      apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
      metadata: {
        name, namespace: ns,
        labels: { ...labels(cluster.metadata.name!), ...existing?.metadata.labels },
        ownerReferences: [ownerReference(cluster)],
        ...(existing ? { resourceVersion: existing.metadata.resourceVersion } : {}),
      },
      data: encodeSecretData(next),
    };
    // A conflict (someone else wrote it meanwhile) fails the reconcile, which runs again.
    if (existing) await this.kube.replace(resources.Secret, body);
    else await this.kube.create(resources.Secret, body);
    return next;
  }
}

/** The Certificates `cluster` needs as the cache shows them: a key that changes whenever one is (re-)issued, and the counts for status. */
function issuedState(cluster: Cluster, replicas: number, view: CertManagerView): { key: string; status: Omit<CertificatesStatus, 'source'> } {
  const c = cluster.metadata.name!;
  const ns = cluster.metadata.namespace!;
  const wanted = [certManagerNames.caCertificate(c), ...Array.from({ length: replicas }, (_, i) => certManagerNames.brokerCertificate(c, i))];
  const certs = wanted.map((n) => view.certificate(ns, n));
  const ready = certs.filter(isCertificateReady).length;
  const key = JSON.stringify(certs.map((x) => (x ? [x.metadata.uid, x.status?.revision, x.status?.notAfter, isCertificateReady(x)] : null)));
  const notReady = wanted.filter((_, i) => !isCertificateReady(certs[i]));
  const message = notReady.length === 0 ? 'every certificate issued' : `waiting for cert-manager to issue ${notReady.join(', ')}`;
  return { key, status: { certificates: wanted.length, readyCertificates: ready, message: message.slice(0, 1000) } };
}

export class SecurityMaterialError extends Error {
  readonly code = 'BROOK_ERR_SECURITY_MATERIAL';
  constructor(message: string) {
    super(message);
    this.name = 'SecurityMaterialError';
  }
}
