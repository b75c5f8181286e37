/**
 * The Secrets of a secured Cluster (cluster-security.ts says which and why): the Cluster
 * reconciler makes and renews them (`ensure`), the User reconciler and the rebalancer read them
 * (`clientSecurity`, `clusterCa`, `clientsCa`). The operator may get, create and update Secrets,
 * never list or watch them: each is read by name, and kept here per Cluster uid until its next
 * renewal, so a steady-state reconcile makes no request.
 *
 * Every Secret carries the Cluster's owner reference: deleting the Cluster deletes them.
 */
import { randomBytes } from 'node:crypto';
import type { Cluster } from '../broker/k8s/index.ts';
import { resources, type Kube, type KubeObject } from '../broker/k8s/index.ts';
import type { ClientSecurity } from '../broker/security/listener-security.ts';
import { labels, ownerReference } from './cluster-resources.ts';
import {
  brokerCertificates, encodeSecretData, ensureCa, hasTls, isSecured, operatorClientSecurity, secretText, securityNames,
} from './cluster-security.ts';
import type { KeyAndCertificate } from './pki.ts';

interface SecretObject extends KubeObject { data?: Record<string, string>; type?: string }

interface Material {
  uid: string;
  password: string;
  clusterCa?: KeyAndCertificate;
  clientsCa?: KeyAndCertificate;
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
   * and the extra names `extraNames(ordinal)` (external addresses). Returns ms until the next
   * renewal is due (undefined: the cluster is not secured).
   */
  async ensure(cluster: Cluster, replicas: number, extraNames: (ordinal: number) => readonly string[]): Promise<number | undefined> {
    if (!isSecured(cluster)) return undefined;
    const key = `${cluster.metadata.namespace}/${cluster.metadata.name}`;
    const now = this.now();
    const brokersKey = JSON.stringify(Array.from({ length: replicas }, (_, i) => extraNames(i)));
    const known = this.byCluster.get(key);
    if (known && known.uid === cluster.metadata.uid && (!hasTls(cluster) || (known.brokersKey === brokersKey && known.clusterCa)) && now < known.nextRenewalMs) {
      return known.nextRenewalMs - now;
    }
    const c = cluster.metadata.name!;
    const creds = await this.upsert(cluster, securityNames.internalCredentials(c), (cur) => (cur.password ? null : { password: randomBytes(24).toString('hex') }));
    const m: Material = { uid: cluster.metadata.uid!, password: creds.password!, nextRenewalMs: now + 24 * 3600_000 };
    if (hasTls(cluster)) {
      const date = new Date(now);
      const caSecret = async (name: string, subject: string): Promise<KeyAndCertificate> => {
        const data = await this.upsert(cluster, name, (cur) => {
          const current = cur['ca.crt'] && cur['ca.key'] ? { cert: cur['ca.crt'], key: cur['ca.key'] } : undefined;
          const { ca, renewed } = ensureCa(current, subject, cluster, date);
          return renewed ? { 'ca.crt': ca.cert, 'ca.key': ca.key } : null;
        });
        return { cert: data['ca.crt']!, key: data['ca.key']! };
      };
      m.clusterCa = await caSecret(securityNames.clusterCa(c), `${c} cluster CA`);
      m.clientsCa = await caSecret(securityNames.clientsCa(c), `${c} clients CA`);
      let next = Infinity;
      await this.upsert(cluster, securityNames.brokerCerts(c), (cur) => {
        const r = brokerCertificates(cluster, m.clusterCa!, m.clientsCa, replicas, cur, extraNames, date);
        next = r.nextRenewalMs;
        return r.changed ? r.data : null;
      });
      m.brokersKey = brokersKey;
      m.nextRenewalMs = Math.min(m.nextRenewalMs, next);
    }
    this.byCluster.set(key, m);
    return Math.max(1_000, m.nextRenewalMs - now);
  }

  /** How the operator's admin client authenticates to `cluster` (undefined: not secured). Reads the Secrets if this process has not yet. */
  async clientSecurity(cluster: Cluster): Promise<ClientSecurity | undefined> {
    if (!isSecured(cluster)) return undefined;
    const m = await this.read(cluster);
    return operatorClientSecurity(m.password, m.clusterCa?.cert);
  }

  async clusterCa(cluster: Cluster): Promise<KeyAndCertificate | undefined> { return hasTls(cluster) ? (await this.read(cluster)).clusterCa : undefined; }

  async clientsCa(cluster: Cluster): Promise<KeyAndCertificate | undefined> { return hasTls(cluster) ? (await this.read(cluster)).clientsCa : undefined; }

  private async read(cluster: Cluster): Promise<Material> {
    const key = `${cluster.metadata.namespace}/${cluster.metadata.name}`;
    const known = this.byCluster.get(key);
    if (known && known.uid === cluster.metadata.uid && (!hasTls(cluster) || known.clusterCa)) return known;
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
      const ca = await get(securityNames.clusterCa(c));
      const clients = await get(securityNames.clientsCa(c));
      m.clusterCa = { cert: secretText(ca, 'ca.crt')!, key: secretText(ca, 'ca.key')! };
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

export class SecurityMaterialError extends Error {
  readonly code = 'BROOK_ERR_SECURITY_MATERIAL';
  constructor(message: string) {
    super(message);
    this.name = 'SecurityMaterialError';
  }
}
