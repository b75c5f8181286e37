/**
 * Certificate rotation under load (issue 15, item 2; strimzi#9994): a broker's SSL key store file
 * is replaced the way a Kubernetes Secret volume replaces it (write aside, rename over) while a
 * kafkajs producer and consumer stream over TLS. New handshakes get the new certificate, the
 * established connections are not dropped (no send fails, the consumer sees every record in
 * order), and the broker process never restarts. A key store replaced by garbage is not taken:
 * the last good certificate keeps serving. Kafka's own way works too: kafka-configs setting
 * listener.name.ssl.ssl.keystore.location on the broker switches new handshakes to that key store.
 * Brook only: Apache Kafka does not watch key store files.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import tls from 'node:tls';
import kafkajs from 'kafkajs';
import { startBroker, stopAllBrokers, target, tempDir } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { makeTestPki, rotateBrokerCertificate } from '../harness/tls-pki.ts';
import { expectSuccess, kafkaTool } from '../harness/tools.ts';
import type { TestPki } from '../harness/tls-pki.ts';

const { Kafka, logLevel } = kafkajs;

let broker: BrokerHandle;
let pki: TestPki;
let keystore: string;
let sslBootstrap: string;

beforeAll(async () => {
  if (target !== 'brook') throw new Error('tls-rotation tests Brook\'s file watch; Apache Kafka reloads key stores only through IncrementalAlterConfigs');
  const dir = tempDir('brook-rotation-');
  pki = makeTestPki(dir);
  keystore = join(dir, 'live.keystore.pem');
  copyFileSync(pki.brokerKeystore, keystore);
  broker = await startBroker({
    listeners: [{ name: 'PLAINTEXT', protocol: 'PLAINTEXT' }, { name: 'SSL', protocol: 'SSL' }],
    set: {
      'ssl.keystore.type': 'PEM', 'ssl.keystore.location': keystore, 'ssl.truststore.type': 'PEM', 'ssl.truststore.location': pki.caCert,
      'ssl.reload.check.interval.ms': '200', 'auto.create.topics.enable': 'false',
    },
  });
  sslBootstrap = `127.0.0.1:${broker.listenerPorts!.SSL}`;
}, 120_000);

afterAll(async () => {
  await stopAllBrokers();
});

/** The serial number of the certificate a new TLS handshake gets. */
function servedSerial(): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: broker.listenerPorts!.SSL!, ca: readFileSync(pki.caCert), checkServerIdentity: () => undefined }, () => {
      const serial = s.getPeerCertificate().serialNumber;
      s.destroy();
      resolve(serial);
    });
    s.once('error', reject);
  });
}

const serialOf = (certFile: string) => new X509Certificate(readFileSync(certFile)).serialNumber;

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${String(v)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function reloads(): Promise<number> {
  const text = await (await fetch(broker.metricsUrl)).text();
  return Number(/^brook_tls_reloads_total\{listener="SSL"[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
}

test('a certificate rotated under load: producer and consumer keep going without an error, new handshakes get the new certificate, the broker never restarts', async () => {
  const pid = broker.pid;
  expect(await servedSerial()).toBe(serialOf(pki.brokerCert));
  const kafka = new Kafka({ clientId: 'rotation', brokers: [sslBootstrap], ssl: { ca: [readFileSync(pki.caCert, 'utf8')] }, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `rotation-${process.pid}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();

  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: `rotation-${process.pid}` });
  let crashes = 0;
  consumer.on(consumer.events.CRASH, () => { crashes++; });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const received: number[] = [];
  await consumer.run({ eachMessage: async ({ message }) => { received.push(Number(message.value!.toString())); } });

  let sent = 0;
  let sendErrors = 0;
  let producing = true;
  const load = (async () => {
    while (producing) {
      const batch = Array.from({ length: 20 }, (_, i) => ({ value: String(sent + i) }));
      try {
        await producer.send({ topic, acks: -1, messages: batch });
        sent += batch.length;
      } catch {
        sendErrors++;
      }
    }
  })();

  await until('records flowing before the rotation', async () => received.length, (n) => n >= 200);
  const rotated = rotateBrokerCertificate(pki, 'broker-2');
  writeFileSync(`${keystore}.tmp`, readFileSync(rotated.keystore));
  renameSync(`${keystore}.tmp`, keystore);
  await until('the new certificate served to new handshakes', servedSerial, (s) => s === serialOf(rotated.cert));
  const afterRotation = sent;
  await until('records flowing after the rotation', async () => sent, (n) => n >= afterRotation + 400);

  // A broken key store is not taken: the last good certificate keeps serving.
  writeFileSync(`${keystore}.tmp`, '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n');
  renameSync(`${keystore}.tmp`, keystore);
  await new Promise((r) => setTimeout(r, 1_000));
  expect(await servedSerial()).toBe(serialOf(rotated.cert));

  producing = false;
  await load;
  await until('every record consumed', async () => received.length, (n) => n >= sent, 60_000);
  await producer.disconnect();
  await consumer.disconnect();

  expect(sendErrors).toBe(0);
  expect(crashes).toBe(0);
  expect(received.slice(0, sent)).toEqual(Array.from({ length: sent }, (_, i) => i));
  expect(await reloads()).toBe(1);
  expect(broker.exited()).toBe(false);
  expect(broker.pid).toBe(pid);
  expect(broker.stderr()).toMatch(/reloading its TLS files failed \(the previous certificate stays in use\)/);
}, 180_000);

test('kafka-configs --alter listener.name.ssl.ssl.keystore.location: new handshakes use the new key store, without a restart (Kafka\'s dynamic SSL config)', async () => {
  const pid = broker.pid;
  const next = rotateBrokerCertificate(pki, 'broker-dynamic');
  expect(await servedSerial()).not.toBe(serialOf(next.cert));
  expectSuccess(await kafkaTool('org.apache.kafka.tools.ConfigCommand', ['--bootstrap-server', `127.0.0.1:${broker.listenerPorts!.PLAINTEXT}`, '--alter',
    '--entity-type', 'brokers', '--entity-name', '0', '--add-config', `listener.name.ssl.ssl.keystore.location=${next.keystore}`]));
  await until('the altered key store served to new handshakes', servedSerial, (s) => s === serialOf(next.cert));
  expect(broker.pid).toBe(pid);
  expect(broker.exited()).toBe(false);
}, 120_000);
