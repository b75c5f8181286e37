/**
 * TLS and SASL cost, Brook vs Apache Kafka on this machine (issue 15, "Measure"):
 *
 * - produce and consume throughput and produce p99 over PLAINTEXT vs SSL, same tool for both
 *   brokers (Kafka's ProducerPerformance / ConsumerPerformance with --command-config
 *   files), one run each;
 * - SCRAM-SHA-512 authentication time: Brook's own client (broker/client) opening SASL_SSL
 *   connections, TLS handshake alone vs TLS + SaslHandshake + two SaslAuthenticate rounds;
 * - TLS connections per second: full handshakes (TLS 1.3, ECDSA P-256), `--concurrency` at once.
 *
 * Each broker: one node, listeners PLAINTEXT + SSL + SASL_SSL, certificates from openssl
 * (test/harness/tls-pki.ts). Usage: node bench/tls.ts [--records 500000] [--record-size 100]
 * [--only brook|kafka]. Prints a JSON summary and a markdown table.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import tls from 'node:tls';
import { KafkaConnection } from '../broker/client/kafka-connection.ts';
import { startBroker, stopAllBrokers, tempDir } from '../test/harness/brook.ts';
import type { BrokerHandle, StartBrokerOptions } from '../test/harness/brook.ts';
import { startKafkaReference } from '../test/harness/kafka-reference.ts';
import { makeTestPki } from '../test/harness/tls-pki.ts';
import type { TestPki } from '../test/harness/tls-pki.ts';
import { parseConsumerSummary, parseProducerSummary, runToolOrThrow, toolClasses } from './kafka-tools.ts';
import type { ConsumerSummary, ProducerSummary } from './kafka-tools.ts';

const { values: args } = parseArgs({ options: {
  records: { type: 'string', default: '500000' }, 'record-size': { type: 'string', default: '100' },
  only: { type: 'string' }, 'scram-rounds': { type: 'string', default: '50' }, 'conn-seconds': { type: 'string', default: '5' },
  concurrency: { type: 'string', default: '8' },
} });
const records = Number(args.records);
const recordSize = Number(args['record-size']);
const log = (s: string) => process.stderr.write(`${new Date().toISOString()} ${s}\n`);

const dir = tempDir('brook-bench-tls-');
const pki: TestPki = makeTestPki(dir);

const listeners = [{ name: 'PLAINTEXT', protocol: 'PLAINTEXT' }, { name: 'SSL', protocol: 'SSL' }, { name: 'SASL_SSL', protocol: 'SASL_SSL' }];
const settings: Record<string, string> = {
  'ssl.keystore.type': 'PEM', 'ssl.keystore.location': pki.brokerKeystore, 'ssl.truststore.type': 'PEM', 'ssl.truststore.location': pki.caCert,
  'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
  'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
  'group.initial.rebalance.delay.ms': '0', 'auto.create.topics.enable': 'false',
};

function clientConfig(name: string, lines: string[]): string {
  const path = join(dir, `${name}.properties`);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}
const sslConfig = clientConfig('ssl', ['security.protocol=SSL', 'ssl.truststore.type=PEM', `ssl.truststore.location=${pki.caCert}`]);
const plainConfig = clientConfig('plaintext', ['security.protocol=PLAINTEXT']);

interface Row { produce: ProducerSummary; consume: ConsumerSummary }
interface Result { broker: string; plaintext: Row; ssl: Row; scram: { tlsMs: number; tlsScramMs: number; rounds: number }; tlsConnectionsPerSec: number }

async function throughput(b: BrokerHandle, listener: 'PLAINTEXT' | 'SSL', tag: string): Promise<Row> {
  const bootstrap = `127.0.0.1:${b.listenerPorts![listener]}`;
  const admin = `127.0.0.1:${b.listenerPorts!.PLAINTEXT}`;
  const topic = `bench-${listener.toLowerCase()}-${Date.now()}`;
  await runToolOrThrow(toolClasses.topics, ['--bootstrap-server', admin, '--create', '--topic', topic, '--partitions', '1', '--replication-factor', '1']);
  const config = listener === 'SSL' ? sslConfig : plainConfig;
  log(`${tag} ${listener}: producing ${records} x ${recordSize} B`);
  const p = await runToolOrThrow(toolClasses.producerPerf, ['--topic', topic, '--num-records', String(records), '--record-size', String(recordSize),
    '--throughput', '-1', '--producer-props', `bootstrap.servers=${bootstrap}`, 'acks=1', '--command-config', config], undefined, 600_000);
  log(`${tag} ${listener}: consuming`);
  const c = await runToolOrThrow(toolClasses.consumerPerf, ['--bootstrap-server', bootstrap, '--topic', topic, '--messages', String(records),
    '--group', `bench-${Date.now()}`, '--timeout', '60000', '--command-config', config], undefined, 600_000);
  return { produce: parseProducerSummary(p.stdout), consume: parseConsumerSummary(c.stdout) };
}

/** Mean time to open a SASL_SSL connection with and without the SCRAM-SHA-512 exchange (ApiVersions answered). */
async function scramTime(b: BrokerHandle): Promise<{ tlsMs: number; tlsScramMs: number; rounds: number }> {
  const rounds = Number(args['scram-rounds']);
  const port = b.listenerPorts!.SASL_SSL!;
  const tlsOptions = () => ({ ca: readFileSync(pki.caCert), host: '127.0.0.1', checkServerIdentity: () => undefined });
  const time = async (sasl: boolean): Promise<number> => {
    let total = 0;
    for (let i = 0; i < rounds; i++) {
      const started = performance.now();
      const conn = new KafkaConnection({ host: '127.0.0.1', port, clientId: 'bench', security: { tls: tlsOptions, ...(sasl ? { sasl: { mechanism: 'SCRAM-SHA-512', username: 'bench', password: 'bench-secret' } } : {}) } });
      await conn.send(18, 0, {});
      total += performance.now() - started;
      conn.close();
    }
    return total / rounds;
  };
  await time(true); // warm-up (and the credential is in place)
  return { tlsMs: await time(false), tlsScramMs: await time(true), rounds };
}

