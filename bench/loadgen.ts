/**
 * A cheap Kafka produce load generator: `node bench/loadgen.ts --help`.
 *
 * The produce requests are encoded once, with Brook's own codec and record batch encoder (magic
 * v2, CRC-32C valid, uncompressed or lz4/zstd), and then replayed: each in-flight slot of each
 * connection owns a copy of the request frame, and only its correlation id (bytes 8..11 of the
 * size-prefixed frame) is re-stamped before it is written again. The batches carry producerId -1
 * (not idempotent), so replaying the same bytes is a legal produce every time. Responses are
 * framed, their correlation id checked against the request's, and their partition error codes
 * read through the codec; nothing else is decoded.
 *
 * What it costs itself is part of the output: its own CPU seconds (process.cpuUsage) per GiB of
 * record payload acknowledged, next to the broker's (--broker-pid: utime+stime of the broker's
 * process tree from /proc) over the same measured window.
 *
 * Output: one JSON line per phase on stdout ({"phase":"warmup"|"measure", ...}); the exit code
 * is 1 when any partition answered with an error or a connection failed.
 */
import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { KafkaConnection } from '../broker/client/index.ts';
import { decodeResponse, encodeRequest } from '../broker/protocol/index.ts';
import { ATTRIBUTES_OFFSET, CRC_OFFSET, LENGTH_OFFSET, RECORDS_OFFSET } from '../broker/log/record-batch.ts';
import { encodeRecordBatch, type NewRecord } from '../broker/log/records.ts';
import { CODEC_LZ4, CODEC_ZSTD, compressRecords } from '../broker/log/compression.ts';
import { crc32c } from '@node-rs/crc32';
import { cpuSeconds, threadCpuSeconds } from './proc-stats.ts';

export type Compression = 'none' | 'lz4' | 'zstd';

export type LoadgenOptions = {
  host: string;
  port: number;
  topic: string;
  partitions: number;
  createTopic: boolean;
  /** Configs of the topic --create-topic creates (e.g. compression.type). */
  topicConfigs: Array<{ name: string; value: string }>;
  recordSize: number;
  /** Records per batch (one batch per partition per request). */
  batchRecords: number;
  connections: number;
  inFlight: number;
  acks: 1 | -1 | 0;
  compression: Compression;
  warmupSeconds: number;
  seconds: number;
  brokerPid: number | undefined;
};

export type PhaseResult = {
  phase: 'warmup' | 'measure';
  seconds: number;
  requests: number;
  records: number;
  /** Record payload acknowledged: records × record size. */
  payloadBytes: number;
  /** Bytes written to the sockets (request frames). */
  wireBytes: number;
  recordsPerSecond: number;
  mibPerSecond: number;
  loadgenCpuSeconds: number;
  loadgenCpuSecondsPerGiB: number;
  brokerCpuSeconds: number | undefined;
  brokerCpuSecondsPerGiB: number | undefined;
  /** CPU of the broker's main thread (Brook: its event loop), per GiB: what bounds a one-loop broker. */
  brokerMainThreadCpuSecondsPerGiB: number | undefined;
  errors: Record<string, number>;
};

const PRODUCE_VERSION = 9;
const CORRELATION_ID_OFFSET = 8; // int32 size, int16 apiKey, int16 apiVersion, int32 correlationId
const GIB = 1024 ** 3;

/** Values of `size` bytes: a repeated text-like pattern with a per-record counter, so lz4/zstd have realistic work. */
function recordValue(size: number, n: number): Buffer {
  const words = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore ';
  const text = `${n.toString(36)} ${words}`.repeat(Math.ceil(size / words.length) + 1);
  return Buffer.from(text.slice(0, size), 'latin1');
}

