export * from './multi-line-model.ts';
export * from './nats-server.ts';
