export * from './connect.ts';
export * from './jetstream-bus.ts';
export * from './stream-layout.ts';
