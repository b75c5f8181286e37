import { describe, expect, test } from '@jest/globals';
import type { Cluster } from '../broker/k8s/index.ts';
import { CertManagerMissingError, certificateSource, certManagerObjects, composeBrokerCertificates } from './cert-manager.ts';

const cluster = (spec: Cluster['spec'], status?: Cluster['status']): Cluster => ({
  apiVersion: 'brook.dev/v1alpha1', kind: 'Cluster', metadata: { name: 'c', namespace: 'n', uid: 'u1' }, spec, ...(status ? { status } : {}),
});

describe('which source a Cluster\'s broker certificates come from', () => {
  test('auto: cert-manager when it is served, else the operator', () => {
    expect(certificateSource(cluster({}), true)).toBe('cert-manager');
    expect(certificateSource(cluster({}), false)).toBe('operator');
  });

  test('auto keeps the source in status: installing cert-manager later does not change a running cluster\'s CA', () => {
    expect(certificateSource(cluster({}, { certificates: { source: 'operator' } }), true)).toBe('operator');
    expect(certificateSource(cluster({ certificates: { issuer: 'auto' } }, { certificates: { source: 'cert-manager' } }), true)).toBe('cert-manager');
    expect(() => certificateSource(cluster({}, { certificates: { source: 'cert-manager' } }), false)).toThrow(CertManagerMissingError);
  });

  test('an explicit issuer wins; cert-manager asked for but absent is an error that says what to do', () => {
    expect(certificateSource(cluster({ certificates: { issuer: 'operator' } }), true)).toBe('operator');
    expect(certificateSource(cluster({ certificates: { issuer: 'cert-manager' } }, { certificates: { source: 'operator' } }), true)).toBe('cert-manager');
    expect(() => certificateSource(cluster({ certificates: { issuer: 'cert-manager' } }), false)).toThrow(/install cert-manager, or set issuer to operator or auto/);
  });
});

describe('what the operator asks of cert-manager', () => {
  test('a SelfSigned Issuer, a CA Certificate, a CA Issuer, and a Certificate per broker with its DNS names and addresses, durations from spec.certificates', () => {
    const objs = certManagerObjects(cluster({ certificates: { validityDays: 30, renewalDays: 5 } }), 2, (i) => (i === 1 ? ['203.0.113.7', 'kafka.example.com'] : []));
    expect(objs.map((o) => `${o.object.kind}/${o.object.metadata.name}`)).toEqual(['Issuer/c-selfsigned', 'Certificate/c-cluster-ca', 'Issuer/c-ca', 'Certificate/c-0', 'Certificate/c-1']);
    const spec = (i: number) => (objs[i]!.object as unknown as { spec: Record<string, unknown> }).spec;
    expect(spec(1)).toMatchObject({ isCA: true, secretName: 'c-cluster-ca-tls', duration: '3600h', renewBefore: '120h' });
    expect(spec(3)).toMatchObject({ secretName: 'c-0-tls', duration: '720h', renewBefore: '120h', issuerRef: { name: 'c-ca', kind: 'Issuer' } });
    expect(spec(3).dnsNames).toContain('c-0.c-brokers.n.svc');
    expect(spec(3).ipAddresses).toBeUndefined();
    expect(spec(4).dnsNames).toContain('kafka.example.com');
    expect(spec(4).ipAddresses).toEqual(['203.0.113.7']);
    for (const o of objs) expect(o.object.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Cluster', name: 'c', uid: 'u1' });
  });

  test('the composed Secret: key and certificate per issued broker, the CA, the clients CA; nothing before the CA is issued', () => {
    const c = cluster({});
    const secrets = new Map<string, Record<string, string>>([['c-0-tls', { 'tls.key': 'K0\n', 'tls.crt': 'C0' }], ['c-1-tls', { 'tls.crt': 'C1' }]]);
    expect(composeBrokerCertificates(c, 2, secrets, 'CLIENTS')).toBeUndefined();
    secrets.set('c-cluster-ca-tls', { 'tls.crt': 'CA', 'tls.key': 'CAKEY' });
    expect(composeBrokerCertificates(c, 2, secrets, 'CLIENTS')).toEqual({ 'ca.crt': 'CA', 'clients-ca.crt': 'CLIENTS', 'c-0.pem': 'K0\nC0\n' });
  });
});
