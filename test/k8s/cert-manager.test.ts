/**
 * cert-manager for real (issue 15, item 5): the cert-manager v1.21 controller, built from the Go
 * module proxy (test/k8s/build.mjs ensureCertManager), runs out of cluster against a real
 * kube-apiserver with cert-manager's own CRDs. The chain Brook would ask of it — a SelfSigned
 * Issuer, a CA Certificate, a CA Issuer from that Secret, a broker Certificate — ends in a Secret
 * that cert-manager wrote (its cert-manager.io/* annotations say so); a Brook broker started from
 * that Secret's files serves TLS that a kafkajs client trusting the Secret's ca.crt connects to.
 * Renewal as `cmctl renew` triggers it (the Certificate's Issuing condition set True): cert-manager
 * writes a new certificate into the same Secret, the files are replaced the way a Secret volume
 * replaces them, and the broker serves the new certificate without restarting.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import kafkajs from 'kafkajs';
import { makeCa } from '../../operator/pki.ts';
import { installCertManagerCrds, startCertManager } from './cert-manager.ts';
import { kubectl, startApiServer, type ApiServer } from './envtest.ts';
import type { BackgroundProcess } from '../harness/background.ts';
import { startBroker, stopAllBrokers, tempDir, type BrokerHandle } from '../harness/brook.ts';

const { Kafka, logLevel } = kafkajs;
const NS = 'certs';

let api: ApiServer;
let controller: BackgroundProcess;
let dir: string;

async function ok(args: readonly string[], input?: string): Promise<string> {
  const r = await kubectl(api, args, { input, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

const apply = (obj: unknown) => ok(['apply', '-f', '-'], JSON.stringify(obj));

interface SecretObject { metadata: { annotations?: Record<string, string> }; data?: Record<string, string> }

async function secret(name: string): Promise<SecretObject | undefined> {
  const r = await kubectl(api, ['get', 'secret', name, '-n', NS, '-o', 'json']);
  return r.code === 0 ? JSON.parse(r.stdout.toString()) as SecretObject : undefined;
}

const text = (s: SecretObject, key: string) => Buffer.from(s.data?.[key] ?? '', 'base64').toString('utf8');

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms\ncert-manager controller log (tail):\n${controller?.stderr().split('\n').slice(-40).join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  api = await startApiServer();
  dir = tempDir('brook-cert-manager-');
  await installCertManagerCrds(api);
  await ok(['create', 'namespace', NS]);
  controller = startCertManager(api, { clusterResourceNamespace: NS });
}, 900_000);

afterAll(async () => {
  await stopAllBrokers();
  await controller?.stop();
  await api?.stop();
});

describe('the cert-manager controller issues a broker certificate a Brook broker serves', () => {
  let broker: BrokerHandle;
  let keystore: string;
  let truststore: string;
  let firstSerial: string;

  /** The serial number of the certificate a new TLS handshake with the broker gets, verified against `ca`. */
  function servedSerial(ca: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: broker.listenerPorts!.SSL!, ca, servername: 'broker-0.brook.test' }, () => {
        const serial = s.getPeerCertificate().serialNumber;
        s.destroy();
        resolve(serial);
      });
      s.once('error', reject);
    });
  }

  /** The key store file as a Secret volume would present it: key then certificate, replaced atomically. */
  function writeKeystore(s: SecretObject): void {
    writeFileSync(`${keystore}.new`, `${text(s, 'tls.key')}${text(s, 'tls.crt')}`);
    renameSync(`${keystore}.new`, keystore);
  }

  test('SelfSigned Issuer → CA Certificate → CA Issuer → broker Certificate: the Secret is cert-manager\'s (annotations), signed by the CA it names in ca.crt', async () => {
    await apply({ apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: 'selfsigned', namespace: NS }, spec: { selfSigned: {} } });
    await apply({
      apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'brook-ca', namespace: NS },
      spec: { isCA: true, commonName: 'brook test cluster CA', secretName: 'brook-ca', duration: '2160h', privateKey: { algorithm: 'ECDSA', size: 256 }, issuerRef: { name: 'selfsigned', kind: 'Issuer' } },
    });
    await apply({ apiVersion: 'cert-manager.io/v1', kind: 'Issuer', metadata: { name: 'brook-ca', namespace: NS }, spec: { ca: { secretName: 'brook-ca' } } });
    await apply({
      apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'broker-0', namespace: NS },
      spec: {
        secretName: 'broker-0-tls', commonName: 'broker-0', dnsNames: ['broker-0.brook.test'], ipAddresses: ['127.0.0.1'],
        usages: ['server auth', 'client auth', 'digital signature'], duration: '720h', renewBefore: '240h',
        privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' }, issuerRef: { name: 'brook-ca', kind: 'Issuer' },
      },
    });
    const s = await until('the broker certificate Secret', async () => {
      const got = await secret('broker-0-tls');
      return got?.data?.['tls.crt'] ? got : undefined;
    }, 120_000);
    expect(s.metadata.annotations).toMatchObject({
      'cert-manager.io/certificate-name': 'broker-0', 'cert-manager.io/issuer-name': 'brook-ca', 'cert-manager.io/issuer-kind': 'Issuer',
      'cert-manager.io/common-name': 'broker-0', 'cert-manager.io/alt-names': 'broker-0.brook.test', 'cert-manager.io/ip-sans': '127.0.0.1',
    });
    const leaf = new X509Certificate(text(s, 'tls.crt'));
    const ca = new X509Certificate(text(s, 'ca.crt'));
    const caSecret = (await secret('brook-ca'))!;
    expect(text(caSecret, 'tls.crt')).toBe(text(s, 'ca.crt'));
    expect(leaf.checkIssued(ca) && leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toContain('DNS:broker-0.brook.test');
    firstSerial = leaf.serialNumber;
  }, 180_000);

  test('a broker started from that Secret\'s files serves TLS: a kafkajs client trusting its ca.crt produces and consumes', async () => {
    const s = (await secret('broker-0-tls'))!;
    keystore = join(dir, 'broker-0.pem');
    truststore = join(dir, 'ca.crt');
    writeKeystore(s);
    writeFileSync(truststore, text(s, 'ca.crt'));
    broker = await startBroker({
      listeners: [{ name: 'PLAINTEXT', protocol: 'PLAINTEXT' }, { name: 'SSL', protocol: 'SSL' }],
      set: {
        'ssl.keystore.type': 'PEM', 'ssl.keystore.location': keystore, 'ssl.truststore.type': 'PEM', 'ssl.truststore.location': truststore,
        'ssl.reload.check.interval.ms': '200',
      },
    });
    const ca = text(s, 'ca.crt');
    expect(await servedSerial(ca)).toBe(firstSerial);
    const kafka = new Kafka({
      clientId: 'cert-manager-test', brokers: [`127.0.0.1:${broker.listenerPorts!.SSL}`], logLevel: logLevel.NOTHING,
      ssl: { ca: [ca], servername: 'broker-0.brook.test' },
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'tls-check', numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'tls-check', acks: -1, messages: [{ value: 'issued by cert-manager' }] });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: 'cert-manager-test' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'tls-check', fromBeginning: true });
    const got = await new Promise<string>((resolve) => { void consumer.run({ eachMessage: async ({ message }) => resolve(message.value!.toString()) }); });
    await consumer.disconnect();
    expect(got).toBe('issued by cert-manager');
    // A client trusting another CA is refused the same broker (the trust check is real).
    await expect(servedSerial(makeCa({ subject: [['CN', 'another CA']], days: 1, now: new Date() }).cert)).rejects.toThrow(/self-signed|unable to verify|issuer/i);
  }, 120_000);

  test('renewal (cmctl renew: the Issuing condition set True): cert-manager re-issues into the same Secret and the broker serves the new certificate without restarting', async () => {
    const pid = broker.pid;
    const cert = JSON.parse(await ok(['get', 'certificate', 'broker-0', '-n', NS, '-o', 'json'])) as { status?: { conditions?: Array<Record<string, string>> } };
    const conditions = (cert.status?.conditions ?? []).filter((c) => c.type !== 'Issuing');
    conditions.push({ type: 'Issuing', status: 'True', reason: 'ManuallyTriggered', message: 'Certificate re-issuance manually triggered', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
    await ok(['patch', 'certificate', 'broker-0', '-n', NS, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { conditions } })]);
    const renewed = await until('a re-issued certificate in the Secret', async () => {
      const s = await secret('broker-0-tls');
      return s && new X509Certificate(text(s, 'tls.crt')).serialNumber !== firstSerial ? s : undefined;
    }, 120_000);
    const serial = new X509Certificate(text(renewed, 'tls.crt')).serialNumber;
    expect(renewed.metadata.annotations?.['cert-manager.io/issuer-name']).toBe('brook-ca');
    writeKeystore(renewed);
    await until('the broker serving the renewed certificate', async () => ((await servedSerial(text(renewed, 'ca.crt'))) === serial ? true : undefined), 30_000);
    expect(broker.pid).toBe(pid);
    expect(broker.exited()).toBe(false);
    expect(readFileSync(keystore, 'utf8')).toContain(text(renewed, 'tls.crt').trim());
  }, 180_000);
});
