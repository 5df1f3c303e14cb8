export * from './concat-batches.ts';
export * from './embedded-historian.ts';
export * from './historian-writer.ts';
export * from './open-historian.ts';
export * from './postgres-historian.ts';
