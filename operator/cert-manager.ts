/**
 * Broker certificates from cert-manager (issue 15 item 5), as pure functions; security-material.ts
 * applies the objects and writes the composed Secret, cluster-controller.ts reports the status.
 *
 * Which source a Cluster with a TLS listener uses (`certificateSource`):
 *   spec.certificates.issuer operator       the operator's cluster CA (cluster-security.ts)
 *   spec.certificates.issuer cert-manager   cert-manager; an error while its CRDs are not served
 *   auto (default)                          what status.certificates.source says, once set; else
 *                                           cert-manager when its CRDs are served, else operator.
 * So installing (or removing) cert-manager later never changes the CA of a running cluster:
 * clients that trust it keep working.
 *
 * What the operator asks of cert-manager, per Cluster (all owned by the Cluster, labelled like its
 * other objects):
 *   Issuer <c>-selfsigned        selfSigned
 *   Certificate <c>-cluster-ca   isCA, ECDSA P-256, 5 × validityDays → Secret <c>-cluster-ca-tls
 *   Issuer <c>-ca                ca.secretName <c>-cluster-ca-tls
 *   Certificate <c>-<i>          per broker: the DNS names and addresses brokerAltNames gives,
 *                                server and client auth, validityDays, renewed renewalDays before
 *                                expiry, a new key each time (PKCS#8) → Secret <c>-<i>-tls
 * and it composes `<c>-broker-certs` from those Secrets exactly as the operator's own path writes it
 * (`<pod>.pem` = tls.key + tls.crt, `ca.crt` = the CA Certificate's certificate, `clients-ca.crt`),
 * so the pod template and the brokers' file reload are the same for both sources.
 *
 * The clients CA (User certificates, mTLS) stays the operator's in both cases: the User reconciler
 * signs each User's certificate with it, and a CA that only says which clients to trust has no
 * reason to follow the server certificates' issuer.
 */
import { isIP } from 'node:net';
import type { Cluster } from '../broker/k8s/index.ts';
import type { KubeObject, Resource } from '../broker/k8s/index.ts';
import { labels, ownerReference } from './cluster-resources.ts';
import { brokerAltNames, validity } from './cluster-security.ts';

export const certManagerResources = {
  Issuer: { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', plural: 'issuers', namespaced: true },
  Certificate: { apiVersion: 'cert-manager.io/v1', kind: 'Certificate', plural: 'certificates', namespaced: true },
} as const satisfies Record<string, Resource>;

export const certManagerNames = {
  selfSignedIssuer: (c: string) => `${c}-selfsigned`,
  caCertificate: (c: string) => `${c}-cluster-ca`,
  caSecret: (c: string) => `${c}-cluster-ca-tls`,
  caIssuer: (c: string) => `${c}-ca`,
  brokerCertificate: (c: string, ordinal: number) => `${c}-${ordinal}`,
  brokerSecret: (c: string, ordinal: number) => `${c}-${ordinal}-tls`,
};

export type CertificateSource = 'operator' | 'cert-manager';

export interface CertificateObject extends KubeObject {
  spec?: { secretName?: string; dnsNames?: string[]; ipAddresses?: string[] };
  status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>; revision?: number; notAfter?: string };
}

export interface CertificatesStatus {
  source: CertificateSource;
  certificates?: number;
  readyCertificates?: number;
  message?: string;
}

/** The source of `cluster`'s broker certificates (see the top of this file); throws when cert-manager is asked for and absent. */
export function certificateSource(cluster: Cluster, certManagerServed: boolean): CertificateSource {
  const asked = cluster.spec.certificates?.issuer ?? 'auto';
  if (asked === 'operator') return 'operator';
  if (asked === 'cert-manager') {
    if (!certManagerServed) throw new CertManagerMissingError(`spec.certificates.issuer is cert-manager, but the API server serves no cert-manager.io/v1 Certificates and Issuers: install cert-manager, or set issuer to operator or auto`);
    return 'cert-manager';
  }
  const kept = cluster.status?.certificates?.source;
  if (kept === 'operator' || kept === 'cert-manager') {
    if (kept === 'cert-manager' && !certManagerServed) throw new CertManagerMissingError('this Cluster\'s certificates come from cert-manager (status.certificates.source), but the API server no longer serves cert-manager.io/v1 Certificates');
    return kept;
  }
  return certManagerServed ? 'cert-manager' : 'operator';
}

function duration(days: number): string { return `${days * 24}h`; }

