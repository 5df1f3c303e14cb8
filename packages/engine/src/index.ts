export * from './engine-api.ts';
export * from './types.ts';
