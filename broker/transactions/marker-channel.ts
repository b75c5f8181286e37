/**
 * The transaction coordinator's marker channel (Kafka's TransactionMarkerChannelManager): a
 * commit or abort marker goes to each partition's current leader — written here when that is
 * this broker (writeMarkersLocally), else sent to the leader as WriteTxnMarkers v1 over one
 * connection per leader (to its inter-broker listener, with that listener's TLS and SASL), kept open and replaced when the leader's address changes or a send fails.
 *
 * The answer is an error code per `topic\0partition`: a partition without a topic or a leader, or
 * whose leader could not be reached, gets the code the coordinator retries on.
 */
import type { KafkaConnection } from '../client/kafka-connection.ts';
import { ErrorCode, KafkaError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { TopicRecord } from '../metadata/index.ts';
import type { TxnMarker } from './txn-metadata.ts';

export interface MarkerChannelOptions {
  nodeId: number;
  topic(name: string): TopicRecord | undefined;
  /** A live broker's inter-broker address. */
  liveBroker(id: number): { host: string; port: number } | undefined;
  /** Writes a marker to partitions this broker leads. */
  writeLocally(marker: TxnMarker): Promise<Map<string, number>>;
  /** How long a marker waits for its partition's ISR (the request times out 5 s later). */
  timeoutMs(): number;
  /** A connection to another broker's inter-broker listener (with its TLS and SASL settings). */
  connect(endpoint: { host: string; port: number }, clientId: string, requestTimeoutMs: number): KafkaConnection;
  log: Logger;
}

const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class TxnMarkerChannel {
  private readonly opts: MarkerChannelOptions;
  private readonly connections = new Map<number, KafkaConnection>();

  constructor(opts: MarkerChannelOptions) { this.opts = opts; }

  async write(marker: TxnMarker): Promise<Map<string, number>> {
    const results = new Map<string, number>();
    const byLeader = new Map<number, TxnMarker['partitions']>();
    for (const tp of marker.partitions) {
      const topic = this.opts.topic(tp.topic);
      const leader = topic?.partitions[tp.partition]?.leader ?? -1;
      if (!topic) results.set(tpKey(tp.topic, tp.partition), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      else if (leader < 0) results.set(tpKey(tp.topic, tp.partition), ErrorCode.LEADER_NOT_AVAILABLE);
      else byLeader.set(leader, [...(byLeader.get(leader) ?? []), tp]);
    }
    await Promise.all([...byLeader].map(async ([leader, partitions]) => {
      const part = { ...marker, partitions };
      try {
        const written = leader === this.opts.nodeId ? await this.opts.writeLocally(part) : await this.send(leader, part);
        for (const [k, v] of written) results.set(k, v);
      } catch (err) {
        this.opts.log.warn(`WriteTxnMarkers to broker ${leader} failed: ${(err as Error).message}`);
        for (const tp of partitions) results.set(tpKey(tp.topic, tp.partition), ErrorCode.NOT_LEADER_OR_FOLLOWER);
      }
    }));
    return results;
  }

  close(): void {
    for (const c of this.connections.values()) c.close();
    this.connections.clear();
  }

  /**
   * Asks the coordinator `coordinator` (another broker) whether the partitions are in the
   * producer's ongoing transaction, or (`add`, transaction protocol v2) to add them: NONE per
   * partition that is (or was added), else its error; a coordinator that cannot be reached is
   * COORDINATOR_NOT_AVAILABLE for all (the producer retries).
   */
  async verify(coordinator: number, transactionalId: string, producerId: bigint, epoch: number,
    partitions: ReadonlyArray<{ topic: string; partition: number }>, add = false): Promise<Map<string, number>> {
    const all = (code: number) => new Map(partitions.map((p) => [tpKey(p.topic, p.partition), code]));
    const conn = coordinator < 0 ? null : this.connection(coordinator);
    if (!conn) return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    const topics = new Map<string, number[]>();
    for (const p of partitions) topics.set(p.topic, [...(topics.get(p.topic) ?? []), p.partition]);
    let response: { errorCode: number; resultsByTransaction: Array<{ topicResults: Array<{ name: string; resultsByPartition: Array<{ partitionIndex: number; partitionErrorCode: number }> }> }> };
    try {
      response = await conn.send(24, 4, {
        transactions: [{ transactionalId, producerId, producerEpoch: epoch, verifyOnly: !add, topics: [...topics].map(([name, ps]) => ({ name, partitions: ps })) }],
      });
    } catch (err) {
      conn.close();
      this.connections.delete(coordinator);
      this.opts.log.warn(`partition verification with broker ${coordinator} failed: ${(err as Error).message}`);
      return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
    if (response.errorCode !== ErrorCode.NONE) return all(response.errorCode);
    const out = all(ErrorCode.UNKNOWN_SERVER_ERROR);
    for (const t of response.resultsByTransaction[0]?.topicResults ?? []) {
      for (const p of t.resultsByPartition) out.set(tpKey(t.name, p.partitionIndex), p.partitionErrorCode);
    }
    return out;
  }

  /** The open connection to a live broker, or null when it is not alive. */
  private connection(brokerId: number): KafkaConnection | null {
    const endpoint = this.opts.liveBroker(brokerId);
    if (!endpoint) return null;
    let conn = this.connections.get(brokerId);
    if (conn && (conn.host !== endpoint.host || conn.port !== endpoint.port)) {
      conn.close();
      conn = undefined;
    }
    if (!conn) {
      conn = this.opts.connect(endpoint, `brook-txn-${this.opts.nodeId}`, this.opts.timeoutMs() + 5_000);
      this.connections.set(brokerId, conn);
    }
    return conn;
  }

  private async send(leader: number, marker: TxnMarker): Promise<Map<string, number>> {
    const conn = this.connection(leader);
    if (!conn) throw new KafkaError('NOT_LEADER_OR_FOLLOWER', `broker ${leader} is not alive`);
    const topics = new Map<string, number[]>();
    for (const tp of marker.partitions) topics.set(tp.topic, [...(topics.get(tp.topic) ?? []), tp.partition]);
    let response: { markers: Array<{ topics: Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: number }> }> }> };
    try {
      response = await conn.send(27, 1, {
        markers: [{
          producerId: marker.producerId, producerEpoch: marker.producerEpoch, transactionResult: marker.commit, coordinatorEpoch: marker.coordinatorEpoch,
          topics: [...topics].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
        }],
      });
    } catch (err) {
      conn.close();
      this.connections.delete(leader);
      throw err;
    }
    const out = new Map<string, number>();
    for (const t of response.markers[0]?.topics ?? []) for (const p of t.partitions) out.set(tpKey(t.name, p.partitionIndex), p.errorCode);
    return out;
  }
}
