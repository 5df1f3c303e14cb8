export * from './concat-batches.ts';
export * from './embedded-historian.ts';
export * from './historian-writer.ts';
