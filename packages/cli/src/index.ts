export * from './demo.ts';
export * from './platform.ts';
