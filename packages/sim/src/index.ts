export * from './kernel/event-calendar.ts';
export * from './kernel/resource.ts';
export * from './kernel/simulation.ts';
export * from './kernel/store.ts';
export * from './random/distributions.ts';
export * from './random/rng.ts';
export * from './stats/confidence.ts';
export * from './stats/mser.ts';
