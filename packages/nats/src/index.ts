export * from './connect.ts';
export * from './jetstream-bus.ts';
export * from './kv-twin-mirror.ts';
export * from './kv-twin-store.ts';
export * from './line-consumers.ts';
export * from './partition-leases.ts';
export * from './restore-point.ts';
export * from './stream-layout.ts';
