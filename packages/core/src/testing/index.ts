export * from './bus-suite.ts';
export * from './services.ts';