async function tlsConnectionsPerSecond(b: BrokerHandle): Promise<number> {
  const port = b.listenerPorts!.SSL!;
  const ca = readFileSync(pki.caCert);
  const until = performance.now() + Number(args['conn-seconds']) * 1000;
  let done = 0;
  const worker = async () => {
    while (performance.now() < until) {
      await new Promise<void>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port, ca, checkServerIdentity: () => undefined }, () => { s.destroy(); resolve(); });
        s.once('error', reject);
      });
      done++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Number(args.concurrency) }, worker));
  return done / ((performance.now() - started) / 1000);
}

async function measure(name: 'brook' | 'kafka'): Promise<Result> {
  const opts: StartBrokerOptions = { listeners, set: settings };
  const b = name === 'brook' ? await startBroker(opts) : await startKafkaReference({ ...opts, dataDir: tempDir('brook-bench-kafka-') }, () => undefined);
  try {
    await runToolOrThrow('org.apache.kafka.tools.ConfigCommand', ['--bootstrap-server', `127.0.0.1:${b.listenerPorts!.PLAINTEXT}`, '--alter', '--entity-type', 'users',
      '--entity-name', 'bench', '--add-config', 'SCRAM-SHA-512=[iterations=4096,password=bench-secret]']);
    await new Promise((r) => setTimeout(r, 2000)); // Kafka applies the credential through its metadata log
    const plaintext = await throughput(b, 'PLAINTEXT', name);
    const ssl = await throughput(b, 'SSL', name);
    log(`${name}: SCRAM authentication time`);
    const scram = await scramTime(b);
    log(`${name}: TLS connections per second`);
    const tlsConnectionsPerSec = await tlsConnectionsPerSecond(b);
    return { broker: name, plaintext, ssl, scram, tlsConnectionsPerSec };
  } finally {
    await b.stop();
  }
}

const results: Result[] = [];
for (const name of ['brook', 'kafka'] as const) {
  if (args.only && args.only !== name) continue;
  results.push(await measure(name));
}
await stopAllBrokers();
console.log(JSON.stringify({ records, recordSize, results }, null, 1));
const f = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
console.log('\n| broker | listener | produce rec/s | produce MiB/s | produce p99 ms | consume rec/s | consume MiB/s |\n|---|---|---|---|---|---|---|');
for (const r of results) {
  for (const [l, row] of [['PLAINTEXT', r.plaintext], ['SSL', r.ssl]] as const) {
    console.log(`| ${r.broker} | ${l} | ${f(row.produce.recordsPerSec)} | ${f(row.produce.mibPerSec, 1)} | ${row.produce.p99Ms} | ${f(row.consume.recordsPerSec)} | ${f(row.consume.mibPerSec, 1)} |`);
  }
}
console.log('\n| broker | TLS connect + ApiVersions ms | + SCRAM-SHA-512 ms | SCRAM share ms | TLS connections/s |\n|---|---|---|---|---|');
for (const r of results) {
  console.log(`| ${r.broker} | ${f(r.scram.tlsMs, 1)} | ${f(r.scram.tlsScramMs, 1)} | ${f(r.scram.tlsScramMs - r.scram.tlsMs, 1)} | ${f(r.tlsConnectionsPerSec)} |`);
}
