/**
 * An acks=all idempotent producer load from the host (kafkajs, through the external listener) for
 * the e2e failure scenarios, and the check that every acknowledged record is where its
 * acknowledgement said.
 *
 * One sequential send loop per partition (a send of one record resolves with the offset it was
 * written at), so every record's partition and offset are known. Errors the brokers answer with are
 * counted by Kafka error type, including the ones kafkajs retries on its own (it logs each failed
 * Produce response; the message is mapped back to its type with kafkajs's own error table). Each
 * acknowledgement also records which broker answered the Produce request that carried it (the
 * producer's instrumentation events), so a failover is seen as the first ack from another broker.
 */
import { createRequire } from 'node:module';
import { Kafka, logLevel, type LogEntry, type Producer } from 'kafkajs';
import { kcat } from '../harness/tools.ts';

const require = createRequire(import.meta.url);
const { errorCodes } = require('kafkajs/src/protocol/error.js') as { errorCodes: Array<{ type: string; code: number; message: string }> };
const typeOfMessage = new Map(errorCodes.map((e) => [e.message, e.type]));

export interface Ack { partition: number; offset: bigint; value: string; at: number; broker: string }

export class AckedLoad {
  readonly acks: Ack[] = [];
  /** Error responses and failed sends, by Kafka error type (or error class when it is not a Kafka error). */
  readonly errors = new Map<string, number>();
  private readonly producer: Producer;
  private readonly topic: string;
  private readonly partitions: number[];
  private readonly runId: string;
  private lastProduceBroker = '';
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(opts: { bootstrap: string; topic: string; partitions: number[]; runId: string }) {
    this.topic = opts.topic;
    this.partitions = opts.partitions;
    this.runId = opts.runId;
    const count = (type: string) => this.errors.set(type, (this.errors.get(type) ?? 0) + 1);
    const kafka = new Kafka({
      clientId: `e2e-${opts.runId}`,
      brokers: [opts.bootstrap],
      logLevel: logLevel.ERROR,
      retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 },
      logCreator: () => ({ log }: LogEntry) => {
        const error = (log as { error?: string }).error;
        if (typeof error === 'string' && log.message.startsWith('Response Produce')) count(typeOfMessage.get(error) ?? error);
      },
    });
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    this.producer.on(this.producer.events.REQUEST, (e) => {
      if (e.payload.apiName === 'Produce') this.lastProduceBroker = e.payload.broker;
    });
    this.countError = (err: Error & { type?: string }) => count(err.type ?? err.name);
  }

  private readonly countError: (err: Error & { type?: string }) => void;

  async start(): Promise<void> {
    await this.producer.connect();
    this.running = true;
    this.loops = this.partitions.map((p) => this.loop(p));
  }

  private async loop(partition: number): Promise<void> {
    for (let seq = 0; this.running; seq++) {
      const value = `${this.runId} ${partition} ${seq}`;
      try {
        const [meta] = await this.producer.send({ topic: this.topic, acks: -1, messages: [{ value, partition }] });
        this.acks.push({ partition, offset: BigInt(meta.baseOffset!), value, at: Date.now(), broker: this.lastProduceBroker });
      } catch (err) {
        this.countError(err as Error);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Acks so far on `partition`. */
  acked(partition: number): Ack[] {
    return this.acks.filter((a) => a.partition === partition);
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await this.producer.disconnect();
  }
}

/**
 * Reads the whole topic back (kcat through `bootstrap`) and returns the acknowledgements that are
 * not there as acknowledged: no record at that partition and offset, or a different one.
 */
export async function missingAcks(bootstrap: string, topic: string, acks: readonly Ack[]): Promise<string[]> {
  // Right after a pod restart its NodePort may still point at the old pod until kube-proxy has
  // synced the new endpoint ("1/1 brokers are down"): give the read a few attempts.
  const args = ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p %o %s\\n'];
  let r = await kcat(args, { timeoutMs: 120_000 });
  for (let attempt = 1; r.code !== 0 && /brokers are down|Connection refused|timed out/.test(r.stderr) && attempt < 10; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    r = await kcat(args, { timeoutMs: 120_000 });
  }
  if (r.code !== 0) throw new Error(`kcat could not read ${topic} back: ${r.stderr}`);
  const stored = new Map<string, string>();
  for (const line of r.stdout.toString('utf8').split('\n')) {
    const m = /^(\d+) (\d+) (.*)$/.exec(line);
    if (m) stored.set(`${m[1]}:${m[2]}`, m[3]!);
  }
  return acks.filter((a) => stored.get(`${a.partition}:${a.offset}`) !== a.value)
    .map((a) => `${a.value} acked at ${a.partition}:${a.offset}, found ${JSON.stringify(stored.get(`${a.partition}:${a.offset}`) ?? null)}`);
}
