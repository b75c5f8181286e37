/**
 * The Kafka protocol server: the public surface. ListenerSet binds one KafkaServer per listener
 * and knows what each is advertised as; KafkaServer frames connections and runs the handlers.
 */
export { bindHost, ListenerSet } from './listener-set.ts';
export { KafkaServer } from './kafka-server.ts';
export type { ServerMetrics } from './kafka-server.ts';