/** One batch of `count` records, compressed with `compression`, CRC-32C over the final bytes. */
export function buildBatch(count: number, recordSize: number, compression: Compression, seed: number): Buffer {
  const records: NewRecord[] = [];
  for (let i = 0; i < count; i++) records.push({ key: null, value: recordValue(recordSize, seed * count + i) });
  const plain = encodeRecordBatch(records, BigInt(Date.now()));
  if (compression === 'none') return plain;
  const codec = compression === 'lz4' ? CODEC_LZ4 : CODEC_ZSTD;
  const compressed = compressRecords(codec, plain.subarray(RECORDS_OFFSET));
  const out = Buffer.alloc(RECORDS_OFFSET + compressed.length);
  plain.copy(out, 0, 0, RECORDS_OFFSET);
  compressed.copy(out, RECORDS_OFFSET);
  out.writeInt32BE(out.length - 12, LENGTH_OFFSET);
  out.writeInt16BE(out.readInt16BE(ATTRIBUTES_OFFSET) | codec, ATTRIBUTES_OFFSET);
  out.writeUInt32BE(crc32c(out.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
  return out;
}

/** The whole size-prefixed Produce frame: one batch for every partition of the topic. */
export function buildProduceFrame(options: Pick<LoadgenOptions, 'topic' | 'partitions' | 'recordSize' | 'batchRecords' | 'acks' | 'compression'>, seed: number): Buffer {
  const partitionData = [];
  for (let index = 0; index < options.partitions; index++) {
    partitionData.push({ index, records: buildBatch(options.batchRecords, options.recordSize, options.compression, seed * options.partitions + index) });
  }
  return Buffer.concat(encodeRequest(0, PRODUCE_VERSION, 0, 'brook-loadgen', {
    transactionalId: null, acks: options.acks, timeoutMs: 30_000,
    topicData: [{ name: options.topic, partitionData }],
  }));
}

type Counters = { requests: number; records: number; wireBytes: number; errors: Map<string, number> };

/**
 * One connection: `inFlight` request frames (own copies), each re-sent as soon as its response
 * is in. Kafka answers a connection's requests in order, so responses are matched FIFO.
 */
class ReplayConnection {
  readonly #socket: Socket;
  readonly #frames: Buffer[];
  readonly #recordsPerRequest: number;
  readonly #counters: () => Counters;
  readonly #queue: Array<{ slot: number; correlationId: number }> = [];
  #nextCorrelationId = 1;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #stopping = false;
  #drained: (() => void) | undefined;
  readonly failed: Promise<never>;
  #fail!: (err: Error) => void;

  constructor(socket: Socket, template: Buffer, inFlight: number, recordsPerRequest: number, counters: () => Counters) {
    this.#socket = socket;
    this.#frames = Array.from({ length: inFlight }, () => Buffer.from(template));
    this.#recordsPerRequest = recordsPerRequest;
    this.#counters = counters;
    this.failed = new Promise<never>((_, reject) => { this.#fail = reject; });
    this.failed.catch(() => { /* observed by whoever awaits it */ });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => { if (!this.#stopping || this.#queue.length > 0) this.#fail(new Error('broker closed the connection')); });
  }

  start(): void {
    for (let slot = 0; slot < this.#frames.length; slot++) this.#send(slot);
  }

  /** Stops re-sending; resolves once every request in flight is answered. */
  stop(): Promise<void> {
    this.#stopping = true;
    if (this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => { this.#drained = resolve; });
  }

  close(): void { this.#socket.destroy(); }

  #send(slot: number): void {
    const frame = this.#frames[slot]!;
    const correlationId = this.#nextCorrelationId++ & 0x7fffffff;
    frame.writeInt32BE(correlationId, CORRELATION_ID_OFFSET);
    this.#queue.push({ slot, correlationId });
    this.#counters().wireBytes += frame.length;
    this.#socket.write(frame);
  }

  #onData(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    while (this.#buffered >= 4) {
      const head = this.#chunks[0]!.length >= 4 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
      const size = head.readInt32BE(0);
      if (this.#buffered < 4 + size) return;
      const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
      const frame = all.subarray(4, 4 + size);
      const rest = all.subarray(4 + size);
      this.#chunks = rest.length > 0 ? [rest] : [];
      this.#buffered = rest.length;
      this.#onResponse(frame);
    }
  }

  #onResponse(frame: Buffer): void {
    const sent = this.#queue.shift();
    if (sent === undefined) return this.#fail(new Error('a response with no request outstanding'));
    const { correlationId, body } = decodeResponse(0, PRODUCE_VERSION, frame);
    if (correlationId !== sent.correlationId) {
      return this.#fail(new Error(`response correlation id ${correlationId}, expected ${sent.correlationId}`));
    }
    const counters = this.#counters();
    counters.requests++;
    let ok = 0;
    let partitions = 0;
    for (const topic of body.responses) {
      for (const p of topic.partitionResponses) {
        partitions++;
        if (p.errorCode === 0) ok++;
        else counters.errors.set(String(p.errorCode), (counters.errors.get(String(p.errorCode)) ?? 0) + 1);
      }
    }
    counters.records += partitions === 0 ? 0 : Math.round(this.#recordsPerRequest * ok / partitions);
    if (!this.#stopping) this.#send(sent.slot);
    else if (this.#queue.length === 0) this.#drained?.();
  }
}

async function ensureTopic(options: LoadgenOptions): Promise<void> {
  const admin = new KafkaConnection({ host: options.host, port: options.port, clientId: 'brook-loadgen-admin' });
  try {
    if (options.createTopic) {
      const created = await admin.send(19, 5, {
        topics: [{ name: options.topic, numPartitions: options.partitions, replicationFactor: 1, assignments: [], configs: options.topicConfigs }],
        timeoutMs: 30_000, validateOnly: false,
      }) as { topics: Array<{ errorCode: number; errorMessage: string | null }> };
      const code = created.topics[0]?.errorCode ?? -1;
      if (code !== 0 && code !== 36 /* TOPIC_ALREADY_EXISTS */) throw new Error(`CreateTopics ${options.topic}: error ${code} ${created.topics[0]?.errorMessage ?? ''}`);
    }
    // wait until every partition has a leader (Kafka elects them a moment after CreateTopics answers)
    const deadline = Date.now() + 60_000;
    for (;;) {
      const md = await admin.send(3, 9, { topics: [{ name: options.topic }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false }) as {
        topics: Array<{ errorCode: number; partitions: Array<{ errorCode: number; leaderId: number }> }>;
      };
      const t = md.topics[0];
      if (t !== undefined && t.errorCode === 0 && t.partitions.length === options.partitions && t.partitions.every((p) => p.errorCode === 0 && p.leaderId >= 0)) return;
      if (Date.now() > deadline) throw new Error(`topic ${options.topic} has no leader for every partition after 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    admin.close();
  }
}

function openSocket(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    s.setNoDelay(true);
    s.once('error', reject);
    s.once('connect', () => { s.off('error', reject); resolve(s); });
  });
}

/** Runs the warm-up and the measured phase; `report` gets each phase's result as it ends. */
export async function runLoadgen(options: LoadgenOptions, report: (r: PhaseResult) => void = () => {}): Promise<PhaseResult> {
  await ensureTopic(options);
  const template = buildProduceFrame(options, 1);
  const recordsPerRequest = options.partitions * options.batchRecords;
  let counters: Counters = { requests: 0, records: 0, wireBytes: 0, errors: new Map() };
  const connections = await Promise.all(Array.from({ length: options.connections }, async () =>
    new ReplayConnection(await openSocket(options.host, options.port), template, options.inFlight, recordsPerRequest, () => counters)));
  const failed = Promise.race(connections.map((c) => c.failed));

  const phase = async (name: PhaseResult['phase'], seconds: number): Promise<PhaseResult> => {
    counters = { requests: 0, records: 0, wireBytes: 0, errors: new Map() };
    const cpu0 = process.cpuUsage();
    const broker0 = options.brokerPid === undefined ? undefined : cpuSeconds(options.brokerPid);
    const main0 = options.brokerPid === undefined ? undefined : threadCpuSeconds(options.brokerPid);
    const t0 = performance.now();
    await Promise.race([new Promise((resolve) => setTimeout(resolve, seconds * 1000)), failed]);
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const brokerCpu = broker0 === undefined ? undefined : cpuSeconds(options.brokerPid!) - broker0;
    const mainCpu = main0 === undefined ? undefined : threadCpuSeconds(options.brokerPid!) - main0;
    const c = counters;
    const payloadBytes = c.records * options.recordSize;
    const loadgenCpuSeconds = (cpu.user + cpu.system) / 1e6;
    const result: PhaseResult = {
      phase: name, seconds: elapsed, requests: c.requests, records: c.records, payloadBytes, wireBytes: c.wireBytes,
      recordsPerSecond: c.records / elapsed, mibPerSecond: payloadBytes / 1024 ** 2 / elapsed,
      loadgenCpuSeconds, loadgenCpuSecondsPerGiB: payloadBytes === 0 ? Infinity : loadgenCpuSeconds / (payloadBytes / GIB),
      brokerCpuSeconds: brokerCpu, brokerCpuSecondsPerGiB: brokerCpu === undefined || payloadBytes === 0 ? undefined : brokerCpu / (payloadBytes / GIB),
      brokerMainThreadCpuSecondsPerGiB: mainCpu === undefined || payloadBytes === 0 ? undefined : mainCpu / (payloadBytes / GIB),
      errors: Object.fromEntries(c.errors),
    };
    report(result);
    return result;
  };

  try {
    for (const c of connections) c.start();
    if (options.warmupSeconds > 0) await phase('warmup', options.warmupSeconds);
    const measured = await phase('measure', options.seconds);
    await Promise.race([Promise.all(connections.map((c) => c.stop())), failed]);
    return measured;
  } finally {
    for (const c of connections) c.close();
  }
}

export const LOADGEN_HELP = `Usage: node bench/loadgen.ts --bootstrap HOST:PORT [flags]

Replays pre-encoded Produce requests (one batch per partition per request) over a few
connections with a fixed number in flight; prints one JSON line per phase.

  --bootstrap HOST:PORT   the broker (required)
  --topic NAME            (default: loadgen)
  --partitions N          partitions of the topic, one batch each per request (default: 8)
  --create-topic          create the topic first (replication factor 1; existing is fine)
  --topic-config K=V      a config of the topic --create-topic creates, e.g. compression.type=zstd
                          to have the broker re-compress what is sent (repeatable)
  --record-size BYTES     record value size (default: 1024)
  --batch-records N       records per batch (default: 16: a 16 KiB batch, as batch.size=16384)
  --connections N         (default: 4)
  --in-flight N           requests in flight per connection (default: 4)
  --acks 0|1|-1|all       (default: 1)
  --compression C         none, lz4 or zstd (default: none)
  --warmup-seconds S      unmeasured phase first (default: 5)
  --seconds S             measured phase (default: 20)
  --broker-pid PID        also measure that process tree's CPU over each phase
`;

export function parseLoadgenOptions(argv: string[]): LoadgenOptions | 'help' {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      bootstrap: { type: 'string' }, topic: { type: 'string', default: 'loadgen' },
      partitions: { type: 'string', default: '8' }, 'create-topic': { type: 'boolean', default: false },
      'topic-config': { type: 'string', multiple: true, default: [] }, 'record-size': { type: 'string', default: '1024' }, 'batch-records': { type: 'string', default: '16' },
      connections: { type: 'string', default: '4' }, 'in-flight': { type: 'string', default: '4' },
      acks: { type: 'string', default: '1' }, compression: { type: 'string', default: 'none' },
      'warmup-seconds': { type: 'string', default: '5' }, seconds: { type: 'string', default: '20' },
      'broker-pid': { type: 'string' }, help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  if (values.bootstrap === undefined) throw new Error('--bootstrap HOST:PORT is required');
  const [host, portText] = values.bootstrap.split(':');
  const int = (name: string, v: string, min = 1): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} wants an integer >= ${min}, got ${v}`);
    return n;
  };
  const acks = values.acks === 'all' ? -1 : Number(values.acks);
  if (acks !== 0 && acks !== 1 && acks !== -1) throw new Error(`--acks wants 0, 1, -1 or all, got ${values.acks}`);
  if (acks === 0) throw new Error('--acks 0 gets no responses, so nothing could be counted as acknowledged: use 1 or all');
  const compression = values.compression;
  if (compression !== 'none' && compression !== 'lz4' && compression !== 'zstd') throw new Error(`--compression wants none, lz4 or zstd, got ${compression}`);
  const topicConfigs = values['topic-config'].map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`--topic-config wants KEY=VALUE, got ${kv}`);
    return { name: kv.slice(0, eq), value: kv.slice(eq + 1) };
  });
  if (topicConfigs.length > 0 && !values['create-topic']) throw new Error('--topic-config applies to the topic --create-topic creates');
  const seconds = Number(values.seconds);
  const warmupSeconds = Number(values['warmup-seconds']);
  if (!(seconds > 0) || !(warmupSeconds >= 0)) throw new Error('--seconds wants a positive number, --warmup-seconds a non-negative one');
  return {
    host: host!, port: int('bootstrap port', portText ?? ''), topic: values.topic, partitions: int('partitions', values.partitions),
    createTopic: values['create-topic'], topicConfigs, recordSize: int('record-size', values['record-size'], 0), batchRecords: int('batch-records', values['batch-records']),
    connections: int('connections', values.connections), inFlight: int('in-flight', values['in-flight']), acks, compression,
    warmupSeconds, seconds, brokerPid: values['broker-pid'] === undefined ? undefined : int('broker-pid', values['broker-pid']),
  };
}

if (import.meta.main) {
  let options: LoadgenOptions | 'help';
  try {
    options = parseLoadgenOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${LOADGEN_HELP}`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(LOADGEN_HELP);
    process.exit(0);
  }
  try {
    const measured = await runLoadgen(options, (r) => process.stdout.write(`${JSON.stringify(r)}\n`));
    process.exitCode = Object.keys(measured.errors).length > 0 ? 1 : 0;
  } catch (err) {
    process.stderr.write(`loadgen failed: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}

