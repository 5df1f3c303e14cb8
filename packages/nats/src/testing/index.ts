export * from './nats-server.ts';
export * from './multi-line-model.ts';
