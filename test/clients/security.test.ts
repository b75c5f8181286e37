/**
 * TLS and SASL with real clients (issue 15, items 1-3), against a real broker process — or, with
 * BROOK_TEST_TARGET=kafka, against Apache Kafka configured the same way (the same --set keys are
 * Kafka's broker configs). Listeners: PLAINTEXT (administration), SASL_SSL (PLAIN and
 * SCRAM-SHA-512) and SSL with ssl.client.auth=required (mTLS). Certificates come from openssl
 * (test/harness/tls-pki.ts); SCRAM users are created with kafka-configs, as an operator would.
 *
 * Proves: kcat (librdkafka), kafkajs and the Java client and CLI produce and consume over SASL_SSL
 * with SCRAM-SHA-512 and PLAIN and over mTLS; wrong passwords are refused with Kafka's
 * SASL_AUTHENTICATION_FAILED messages; untrusted client certificates and CAs are refused; requests
 * before authentication and garbage SASL tokens or TLS records close the connection, and the broker
 * keeps serving.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import type { KafkaConfig } from 'kafkajs';
import { KafkaConnection } from '../../broker/client/index.ts';
import { decodeResponse, encodeRequest } from '../../broker/protocol/index.ts';
import { startBroker, stopAllBrokers, target, tempDir } from '../harness/brook.ts';
import type { BrokerHandle } from '../harness/brook.ts';
import { makeTestPki } from '../harness/tls-pki.ts';
import type { TestPki } from '../harness/tls-pki.ts';
import { expectSuccess, kafkaTool, kcat, requireJava, requireKcat } from '../harness/tools.ts';
import { WireConnection } from '../harness/wire.ts';

const { Kafka, logLevel } = kafkajs;

let broker: BrokerHandle;
let pki: TestPki;
let dir: string;
let plaintext: string;
let saslSsl: string;
let ssl: string;

const SCRAM_FAILED = 'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512';
const PLAIN_FAILED = 'Authentication failed: Invalid username or password';

beforeAll(async () => {
  requireKcat();
  requireJava();
  dir = tempDir('brook-security-');
  pki = makeTestPki(dir);
  broker = await startBroker({
    listeners: [{ name: 'PLAINTEXT', protocol: 'PLAINTEXT' }, { name: 'SASL_SSL', protocol: 'SASL_SSL' }, { name: 'SSL', protocol: 'SSL' }],
    set: {
      'ssl.keystore.type': 'PEM', 'ssl.keystore.location': pki.brokerKeystore,
      'ssl.truststore.type': 'PEM', 'ssl.truststore.location': pki.caCert,
      'listener.name.ssl.ssl.client.auth': 'required',
      'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-512',
      'listener.name.sasl_ssl.plain.sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required user_bob="bob-secret";',
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'auto.create.topics.enable': 'true',
    },
  });
  plaintext = `127.0.0.1:${broker.listenerPorts!.PLAINTEXT}`;
  saslSsl = `127.0.0.1:${broker.listenerPorts!.SASL_SSL}`;
  ssl = `127.0.0.1:${broker.listenerPorts!.SSL}`;
  // SCRAM users, the operator's way: kafka-configs over the admin listener.
  expectSuccess(await kafkaTool('org.apache.kafka.tools.ConfigCommand', ['--bootstrap-server', plaintext, '--alter', '--entity-type', 'users', '--entity-name', 'alice',
    '--add-config', 'SCRAM-SHA-512=[iterations=8192,password=alice-secret]']));
  // Kafka applies the credential through its metadata log: wait until it authenticates (kafkajs,
  // whose SCRAM both brokers accept; see the kcat SCRAM test for librdkafka 2.0).
  const deadline = Date.now() + 30_000;
  for (;;) {
    const admin = new Kafka({ brokers: [saslSsl], ssl: { ca: [readFileSync(pki.caCert, 'utf8')] }, sasl: { mechanism: 'scram-sha-512', username: 'alice', password: 'alice-secret' }, logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
    const ok = await admin.connect().then(() => true, () => false);
    await admin.disconnect();
    if (ok) break;
    if (Date.now() > deadline) throw new Error('alice cannot authenticate (kafkajs, SCRAM-SHA-512) 30 s after kafka-configs created her credential');
    await new Promise((r2) => setTimeout(r2, 500));
  }
}, 240_000);

afterAll(async () => {
  await stopAllBrokers();
});

function scramArgs(user: string, password: string): string[] {
  return ['-X', 'security.protocol=SASL_SSL', '-X', 'sasl.mechanisms=SCRAM-SHA-512', '-X', `sasl.username=${user}`, '-X', `sasl.password=${password}`, '-X', `ssl.ca.location=${pki.caCert}`];
}
function plainArgs(user: string, password: string): string[] {
  return ['-X', 'security.protocol=SASL_SSL', '-X', 'sasl.mechanisms=PLAIN', '-X', `sasl.username=${user}`, '-X', `sasl.password=${password}`, '-X', `ssl.ca.location=${pki.caCert}`];
}
function mtlsArgs(cert: string, key: string, ca = pki.caCert): string[] {
  return ['-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${ca}`, '-X', `ssl.certificate.location=${cert}`, '-X', `ssl.key.location=${key}`];
}

let seq = 0;
const topicName = (what: string) => `sec-${what}-${process.pid}-${seq++}`;

/** Produces `lines` with kcat, then reads the topic back to its end; returns the values. */
async function kcatRoundTrip(bootstrap: string, producerArgs: string[], consumerArgs: string[], lines: string[]): Promise<string[]> {
  const topic = topicName('kcat');
  expectSuccess(await kcat(['-b', bootstrap, ...producerArgs, '-P', '-t', topic, '-p', '0'], { input: lines.join('\n') + '\n' }));
  const r = expectSuccess(await kcat(['-b', bootstrap, ...consumerArgs, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-f', '%s\\n']));
  return r.stdout.toString('utf8').split('\n').filter(Boolean);
}

function javaConfig(name: string, lines: string[]): string {
  const path = join(dir, `${name}.properties`);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

const javaScram = (user: string, password: string) => javaConfig(`scram-${user}-${password}`, [
  'security.protocol=SASL_SSL', 'sasl.mechanism=SCRAM-SHA-512',
  `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${user}" password="${password}";`,
  'ssl.truststore.type=PEM', `ssl.truststore.location=${pki.caCert}`,
]);
const javaMtls = (keystore: string) => javaConfig(`mtls-${keystore.replace(/\W/g, '')}`, [
  'security.protocol=SSL', 'ssl.truststore.type=PEM', `ssl.truststore.location=${pki.caCert}`, 'ssl.keystore.type=PEM', `ssl.keystore.location=${keystore}`,
]);

describe('kcat (librdkafka)', () => {
  test('SASL_SSL with SCRAM-SHA-512: a user made with kafka-configs produces and consumes (Apache Kafka 4.1 refuses librdkafka 2.0\'s SCRAM)', async () => {
    const lines = ['scram-1', 'scram-2', randomBytes(8).toString('hex')];
    if (target === 'kafka') {
      // librdkafka before 2.6.1 sends its nonce twice in the client-final message (librdkafka#4895);
      // Kafka 4.x compares the nonce strictly (CVE-2024-56128) and refuses it. Brook accepts it as
      // Kafka 3.8.1-3.9 did (endsWith: the server's fresh nonce is still required and signed).
      const r = await kcat(['-b', saslSsl, ...scramArgs('alice', 'alice-secret'), '-L', '-m', '10']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`SASL authentication error: ${SCRAM_FAILED}`);
      return;
    }
    expect(await kcatRoundTrip(saslSsl, scramArgs('alice', 'alice-secret'), scramArgs('alice', 'alice-secret'), lines)).toEqual(lines);
  });

  test('SASL_SSL with PLAIN: a user of the listener\'s JAAS user list produces and consumes', async () => {
    const lines = ['plain-1', 'plain-2'];
    expect(await kcatRoundTrip(saslSsl, plainArgs('bob', 'bob-secret'), plainArgs('bob', 'bob-secret'), lines)).toEqual(lines);
  });

  test('mTLS: a client certificate signed by the trusted CA produces and consumes', async () => {
    const args = mtlsArgs(pki.clientCert, pki.clientKey);
    expect(await kcatRoundTrip(ssl, args, args, ['mtls-1'])).toEqual(['mtls-1']);
  });

  test('wrong passwords are refused with Kafka\'s SASL_AUTHENTICATION_FAILED messages (SCRAM, PLAIN, unknown user)', async () => {
    const wrong = await kcat(['-b', saslSsl, ...scramArgs('alice', 'not-her-password'), '-L', '-m', '10']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain(`SASL authentication error: ${SCRAM_FAILED}`);
    const unknown = await kcat(['-b', saslSsl, ...scramArgs('nobody', 'x'), '-L', '-m', '10']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain(`SASL authentication error: ${SCRAM_FAILED}`);
    const plain = await kcat(['-b', saslSsl, ...plainArgs('bob', 'wrong'), '-L', '-m', '10']);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toContain(`SASL authentication error: ${PLAIN_FAILED}`);
  });

  test('untrusted certificates are refused: a client certificate from another CA (mTLS), and a broker the client does not trust', async () => {
    const rogue = await kcat(['-b', ssl, ...mtlsArgs(pki.rogueClientCert, pki.rogueClientKey), '-L', '-m', '10']);
    expect(rogue.code).not.toBe(0);
    expect(rogue.stderr).toMatch(/Failed to acquire metadata|All broker connections are down/);
    const noCert = await kcat(['-b', ssl, '-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${pki.caCert}`, '-L', '-m', '10']);
    expect(noCert.code).not.toBe(0);
    const distrust = await kcat(['-b', saslSsl, ...plainArgs('bob', 'bob-secret').slice(0, -2), '-X', `ssl.ca.location=${pki.rogueCaCert}`, '-L', '-m', '10']);
    expect(distrust.code).not.toBe(0);
    expect(distrust.stderr).toContain('certificate verify failed');
  });
});

describe('Java client and CLI', () => {
  test('console producer over SASL_SSL SCRAM-SHA-512, console consumer over mTLS read the same records', async () => {
    const topic = topicName('java');
    const lines = ['java-1', 'java-2', 'java-3'];
    expectSuccess(await kafkaTool('org.apache.kafka.tools.ConsoleProducer', ['--bootstrap-server', saslSsl, '--topic', topic,
      '--command-config', javaScram('alice', 'alice-secret')], { input: lines.join('\n') + '\n' }));
    const r = expectSuccess(await kafkaTool('org.apache.kafka.tools.consumer.ConsoleConsumer', ['--bootstrap-server', ssl, '--topic', topic,
      '--from-beginning', '--max-messages', '3', '--timeout-ms', '60000', '--command-config', javaMtls(pki.clientKeystore)]));
    expect(r.stdout.toString('utf8').split('\n').filter(Boolean)).toEqual(lines);
  });

  test('a wrong SCRAM password: the admin client fails with SaslAuthenticationException and Kafka\'s message', async () => {
    const r = await kafkaTool('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', saslSsl, '--list', '--command-config', javaScram('alice', 'wrong')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout.toString()).toContain(SCRAM_FAILED);
  });

  test('an untrusted client certificate: the Java client cannot connect (SSL handshake failure)', async () => {
    const r = await kafkaTool('org.apache.kafka.tools.TopicCommand', ['--bootstrap-server', ssl, '--list', '--command-config', javaMtls(pki.rogueClientKeystore)], { timeoutMs: 90_000 });
    expect(r.code).not.toBe(0);
    // Kafka's SSLEngine sends a bad_certificate alert ("SSL handshake failed"); Node verifies the
    // certificate after the TLS 1.3 handshake and closes, which Java reports as below.
    expect(r.stderr + r.stdout.toString()).toMatch(/SSL handshake failed|Failed to process post-handshake messages/);
  });
});

describe('kafkajs', () => {
  const client = (broker: string, extra: Partial<KafkaConfig>) => new Kafka({ clientId: 'sec', brokers: [broker], logLevel: logLevel.NOTHING, retry: { retries: 2 }, ...extra });
  const ca = () => [readFileSync(pki.caCert, 'utf8')];

  async function roundTrip(kafka: InstanceType<typeof Kafka>): Promise<string[]> {
    const topic = topicName('kafkajs');
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    const values = ['a', 'b', 'c'].map((v) => `${v}-${randomBytes(4).toString('hex')}`);
    for (let attempt = 0; ; attempt++) {
      try {
        await producer.send({ topic, messages: values.map((value) => ({ value })) });
        break;
      } catch (err) {
        if (attempt > 10) throw err; // auto-created topic without a leader yet
        await new Promise((r) => setTimeout(r, 300));
      }
    }
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: `g-${topic}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed only ${got.length}`)), 60_000);
      void consumer.run({ eachMessage: async ({ message }) => { got.push(message.value!.toString()); if (got.length === values.length) { clearTimeout(timer); resolve(); } } });
    });
    await consumer.disconnect();
    expect(got).toEqual(values);
    return got;
  }

  test('SASL_SSL SCRAM-SHA-512 and PLAIN, and mTLS: produce and consume', async () => {
    await roundTrip(client(saslSsl, { ssl: { ca: ca() }, sasl: { mechanism: 'scram-sha-512', username: 'alice', password: 'alice-secret' } }));
    await roundTrip(client(saslSsl, { ssl: { ca: ca() }, sasl: { mechanism: 'plain', username: 'bob', password: 'bob-secret' } }));
    await roundTrip(client(ssl, { ssl: { ca: ca(), cert: readFileSync(pki.clientCert, 'utf8'), key: readFileSync(pki.clientKey, 'utf8') } }));
  }, 180_000);

  test('a wrong password is KafkaJSSASLAuthenticationError with Kafka\'s message', async () => {
    const admin = client(saslSsl, { ssl: { ca: ca() }, sasl: { mechanism: 'scram-sha-512', username: 'alice', password: 'nope' } }).admin();
    await expect(admin.connect()).rejects.toThrow(SCRAM_FAILED);
    await admin.disconnect();
  });
});

describe('SCRAM credential administration (DescribeUserScramCredentials, AlterUserScramCredentials)', () => {
  test('describe lists mechanisms and iterations, never secrets; unknown users, bad iterations and missing deletions get Kafka\'s errors', async () => {
    const conn = new KafkaConnection({ host: '127.0.0.1', port: broker.listenerPorts!.PLAINTEXT!, clientId: 'scram-admin' });
    try {
      const described = await conn.send(50, 0, { users: [{ name: 'alice' }, { name: 'nobody' }] });
      expect(described.errorCode).toBe(0);
      expect(described.results).toEqual([
        expect.objectContaining({ user: 'alice', errorCode: 0, credentialInfos: [{ mechanism: 2, iterations: 8192 }] }),
        expect.objectContaining({ user: 'nobody', errorCode: 91, errorMessage: 'Attempt to describe a user credential that does not exist: nobody' }),
      ]);
      const altered = await conn.send(51, 0, {
        deletions: [{ name: 'ghost', mechanism: 1 }],
        upsertions: [{ name: 'weak', mechanism: 2, iterations: 100, salt: randomBytes(16), saltedPassword: randomBytes(64) }],
      });
      expect(altered.results).toEqual(expect.arrayContaining([
        expect.objectContaining({ user: 'ghost', errorCode: 91 }), // RESOURCE_NOT_FOUND
        expect.objectContaining({ user: 'weak', errorCode: 93 }), // UNACCEPTABLE_CREDENTIAL (too few iterations)
      ]));
    } finally {
      conn.close();
    }
  });
});

describe('garbage: the connection closes, the broker keeps serving', () => {
  const encode = (apiKey: number, version: number, id: number, body: unknown) => Buffer.concat(encodeRequest(apiKey, version, id, 'fuzz', body as never));
  const tlsOptions = () => ({ ca: readFileSync(pki.caCert), servername: undefined, checkServerIdentity: () => undefined });

  async function stillServing(): Promise<void> {
    expectSuccess(await kcat(['-b', saslSsl, ...plainArgs('bob', 'bob-secret'), '-L', '-m', '15']));
  }

  test('a request other than ApiVersions/SaslHandshake before authentication: no answer, the connection closes', async () => {
    const conn = await WireConnection.connectTls(saslSsl, tlsOptions());
    conn.write(encode(3, 9, 1, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }));
    expect(await conn.next(15_000)).toBe('closed');
  });

  test('SaslAuthenticate before SaslHandshake, and garbage SCRAM and PLAIN tokens: closed (with SASL_AUTHENTICATION_FAILED where a response comes)', async () => {
    const before = await WireConnection.connectTls(saslSsl, tlsOptions());
    before.write(encode(36, 2, 1, { authBytes: Buffer.from('junk') }));
    expect(await before.waitClosed(15_000)).toBe(true);
    for (let i = 0; i < 20; i++) {
      const mechanism = i % 2 === 0 ? 'SCRAM-SHA-512' : 'PLAIN';
      const conn = await WireConnection.connectTls(saslSsl, tlsOptions());
      const hs = await conn.roundTrip(encode(17, 1, 1, { mechanism }), 1);
      expect(decodeResponse(17, 1, Buffer.concat([Buffer.from([0, 0, 0, 1]), hs])).body).toMatchObject({ errorCode: 0 });
      const garbage = randomBytes(1 + (i * 37) % 400);
      if (i % 4 === 1) garbage[0] = 0; // PLAIN-shaped: NUL separators
      conn.write(encode(36, 2, 2, { authBytes: garbage }));
      const r = await conn.next(15_000);
      if (r !== 'closed' && r !== 'timeout') {
        const body = decodeResponse(36, 2, Buffer.concat([Buffer.from([0, 0, 0, 2]), r.body])).body as { errorCode: number };
        if (mechanism === 'PLAIN' || body.errorCode !== 0) {
          expect(body.errorCode).toBe(58); // SASL_AUTHENTICATION_FAILED
          expect(await conn.waitClosed(15_000)).toBe(true);
        }
      }
      conn.close();
    }
    await stillServing();
  }, 120_000);

  test('TLS listeners fed garbage instead of a TLS handshake, or a handshake cut short: the broker closes every such connection', async () => {
    const sockets: net.Socket[] = [];
    const fed = new Map<number, number>(); // client port -> listener port
    for (const port of [broker.listenerPorts!.SASL_SSL!, broker.listenerPorts!.SSL!]) {
      for (let i = 0; i < 10; i++) {
        const socket = net.connect({ host: '127.0.0.1', port });
        socket.on('error', () => undefined);
        await new Promise((r) => socket.once('connect', r));
        const bytes = randomBytes(5 + i * 50);
        if (i % 3 === 0) bytes.set([0x16, 0x03, 0x01]); // a TLS handshake record header
        socket.write(bytes);
        if (i % 2 === 0 || i % 3 === 0) socket.end(); // cut short by EOF
        sockets.push(socket);
        fed.set(socket.localPort!, port);
      }
    }
    // The broker's side of each connection, as the kernel lists it (a client-side 'close' is not
    // a reliable signal for a half-closed socket).
    const open = (): number[] => {
      const r = spawnSync('ss', ['-Htn', 'state', 'established'], { encoding: 'utf8' });
      return [...fed].filter(([client, server]) => r.stdout.split('\n').some((l) => l.includes(`127.0.0.1:${server} `) && l.includes(`127.0.0.1:${client}`))).map(([c]) => c);
    };
    const deadline = Date.now() + 60_000;
    while (open().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    expect(open()).toEqual([]);
    for (const socket of sockets) socket.destroy();
    await stillServing();
  }, 120_000);
});
