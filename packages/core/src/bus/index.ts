export * from './bus.ts';
export * from './in-process-bus.ts';
export * from './subject.ts';
