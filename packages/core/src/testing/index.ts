export * from './bus-suite.ts';
export * from './services.ts';
export * from './historian-suite.ts';
export * from './memory-historian.ts';
