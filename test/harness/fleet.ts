/**
 * A fleet of brokers for tests that need several (partition reassignment): with Brook, one
 * `brook local --brokers N` process (the brokers share its metadata store); with
 * BROOK_TEST_TARGET=kafka, N Apache Kafka processes in KRaft combined mode (each broker and
 * controller, a static quorum of all N), on loopback, from the cached jars.
 *
 * `replicaDir` is where a broker keeps a partition's segment files (the same layout in both:
 * `<log dir>/<topic>-<partition>/<base offset>.log`), for checkers that read replicas from disk.
 * `stop()` ends every process and removes the data.
 *
 * `startProcessFleet` is the fleet for crash tests that SIGKILL one broker and restart it: one
 * process per broker. With Brook that needs a metadata store the processes share, so it starts a
 * real kube-apiserver (test/k8s/envtest.ts) and broker processes on the Kubernetes store
 * (test/k8s/broker-processes.ts); with BROOK_TEST_TARGET=kafka it is the same KRaft fleet as
 * startFleet, whose JVMs are killed and started again on their data.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { target } from './brook.ts';
import { waitForPort } from './kafka-reference.ts';
import { freePort } from './ports.ts';
import { repoRoot } from './paths.ts';
import { requireJava } from './tools.ts';
import { startApiServer } from '../k8s/envtest.ts';
import { startBrokerFleet } from '../k8s/broker-processes.ts';

export interface FleetHandle {
  bootstrap: string;
  brokerIds: number[];
  replicaDir(brokerId: number, topic: string, partition: number): string;
  /** Everything the fleet's processes wrote to stderr (the end). */
  logs(): string;
  stop(): Promise<void>;
}

/** A fleet whose brokers are separate processes: `kill` SIGKILLs one, `restart` starts it again on its data. */
export interface ProcessFleetHandle extends FleetHandle {
  kill(brokerId: number): Promise<void>;
  restart(brokerId: number): Promise<void>;
}

function stopAll(children: ChildProcess[]): Promise<void> {
  return Promise.all(children.map((child) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  }))).then(() => undefined);
}

const running = new Set<ChildProcess>();
process.on('exit', () => { for (const c of running) { try { c.kill('SIGKILL'); } catch { /* gone */ } } });

/** `settings` are broker configs (Kafka's names), for every broker. */
export function startFleet(brokers: number, settings: Record<string, string> = {}): Promise<FleetHandle> {
  return target === 'kafka' ? startKafkaFleet(brokers, settings) : startBrookFleet(brokers, settings);
}

