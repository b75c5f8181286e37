/**
 * `brook broker` as a process and brokers with several listeners, against real clients (kcat,
 * kafkajs, and kafkajs's own Metadata v5 encoder/decoder over a raw socket for the rack, which
 * kafkajs's API does not expose).
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import metadataV5 from 'kafkajs/src/protocol/requests/metadata/v5/request.js';
import metadataV5Response from 'kafkajs/src/protocol/requests/metadata/v5/response.js';
import findCoordinatorV1 from 'kafkajs/src/protocol/requests/findCoordinator/v1/request.js';
import findCoordinatorV1Response from 'kafkajs/src/protocol/requests/findCoordinator/v1/response.js';
import { Broker } from '../../broker/broker.ts';
import { BrokerSettings } from '../../broker/config.ts';
import { defaultAdvertisedHost, resolveListeners } from '../../broker/listeners.ts';
import { createLogger } from '../../broker/logger.ts';
import { MemoryStore } from '../../broker/metadata/index.ts';
import { repoRoot } from '../harness/paths.ts';
import { WireConnection, frameKafkajsRequest } from '../harness/wire.ts';

const execFileAsync = promisify(execFile);
const dirs: string[] = [];
const children: ChildProcess[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'brook-cli-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Started { child: ChildProcess; out: () => string; err: () => string; lines: string[]; metricsUrl: string }

/** Spawns `brook broker ARGS` and waits for its metrics line (printed after the listening lines). */
async function startCli(args: string[], timeoutMs = 20_000): Promise<Started> {
  const child = spawn(process.execPath, ['broker/cli.ts', 'broker', '--store', 'memory', '--data-dir', tempDir(), '--metrics-port', '0', ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d; });
  child.stderr!.on('data', (d: Buffer) => { err += d; });
  const metricsUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready lines within ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`)), timeoutMs);
    child.stdout!.on('data', () => {
      const m = /metrics on (http:\/\/\S+)\/metrics/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code}\nstdout: ${out}\nstderr: ${err}`)); });
  });
  return { child, out: () => out, err: () => err, lines: out.split('\n').filter((l) => l.includes('listening on')), metricsUrl };
}

