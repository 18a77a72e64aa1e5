export * from './kafka.port';
export { PoisonMessageError, DEFAULT_CONSUMER_RETRY, type Decision } from './consumer-rule';
export { KafkaJsClient, createTopicsAndWait, type KafkaJsClientOptions } from './kafkajs.client';
export { InMemoryKafka } from './in-memory.kafka';
export { MessageTooLargeError } from './produce-batching';
export * from './kafka.config';
export {
  keepConnected,
  DEFAULT_CONNECT_RETRY,
  SharedConnection,
  type KeepConnectedOptions,
} from './connection-retry';
export {
  TidingsEvent,
  TidingsKafkaServer,
  TidingsKafkaContext,
  TidingsKafkaBatchContext,
  KeepHandlerErrorFilter,
  type TidingsEventOptions,
  type TidingsKafkaServerOptions,
} from './tidings-kafka.server';
