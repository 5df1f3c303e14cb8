export * from './loader.ts';
export * from './model.ts';
export * from './schema.ts';
