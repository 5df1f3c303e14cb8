export * from './embedded-historian.ts';
