export * from './synthetic-history.ts';
