export * from './bus-suite.ts';
export * from './historian-suite.ts';
export * from './memory-historian.ts';
export * from './services.ts';
export * from './source-suite.ts';