async function stop(s: Started): Promise<void> {
  if (s.child.exitCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await exited;
}

interface MetadataV5 { brokers: Array<{ nodeId: number; host: string; port: number; rack: string | null }> }

/** Metadata v5 on a raw socket, encoded and decoded by kafkajs. */
async function metadata(bootstrap: string, topics: string[] = []): Promise<MetadataV5> {
  const conn = await WireConnection.connect(bootstrap);
  try {
    const body = await conn.roundTrip(await frameKafkajsRequest(metadataV5({ topics }), 7), 7);
    return await metadataV5Response.decode(body) as MetadataV5;
  } finally {
    conn.close();
  }
}

async function eventually<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `kcat -L` against `bootstrap`: "id host:port" per broker listed (async: the brokers may run in this process). */
async function kcatBrokers(bootstrap: string): Promise<string[]> {
  const r = await execFileAsync('kcat', ['-L', '-b', bootstrap, '-m', '10'], { encoding: 'utf8', timeout: 30_000 }).catch((err: Error & { code?: string; stderr?: string }) => {
    if (err.code === 'ENOENT') throw new Error('kcat is needed (apt-get install kcat)');
    throw new Error(`kcat -L -b ${bootstrap} failed: ${err.stderr ?? err.message}`);
  });
  return [...r.stdout.matchAll(/broker (\d+) at (\S+)/g)].map((m) => `${m[1]} ${m[2]}`).sort();
}

describe('rack: a missing rack never stops a broker', () => {
  test('missing rack file: the broker serves Metadata and /healthz at once without a rack, and takes the rack when the file appears, without a restart', async () => {
    const dir = join(tempDir(), 'pod-info');
    const rackFile = join(dir, 'rack');
    const t0 = Date.now();
    // The old broker waited for the file before listening: no ready line, so this times out.
    const b = await startCli(['--listen', '127.0.0.1:0', '--rack-file', rackFile], 15_000);
    const startedMs = Date.now() - t0;
    const bootstrap = /listening on (\S+)/.exec(b.lines[0]!)![1]!;
    expect((await fetch(`${b.metricsUrl}/healthz`)).status).toBe(200);
    expect((await metadata(bootstrap)).brokers).toEqual([expect.objectContaining({ nodeId: 0, rack: null })]);
    expect(b.err()).toContain(`no rack in ${rackFile} yet: starting without one`);

    // The kubelet fills the downward API file later (the operator annotated the pod).
    mkdirSync(dir);
    writeFileSync(rackFile, 'zone-a\n');
    await eventually('the rack in Metadata', async () => ((await metadata(bootstrap)).brokers[0]!.rack === 'zone-a' ? true : undefined));
    // ...and follows a change (the node's label changed, the operator re-annotated the pod)
    writeFileSync(rackFile, 'zone-b');
    await eventually('the new rack in Metadata', async () => ((await metadata(bootstrap)).brokers[0]!.rack === 'zone-b' ? true : undefined));
    expect(b.child.exitCode).toBeNull();
    await stop(b);
    expect(startedMs).toBeLessThan(15_000);
  });

  test('an empty rack file (the downward API renders a missing annotation as empty) is no rack either', async () => {
    const rackFile = join(tempDir(), 'rack');
    writeFileSync(rackFile, '');
    const b = await startCli(['--listen', '127.0.0.1:0', '--rack-file', rackFile]);
    const bootstrap = /listening on (\S+)/.exec(b.lines[0]!)![1]!;
    expect((await metadata(bootstrap)).brokers[0]!.rack).toBeNull();
    await stop(b);
  });

  test('a rack file present at start is the rack from the first registration', async () => {
    const rackFile = join(tempDir(), 'rack');
    writeFileSync(rackFile, 'eu-west-1a\n');
    const b = await startCli(['--listen', '127.0.0.1:0', '--rack-file', rackFile]);
    const bootstrap = /listening on (\S+)/.exec(b.lines[0]!)![1]!;
    expect((await metadata(bootstrap)).brokers[0]!.rack).toBe('eu-west-1a');
    await stop(b);
  });
});

describe('advertised address of a plain `brook broker` (the image\'s default CMD)', () => {
  test('binding 0.0.0.0 without --advertised-listener advertises this host\'s address, not 127.0.0.1', async () => {
    // The Dockerfile's CMD: `broker --listen 0.0.0.0:9092 ...` (port 0 here).
    const b = await startCli(['--listen', '0.0.0.0:0']);
    const advertised = /listening on (\S+):(\d+)/.exec(b.lines[0]!)!;
    expect(advertised[1]).toBe(defaultAdvertisedHost());
    expect(advertised[1]).not.toBe('127.0.0.1');
    // and a client told that address reaches the broker there
    const kafka = new Kafka({ brokers: [`127.0.0.1:${advertised[2]}`], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    expect((await admin.describeCluster()).brokers).toEqual([{ nodeId: 0, host: defaultAdvertisedHost(), port: Number(advertised[2]) }]);
    await admin.createTopics({ topics: [{ topic: 'reach', numPartitions: 1 }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'reach', messages: [{ value: 'via the advertised address' }] });
    await producer.disconnect();
    await stop(b);
  });
});

describe('listeners', () => {
  test('brook broker with two listeners prints one line per listener; an SSL listener without a key store is refused at start with exit code 2', async () => {
    const b = await startCli(['--set', 'listeners=INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0', '--set', 'listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT',
      '--set', 'advertised.listeners=INTERNAL://localhost:0', '--set', 'inter.broker.listener.name=INTERNAL']);
    expect(b.lines).toEqual([expect.stringMatching(/^brook broker 0 listening on localhost:\d+ \(INTERNAL\)$/), expect.stringMatching(/^brook broker 0 listening on 127.0.0.1:\d+ \(EXTERNAL\)$/)]);
    const [internal, external] = b.lines.map((l) => /on (\S+)/.exec(l)![1]!);
    expect(await kcatBrokers(internal!)).toEqual([`0 ${internal}`]);
    expect(await kcatBrokers(external!)).toEqual([`0 ${external}`]);
    await stop(b);

    const ssl = spawnSync(process.execPath, ['broker/cli.ts', 'broker', '--store', 'memory', '--data-dir', tempDir(), '--metrics-port', 'none',
      '--set', 'listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0'], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
    expect(ssl.status).toBe(2);
    expect(ssl.stderr).toContain('listener SSL (SSL) needs a key store: ssl.keystore.location (with ssl.keystore.type=PEM or PKCS12) or ssl.keystore.key and ssl.keystore.certificate.chain');
  });

  test('an external listener named by neither advertised.listeners nor the operator\'s file is not advertised until the file gives its address, then follows the file', async () => {
    const file = join(tempDir(), 'advertised-listeners');
    const b = await startCli(['--set', 'listeners=INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0', '--set', 'listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT',
      '--set', 'advertised.listeners=INTERNAL://127.0.0.1:0', '--set', 'inter.broker.listener.name=INTERNAL', '--advertised-listeners-file', file]);
    expect(b.lines).toEqual([expect.stringMatching(/listening on 127.0.0.1:\d+$/)]);
    const externalPort = /listener EXTERNAL \(PLAINTEXT\) on 127.0.0.1:(\d+), advertised once its address is known/.exec(b.err())![1];
    const external = `127.0.0.1:${externalPort}`;
    const internal = /listening on (\S+)/.exec(b.lines[0]!)![1]!;
    // a client on EXTERNAL gets no broker yet (as Kafka answers for a listener a broker lacks); INTERNAL is served
    expect((await metadata(external)).brokers).toEqual([]);
    expect((await metadata(internal)).brokers).toEqual([expect.objectContaining({ nodeId: 0, host: '127.0.0.1', port: Number(internal.split(':')[1]) })]);
    // the operator learnt the node port (or the load balancer's address) and annotated the pod
    writeFileSync(file, 'EXTERNAL://203.0.113.7:31000\n');
    await eventually('the external address in Metadata', async () => ((await metadata(external)).brokers[0]?.host === '203.0.113.7' ? true : undefined));
    expect((await metadata(external)).brokers).toEqual([expect.objectContaining({ nodeId: 0, host: '203.0.113.7', port: 31000 })]);
    expect((await metadata(internal)).brokers).toEqual([expect.objectContaining({ nodeId: 0, host: '127.0.0.1' })]);
    // the pod moved to another node: a new address
    writeFileSync(file, 'EXTERNAL://203.0.113.8:31000');
    await eventually('the new external address', async () => ((await metadata(external)).brokers[0]?.host === '203.0.113.8' ? true : undefined));
    await stop(b);
  });

  describe('two brokers, two listeners each (INTERNAL advertised as localhost, EXTERNAL as 127.0.0.1)', () => {
    const store = new MemoryStore();
    const brokers: Broker[] = [];
    const external = (b: Broker) => `127.0.0.1:${b.listenPorts().get('EXTERNAL')}`;
    const internal = (b: Broker) => `localhost:${b.listenPorts().get('INTERNAL')}`;

    afterAll(async () => { for (const b of brokers) await b.stop(); });

    test('Metadata on each listener answers with that listener\'s addresses of every broker (kcat -L on each port)', async () => {
      for (const id of [0, 1]) {
        const settings = new BrokerSettings({
          listeners: 'INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0', 'advertised.listeners': 'INTERNAL://localhost:0',
          'listener.security.protocol.map': 'INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT', 'inter.broker.listener.name': 'INTERNAL',
          'default.replication.factor': '2', 'min.insync.replicas': '2', 'offsets.topic.num.partitions': '2', 'group.initial.rebalance.delay.ms': '0',
          'offsets.topic.replication.factor': '2', // a two-broker cluster (the default, 3, needs three live brokers)
        });
        brokers.push(await Broker.start({ nodeId: id, dataDir: tempDir(), store, settings, metricsPort: null, logger: createLogger(`b${id}`, 'warn') }));
      }
      await eventually('both brokers registered', async () => (brokers.every((b) => b.liveBrokers().length === 2) ? true : undefined));
      const [b0, b1] = brokers as [Broker, Broker];
      expect(await kcatBrokers(external(b0))).toEqual([`0 ${external(b0)}`, `1 ${external(b1)}`]);
      expect(await kcatBrokers(external(b1))).toEqual([`0 ${external(b0)}`, `1 ${external(b1)}`]);
      expect(await kcatBrokers(`127.0.0.1:${b0.listenPorts().get('INTERNAL')}`)).toEqual([`0 ${internal(b0)}`, `1 ${internal(b1)}`]);
      // the registration's host:port is the inter-broker listener's
      expect(b0.advertised).toEqual({ host: 'localhost', port: b0.listenPorts().get('INTERNAL') });
    });

    test('a client on the external listener produces acks=all (replicated over INTERNAL) and consumes in a group (FindCoordinator answers the external address)', async () => {
      const kafka = new Kafka({ brokers: [external(brokers[0]!)], logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 'two-listeners', numPartitions: 2, replicationFactor: 2 }], waitForLeaders: true });
      await admin.disconnect();
      const producer = kafka.producer();
      await producer.connect();
      const values = Array.from({ length: 20 }, (_, i) => `v${i}`);
      await producer.send({ topic: 'two-listeners', acks: -1, messages: values.map((value) => ({ value })) });
      await producer.disconnect();
      const consumer = kafka.consumer({ groupId: 'external-group' });
      await consumer.connect();
      await consumer.subscribe({ topic: 'two-listeners', fromBeginning: true });
      const seen: string[] = [];
      const done = new Promise<void>((resolve) => {
        void consumer.run({ eachMessage: async ({ message }) => { seen.push(message.value!.toString()); if (seen.length === values.length) resolve(); } });
      });
      await done;
      await consumer.disconnect();
      expect(seen.sort()).toEqual([...values].sort());
      // FindCoordinator names the coordinator by its address on the listener asked
      const coordinator = async (bootstrap: string) => {
        const conn = await WireConnection.connect(bootstrap);
        try {
          const body = await conn.roundTrip(await frameKafkajsRequest(findCoordinatorV1({ coordinatorKey: 'external-group', coordinatorType: 0 }), 9), 9);
          return (await findCoordinatorV1Response.decode(body) as { coordinator: { nodeId: number; host: string; port: number } }).coordinator;
        } finally {
          conn.close();
        }
      };
      const viaExternal = await coordinator(external(brokers[0]!));
      const owner = brokers.find((b) => b.nodeId === viaExternal.nodeId)!;
      expect(`${viaExternal.host}:${viaExternal.port}`).toBe(external(owner));
      const viaInternal = await coordinator(`127.0.0.1:${brokers[1]!.listenPorts().get('INTERNAL')}`);
      expect(`${viaInternal.host}:${viaInternal.port}`).toBe(internal(owner));
    });
  });

  test('a broker that lacks the listener a client came in on is left out of that client\'s Metadata; partitions it leads are LISTENER_NOT_FOUND there', async () => {
    const store = new MemoryStore();
    const both = await Broker.start({ nodeId: 0, dataDir: tempDir(), store, metricsPort: null, logger: createLogger('both', 'warn'),
      listeners: resolveListeners({ listeners: 'INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0', protocolMap: 'INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT', interBrokerListenerName: 'INTERNAL' }) });
    const internalOnly = await Broker.start({ nodeId: 1, dataDir: tempDir(), store, metricsPort: null, logger: createLogger('internal', 'warn'),
      listeners: resolveListeners({ listeners: 'INTERNAL://127.0.0.1:0', protocolMap: 'INTERNAL:PLAINTEXT' }) });
    try {
      await eventually('both registered', async () => (both.liveBrokers().length === 2 ? true : undefined));
      expect((await metadata(`127.0.0.1:${both.listenPorts().get('EXTERNAL')}`)).brokers.map((b) => b.nodeId)).toEqual([0]);
      expect((await metadata(`127.0.0.1:${both.listenPorts().get('INTERNAL')}`)).brokers.map((b) => b.nodeId).sort()).toEqual([0, 1]);
      // A partition led by broker 1: LISTENER_NOT_FOUND (72) without a leader on EXTERNAL, as Kafka answers; led on INTERNAL.
      const kafka = new Kafka({ brokers: [`127.0.0.1:${both.listenPorts().get('INTERNAL')}`], logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 'on-one', replicaAssignment: [{ partition: 0, replicas: [1] }] }] });
      await admin.disconnect();
      const partitionOf = async (port: number) => {
        const md = await metadata(`127.0.0.1:${port}`, ['on-one']) as MetadataV5 & { topicMetadata: Array<{ partitionMetadata: Array<{ partitionErrorCode: number; leader: number }> }> };
        return md.topicMetadata[0]!.partitionMetadata[0]!;
      };
      expect(await partitionOf(both.listenPorts().get('EXTERNAL')!)).toMatchObject({ partitionErrorCode: 72, leader: -1 });
      expect(await partitionOf(both.listenPorts().get('INTERNAL')!)).toMatchObject({ partitionErrorCode: 0, leader: 1 });
    } finally {
      await internalOnly.stop();
      await both.stop();
    }
  });
});
