import { pino } from 'pino';

type LogFn = {
  (obj: object, msg?: string): void;
  (msg: string): void;
};

/**
 * The logging interface every part receives (pino's shape, so a pino logger is one).
 * Objects first: `log.warn({ endpoint, err }, 'reconnect failed')`. Never log per sample.
 */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  /** A child logger whose lines carry `bindings`, e.g. `{ component: 'connect.opcua' }`. */
  child(bindings: Record<string, unknown>): Logger;
}

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  level?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  name?: string;
  /** Where lines go; a pino destination stream (default stdout). */
  destination?: NodeJS.WritableStream;
}

/** Creates a pino logger. Only the composition root (the CLI) calls this. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const opts = { level: options.level ?? 'info', name: options.name ?? 'gemba' };
  return options.destination === undefined ? pino(opts) : pino(opts, options.destination);
}

/** A logger that writes nothing (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
