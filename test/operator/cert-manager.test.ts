/**
 * The operator with cert-manager installed (issue 15 item 5), against a real API server with
 * cert-manager's CRDs and the real cert-manager controller (test/k8s/cert-manager.ts): a Cluster
 * with a TLS listener gets Issuers and Certificates from the operator, cert-manager issues them,
 * and the operator composes `<cluster>-broker-certs` (the Secret the broker pods mount) from the
 * Secrets cert-manager wrote; a renewal by cert-manager reaches that Secret. A Cluster that asks
 * for the operator's CA (spec.certificates.issuer: operator) keeps it, cert-manager or not.
 * (Without cert-manager's CRDs the operator's CA is used: test/operator/users.test.ts.)
 */
import { beforeAll, describe, expect, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { startBroker, stopAllBrokers, tempDir } from '../harness/brook.ts';
import type { BackgroundProcess } from '../harness/background.ts';
import { installCertManagerCrds, startCertManager } from '../k8s/cert-manager.ts';
import { adminKube, createNamespace, eventually, resources, startOperator } from './harness.ts';
import { useOperatorApiServer } from './jest.ts';
import type { Cluster, Kube, KubeObject } from '../../broker/k8s/index.ts';
import { certManagerResources, type CertificateObject } from '../../operator/cert-manager.ts';
import type { Operator } from '../../operator/operator.ts';

const { api, cleanup } = useOperatorApiServer();
const ns = 'certs';
let kube: Kube;
let operator: Operator;
let certManager: BackgroundProcess;

interface SecretObject extends KubeObject { data?: Record<string, string> }
const text = (s: SecretObject | undefined, k: string) => (s?.data?.[k] === undefined ? undefined : Buffer.from(s.data[k]!, 'base64').toString('utf8'));
const secret = (name: string) => kube.getOrUndefined<SecretObject>(resources.Secret, ns, name);
const leafOf = (pem: string) => new X509Certificate(pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----')));
const clusterStatus = async (name: string) => (await kube.get<Cluster & KubeObject>(resources.Cluster, ns, name)).status;

function withLog<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  return eventually(probe, what, timeoutMs, 200).catch((err: Error) => {
    throw new Error(`${err.message}\ncert-manager controller log (tail):\n${certManager.stderr().split('\n').slice(-30).join('\n')}`);
  });
}

beforeAll(async () => {
  kube = adminKube(api());
  await installCertManagerCrds(api());
  await createNamespace(kube, ns);
  certManager = startCertManager(api(), { clusterResourceNamespace: ns });
  cleanup(async () => { await certManager.stop(); });
  operator = await startOperator(api(), { namespace: ns });
  cleanup(() => operator.stop());
}, 900_000);

describe('a TLS Cluster when cert-manager is installed', () => {
  test('its broker certificates come from cert-manager: a CA Certificate and one Certificate per broker with the pod\'s DNS names, composed into <cluster>-broker-certs; status.certificates says so', async () => {
    await kube.create(resources.Cluster, {
      metadata: { name: 'tls', namespace: ns },
      spec: { replicas: 2, listeners: [{ name: 'clients', port: 9093, tls: true, authentication: 'scram-sha-512' }], certificates: { validityDays: 30, renewalDays: 5 } },
    });
    const certs = await withLog('the composed broker certificates', async () => {
      const s = await secret('tls-broker-certs');
      return s?.data?.['tls-0.pem'] && s.data['tls-1.pem'] ? s : undefined;
    }, 120_000);
    expect(Object.keys(certs.data!).sort()).toEqual(['ca.crt', 'clients-ca.crt', 'tls-0.pem', 'tls-1.pem']);

    // The CA is the one cert-manager made (its Secret carries cert-manager's annotations), not the operator's.
    const caSecret = (await secret('tls-cluster-ca-tls'))!;
    expect(caSecret.metadata.annotations?.['cert-manager.io/certificate-name']).toBe('tls-cluster-ca');
    expect(caSecret.metadata.annotations?.['cert-manager.io/issuer-name']).toBe('tls-selfsigned');
    expect(await secret('tls-cluster-ca')).toBeUndefined();
    const ca = new X509Certificate(text(caSecret, 'tls.crt')!);
    expect(ca.ca).toBe(true);
    expect(text(certs, 'ca.crt')).toBe(text(caSecret, 'tls.crt'));

    for (const i of [0, 1]) {
      const pem = text(certs, `tls-${i}.pem`)!;
      expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      const leaf = leafOf(pem);
      expect(leaf.checkIssued(ca) && leaf.verify(ca.publicKey)).toBe(true);
      expect(leaf.checkHost(`tls-${i}.tls-brokers.${ns}.svc`)).toBe(`tls-${i}.tls-brokers.${ns}.svc`);
      expect(leaf.checkHost(`tls-bootstrap.${ns}.svc`)).toBe(`tls-bootstrap.${ns}.svc`);
      // Exactly what cert-manager wrote into the broker's own Secret.
      const issued = (await secret(`tls-${i}-tls`))!;
      expect(issued.metadata.annotations?.['cert-manager.io/issuer-name']).toBe('tls-ca');
      expect(pem).toBe(`${text(issued, 'tls.key')}${text(issued, 'tls.crt')}`);
      const cert = await kube.get<CertificateObject>(certManagerResources.Certificate, ns, `tls-${i}`);
      expect(cert.spec?.dnsNames).toEqual(expect.arrayContaining([`tls-${i}.tls-brokers.${ns}.svc`, `tls-${i}.tls-brokers.${ns}.svc.cluster.local`, `tls-${i}.tls-brokers`, 'tls-bootstrap', `tls-bootstrap.${ns}.svc`]));
      expect(cert.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Cluster', name: 'tls' });
    }
    const days = (new Date(leafOf(text(certs, 'tls-0.pem')!).validTo).getTime() - new Date(leafOf(text(certs, 'tls-0.pem')!).validFrom).getTime()) / 86_400_000;
    expect(Math.round(days)).toBe(30);

    // The pods mount the composed Secret, as on the operator's own path.
    const sts = await kube.get<KubeObject & { spec: { template: { spec: { volumes: Array<{ name: string; secret?: { secretName: string } }> } } } }>(resources.StatefulSet, ns, 'tls');
    expect(sts.spec.template.spec.volumes.find((v) => v.name === 'tls')?.secret?.secretName).toBe('tls-broker-certs');
    await eventually(async () => (await clusterStatus('tls'))?.certificates?.readyCertificates === 3, 'status: 3 ready certificates', 20_000, 200);
    expect((await clusterStatus('tls'))?.certificates).toEqual({ source: 'cert-manager', certificates: 3, readyCertificates: 3, message: 'every certificate issued' });
  }, 180_000);

  test('a TLS User of that Cluster gets the cert-manager CA to trust the brokers, and a client certificate from the operator\'s clients CA', async () => {
    await kube.mergePatch(resources.Cluster, ns, 'tls', { spec: { listeners: [{ name: 'clients', port: 9093, tls: true, authentication: 'scram-sha-512' }, { name: 'mtls', port: 9094, tls: true, authentication: 'tls' }] } });
    await kube.create(resources.User, { metadata: { name: 'ivy', namespace: ns }, spec: { cluster: 'tls', authentication: { type: 'tls' } } });
    const s = await eventually(() => secret('ivy'), 'ivy\'s Secret', 30_000, 200);
    expect(text(s, 'ca.crt')).toBe(text(await secret('tls-cluster-ca-tls'), 'tls.crt'));
    const clientsCa = new X509Certificate(text(await secret('tls-clients-ca'), 'ca.crt')!);
    const cert = new X509Certificate(text(s, 'user.crt')!);
    expect(cert.subject).toBe('CN=ivy');
    expect(cert.checkIssued(clientsCa) && cert.verify(clientsCa.publicKey)).toBe(true);
    expect(text(await secret('tls-broker-certs'), 'clients-ca.crt')).toBe(clientsCa.toString());
  }, 60_000);

  test('renewal: when cert-manager re-issues a broker certificate, the composed Secret gets the new one, the pod template stays as it was, and a broker serving the Secret\'s files serves the new certificate without restarting', async () => {
    const before = leafOf(text(await secret('tls-broker-certs'), 'tls-0.pem')!);
    // A broker with the files the Secret volume would give pod tls-0 (the kubelet replaces them atomically).
    const dir = tempDir('brook-operator-cert-manager-');
    cleanup(() => stopAllBrokers());
    const mount = async () => {
      const s = (await secret('tls-broker-certs'))!;
      for (const f of ['tls-0.pem', 'ca.crt']) { writeFileSync(join(dir, `${f}.new`), text(s, f)!); renameSync(join(dir, `${f}.new`), join(dir, f)); }
    };
    await mount();
    const broker = await startBroker({
      listeners: [{ name: 'PLAINTEXT', protocol: 'PLAINTEXT' }, { name: 'SSL', protocol: 'SSL' }],
      set: { 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': join(dir, 'tls-0.pem'), 'ssl.truststore.type': 'PEM', 'ssl.truststore.location': join(dir, 'ca.crt'), 'ssl.reload.check.interval.ms': '200' },
    });
    const ca = text(await secret('tls-broker-certs'), 'ca.crt')!;
    const servedSerial = () => new Promise<string>((resolve, reject) => {
      const sock = tls.connect({ host: '127.0.0.1', port: broker.listenerPorts!.SSL!, ca, servername: `tls-0.tls-brokers.${ns}.svc` }, () => { resolve(sock.getPeerCertificate().serialNumber); sock.destroy(); });
      sock.once('error', reject);
    });
    expect(await servedSerial()).toBe(before.serialNumber);
    const other = text(await secret('tls-broker-certs'), 'tls-1.pem');
    const sts = await kube.get<KubeObject>(resources.StatefulSet, ns, 'tls');
    // As `cmctl renew` does: the Issuing condition set True.
    const cert = await kube.get<CertificateObject>(certManagerResources.Certificate, ns, 'tls-0');
    const conditions = (cert.status?.conditions ?? []).filter((c) => c.type !== 'Issuing');
    conditions.push({ type: 'Issuing', status: 'True', reason: 'ManuallyTriggered', message: 'Certificate re-issuance manually triggered', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } as never);
    await kube.mergePatch(certManagerResources.Certificate, ns, 'tls-0', { status: { conditions } }, 'status');
    const issued = await withLog('cert-manager re-issuing tls-0', async () => {
      const s = await secret('tls-0-tls');
      return s && leafOf(text(s, 'tls.crt')!).serialNumber !== before.serialNumber ? s : undefined;
    }, 120_000);
    // The Certificate's new revision brings the Cluster back at once (the Certificate informer),
    // well before the 30 s resync would.
    const renewed = await eventually(async () => {
      const pem = text(await secret('tls-broker-certs'), 'tls-0.pem');
      return pem && leafOf(pem).serialNumber !== before.serialNumber ? pem : undefined;
    }, 'the renewed certificate in the composed Secret', 15_000, 100);
    expect(renewed).toBe(`${text(issued, 'tls.key')}${text(issued, 'tls.crt')}`);
    expect(leafOf(renewed).verify(new X509Certificate(text(await secret('tls-broker-certs'), 'ca.crt')!).publicKey)).toBe(true);
    expect(text(await secret('tls-broker-certs'), 'tls-1.pem')).toBe(other);
    expect((await kube.get<KubeObject>(resources.StatefulSet, ns, 'tls')).metadata.generation).toBe(sts.metadata.generation);
    await mount();
    const pid = broker.pid;
    await eventually(async () => (await servedSerial()) === leafOf(renewed).serialNumber, 'the broker serving the renewed certificate', 30_000, 200);
    expect(broker.pid).toBe(pid);
    expect(broker.exited()).toBe(false);
  }, 180_000);

  test('spec.certificates.issuer operator: the operator\'s own CA, no Certificates, status.certificates.source operator', async () => {
    await kube.create(resources.Cluster, {
      metadata: { name: 'own', namespace: ns },
      spec: { replicas: 1, listeners: [{ name: 'clients', port: 9093, tls: true }], certificates: { issuer: 'operator' } },
    });
    const certs = await eventually(() => secret('own-broker-certs'), 'the broker certificates', 30_000, 200);
    const ca = new X509Certificate(text(await secret('own-cluster-ca'), 'ca.crt')!);
    expect(leafOf(text(certs, 'own-0.pem')!).verify(ca.publicKey)).toBe(true);
    await eventually(async () => (await clusterStatus('own'))?.certificates?.source === 'operator', 'status.certificates.source operator', 20_000, 200);
    const owned = (await kube.list<CertificateObject>(certManagerResources.Certificate, ns)).items.filter((c) => c.metadata.name.startsWith('own'));
    expect(owned).toEqual([]);
  }, 60_000);

  test('scaling down deletes the Certificates of the brokers that went, and their entries in the composed Secret', async () => {
    await kube.mergePatch(resources.Cluster, ns, 'tls', { spec: { replicas: 1 } });
    // The StatefulSet shrinks once the (brokerless) rebalancer lets it; the Certificate follows.
    await withLog('tls-1 Certificate deleted', async () => !(await kube.getOrUndefined(certManagerResources.Certificate, ns, 'tls-1')), 60_000);
    await eventually(async () => !text(await secret('tls-broker-certs'), 'tls-1.pem'), 'tls-1.pem dropped', 20_000, 200);
    expect(text(await secret('tls-broker-certs'), 'tls-0.pem')).toBeDefined();
    await eventually(async () => (await clusterStatus('tls'))?.certificates?.certificates === 2, 'status: 2 certificates', 20_000, 200);
  }, 90_000);
});