async function startBrookFleet(brokers: number, settings: Record<string, string>): Promise<FleetHandle> {
  const dataDir = mkdtempSync(join(tmpdir(), 'brook-fleet-'));
  const args = [join(repoRoot, 'broker/cli.ts'), 'local', '--brokers', String(brokers), '--port', '0', '--data-dir', dataDir, '--metrics-port', 'none'];
  for (const [k, v] of Object.entries(settings)) args.push('--set', `${k}=${v}`);
  const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  child.on('exit', () => running.delete(child));
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => { err = (err + s).slice(-200_000); });
  const ports = await new Promise<number[]>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`brook local did not start in 60 s\n${out}\n${err.slice(-4000)}`)); }, 60_000);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`brook local exited (${code})\n${err.slice(-4000)}`)); });
    child.stdout.on('data', (s: string) => {
      out += s;
      const found = [...out.matchAll(/^brook broker (\d+) listening on [^\s:]+:(\d+)\s*$/gm)];
      if (found.length === brokers) {
        clearTimeout(timer);
        resolve(found.sort((a, b) => Number(a[1]) - Number(b[1])).map((m) => Number(m[2])));
      }
    });
  });
  return {
    bootstrap: ports.map((p) => `127.0.0.1:${p}`).join(','),
    brokerIds: ports.map((_, i) => i),
    replicaDir: (id, topic, partition) => join(dataDir, `broker-${id}`, `${topic}-${partition}`),
    logs: () => err,
    async stop() {
      await stopAll([child]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One process per broker (see the file comment); `settings` are broker configs for every broker. */
export function startProcessFleet(brokers: number, settings: Record<string, string> = {}): Promise<ProcessFleetHandle> {
  return target === 'kafka' ? startKafkaFleet(brokers, settings) : startBrookProcessFleet(brokers, settings);
}

function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => { child.once('exit', () => resolve()); child.kill('SIGKILL'); });
}

async function startBrookProcessFleet(brokers: number, settings: Record<string, string>): Promise<ProcessFleetHandle> {
  const api = await startApiServer();
  try {
    const fleet = await startBrokerFleet(api, { namespace: 'fleet', size: brokers, set: settings });
    const node = (id: number) => {
      const n = fleet.nodes[id];
      if (!n) throw new Error(`no broker ${id} in a fleet of ${brokers}`);
      return n;
    };
    return {
      bootstrap: fleet.bootstrap().join(','),
      brokerIds: fleet.nodes.map((n) => n.id),
      replicaDir: (id, topic, partition) => join(node(id).dataDir, `${topic}-${partition}`),
      logs: () => fleet.nodes.map((n) => `--- broker ${n.id}\n${n.log}`).join('\n'),
      async kill(id) {
        const n = node(id);
        if (n.child) await killChild(n.child);
        n.child = null;
      },
      async restart(id) {
        const n = node(id);
        if (n.child && n.child.exitCode === null && n.child.signalCode === null) throw new Error(`broker ${id} is running`);
        await fleet.start(n);
      },
      async stop() {
        fleet.stop();
        await api.stop();
      },
    };
  } catch (e) {
    await api.stop();
    throw e;
  }
}

async function startKafkaFleet(brokers: number, settings: Record<string, string>): Promise<ProcessFleetHandle> {
  const libs = requireJava();
  const dataDir = mkdtempSync(join(tmpdir(), 'kafka-fleet-'));
  const ids = Array.from({ length: brokers }, (_, i) => i);
  const ports = await Promise.all(ids.map(() => freePort()));
  const controllerPorts = await Promise.all(ids.map(() => freePort()));
  const voters = ids.map((i) => `${i}@127.0.0.1:${controllerPorts[i]}`).join(',');
  const uuid = spawnSync('java', ['-cp', `${libs}/*`, 'kafka.tools.StorageTool', 'random-uuid'], { encoding: 'utf8' }).stdout.trim();
  const children: ChildProcess[] = [];
  const propsFiles: string[] = [];
  let err = '';
  const spawnKafka = (i: number): ChildProcess => {
    const child = spawn('java', ['-Xmx512m', '-XX:+UseSerialGC', `-Dkafka.logs.dir=${join(dataDir, `node-${i}`, 'server-logs')}`, '-cp', `${libs}/*`, 'kafka.Kafka', propsFiles[i]!],
      { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => { err = (err + s).slice(-200_000); });
    running.add(child);
    child.on('exit', () => running.delete(child));
    return child;
  };
  for (const i of ids) {
    const dir = join(dataDir, `node-${i}`);
    mkdirSync(join(dir, 'kafka-logs'), { recursive: true });
    const props = {
      'process.roles': 'broker,controller',
      'node.id': String(i),
      'controller.quorum.voters': voters,
      listeners: `PLAINTEXT://127.0.0.1:${ports[i]},CONTROLLER://127.0.0.1:${controllerPorts[i]}`,
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${ports[i]}`,
      'controller.listener.names': 'CONTROLLER',
      'inter.broker.listener.name': 'PLAINTEXT',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'log.dirs': join(dir, 'kafka-logs'),
      'offsets.topic.replication.factor': String(Math.min(3, brokers)),
      'transaction.state.log.replication.factor': String(Math.min(3, brokers)),
      'group.initial.rebalance.delay.ms': '0',
      ...settings,
    };
    const propsFile = join(dir, 'server.properties');
    writeFileSync(propsFile, Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
    const format = spawnSync('java', ['-cp', `${libs}/*`, 'kafka.tools.StorageTool', 'format', '-t', uuid, '-c', propsFile], { encoding: 'utf8' });
    if (format.status !== 0) throw new Error(`kafka storage format failed:\n${format.stdout}\n${format.stderr}`);
    propsFiles.push(propsFile);
    children.push(spawnKafka(i));
  }
  // three JVMs starting at once on a loaded 2-core machine: allow them 180 s
  const up = await Promise.all(ids.map((i) => waitForPort(ports[i]!, 180_000, () => children[i]!.exitCode !== null)));
  if (!up.every(Boolean)) {
    await stopAll(children);
    throw new Error(`Apache Kafka fleet did not start (ports ${ports.join(',')})\n${err.slice(-4000)}`);
  }
  return {
    bootstrap: ports.map((p) => `127.0.0.1:${p}`).join(','),
    brokerIds: ids,
    replicaDir: (id, topic, partition) => join(dataDir, `node-${id}`, 'kafka-logs', `${topic}-${partition}`),
    logs: () => err,
    async kill(id) {
      await killChild(children[id]!);
    },
    async restart(id) {
      const old = children[id]!;
      if (old.exitCode === null && old.signalCode === null) throw new Error(`broker ${id} is running`);
      const child = spawnKafka(id);
      children[id] = child;
      if (!await waitForPort(ports[id]!, 180_000, () => child.exitCode !== null)) {
        throw new Error(`Apache Kafka broker ${id} did not start again\n${err.slice(-4000)}`);
      }
    },
    async stop() {
      await stopAll(children);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