/** The Issuers and Certificates `cluster` needs for `replicas` brokers with the extra names `extraNames(ordinal)`. */
export function certManagerObjects(cluster: Cluster, replicas: number, extraNames: (ordinal: number) => readonly string[]): Array<{ resource: Resource; object: KubeObject }> {
  const c = cluster.metadata.name!;
  const { days, renewBeforeMs } = validity(cluster);
  const renewalDays = Math.round(renewBeforeMs / 86_400_000);
  const meta = (name: string) => ({ name, namespace: cluster.metadata.namespace, labels: labels(c), ownerReferences: [ownerReference(cluster)] });
  const issuer = (name: string, spec: object) => ({ resource: certManagerResources.Issuer, object: { apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: meta(name), spec } as KubeObject });
  const certificate = (name: string, spec: object) => ({ resource: certManagerResources.Certificate, object: { apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: meta(name), spec } as KubeObject });
  const secretTemplate = { labels: labels(c) };
  const out = [
    issuer(certManagerNames.selfSignedIssuer(c), { selfSigned: {} }),
    certificate(certManagerNames.caCertificate(c), {
      isCA: true, commonName: `${c} cluster CA`, subject: { organizations: ['Brook'] }, secretName: certManagerNames.caSecret(c), secretTemplate,
      duration: duration(days * 5), ...(renewalDays > 0 ? { renewBefore: duration(renewalDays) } : {}),
      privateKey: { algorithm: 'ECDSA', size: 256, encoding: 'PKCS8', rotationPolicy: 'Always' },
      issuerRef: { name: certManagerNames.selfSignedIssuer(c), kind: 'Issuer', group: 'cert-manager.io' },
    }),
    issuer(certManagerNames.caIssuer(c), { ca: { secretName: certManagerNames.caSecret(c) } }),
  ];
  for (let i = 0; i < replicas; i++) {
    const altNames = brokerAltNames(cluster, i, extraNames(i));
    out.push(certificate(certManagerNames.brokerCertificate(c, i), {
      commonName: `${c}-${i}`, subject: { organizations: ['Brook'] }, secretName: certManagerNames.brokerSecret(c, i), secretTemplate,
      dnsNames: altNames.filter((n) => !isIP(n)), ...(altNames.some((n) => isIP(n)) ? { ipAddresses: altNames.filter((n) => isIP(n)) } : {}),
      usages: ['server auth', 'client auth', 'digital signature', 'key encipherment'],
      duration: duration(days), ...(renewalDays > 0 ? { renewBefore: duration(renewalDays) } : {}),
      privateKey: { algorithm: 'ECDSA', size: 256, encoding: 'PKCS8', rotationPolicy: 'Always' },
      issuerRef: { name: certManagerNames.caIssuer(c), kind: 'Issuer', group: 'cert-manager.io' },
    }));
  }
  return out;
}

export function isCertificateReady(cert: CertificateObject | undefined): boolean {
  return cert?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * `<cluster>-broker-certs` from the Secrets cert-manager wrote (text data, by Secret name): the CA's
 * certificate, the clients CA's, and `<pod>.pem` for each broker whose Secret holds a key and a
 * certificate (a broker whose certificate is not issued yet gets none until it is).
 */
export function composeBrokerCertificates(cluster: Cluster, replicas: number, secrets: ReadonlyMap<string, Record<string, string>>, clientsCaCert: string | undefined): Record<string, string> | undefined {
  const c = cluster.metadata.name!;
  const ca = secrets.get(certManagerNames.caSecret(c))?.['tls.crt'];
  if (!ca) return undefined;
  const data: Record<string, string> = { 'ca.crt': ca, ...(clientsCaCert ? { 'clients-ca.crt': clientsCaCert } : {}) };
  for (let i = 0; i < replicas; i++) {
    const s = secrets.get(certManagerNames.brokerSecret(c, i));
    if (!s?.['tls.key'] || !s['tls.crt']) continue;
    const withNewline = (pem: string) => (pem.endsWith('\n') ? pem : `${pem}\n`);
    data[`${c}-${i}.pem`] = `${withNewline(s['tls.key'])}${withNewline(s['tls.crt'])}`;
  }
  return data;
}

export class CertManagerMissingError extends Error {
  readonly code = 'BROOK_ERR_CERT_MANAGER_MISSING';
  constructor(message: string) {
    super(message);
    this.name = 'CertManagerMissingError';
  }
}
