/**
 * KIP-368 re-authentication with a real client: a broker whose SASL sessions last
 * connections.max.reauth.ms = 2 s, and Kafka's ProducerPerformance sending at a fixed rate for
 * about 8 s over SASL_SSL (PLAIN). The Java client re-authenticates on its open connections
 * before each session ends; every record is acknowledged. Against Brook, the authentication count
 * shows the re-authentications. Also against Apache Kafka (BROOK_TEST_TARGET=kafka).
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBroker, stopAllBrokers, target, tempDir } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { makeTestPki } from '../harness/tls-pki.ts';
import type { TestPki } from '../harness/tls-pki.ts';
import { expectSuccess, kafkaTool, requireJava } from '../harness/tools.ts';

let broker: BrokerHandle;
let pki: TestPki;
let dir: string;

beforeAll(async () => {
  requireJava();
  dir = tempDir('brook-reauth-');
  pki = makeTestPki(dir);
  broker = await startBroker({
    listeners: [{ name: 'PLAINTEXT', protocol: 'PLAINTEXT' }, { name: 'SASL_SSL', protocol: 'SASL_SSL' }],
    set: {
      'ssl.keystore.type': 'PEM', 'ssl.keystore.location': pki.brokerKeystore,
      'sasl.enabled.mechanisms': 'PLAIN', 'connections.max.reauth.ms': '2000',
      'listener.name.sasl_ssl.plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_bob="bob-secret";',
    },
  });
}, 180_000);

afterAll(async () => {
  await stopAllBrokers();
});

test('the Java producer re-authenticates every ~2 s on its connections and every record of an 8 s run is acknowledged', async () => {
  const config = join(dir, 'plain.properties');
  writeFileSync(config, [
    'security.protocol=SASL_SSL', 'sasl.mechanism=PLAIN',
    'sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="bob" password="bob-secret";',
    'ssl.truststore.type=PEM', `ssl.truststore.location=${pki.caCert}`,
  ].join('\n') + '\n');
  const topic = `reauth-${process.pid}`;
  expectSuccess(await kafkaTool('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', `127.0.0.1:${broker.listenerPorts!.PLAINTEXT}`,
    '--create', '--topic', topic, '--partitions', '1', '--replication-factor', '1']));
  const r = expectSuccess(await kafkaTool('org.apache.kafka.tools.ProducerPerformance', ['--topic', topic, '--num-records', '1600', '--record-size', '100',
    '--throughput', '200', '--producer-props', `bootstrap.servers=127.0.0.1:${broker.listenerPorts!.SASL_SSL}`, 'acks=all', '--command-config', config], { timeoutMs: 120_000 }));
  expect(r.stdout.toString()).toMatch(/^1600 records sent/m);
  if (target === 'brook') {
    const metrics = await (await fetch(broker.metricsUrl)).text();
    const successes = Number(/^brook_authentications_total\{listener="SASL_SSL",mechanism="PLAIN",result="success"[^}]*\} (\d+)/m.exec(metrics)?.[1] ?? 0);
    // Two authentications open the producer's bootstrap and broker connections; any more are
    // re-authentications on an open connection (an expired session would have been closed: no
    // sasl_state closes below). About one per 2 s is expected; a loaded machine slows the client.
    expect(successes).toBeGreaterThanOrEqual(3);
    expect(metrics).not.toMatch(/brook_connections_closed_malformed_total\{reason="sasl_state"/);
  }
}, 180_000);
