/**
 * Brook's own Kafka client, the surface meant for the operator and tools: one connection that
 * sends requests encoded with the schema codec and matches their responses (KafkaConnection), its
 * typed errors, and the API keys by name.
 */
export { ConnectionError, KafkaConnection } from './kafka-connection.ts';
export { ApiKey } from '../protocol/index.ts';
