/**
 * Starts Apache Kafka itself (single KRaft node, broker+controller, loopback) with the same
 * handle `startBroker()` returns, so the client compatibility tests can be run against the real
 * thing to check that they assert Kafka's behaviour: `BROOK_TEST_TARGET=kafka npm run jest -- test/clients`.
 *
 * Brook's `--set` keys are Kafka broker configs and are written into server.properties as-is.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { BrokerHandle, StartBrokerOptions } from './brook.ts';
import { repoRoot } from './paths.ts';
import { freePort } from './ports.ts';
import { requireJava } from './tools.ts';

/** Resolves true once something accepts connections on `port`, false after `timeoutMs` or once `exited()`. */
export function waitForPort(port: number, timeoutMs: number, exited: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const attempt = () => {
      if (exited()) return resolve(false);
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) resolve(false);
        else setTimeout(attempt, 200);
      });
    };
    attempt();
  });
}

export interface ReferenceState {
  child: ReturnType<typeof spawn>;
}

/**
 * `register` hands the child process to brook.ts's bookkeeping (cleanup on exit / stopAllBrokers).
 */
export async function startKafkaReference(opts: StartBrokerOptions & { dataDir: string },
  register: (child: ReturnType<typeof spawn>) => void): Promise<BrokerHandle> {
  const libs = requireJava();
  const dataDir = opts.dataDir;
  const propsFile = join(dataDir, 'server.properties');
  const logDir = join(dataDir, 'kafka-logs');
  let port: number;
  let controllerPort: number;
  const named: Record<string, number> = {};
  if (existsSync(propsFile)) {
    // restart on the same data dir: same ports and cluster id
    const props = readFileSync(propsFile, 'utf8');
    port = Number(/^listeners=PLAINTEXT:\/\/127\.0\.0\.1:(\d+)/m.exec(props)?.[1]);
    controllerPort = Number(/CONTROLLER:\/\/127\.0\.0\.1:(\d+)/.exec(props)?.[1]);
  } else {
    port = opts.port && opts.port > 0 ? opts.port : await freePort();
    controllerPort = await freePort();
    mkdirSync(logDir, { recursive: true });
    const id = opts.id ?? 0;
    // With named listeners (StartBrokerOptions.listeners), the first is `port` and the
    // inter-broker listener is PLAINTEXT if there is one (tests may --set another).
    const listeners = opts.listeners ?? [{ name: 'PLAINTEXT', protocol: 'PLAINTEXT' }];
    listeners.forEach((l, i) => { named[l.name] = i === 0 ? port : 0; });
    for (const l of listeners.slice(1)) named[l.name] = await freePort();
    const list = listeners.map((l) => `${l.name}://127.0.0.1:${named[l.name]}`);
    const settings: Record<string, string> = {
      'process.roles': 'broker,controller',
      'node.id': String(id),
      'controller.quorum.voters': `${id}@127.0.0.1:${controllerPort}`,
      listeners: [...list, `CONTROLLER://127.0.0.1:${controllerPort}`].join(','),
      'advertised.listeners': list.join(','),
      'controller.listener.names': 'CONTROLLER',
      'inter.broker.listener.name': listeners.some((l) => l.name === 'PLAINTEXT') ? 'PLAINTEXT' : listeners[0]!.name,
      'listener.security.protocol.map': [...listeners.map((l) => `${l.name}:${l.protocol}`), 'CONTROLLER:PLAINTEXT'].join(','),
      'log.dirs': logDir,
      'offsets.topic.replication.factor': '1',
      'transaction.state.log.replication.factor': '1',
      'transaction.state.log.min.isr': '1',
      'group.initial.rebalance.delay.ms': '0',
      'num.partitions': '1',
      ...opts.set,
    };
    writeFileSync(propsFile, Object.entries(settings).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
    const uuid = spawnSync('java', ['-cp', `${libs}/*`, 'kafka.tools.StorageTool', 'random-uuid'], { encoding: 'utf8' }).stdout.trim();
    const format = spawnSync('java', ['-cp', `${libs}/*`, 'kafka.tools.StorageTool', 'format',
      '-t', uuid, '-c', propsFile], { encoding: 'utf8' });
    if (format.status !== 0) throw new Error(`kafka storage format failed:\n${format.stdout}\n${format.stderr}`);
  }

  const child = spawn('java', ['-Xmx1g', `-Dkafka.logs.dir=${join(dataDir, 'server-logs')}`,
    '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', `${libs}/*`, 'kafka.Kafka', propsFile],
  { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  register(child);
  let out = '';
  let err = '';
  let exitCode: number | null | undefined;
  const exitedPromise = new Promise<number | null>((resolve) => child.on('exit', (code) => { exitCode = code; resolve(code); }));
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (s: string) => { out += s; });
  child.stderr?.on('data', (s: string) => { err += s; });
  // a JVM broker starts slowly on a loaded 2-core machine: allow it 150 s unless told otherwise
  if (!await waitForPort(port, opts.readyTimeoutMs ?? 150_000, () => exitCode !== undefined)) {
    child.kill('SIGKILL');
    throw new Error(`Apache Kafka did not start on port ${port}\nstdout:\n${out.slice(-4000)}\nstderr:\n${err.slice(-4000)}`);
  }
  return {
    bootstrap: `127.0.0.1:${port}`,
    port,
    metricsUrl: '',
    dataDir,
    pid: child.pid ?? -1,
    async stop(timeoutMs = 30_000) {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exitedPromise;
      clearTimeout(timer);
      // Kafka exits 143 on SIGTERM after a clean shutdown; report that as a graceful 0
      return code === 143 ? 0 : code;
    },
    async kill(signal) {
      if (exitCode !== undefined) return;
      child.kill(signal);
      await exitedPromise;
    },
    stderr: () => err,
    stdout: () => out,
    exited: () => exitCode !== undefined,
    listenerPorts: Object.keys(named).length > 0 ? named : { PLAINTEXT: port },
  };
}
